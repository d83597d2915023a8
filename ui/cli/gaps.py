"""`shopfloor gaps`: the knowledge map on the command line, for people who script."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from shopfloor.settings import load_settings
from ui.cli.app import IndexOption, app, err, out
from ui.usecases import Shopfloor

if TYPE_CHECKING:
    from assistant.knowledge_map import Topic


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
    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter("must be table, csv or json", param_hint="--format")
    shopfloor = Shopfloor(load_settings(index_dir=index), use_llm=not no_llm)
    try:
        if recheck:
            result = shopfloor.recheck_gaps(since)
            err.print(f"rechecked {result.checked} open gaps: {len(result.answered)} now answered by the index")
        report = shopfloor.gap_report(since)
    finally:
        shopfloor.close()
    _print_topics(report.topics, fmt)
    if fmt == "table":
        f = report.figures
        out.print(
            f"{f.questions} questions, {f.answered_pct:.0f}% answered, "
            f"{f.thumbs_down_pct:.0f}% thumbs down, median {f.median_latency_s:.1f} s; "
            f"{f.open_gaps} open gaps in {len(report.topics)} topics"
        )


def _print_topics(topics: list[Topic], fmt: str) -> None:
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
