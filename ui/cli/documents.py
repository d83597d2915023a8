"""`shopfloor ingest`, `docs`, `remove`: the engineer's documents."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from shopfloor.errors import printable
from shopfloor.settings import load_settings
from ui.cli.app import IndexOption, app, err, out, parse_tags, who_am_i
from ui.usecases import Shopfloor


class _BarProgress:
    """A progress bar on stderr with pages/s and chunks/s (shown on terminals only). Pages are
    counted by the read-ahead thread, chunks by the embedding one: the counters share a lock."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self._task: TaskID | None = None
        self._started = time.perf_counter()
        self._pages = self._chunks = self._ocr_pages = 0

    def start(self, documents: int) -> None:
        self._started = time.perf_counter()
        self._task = self._progress.add_task("ingest", total=documents, rates="")

    def advance(self, *, documents: int = 0, pages: int = 0, chunks: int = 0, ocr_pages: int = 0) -> None:
        if self._task is None:
            return
        with self._lock:
            self._pages += pages
            self._chunks += chunks
            self._ocr_pages += ocr_pages
            secs = max(time.perf_counter() - self._started, 1e-6)
            rates = (
                f"{self._pages} pages {self._pages / secs:.1f}/s · {self._chunks} chunks {self._chunks / secs:.1f}/s"
            )
            if self._ocr_pages:
                rates += f" · {self._ocr_pages} pages OCR'd {self._ocr_pages / secs:.2f}/s"
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
    no_recheck: Annotated[
        bool, typer.Option("--no-recheck", help="Do not ask the open knowledge-gap topics again afterwards.")
    ] = False,
    for_topic: Annotated[
        list[str] | None,
        typer.Option("--for-topic", help="Knowledge-map topic (T0003) these documents answer: it becomes documented."),
    ] = None,
    ocr: Annotated[
        str | None,
        typer.Option(
            "--ocr",
            help="auto: OCR the PDF pages that need it (scans, outlined tables); always: every page; never. "
            "Default $SHOPFLOOR_OCR or auto; needs the tesseract program.",
        ),
    ] = None,
) -> None:
    """Add or update documents in the index: PDF, Markdown, text, DOCX, HTML.

    Unchanged files are skipped without embedding; a changed file replaces all of its old chunks.
    Scanned pages and tables drawn as outlines are OCR'd (tesseract); tick marks in a schedule grid
    are mapped to their row and column. Afterwards the open knowledge-gap topics are asked again:
    those the new documents answer wait in `shopfloor gaps` for the manager to confirm. Exits 1 if
    any file was skipped.

    Examples:
      shopfloor ingest sample_docs/
      shopfloor ingest manuals/press/ --tag equipment=HP-200 --tag line=3
      shopfloor ingest SOP-12_revD.pdf --replaces SOP-12_revC.pdf
      shopfloor ingest PR-9_payload_table.pdf --for-topic T0003
    """

    settings = load_settings(index_dir=index, ocr=ocr)
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} docs")]
    columns += [TextColumn("{task.fields[rates]}"), TimeElapsedColumn()]
    shopfloor = Shopfloor(settings)
    with Progress(*columns, console=err, disable=not err.is_terminal) as bar:
        report = shopfloor.ingest(
            paths,
            tags=parse_tags(tag or []),
            replaces=replaces or [],
            progress=_BarProgress(bar),
            for_topics=for_topic or [],
            who=who_am_i(),
        )
    for notice in report.notices:
        err.print(f"note: {notice}", markup=False, highlight=False)
    for skipped in report.skipped:
        err.print(f"skipped: {skipped.reason}", markup=False, highlight=False)
    table = Table(title=f"Ingest into {settings.index_path}")
    for column in (
        "ingested",
        "unchanged",
        "replaced",
        "removed",
        "skipped",
        "pages",
        "OCR pages",
        "chunks",
        "seconds",
    ):
        table.add_column(column, justify="right")
    counts = [str(report.count(s)) for s in ("ingested", "unchanged", "replaced", "removed", "skipped")]
    table.add_row(*counts, str(report.pages), str(report.ocr_pages), str(report.chunks), f"{report.seconds:.1f}")
    out.print(table)
    changed = sum(report.count(s) for s in ("ingested", "replaced", "removed"))
    if (changed or for_topic) and not no_recheck and shopfloor.has_open_topics():
        result = shopfloor.recheck_gaps()
        waiting = f": {', '.join(result.answered)}; confirm in `shopfloor gaps`" if result.answered else ""
        err.print(f"rechecked {result.checked} open topics: {len(result.answered)} answered now{waiting}")
    shopfloor.close()
    if report.skipped:
        raise typer.Exit(1)


@app.command()
def docs(
    index: IndexOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line, one line per document.")] = False,
    usage: Annotated[
        bool, typer.Option("--usage", help="How often answers cite each document, and the thumbs down they got.")
    ] = False,
    since: Annotated[str | None, typer.Option("--since", help="With --usage: answers on/after YYYY-MM-DD.")] = None,
) -> None:
    """List the indexed documents: id, title, revision, pages, chunks, tags, when ingested.
    With --usage: how each serves the floor (cited, thumbs down), least cited first.

    Examples:
      shopfloor docs --json
      shopfloor docs --usage --since 2026-11-01
    """
    settings = load_settings(index_dir=index)
    if usage:
        _print_usage(Shopfloor(settings, use_llm=False), since, as_json)
        return
    records = Shopfloor(settings).documents()
    if as_json:
        for r in records:
            # where the passages lie (segment, first) is the store's business, not the reader's
            typer.echo(json.dumps({k: v for k, v in r.__dict__.items() if k not in ("segment", "first")}))
        return
    if not records:
        out.print(f"No documents in {settings.index_path} yet; run `shopfloor ingest PATH`.")
        return
    table = Table(title=f"{len(records)} documents in {settings.index_path}")
    columns = ("document", "title", "revision", "language", "pages", "chunks", "tags", "ingested", "not searchable")
    for column in columns:
        table.add_column(column)
    for r in records:
        tags = " ".join(f"{k}={v}" for k, v in r.tags.items())
        unread = sorted(set(r.pages_without_text) | set(r.ocr_pending))
        missing = f"pages {', '.join(map(str, unread))}" if unread else ""
        name, title = _cell(r.doc_id), _cell(r.title)  # a newline or [/markup] in a file name stays text
        language = r.language or "?"  # ? : ingested before languages were detected
        row = [name, title, r.revision or "", language, str(r.pages), str(r.chunks), tags, r.ingested_at, missing]
        table.add_row(*row)
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
    settings = load_settings(index_dir=index)
    report = Shopfloor(settings).remove(doc_ids)
    out.print(f"Removed {report.count('removed')} document(s) from {settings.index_path}.")


def _print_usage(shopfloor: Shopfloor, since: str | None, as_json: bool) -> None:
    try:
        rows = shopfloor.document_usage(since)
    finally:
        shopfloor.close()
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row.__dict__))
        return
    table = Table(title="How the documents serve the floor (least cited first)")
    for column in ("document", "title", "revision", "ingested", "cited", "thumbs down", "not searchable"):
        table.add_column(column)
    for u in rows:
        unread = f"pages {', '.join(map(str, u.unsearchable_pages))}" if u.unsearchable_pages else ""
        cited = str(u.cited) if u.cited else "never"
        table.add_row(
            printable(u.doc_id), printable(u.title), u.revision or "", u.ingested_at, cited, str(u.thumbs_down), unread
        )
    out.print(table)


def _cell(text: str) -> str:
    """A name as one line of plain text in a rich table."""
    return escape(printable(text))
