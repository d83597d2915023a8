"""Ways of running the one embedding model on a CPU: the backends `embed_backend` chooses from.

torch-fp32 is sentence-transformers as shipped (the stock path). The others compute the same
vectors faster where the CPU allows: bf16 weights in torch, or the model exported once, locally,
to OpenVINO (never downloaded) and run in fp32 or bf16. Whether a backend really keeps the
vectors, and how fast it is on this machine, is measured by `indexes.calibration`, not assumed.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np

from indexes.model_spec import EmbeddingSpec
from shopfloor.errors import BackendUnavailableError, ShopfloorError

log = logging.getLogger(__name__)

STOCK = "torch-fp32"
BACKENDS = ("torch-fp32", "torch-bf16", "openvino-fp32", "openvino-bf16")
_STALE_EXPORT_S = 3600


class Encoder(Protocol):
    """Texts in, one L2-normalised float32 row per text out, in order."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


def open_encoder(
    backend: str, model_path: Path, max_tokens: int, threads: int, batch_size: int, cache_dir: Path
) -> Encoder:
    """Load the model with the named backend."""
    if backend in ("torch-fp32", "torch-bf16"):
        return TorchEncoder(model_path, max_tokens, threads, batch_size, bf16=backend == "torch-bf16")
    if backend in ("openvino-fp32", "openvino-bf16"):
        precision = "bf16" if backend == "openvino-bf16" else "f32"
        return OpenVinoEncoder(model_path, max_tokens, threads, batch_size, precision, cache_dir)
    raise ShopfloorError(f"unknown embed_backend {backend!r}; choose auto or one of {', '.join(BACKENDS)}")


class TorchEncoder:
    """sentence-transformers on torch; bf16 halves the weights and uses the CPU's bf16 units."""

    def __init__(self, model_path: Path, max_tokens: int, threads: int, batch_size: int, *, bf16: bool) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        kwargs = {"dtype": torch.bfloat16} if bf16 else {}
        self._model = SentenceTransformer(str(model_path), device="cpu", model_kwargs=kwargs, local_files_only=True)
        self._model.max_seq_length = max_tokens
        self._batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = self._model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(rows, dtype=np.float32)


class OpenVinoEncoder:
    """The transformer exported to OpenVINO, with sentence-transformers' pooling redone in numpy."""

    def __init__(
        self, model_path: Path, max_tokens: int, threads: int, batch_size: int, precision: str, cache_dir: Path
    ) -> None:
        try:
            import openvino as ov
        except ImportError as exc:
            raise BackendUnavailableError(f"openvino is not installed ({exc})") from None
        from tokenizers import Tokenizer

        self._pooling = _pooling_mode(model_path)
        xml = exported_model(model_path, cache_dir / "openvino")
        # THROUGHPUT: one stream per core, fed by as many requests at once. Measured here on 2
        # cores: 105-118 chunks/s against 82-93 for one request on both cores (LATENCY); a
        # single question takes 8 ms instead of 4, nothing beside the LLM's seconds.
        self._model = ov.Core().compile_model(
            str(xml),
            "CPU",
            {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "THROUGHPUT"},
        )
        self._inputs = {port.any_name for port in self._model.inputs}
        requests = max(1, int(self._model.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self._queue = ov.AsyncInferQueue(self._model, requests)
        self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding()
        # A pipeline batch is split between the requests, so every stream has work.
        self._batch_size = max(1, batch_size // requests)
        # One encode at a time: the web app embeds questions from several threads.
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        # Similar lengths batched together: less padding, as sentence-transformers does.
        order = np.argsort([len(t) for t in texts], kind="stable")
        groups = [order[start : start + self._batch_size] for start in range(0, len(texts), self._batch_size)]
        hidden: dict[int, np.ndarray] = {}
        masks: dict[int, np.ndarray] = {}
        with self._lock:
            # The request is reused by the next batch: its output is copied out at once.
            self._queue.set_callback(lambda request, i: hidden.__setitem__(i, request.get_output_tensor(0).data.copy()))
            for i, group in enumerate(groups):
                feeds, masks[i] = self._feeds([texts[j] for j in group])
                self._queue.start_async(feeds, i)  # tokenizes the next batch while this one runs
            self._queue.wait_all()
        rows = np.zeros((len(texts), 0), dtype=np.float32)
        for i, group in enumerate(groups):
            pooled = self._pooled(hidden[i], masks[i])
            if rows.shape[1] == 0:
                rows = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            rows[group] = pooled
        return rows

    def _feeds(self, texts: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        encodings = self._tokenizer.encode_batch(texts)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": mask,
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        return {k: v for k, v in feeds.items() if k in self._inputs}, mask

    def _pooled(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """sentence-transformers' pooling and normalisation, in numpy."""
        if self._pooling == "cls":
            pooled = hidden[:, 0, :]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _pooling_mode(model_path: Path) -> str:
    """mean or cls, read from the model's own module list; anything else stays on torch."""
    modules = json.loads((model_path / "modules.json").read_text()) if (model_path / "modules.json").is_file() else []
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Transformer", "Pooling", "Normalize") for k in kinds):
        raise BackendUnavailableError(f"{model_path}: module layout {kinds} is not Transformer+Pooling(+Normalize)")
    pooling = json.loads((model_path / modules[1]["path"] / "config.json").read_text())
    if pooling.get("pooling_mode_mean_tokens"):
        return "mean"
    if pooling.get("pooling_mode_cls_token"):
        return "cls"
    raise BackendUnavailableError(f"{model_path}: pooling {pooling} is neither mean nor cls")


def exported_model(model_path: Path, export_root: Path) -> Path:
    """The OpenVINO IR of the model, exported once from the local weights into the cache.

    Keyed by the model's fingerprint and the OpenVINO version; written to a temporary folder
    and renamed, so a crash never leaves half an export behind."""
    import openvino as ov

    spec = EmbeddingSpec.from_model_path(model_path)
    target = export_root / f"{spec.fingerprint}-ov{ov.__version__.split('-')[0]}"
    xml = target / "model.xml"
    if xml.is_file():
        return xml
    export_root.mkdir(parents=True, exist_ok=True)
    _remove_stale_exports(export_root)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=export_root))
    try:
        ov.save_model(_convert(model_path), str(staging / "model.xml"))
        try:
            staging.rename(target)
        except OSError:  # another process exported it first: theirs is as good as ours
            if not xml.is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("exported embedding model to OpenVINO at %s", target)
    return xml


def _remove_stale_exports(export_root: Path) -> None:
    """A process killed mid-export leaves its staging folder (about 90 MB) behind. An export takes
    well under a minute, so one untouched for an hour is nobody's: it goes."""
    cutoff = time.time() - _STALE_EXPORT_S
    for folder in export_root.glob(".export-*"):
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:  # another process cleaned it first
            continue


def _convert(model_path: Path):  # type: ignore[no-untyped-def]
    import openvino as ov
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()
    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    tokenizer.enable_padding()
    sample = tokenizer.encode_batch(["Check the oil level daily.", "Torque the bolts to 40 Nm before start-up."])
    example = {
        "input_ids": torch.tensor([e.ids for e in sample]),
        "attention_mask": torch.tensor([e.attention_mask for e in sample]),
        "token_type_ids": torch.tensor([e.type_ids for e in sample]),
    }
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about python control flow: harmless here
        return ov.convert_model(model, example_input=example)
