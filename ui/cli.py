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
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
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
        self._pages = self._chunks = self._ocr_pages = 0

    def start(self, documents: int) -> None:
        self._started = time.perf_counter()
        self._task = self._progress.add_task("ingest", total=documents, rates="")

    def advance(self, *, documents: int = 0, pages: int = 0, chunks: int = 0, ocr_pages: int = 0) -> None:
        if self._task is None:
            return
        self._pages += pages
        self._chunks += chunks
        self._ocr_pages += ocr_pages
        secs = max(time.perf_counter() - self._started, 1e-6)
        rates = f"{self._pages} pages {self._pages / secs:.1f}/s · {self._chunks} chunks {self._chunks / secs:.1f}/s"
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
    are mapped to their row and column. Exits 1 if any file was skipped.

    Examples:
      shopfloor ingest sample_docs/
      shopfloor ingest manuals/press/ --tag equipment=HP-200 --tag line=3
      shopfloor ingest SOP-12_revD.pdf --replaces SOP-12_revC.pdf
    """
    from ingest.pipeline import IngestRun

    settings = load_settings(index_dir=index, ocr=ocr)
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
    for column in ("document", "title", "revision", "pages", "chunks", "tags", "ingested", "not searchable"):
        table.add_column(column)
    for r in sorted(records, key=lambda r: r.doc_id):
        tags = " ".join(f"{k}={v}" for k, v in r.tags.items())
        unread = sorted(set(r.pages_without_text) | set(r.ocr_pending))
        missing = f"pages {', '.join(map(str, unread))}" if unread else ""
        table.add_row(r.doc_id, r.title, r.revision or "", str(r.pages), str(r.chunks), tags, r.ingested_at, missing)
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


TagOption = Annotated[
    list[str] | None, typer.Option("--tag", help="Only passages of documents tagged key=value; repeatable.")
]


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="The question, in your own words.")] = None,
    index: IndexOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per question.")] = False,
    no_llm: Annotated[
        bool, typer.Option("--no-llm", help="Without the LLM: the manual's best lines, or not found.")
    ] = False,
    tag: TagOption = None,
    doc: Annotated[list[str] | None, typer.Option("--doc", help="Only this document id; repeatable.")] = None,
    batch: Annotated[
        Path | None, typer.Option("--batch", help="File with one question per line (models load once).")
    ] = None,
    terminal: Annotated[str | None, typer.Option("--terminal", help="Terminal id for the gap log.")] = None,
) -> None:
    """Ask the manuals: a short answer with citations (document, page, section), or a plain
    "not found" with the closest passages. Every question is logged for the gap review.

    Examples:
      shopfloor ask "How often is the hydraulic oil changed on the HP-200?"
      shopfloor ask "alarm AL-205" --tag equipment=CL-400 --json
      shopfloor ask --json --batch questions.txt
    """
    from assistant.gaps import GapLog
    from assistant.retrieval import Filters
    from assistant.service import open_assistant

    if (question is None) == (batch is None):
        raise typer.BadParameter("give a QUESTION or --batch FILE (not both)")
    questions = _batch_questions(batch) if batch else [question or ""]
    settings = load_settings(index_dir=index, terminal_id=terminal)
    filters = Filters(doc_ids=set(doc or []), tags=_parse_tags(tag or []) or {})
    assistant = open_assistant(settings, use_llm=not no_llm)
    gap_log = GapLog(settings.gaps_db)
    try:
        for text in questions:
            streamed: list[str] = []
            on_token = None if as_json else _printing_into(streamed)
            on_evidence = None if as_json else _print_evidence
            answer = assistant.ask(text, filters=filters, on_token=on_token, on_evidence=on_evidence)
            gap_log.record(answer, settings.terminal_id, equipment=filters.tags.get("equipment"))
            if as_json:
                typer.echo(json.dumps(answer.to_json()))
            else:
                _print_answer(answer, streamed=bool(streamed))
    finally:
        gap_log.close()


def _batch_questions(path: Path) -> list[str]:
    from indexes.errors import ShopfloorError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ShopfloorError(f"{path}: {exc.strerror}") from None
    return [line.strip() for line in lines if line.strip()]


def _printing_into(streamed: list[str]) -> Callable[[str], None]:
    """Print tokens as the model produces them, remembering that something was shown."""

    def print_token(token: str) -> None:
        streamed.append(token)
        out.print(token, end="", markup=False, highlight=False)

    return print_token


def _print_evidence(evidence: list[Any]) -> None:
    """The manual's own lines, shown before the model has written a word."""
    for line in evidence[:3]:
        page = f" p. {line.passage.page}" if line.passage.page is not None else ""
        out.print(f"  “{line.text}” ({line.passage.file}{page})", style="dim", markup=False, highlight=False)


