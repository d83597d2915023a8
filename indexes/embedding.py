"""The embedding model that defines an index's vector space.

It lives beside the index because a query must be embedded by the very model that built the
index: the manifest records `EmbeddingSpec.fingerprint`, and a mismatch is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexes.errors import ShopfloorError

if TYPE_CHECKING:
    from llama_index.core.embeddings import BaseEmbedding

log = logging.getLogger(__name__)

# The identity of a model: its config files and weight sizes, not its folder (paths move).
_IDENTITY_FILES = ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json")


@dataclass(frozen=True)
class EmbeddingSpec:
    """Which model an index was built with, and the window its chunks must fit."""

    name: str
    fingerprint: str
    max_tokens: int

    @classmethod
    def from_model_path(cls, model_path: str | Path) -> EmbeddingSpec:
        path = Path(model_path)
        if not (path / "config.json").is_file():
            raise ShopfloorError(f"{path}: not a sentence-transformers model folder (no config.json)")
        digest = hashlib.sha256()
        for name in _IDENTITY_FILES:
            file = path / name
            if file.is_file():
                digest.update(name.encode() + file.read_bytes())
        for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
            digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
        return cls(name=_model_name(path), fingerprint=digest.hexdigest()[:16], max_tokens=_max_tokens(path))


def _model_name(path: Path) -> str:
    readme = path / "README.md"
    if readme.is_file():
        for line in readme.read_text(errors="ignore").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return path.name


def _max_tokens(path: Path) -> int:
    config = path / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


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
    """Sentence-transformers model, loaded once, offline, returning normalised float32 rows."""

    def __init__(self, model_path: str | Path, batch_size: int = 32, threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.spec = EmbeddingSpec.from_model_path(self.model_path)
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1

    @cached_property
    def llama_embedding(self) -> BaseEmbedding:
        """The llama-index wrapper around the model (loads it on first use)."""
        import torch
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        torch.set_num_threads(self.threads)
        started = time.perf_counter()
        model = HuggingFaceEmbedding(
            model_name=str(self.model_path),
            device="cpu",
            embed_batch_size=self.batch_size,
            normalize=True,
            max_length=self.spec.max_tokens,
        )
        log.info("embedding model loaded model=%s secs=%.2f", self.spec.name, time.perf_counter() - started)
        return model

    @property
    def dim(self) -> int:
        return int(self.embed_query("dimension probe").shape[0])

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """One normalised row per text, in order."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors: list[Any] = self.llama_embedding.get_text_embedding_batch(texts)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.llama_embedding.get_query_embedding(text), dtype=np.float32)
