"""`shopfloor bench ingest`: the pipeline against the bare embedding model, and the chosen embedding
backend against stock sentence-transformers fp32, all on the same chunks in one run."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexes.calibration import neighbour_agreement
from indexes.encoders import STOCK, open_encoder
from indexes.store import IndexStore
from ingest.pipeline import IngestReport, IngestRun, passage_embed_text
from shopfloor.errors import ShopfloorError
from shopfloor.settings import Settings


@dataclass
class IngestBenchmark:
    """Figures of one benchmark run."""

    report: IngestReport
    backend: str
    bare_embed_seconds: float
    stock_embed_seconds: float
    agreement: float
    rerun_seconds: float
    rerun_wrote_nothing: bool

    @property
    def pipeline_seconds(self) -> float:
        return self.report.seconds

    @property
    def embed_share(self) -> float:
        """Share of the pipeline's time spent in the embedding model (loading it included)."""
        t = self.report.timings
        return (t["embed"] + t["load"]) / self.pipeline_seconds

    @property
    def bare_chunks_per_s(self) -> float:
        return self.report.chunks / self.bare_embed_seconds

    @property
    def stock_chunks_per_s(self) -> float:
        return self.report.chunks / self.stock_embed_seconds

    @property
    def reading_seconds(self) -> float:
        """The read-ahead thread's work: parsing, OCR and chunking, one document after another."""
        t = self.report.timings
        return t["read"] + t["ocr"] + t["chunk"]

    @property
    def own_overhead(self) -> float:
        """Share of wall time beyond the critical path: the model and the reading run side by
        side, so the pipeline can take no less than the longer of the two. The rest is our glue
        (queues, hashing, writing) and the cores the two take from each other."""
        critical = max(self.bare_embed_seconds, self.reading_seconds)
        return (self.pipeline_seconds - critical) / self.pipeline_seconds


def run_ingest_benchmark(paths: list[Path], settings: Settings) -> IngestBenchmark:
    """Ingest into a scratch index, embed the same chunk texts again bare, then time a re-run."""
    with tempfile.TemporaryDirectory(prefix="shopfloor-bench-") as scratch:
        bench_settings = settings.model_copy(update={"index_dir": Path(scratch) / "index"})
        store = IndexStore.from_settings(bench_settings)
        run = IngestRun(bench_settings, store)
        report = run.run(paths, tags={})
        texts = [passage_embed_text(p) for p in store.load().passages()]
        chosen, bare = _embed_timed(run.embedder.embed_texts, texts, settings.embed_batch_size)
        stock_encoder = open_encoder(
            STOCK, run.embedder.model_path, run.spec.max_tokens, settings.threads, settings.embed_batch_size,
            settings.cache_dir,
        )  # fmt: skip
        stock, stock_seconds = _embed_timed(stock_encoder.encode, texts, settings.embed_batch_size)
        version_before = store.current_version
        rerun_started = time.perf_counter()
        rerun = subprocess.run(
            [sys.executable, "-m", "ui", "ingest", *map(str, paths), "--index", str(bench_settings.index_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        rerun_seconds = time.perf_counter() - rerun_started
        # It exits 1 when files are skipped, as the first run did: anything else is a failure, not a fast run.
        if rerun.returncode != (1 if report.skipped else 0):
            problem = (rerun.stderr.strip().splitlines() or ["no output"])[-1]
            raise ShopfloorError(f"bench ingest: the unchanged re-run failed (exit {rerun.returncode}): {problem}")
        wrote_nothing = store.current_version == version_before
    agreement = neighbour_agreement(stock, chosen)
    return IngestBenchmark(report, run.embedder.backend, bare, stock_seconds, agreement, rerun_seconds, wrote_nothing)


def _embed_timed(embed: Callable[[list[str]], np.ndarray], texts: list[str], batch: int) -> tuple[np.ndarray, float]:
    """All texts embedded in the pipeline's batch size: the vectors and the seconds it took."""
    embed(texts[:batch])  # warm-up: first calls allocate
    started = time.perf_counter()
    rows = [embed(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    return np.vstack(rows), time.perf_counter() - started
