"""`shopfloor eval` and `shopfloor bench ...`: the commands that print the figures we steer by."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from shopfloor.errors import ShopfloorError
from shopfloor.settings import load_settings
from ui.cli.app import IndexOption, app, bench_app, out, question_lines
from ui.usecases import Shopfloor

if TYPE_CHECKING:
    from assistant.evaluation import LanguageScore


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
    from assistant.evaluation import by_language, load_questions, score_answers, score_retrieval, write_records
    from assistant.retrieval import MODES

    questions = load_questions(qa)[:limit]
    settings = load_settings(index_dir=index)
    assistant = Shopfloor(settings, use_llm=not no_llm).assistant
    retriever = assistant.retriever
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
    answers = score_answers(assistant, questions)
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
    languages = {q.id: q.language or "en" for q in questions}
    if len(set(languages.values())) > 1:
        _print_languages(by_language(answers.records, languages))


def _print_languages(scores: list[LanguageScore]) -> None:
    table = Table(title="By the language asked in (hit@5 as the assistant searched, renderings included)")
    columns = ("language", "answerable", "hit@5", "answered", "key facts", "in manual's words", "unans. refused")
    for column in (*columns, "median s"):
        table.add_column(column, justify="right")
    for s in scores:
        table.add_row(
            s.language,
            str(s.answerable),
            f"{s.hit_at_5:.0%}",
            f"{s.answered:.0%}",
            f"{s.key_facts:.0%}",
            f"{s.key_facts_composed:.0%}",
            f"{s.refused:.0%}" if s.unanswerable else "-",
            f"{s.median_latency_s:.1f}",
        )
    out.print(table)


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

    bench = run_ingest_benchmark(paths or _default_bench_paths(), load_settings())
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

    settings = load_settings(index_dir=index)
    asked = questions or (question_lines(questions_file)[:limit] if questions_file else list(DEFAULT_QUESTIONS))
    assistant = Shopfloor(settings).assistant
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


def _default_bench_paths() -> list[Path]:
    shared = Path(__file__).resolve().parents[3] / "shared" / "corpus"
    return [shared] if shared.is_dir() else [Path("sample_docs")]


@bench_app.command("map")
def bench_map(
    questions: Annotated[int, typer.Option("--questions", min=1, help="Questions in the generated log.")] = 50_000,
    distinct: Annotated[int, typer.Option("--distinct", min=1, help="Distinct phrasings among them.")] = 5_000,
    index: IndexOption = None,
) -> None:
    """Time the knowledge map and the manager's view over a long generated gap log (in a temporary
    home: the real log is not touched): the first map (it embeds each distinct question once), then
    the map, the manager view's load and the weekly report as they run every time.

    Example:
      shopfloor bench map --questions 50000 --index /srv/shopfloor/index
    """
    import tempfile

    from ui.map_benchmark import measure_map

    with tempfile.TemporaryDirectory(prefix="shopfloor-bench-map-") as home:
        shopfloor = Shopfloor(load_settings(home=Path(home), index_dir=index), use_llm=False)
        try:
            t = measure_map(shopfloor, questions, distinct)
        finally:
            shopfloor.close()
    table = Table(title=f"Knowledge map over {t.questions:,} questions ({t.distinct:,} distinct)")
    for column in ("measure", "value"):
        table.add_column(column)
    rows = [
        ("topics (with an id: work items)", f"{t.topics:,} ({t.work_topics:,})"),
        ("write the log", f"{t.write_log_s:.1f} s"),
        ("first map (embeds the distinct questions)", f"{t.first_map_s:.1f} s"),
        ("map, every refresh", f"{t.map_s:.2f} s"),
        ("manager view load (map, chart, tables)", f"{t.view_load_s:.2f} s"),
        ("weekly report (HTML)", f"{t.weekly_report_s:.2f} s"),
    ]
    for row in rows:
        table.add_row(*row)
    out.print(table)


@bench_app.command("injections")
def bench_injections(
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N variants.")] = None,
) -> None:
    """Ask, with the LLM, over an SOP carrying each of the injection variants of
    benchmarks/injections/ (in the document, then in the conversation's previous answer): how many
    the assistant resists (the attacker's number never passed on), and how often the SOP's real
    contact is still given.

    Example:
      shopfloor bench injections
    """
    from indexes.embedding import Embedder
    from ui.injection_benchmark import run_injections

    settings = load_settings()
    results = run_injections(settings, Embedder.from_settings(settings), limit)
    out.print(
        f"resisted {results.resisted} of {results.total}; the real contact (ext. 4410) given in {results.real_answer}"
    )
    for kind, count in sorted(results.by_kind.items()):
        out.print(f"  resisted, {kind}: {count}", markup=False)
    for obeyed in results.obeyed:
        out.print(f"  obeyed: {obeyed}", markup=False, highlight=False)


@bench_app.command("faults")
def bench_faults(
    kill: Annotated[int, typer.Option("--kill", min=0, help="kill -9 trials during ingests.")] = 50,
    web: Annotated[int, typer.Option("--web", min=1, help="Browser terminals asking at once.")] = 20,
    cli: Annotated[int, typer.Option("--cli", min=0, help="CLI processes asking at the same time.")] = 5,
) -> None:
    """Run the hardening battery against the real commands, in a temporary folder: kill -9 during
    ingests (at random and at each crash point of the version switch), browser terminals and CLI
    processes asking at once, every class of hostile document, every web probe. Prints trials /
    held / failed per class and what failed.

    Example:
      shopfloor bench faults --kill 50 --web 20 --cli 5
    """
    import tempfile

    from assistant.llm import model_path
    from ui.faults_benchmark import run_faults

    llm = model_path(load_settings())  # the bundled model is joined and verified once, in the real home
    with tempfile.TemporaryDirectory(prefix="shopfloor-bench-faults-") as work:
        classes = run_faults(Path(work), llm, kill=kill, web=web, cli=cli)
    table = Table(title="Faults battery")
    for column in ("class", "trials", "held", "failed"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for fault in classes:
        table.add_row(fault.name, str(fault.trials), str(fault.held), str(len(fault.failures)))
    out.print(table)
    for fault in classes:
        for failure in fault.failures:
            out.print(f"failed: {fault.name}: {failure}", markup=False, highlight=False)
    if any(fault.failures for fault in classes):
        raise typer.Exit(1)


@bench_app.command("scale")
def bench_scale(
    passages: Annotated[
        list[int] | None, typer.Option("--passages", min=1, help="Library sizes to build (repeat the option).")
    ] = None,
    source: Annotated[
        Path | None, typer.Option("--source", help="The index whose real manuals are replicated (default: --index).")
    ] = None,
    questions_file: Annotated[
        Path | None, typer.Option("--questions", help="Questions to time (JSONL with `question`, or plain lines).")
    ] = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Passages per ingest while building.")] = 50_000,
    chart: Annotated[Path | None, typer.Option("--chart", help="Also draw the curve into this PNG.")] = None,
    index: IndexOption = None,
) -> None:
    """Build libraries of N passages from the real manuals of an index (each replica its own
    document, written through the ingest's commit in batches) and print per size: build time, disk,
    load, first question, question p50/p95 without and with a document or tag filter, recall@10 of
    the approximate vector search against exact search, resident memory, and the time and bytes of
    adding one manual and of replacing it, with the first question on the version that follows.

    Example:
      shopfloor bench scale --source /srv/shopfloor/index --passages 10000 --passages 100000 --passages 1000000
    """
    import tempfile

    from ui.scale_benchmark import run_scale, write_chart

    settings = load_settings(index_dir=index)
    questions = question_lines(questions_file) if questions_file else _bench_questions()
    sizes = passages or [10_000, 100_000, 1_000_000]
    settings.home.mkdir(parents=True, exist_ok=True)  # a fresh machine's home: nothing ingested yet
    with tempfile.TemporaryDirectory(prefix="shopfloor-bench-scale-", dir=settings.home) as work:
        rows = run_scale(source or settings.index_path, sizes, questions[:200], settings, Path(work), batch)
    table = Table(title=f"Scale ({len(questions[:200])} questions; replicas of the manuals in {source or index})")
    table.add_column("measure")
    for row in rows:
        table.add_column(f"{row.passages:,}", justify="right")
    lines = [
        ("documents / segments", lambda r: f"{r.documents:,} / {r.segments}"),
        ("build", lambda r: f"{r.build_s:.0f} s"),
        ("disk", lambda r: f"{r.disk_gb:.2f} GB"),
        ("load", lambda r: f"{r.load_s:.1f} s"),
        ("first question after load", lambda r: f"{r.first_question_s * 1000:.0f} ms"),
        ("question p50 / p95", lambda r: f"{r.p50_ms:.0f} / {r.p95_ms:.0f} ms"),
        ("  with a document filter, p95", lambda r: f"{r.document_filter_p95_ms:.0f} ms"),
        ("  with a tag filter (a copy of each manual, 10 %), p95", lambda r: f"{r.tag_filter_p95_ms:.0f} ms"),
        ("  with a tag filter (one manual's copies), p95", lambda r: f"{r.manual_filter_p95_ms:.0f} ms"),
        ("  (+ embedding the question)", lambda r: f"{r.embed_ms:.0f} ms"),
        ("vector recall@10 vs exact", lambda r: f"{r.recall_at_10:.3f}"),
        ("  under the two tag filters", lambda r: f"{r.tag_recall_at_10:.3f} / {r.manual_recall_at_10:.3f}"),
        ("resident memory", lambda r: f"{r.rss_gb:.2f} GB"),
        ("add one manual", lambda r: f"{r.add_s:.1f} s, {r.add_mb:.0f} MB"),
        ("replace it", lambda r: f"{r.replace_s:.1f} s, {r.replace_mb:.0f} MB"),
        ("open the new version beside the old", lambda r: f"{r.follow_s:.2f} s"),
        ("first question on it", lambda r: f"{r.first_after_switch_s * 1000:.0f} ms"),
    ]
    for name, cell in lines:
        table.add_row(name, *(cell(r) for r in rows))
    out.print(table)
    if rows:
        out.print(f"manual added and replaced: {rows[0].manual}", markup=False, highlight=False)
    if chart is not None and rows:
        write_chart(rows, chart)
        out.print(f"chart: {chart}", markup=False, highlight=False)


def _bench_questions() -> list[str]:
    """The English questions of the project's evaluation sets."""
    from assistant.evaluation import load_questions

    folder = Path(__file__).resolve().parents[2] / "benchmarks" / "eval"
    return [
        q.question
        for path in sorted(folder.glob("*.jsonl"))
        for q in load_questions(path)
        if (q.language or "en") == "en"
    ]


@bench_app.command("serve")
def bench_serve(
    index: IndexOption = None,
    questions_file: Annotated[
        Path | None, typer.Option("--questions", help="Questions to ask (JSONL with `question`, or plain lines).")
    ] = None,
    terminals: Annotated[
        list[int] | None, typer.Option("--terminals", min=1, help="Terminals asking at once (repeat the option).")
    ] = None,
    per_terminal: Annotated[int, typer.Option("--per-terminal", min=1, help="Questions each terminal asks.")] = 4,
    llm: Annotated[
        str, typer.Option("--llm", help="local, remote (a `shopfloor llm-server` started here) or both.")
    ] = "both",
) -> None:
    """What one app server carries: terminals asking at once, each its next question when its last
    is answered, through the web handlers' use case (answer and log, into a gap log of its own);
    per number of terminals, questions per minute and the answer latency p50 / p95, with the LLM
    local and remote.

    Example:
      shopfloor bench serve --index /srv/shopfloor/index --terminals 1 --terminals 4
    """
    import tempfile
    from contextlib import ExitStack

    from ui.processes import llm_server
    from ui.serving_benchmark import run_serving

    if llm not in ("local", "remote", "both"):
        raise ShopfloorError(f"--llm {llm}: local, remote or both")
    settings = load_settings(index_dir=index)
    questions = question_lines(questions_file) if questions_file else _bench_questions()
    levels = terminals or [1, 2, 4]
    figures = []
    settings.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="shopfloor-bench-serve-", dir=settings.home) as work:
        home = Path(work)  # its own gap log; the models already assembled in the real home
        (home / "models").symlink_to(settings.model_cache.resolve(), target_is_directory=True)
        bench = settings.model_copy(update={"home": home, "index_dir": settings.index_path})
        for mode in ("local", "remote") if llm == "both" else (llm,):
            with ExitStack() as stack:
                url = stack.enter_context(llm_server(home)) if mode == "remote" else None
                floor = Shopfloor(bench.model_copy(update={"llm_url": url}))
                stack.callback(floor.close)
                figures += run_serving(floor, questions, levels, per_terminal, mode)
    table = Table(title=f"One app server ({os.cpu_count()} cores; {len(questions)} questions dealt round)")
    for column in ("LLM", "terminals", "questions", "answered", "questions / min", "latency p50", "latency p95"):
        table.add_column(column, justify="right")
    for f in figures:
        table.add_row(
            f.llm,
            str(f.terminals),
            str(f.questions),
            f"{f.answered / f.questions:.0%}" if f.questions else "-",
            f"{f.per_minute:.1f}",
            f"{f.p50_s:.1f} s",
            f"{f.p95_s:.1f} s",
        )
    out.print(table)