def _print_answer(answer: Any, streamed: bool) -> None:
    from assistant.answering import SOURCE_NOTES

    if streamed:
        out.print()
    if answer.answered:
        if not streamed or answer.mode == "quoted":  # the model's draft declined: the manual's lines stand
            out.print(answer.answer, markup=False, highlight=False)
        for warning in answer.warnings:
            out.print(f"[bold yellow]! {escape(warning)}[/]")
        for c in answer.citations:
            page = f", page {c.page}" + (f" ({c.page_label})" if c.page_label and c.page_label != str(c.page) else "")
            via = f" ({SOURCE_NOTES[c.text_source]})" if c.text_source in SOURCE_NOTES else ""
            out.print(f"[{c.number}] {c.file}{page}, {c.section or 'no section'}{via}", markup=False, highlight=False)
        return
    if streamed:
        out.print("[dim](that draft was withdrawn)[/]")
    out.print(f"Not found in the manuals ({answer.reason}).", markup=False, highlight=False)


@app.command()
def gaps(
    index: IndexOption = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only questions asked on/after this date (YYYY-MM-DD).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv (one row per question) or json.")] = "table",
    recheck: Annotated[
        bool, typer.Option("--recheck", help="Ask the open gaps again; mark those the index now answers.")
    ] = False,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="With --recheck: judge by retrieval alone.")] = False,
) -> None:
    """The knowledge map: unanswered questions grouped into topics, to decide which manuals to write.

    Examples:
      shopfloor gaps --since 2026-11-01
      shopfloor gaps --format csv > gaps.csv
      shopfloor gaps --recheck
    """
    from assistant.gaps import GapLog
    from assistant.knowledge_map import group_gaps
    from assistant.service import open_assistant
    from indexes.embedding import Embedder

    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter("must be table, csv or json", param_hint="--format")
    settings = load_settings(index_dir=index)
    gap_log = GapLog(settings.gaps_db)
    try:
        embedder = Embedder.from_settings(settings)
        if recheck:
            assistant = open_assistant(settings, use_llm=not no_llm, embedder=embedder)
            open_now = gap_log.open_gaps(since)
            solved = [g.id for g in open_now if assistant.ask(g.question).answered]
            gap_log.resolve(solved)
            err.print(f"rechecked {len(open_now)} open gaps: {len(solved)} now answered by the index")
        topics = group_gaps(gap_log.open_gaps(since), embedder)
        figures = gap_log.figures(since)
    finally:
        gap_log.close()
    _print_topics(topics, fmt)
    if fmt == "table":
        out.print(
            f"{figures.questions} questions, {figures.answered_pct:.0f}% answered, "
            f"{figures.thumbs_down_pct:.0f}% thumbs down, median {figures.median_latency_s:.1f} s; "
            f"{figures.open_gaps} open gaps in {len(topics)} topics"
        )


def _print_topics(topics: list[Any], fmt: str) -> None:
    if fmt == "json":
        for t in topics:
            record = {"topic": t.label, "count": t.count, "examples": t.examples, "first_seen": t.first_seen}
            record |= {"last_seen": t.last_seen, "equipment": t.equipment, "ids": [g.id for g in t.gaps]}
            typer.echo(json.dumps(record))
    elif fmt == "csv":
        from assistant.knowledge_map import write_csv

        write_csv(topics, sys.stdout)
    else:
        table = Table(title="Knowledge gaps by topic")
        for column in ("topic", "count", "examples", "first seen", "last seen", "equipment"):
            table.add_column(column)
        for t in topics:
            examples = "\n".join(t.examples)
            table.add_row(t.label, str(t.count), examples, t.first_seen, t.last_seen, ", ".join(t.equipment))
        out.print(table)


