"""`shopfloor`: a thin command line over ingest, indexes and assistant.

Results go to stdout, diagnostics to stderr. An expected failure (ShopfloorError) is one
`Error: ...` line and exit code 1; `--verbose` adds the traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from indexes.errors import ShopfloorError
from indexes.settings import Settings, load_settings
from indexes.store import IndexStore

# Piped output is read by scripts and grep: tables are not squeezed into 80 columns there.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)
app = typer.Typer(
    help="Shop-floor document assistant: ingest manuals and SOPs, search them, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks that print their figures.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

IndexOption = Annotated[
    Path | None,
    typer.Option("--index", help="Index folder (default: $SHOPFLOOR_INDEX_DIR or <SHOPFLOOR_HOME>/index)."),
]
_verbose = False


@app.callback()
def _global(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details and tracebacks.")] = False,
) -> None:
    global _verbose
    _verbose = verbose
    level = logging.INFO if verbose else getattr(logging, load_settings().log_level.upper(), logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)


def _settings(index: Path | None) -> Settings:
    return load_settings(index_dir=index)


def _parse_tags(tags: list[str]) -> dict[str, str] | None:
    if not tags:
        return None
    parsed = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise typer.BadParameter(f"'{tag}' is not key=value", param_hint="--tag")
        parsed[key.strip()] = value.strip()
    return parsed


class _BarProgress:
    """A progress bar on stderr with pages/s and chunks/s (shown on terminals only)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        self._started = time.perf_counter()
        self._pages = self._chunks = 0

    def start(self, documents: int) -> None:
        self._started = time.perf_counter()
        self._task = self._progress.add_task("ingest", total=documents, rates="")

    def advance(self, *, documents: int = 0, pages: int = 0, chunks: int = 0) -> None:
        if self._task is None:
            return
        self._pages += pages
        self._chunks += chunks
        secs = max(time.perf_counter() - self._started, 1e-6)
        rates = f"{self._pages} pages {self._pages / secs:.1f}/s · {self._chunks} chunks {self._chunks / secs:.1f}/s"
        self._progress.update(self._task, advance=documents, rates=rates)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (searched recursively).")],
    index: IndexOption = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="key=value stored on every chunk, usable as a filter; repeatable."),
    ] = None,
    replaces: Annotated[
        list[str] | None,
        typer.Option("--replaces", help="Document id this ingest supersedes (a renamed revision); repeatable."),
    ] = None,
) -> None:
    """Add or update documents in the index: PDF, Markdown, text, DOCX, HTML.

    Unchanged files are skipped without embedding; a changed file replaces all of its old chunks.
    Exits 1 if any file was skipped.

    Examples:
      shopfloor ingest sample_docs/
      shopfloor ingest manuals/press/ --tag equipment=HP-200 --tag line=3
      shopfloor ingest SOP-12_revD.pdf --replaces SOP-12_revC.pdf
    """
    from ingest.pipeline import IngestRun

    settings = _settings(index)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} docs"),
    ]
    columns += [TextColumn("{task.fields[rates]}"), TimeElapsedColumn()]
    with Progress(*columns, console=err, disable=not err.is_terminal) as bar:
        run = IngestRun(settings, IndexStore(settings.index_path), progress=_BarProgress(bar))
        report = run.run(paths, tags=_parse_tags(tag or []), remove=replaces or [])
    for notice in report.notices:
        err.print(f"note: {notice}", markup=False, highlight=False)
    for skipped in report.skipped:
        err.print(f"skipped: {skipped.reason}", markup=False, highlight=False)
    table = Table(title=f"Ingest into {settings.index_path}")
    for column in ("ingested", "unchanged", "replaced", "removed", "skipped", "pages", "chunks", "seconds"):
        table.add_column(column, justify="right")
    counts = [str(report.count(s)) for s in ("ingested", "unchanged", "replaced", "removed", "skipped")]
    table.add_row(*counts, str(report.pages), str(report.chunks), f"{report.seconds:.1f}")
    out.print(table)
    if report.skipped:
        raise typer.Exit(1)


