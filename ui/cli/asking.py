"""`shopfloor ask`: the manuals' lines at once, then the answer as it is written, with citations."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from shopfloor.settings import load_settings
from ui.cli.app import IndexOption, TagOption, app, out, parse_tags, question_lines
from ui.usecases import Shopfloor

if TYPE_CHECKING:
    from assistant.answering import Answer
    from assistant.evidence import Evidence


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
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="The terminal's language (de, es, pt, fr, pl, tr, it, en) where a question's "
            "words do not say it clearly; answers come in the question's language.",
        ),
    ] = None,
) -> None:
    """Ask the manuals: a short answer with citations (document, page, section), or a plain
    "not found" with the closest passages. Every question is logged for the gap review.

    Examples:
      shopfloor ask "How often is the hydraulic oil changed on the HP-200?"
      shopfloor ask "alarm AL-205" --tag equipment=CL-400 --json
      shopfloor ask --json --batch questions.txt
      shopfloor ask "wie oft wird das Hydrauliköl der HP-200 gewechselt?"
    """
    from assistant.retrieval import Filters

    if (question is None) == (batch is None):
        raise typer.BadParameter("give a QUESTION or --batch FILE (not both)")
    questions = question_lines(batch) if batch else [question or ""]
    settings = load_settings(index_dir=index, terminal_id=terminal)
    filters = Filters(doc_ids=set(doc or []), tags=parse_tags(tag or []) or {})
    shopfloor = Shopfloor(settings, use_llm=not no_llm)
    try:
        for text in questions:
            streamed: list[str] = []
            on_token = None if as_json else _printing_into(streamed)
            on_evidence = None if as_json else _print_evidence
            answer = shopfloor.ask(
                text, filters=filters, on_token=on_token, on_evidence=on_evidence, language=lang
            ).answer
            if as_json:
                typer.echo(json.dumps(answer.to_json()))
            else:
                _print_answer(answer, streamed=bool(streamed))
    finally:
        shopfloor.close()


def _printing_into(streamed: list[str]) -> Callable[[str], None]:
    """Print tokens as the model produces them, remembering that something was shown."""

    def print_token(token: str) -> None:
        streamed.append(token)
        out.print(token, end="", markup=False, highlight=False)

    return print_token


def _print_evidence(evidence: list[Evidence]) -> None:
    """The manual's own lines, shown before the model has written a word."""
    for line in evidence[:3]:
        page = f" p. {line.page}" if line.page is not None else ""
        out.print(f"  “{line.text}” ({line.passage.file}{page})", style="dim", markup=False, highlight=False)


def _print_answer(answer: Answer, streamed: bool) -> None:
    from assistant.answering import SOURCE_NOTES

    if streamed:
        out.print()
    if answer.answered:
        if not streamed or answer.mode == "quoted":  # the model's draft declined: the manual's lines stand
            out.print(answer.answer, markup=False, highlight=False)
        for warning in answer.warnings:
            out.print(f"[bold yellow]! {escape(warning)}[/]")
        for c in answer.citations:
            page = "" if c.page is None else f", page {c.page}"  # a Markdown or HTML file has no pages
            page += f" ({c.page_label})" if c.page and c.page_label and c.page_label != str(c.page) else ""
            via = f" ({SOURCE_NOTES[c.text_source]})" if c.text_source in SOURCE_NOTES else ""
            out.print(f"[{c.number}] {c.file}{page}, {c.section or 'no section'}{via}", markup=False, highlight=False)
        return
    if answer.mode == "directed":
        out.print(answer.answer, markup=False, highlight=False)
        return
    if streamed:
        out.print("[dim](that draft was withdrawn)[/]")
    out.print(f"Not found in the manuals ({answer.reason}).", markup=False, highlight=False)