@app.command("eval")
def evaluate(
    qa: Annotated[Path, typer.Argument(help='JSONL: {"id", "question", "file", "pages", "key_facts"} per line.')],
    index: IndexOption = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Without the LLM: answers are the manual's lines.")] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N questions.")] = None,
    records: Annotated[
        Path | None, typer.Option("--records", help="Write one JSON line per question: answer, reason, signals.")
    ] = None,
) -> None:
    """Score a question set: hit@1, hit@5 and MRR of the gold page for BM25, vector and hybrid
    retrieval side by side; with the LLM also answered/refused shares, key facts, citation
    precision, answer length and latency.

    Examples:
      shopfloor eval tests/data/sample_qa.jsonl
      shopfloor eval benchmarks/eval/linuxcnc.jsonl --records /tmp/lcnc.jsonl
    """
    from assistant.evaluation import load_questions, score_answers, score_retrieval, write_records
    from assistant.retrieval import MODES
    from assistant.service import open_assistant, open_retriever

    questions = load_questions(qa)[:limit]
    settings = load_settings(index_dir=index)
    retriever = open_retriever(settings)
    table = Table(title=f"Retrieval on {qa.name}")
    for column in ("mode", "questions", "hit@1", "hit@5", "MRR"):
        table.add_column(column, justify="right")
    for mode in MODES:
        retriever.mode = mode
        score = score_retrieval(retriever, questions)
        shipped = " (shipped)" if mode == settings.retrieval_mode else ""
        table.add_row(
            mode + shipped, str(score.questions), f"{score.hit_at_1:.3f}", f"{score.hit_at_5:.3f}", f"{score.mrr:.3f}"
        )
    out.print(table)
    retriever.mode = settings.retrieval_mode
    answers = score_answers(open_assistant(settings, use_llm=not no_llm, embedder=retriever.embedder), questions)
    if records is not None:
        write_records(records, answers.records)
    evidence = answers.median_first_evidence_s
    out.print(
        f"answers{' (no LLM: the manual' + chr(39) + 's lines)' if no_llm else ''}: {answers.questions} questions; "
        f"answerable answered {answers.answered_of_answerable:.0%} (refused {1 - answers.answered_of_answerable:.0%}); "
        f"key facts {answers.key_facts_found:.0%}; citation precision {answers.citation_precision:.0%}; "
        f"unanswerable refused {answers.refusal_accuracy:.0%}; median answer {answers.median_answer_chars:.0f} chars; "
        f"median first evidence {evidence if evidence is None else round(evidence, 2)} s; "
        f"median latency {answers.median_latency_s:.1f} s",
        markup=False,
        highlight=False,
    )


@app.command()
def serve(
    index: IndexOption = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; 0.0.0.0 serves the plant network (explicit).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 7860,
) -> None:
    """Start the web app: the operator chat at / and the AI manager's knowledge map at /manager/.

    Set SHOPFLOOR_MANAGER_PASSWORD for the manager's login; without it a random one is printed.

    Examples:
      shopfloor serve
      SHOPFLOOR_MANAGER_PASSWORD=... shopfloor serve --host 0.0.0.0 --port 8080
    """
    import uvicorn

    from ui.server import create_app, manager_credentials

    settings = _settings(index)
    user, password, generated = manager_credentials(settings)
    web_app = create_app(settings, password)
    if generated:
        err.print(f"manager login for this run: {user} / {password} (set SHOPFLOOR_MANAGER_PASSWORD to fix it)")
    err.print(f"operator chat: http://{host}:{port}/   manager: http://{host}:{port}/manager/")
    uvicorn.run(web_app, host=host, port=port, log_level="warning")


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
    out.print(
        f"bare model    {bench.bare_embed_seconds:7.1f} s                {bench.bare_chunks_per_s:6.2f} chunks/s"
        f"  ({bench.backend})"
    )
    out.print(
        f"stock model   {bench.stock_embed_seconds:7.1f} s                {bench.stock_chunks_per_s:6.2f} chunks/s"
        "  (sentence-transformers torch-fp32)"
    )
    out.print(
        f"embedding backend {bench.backend}: {bench.bare_chunks_per_s / bench.stock_chunks_per_s:.2f}x stock speed, "
        f"top-5 neighbour agreement with stock {bench.agreement:.3f} over {r.chunks} chunks (target >= 3x, >= 0.97)"
    )
    stages = "  ".join(f"{name} {secs:.1f}s ({secs / bench.pipeline_seconds:.0%})" for name, secs in t.items())
    out.print(f"stages        {stages}")
    out.print(f"embedding share of pipeline wall time: {bench.embed_share:.1%} (reading overlaps it)")
    out.print(
        f"pipeline throughput vs bare model: {r.chunks / bench.pipeline_seconds / bench.bare_chunks_per_s:.0%}; "
        f"pipeline's own overhead beyond its critical path (the bare model or reading + OCR, whichever is longer): "
        f"{bench.own_overhead:.1%} (target < 15%)"
    )
    if r.ocr_read:
        rate = r.ocr_read / max(t["ocr"], 1e-9)
        out.print(
            f"OCR           {t['ocr']:7.1f} s  {rate:6.2f} OCR pages/s  ({r.ocr_read} pages read, {r.ocr_pages} kept "
            "as adding words; runs in the read-ahead thread, beside embedding)"
        )
    out.print(
        f"unchanged re-run: {bench.rerun_seconds:.2f} s in a fresh process, "
        f"{'no new index version written' if bench.rerun_wrote_nothing else 'WROTE A NEW VERSION'} (target < 2 s)"
    )


