"""`shopfloor bench ingest`: the pipeline against the bare embedding model, on the same chunks."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from indexes.settings import Settings
from indexes.store import IndexStore
from ingest.pipeline import IngestReport, IngestRun, embed_text


@dataclass
class IngestBenchmark:
    """Figures of one benchmark run."""

    report: IngestReport
    bare_embed_seconds: float
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


def run_ingest_benchmark(paths: list[Path], settings: Settings) -> IngestBenchmark:
    """Ingest into a scratch index, embed the same chunk texts again bare, then time a re-run."""
    with tempfile.TemporaryDirectory(prefix="shopfloor-bench-") as scratch:
        bench_settings = settings.model_copy(update={"index_dir": Path(scratch) / "index"})
        store = IndexStore(bench_settings.index_path)
        run = IngestRun(bench_settings, store)
        report = run.run(paths, tags={})
        texts = [embed_text(n) for n in store.load().index.docstore.docs.values()]  # type: ignore[arg-type]
        started = time.perf_counter()
        for i in range(0, len(texts), settings.embed_batch_size):
            run.embedder.embed_texts(texts[i : i + settings.embed_batch_size])
        bare = time.perf_counter() - started
        version_before = store.current_version
        rerun_started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ui",
                "ingest",
                *map(str, paths),
                "--index",
                str(bench_settings.index_path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        rerun_seconds = time.perf_counter() - rerun_started
        wrote_nothing = store.current_version == version_before
    return IngestBenchmark(report, bare, rerun_seconds, wrote_nothing)
