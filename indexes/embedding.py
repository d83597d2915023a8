"""The embedding model that defines an index's vector space.

It lives beside the index because a query must be embedded by the very model that built the
index: the manifest records `EmbeddingSpec.fingerprint`, and a mismatch is refused.
"""

from __future__ import annotations

import logging
import os
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexes.encoders import BACKENDS, STOCK, Encoder, open_encoder
from indexes.model_spec import EmbeddingSpec
from shopfloor.errors import ShopfloorError
from shopfloor.settings import default_cache_dir

if TYPE_CHECKING:
    from indexes.calibration import Calibration
    from shopfloor.settings import Settings

log = logging.getLogger(__name__)


class TokenCounter:
    """Counts the model's word-piece tokens, without loading the model itself (cheap)."""

    def __init__(self, model_path: str | Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def count(self, texts: list[str]) -> list[int]:
        """Tokens of each text, special tokens excluded."""
        if not texts:
            return []
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]


class Embedder:
    """The embedding model, loaded once, offline, with the backend `embed_backend` names
    (`auto`: the fastest one calibrated on this machine that keeps the vectors)."""

    def __init__(
        self,
        model_path: str | Path,
        batch_size: int = 32,
        threads: int | None = None,
        backend: str = "auto",
        cache_dir: Path | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.spec = EmbeddingSpec.from_model_path(self.model_path)
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        if backend != "auto" and backend not in BACKENDS:
            raise ShopfloorError(f"unknown embed_backend {backend!r}; choose auto or one of {', '.join(BACKENDS)}")
        self.requested_backend = backend
        self.cache_dir = cache_dir or default_cache_dir()

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.embed_model,
            settings.embed_batch_size,
            settings.threads,
            settings.embed_backend,
            settings.cache_dir,
        )

    @cached_property
    def calibration(self) -> Calibration:
        """This machine's trials for this model: read from the cache, or measured now (once)."""
        from indexes.calibration import CalibrationCache, machine_key, run_trials

        cache = CalibrationCache(self.cache_dir)
        calibration = cache.get(machine_key(self.threads), self.spec.fingerprint)
        wanted = list(BACKENDS) if self.requested_backend == "auto" else [STOCK, self.requested_backend]
        missing = [b for b in wanted if b not in calibration.trials]
        if missing:
            log.warning("calibrating embedding backends on this machine (once): %s", ", ".join(missing))
            args = (self.model_path, self.spec.max_tokens, self.threads, self.batch_size, self.cache_dir)
            calibration.trials.update(run_trials(missing, *args))
            cache.put(calibration)
        return calibration

    @cached_property
    def backend(self) -> str:
        """The backend in use; an explicitly named one is used even if calibration rejected it."""
        if self.requested_backend == STOCK:
            return STOCK
        if self.requested_backend == "auto":
            return self.calibration.chosen
        return self.requested_backend

    @property
    def space(self) -> str:
        """Identity of the vector space this embedder writes, recorded in the manifest.

        Backends that keep fp32's nearest neighbours share the model's space, so an index built on
        one machine serves terminals running another; any other backend has a space of its own
        and is never mixed with it."""
        if self.backend == STOCK or self.calibration.trials[self.backend].keeps_vectors:
            return self.spec.fingerprint
        return f"{self.spec.fingerprint}+{self.backend}"

    @cached_property
    def encoder(self) -> Encoder:
        """The model itself, loaded on first use."""
        started = time.perf_counter()
        encoder = open_encoder(
            self.backend, self.model_path, self.spec.max_tokens, self.threads, self.batch_size, self.cache_dir
        )
        log.info(
            "embedding model loaded model=%s backend=%s secs=%.2f",
            self.spec.name,
            self.backend,
            time.perf_counter() - started,
        )
        return encoder

    @property
    def dim(self) -> int:
        return int(self.embed_query("dimension probe").shape[0])

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """One normalised row per text, in order."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return self.encoder.encode(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.encoder.encode([text])[0]