@app.command()
def docs(
    index: IndexOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line, one line per document.")] = False,
) -> None:
    """List the indexed documents: id, title, revision, pages, chunks, tags, when ingested.

    Example:
      shopfloor docs --json
    """
    settings = _settings(index)
    manifest = IndexStore(settings.index_path).read_manifest()
    records = list(manifest.documents.values()) if manifest else []
    if as_json:
        for r in records:
            record = {k: v for k, v in r.__dict__.items() if k != "chunk_ids"}
            typer.echo(json.dumps({**record, "chunks": r.chunks}))
        return
    if not records:
        out.print(f"No documents in {settings.index_path} yet; run `shopfloor ingest PATH`.")
        return
    table = Table(title=f"{len(records)} documents in {settings.index_path}")
    for column in ("document", "title", "revision", "pages", "chunks", "tags", "ingested"):
        table.add_column(column)
    for r in sorted(records, key=lambda r: r.doc_id):
        tags = " ".join(f"{k}={v}" for k, v in r.tags.items())
        table.add_row(r.doc_id, r.title, r.revision or "", str(r.pages), str(r.chunks), tags, r.ingested_at)
    out.print(table)


@app.command()
def remove(
    doc_ids: Annotated[list[str], typer.Argument(help="Document ids as `shopfloor docs` lists them.")],
    index: IndexOption = None,
) -> None:
    """Take documents out of the index (their chunks can no longer be retrieved).

    Example:
      shopfloor remove HP-200_Hydraulic_Press_SOP.pdf
    """
    from ingest.pipeline import IngestRun

    settings = _settings(index)
    report = IngestRun(settings, IndexStore(settings.index_path)).run(remove=doc_ids)
    out.print(f"Removed {report.count('removed')} document(s) from {settings.index_path}.")


@bench_app.command("ingest")
def bench_ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Documents to ingest (default: ../shared/corpus if present, else sample_docs)."),
    ] = None,
) -> None:
    """Time the whole ingest pipeline against the bare embedding model on the same chunks.

    Prints pages/s and chunks/s of the pipeline, chunks/s of the model alone, the share of time
    spent embedding, and the time of an unchanged re-run (a fresh process, as a user runs it).

    Example:
      shopfloor bench ingest ../shared/corpus
    """
    from ingest.benchmark import run_ingest_benchmark

    bench = run_ingest_benchmark(paths or _default_bench_paths(), _settings(None))
    r = bench.report
    t = r.timings
    out.print(
        f"documents {r.count('ingested')} ingested, {r.count('skipped')} skipped; pages {r.pages}; chunks {r.chunks}"
    )
    out.print(
        f"pipeline      {bench.pipeline_seconds:7.1f} s  {r.pages / bench.pipeline_seconds:6.2f} pages/s  "
        f"{r.chunks / bench.pipeline_seconds:6.2f} chunks/s"
    )
    out.print(f"bare model    {bench.bare_embed_seconds:7.1f} s                {bench.bare_chunks_per_s:6.2f} chunks/s")
    stages = "  ".join(f"{name} {secs:.1f}s ({secs / bench.pipeline_seconds:.0%})" for name, secs in t.items())
    out.print(f"stages        {stages}")
    out.print(f"embedding share of pipeline wall time: {bench.embed_share:.1%} (target >= 85%; reading overlaps it)")
    out.print(
        f"pipeline throughput vs bare model: {r.chunks / bench.pipeline_seconds / bench.bare_chunks_per_s:.0%} "
        "(parsing competes with the model for the same cores)"
    )
    out.print(
        f"unchanged re-run: {bench.rerun_seconds:.2f} s in a fresh process, "
        f"{'no new index version written' if bench.rerun_wrote_nothing else 'WROTE A NEW VERSION'} (target < 2 s)"
    )


def _default_bench_paths() -> list[Path]:
    shared = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
    return [shared] if shared.is_dir() else [Path("sample_docs")]


def _offline_environment() -> None:
    """No model hub, no analytics, no download: set before any HF/Gradio library is imported."""
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "TOKENIZERS_PARALLELISM": "false",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }.items():
        os.environ.setdefault(key, value)


def main() -> None:
    """Console entry point: one line per expected error, exit 1."""
    _offline_environment()
    try:
        app()
    except ShopfloorError as exc:
        if _verbose:
            raise
        err.print(f"Error: {exc}", markup=False, highlight=False)
        sys.exit(1)