@bench_app.command("ask")
def bench_ask(
    questions: Annotated[
        list[str] | None, typer.Argument(help="Questions to time (default: five about sample_docs/).")
    ] = None,
    index: IndexOption = None,
    questions_file: Annotated[
        Path | None,
        typer.Option("--questions", help="A question set (JSONL with a `question` per line, or plain lines)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many questions of --questions.")] = 20,
    cold: Annotated[bool, typer.Option("--cold", help="Forget llama.cpp's prompt cache before each question.")] = False,
) -> None:
    """Time answers as an operator waits for them: the manual's lines on screen, the first word of
    the answer, the whole answer (medians), against bare llama.cpp on the same prompt; with its
    prompt-reading and writing speed and the CPU's vector extensions (machines differ).

    Examples:
      shopfloor bench ask "What torque for the ram guide bolts?"
      shopfloor bench ask --index /tmp/evalidx --questions benchmarks/eval/linuxcnc.jsonl --limit 20
    """
    from assistant.benchmark import DEFAULT_QUESTIONS, cpu_vector_extensions, summarize, time_question
    from assistant.service import open_assistant

    settings = _settings(index)
    asked = questions or (_question_lines(questions_file)[:limit] if questions_file else list(DEFAULT_QUESTIONS))
    assistant = open_assistant(settings)
    out.print(f"CPU: {os.cpu_count()} cores, {cpu_vector_extensions()}; {settings.threads} threads", highlight=False)
    timings = [time_question(assistant, q, cold=cold) for q in asked]
    for t in timings:
        evidence = f"{t.first_evidence_s:4.2f}" if t.first_evidence_s is not None else "   -"
        out.print(
            f"{evidence} s lines, {t.first_token_s:5.2f} s first word, {t.total_s:5.2f} s total | bare model "
            f"{t.bare_first_token_s:5.2f} / {t.bare_total_s:5.2f} s, {t.prompt_tokens} prompt tokens | {t.question}",
            markup=False,
            highlight=False,
        )
    m = summarize(timings)
    out.print(
        f"median: lines on screen {m['first_evidence_s']:.2f} s, first word {m['first_token_s']:.2f} s, "
        f"full answer {m['total_s']:.2f} s; bare llama.cpp {m['bare_first_token_s']:.2f} s / "
        f"{m['bare_total_s']:.2f} s; "
        f"overhead {m['overhead']:+.1%}; prompt {m['prompt_tokens']:.0f} tokens, read at {m['reading_tok_s']:.0f} "
        f"tok/s, written at {m['writing_tok_s']:.1f} tok/s; answered {m['answered']:.0%}",
        markup=False,
        highlight=False,
    )


def _question_lines(path: Path) -> list[str]:
    """Questions from a JSONL question set (its `question` fields) or a file of plain lines."""
    lines = _batch_questions(path)
    return [json.loads(line)["question"] if line.startswith("{") else line for line in lines]


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
