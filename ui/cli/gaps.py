"""`shopfloor gaps`: the knowledge map on the command line, for people who script: the topics, and
their lifecycle (assign, close, won't document, reopen) with its audit trail (history)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from shopfloor.settings import load_settings
from ui.cli.app import IndexOption, app, err, out, who_am_i
from ui.usecases import Shopfloor

if TYPE_CHECKING:
    from assistant.knowledge_map import Topic


gaps_app = typer.Typer(help="The knowledge map: open gaps by topic, and the work on each topic.")
app.add_typer(gaps_app, name="gaps")
ByOption = Annotated[str, typer.Option("--by", help="Who makes the change (the audit trail names them).")]


@gaps_app.callback(invoke_without_command=True)
def gaps(
    ctx: typer.Context,
    index: IndexOption = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only questions asked on/after this date (YYYY-MM-DD).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv (one row per question) or json.")] = "table",
    recheck: Annotated[
        bool,
        typer.Option("--recheck", help="Ask the open topics again; those the index now answers wait for confirm."),
    ] = False,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="With --recheck: judge by retrieval alone.")] = False,
) -> None:
    """The knowledge map's open topics: unanswered questions grouped with the questions like them
    (each topic with a stable id, a state and an owner), to decide which manuals to write.

    Examples:
      shopfloor gaps --since 2026-11-01
      shopfloor gaps --format csv > gaps.csv
      shopfloor gaps --recheck
      shopfloor gaps assign T0003 --owner "J. Weber" --due 2026-12-15
    """
    if ctx.invoked_subcommand is not None:
        return
    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter("must be table, csv or json", param_hint="--format")
    shopfloor = Shopfloor(load_settings(index_dir=index), use_llm=not no_llm)
    try:
        if recheck:
            result = shopfloor.recheck_gaps(since)
            waiting = f": {', '.join(result.answered)} (confirm or reject them)" if result.answered else ""
            err.print(f"rechecked {result.checked} open topics: {len(result.answered)} answered now{waiting}")
        report = shopfloor.gap_report(since)
    finally:
        shopfloor.close()
    _print_topics(report.open_topics, fmt)
    if fmt == "table":
        f = report.figures
        out.print(
            f"{f.questions} questions, {f.answered_pct:.0f}% answered, "
            f"{f.thumbs_down_pct:.0f}% thumbs down, median {f.median_latency_s:.1f} s; "
            f"{f.open_gaps} open gaps in {len(report.open_topics)} topics"
        )


def _print_topics(topics: list[Topic], fmt: str) -> None:
    if fmt == "json":
        for t in topics:
            record: dict[str, object] = {
                "id": t.id,
                "state": t.state,
                "owner": t.owner,
                "due": t.due,
                "topic": t.label,
                "count": t.count,
            }
            record |= {"question": t.question, "asked": t.asked, "kinds": t.kinds, "proposal": t.proposal}
            record |= {"examples": t.examples, "first_seen": t.first_seen}
            record |= {"last_seen": t.last_seen, "equipment": t.equipment, "ids": [g.id for g in t.gaps]}
            typer.echo(json.dumps(record))
    elif fmt == "csv":
        from assistant.knowledge_map import write_csv

        write_csv(topics, sys.stdout)
    else:
        table = Table(title="Knowledge gaps by topic")
        columns = ("id", "state", "owner", "topic", "count", "kind", "examples", "first seen", "last seen", "equipment")
        for column in columns:
            table.add_column(column)
        for t in topics:
            examples = "\n".join(t.examples)
            work = (t.id, t.state, t.owner or "")
            seen = (t.first_seen, t.last_seen, ", ".join(t.equipment))
            table.add_row(*work, t.label, str(t.count), t.kinds, examples, *seen)
        out.print(table)


TopicArgument = Annotated[str, typer.Argument(help="Topic id, as `shopfloor gaps` lists it (T0003).")]


def _change(index: Path | None, change: Callable[[Shopfloor], None], done: str) -> None:
    shopfloor = Shopfloor(load_settings(index_dir=index), use_llm=False)
    try:
        change(shopfloor)
    finally:
        shopfloor.close()
    out.print(done, markup=False, highlight=False)


@gaps_app.command("assign")
def assign(
    topic: TopicArgument,
    owner: Annotated[str, typer.Option("--owner", help="Who writes or fixes the documentation.")],
    due: Annotated[str | None, typer.Option("--due", help="Due date, YYYY-MM-DD.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="What is to be done.")] = None,
    by: ByOption = "",
    index: IndexOption = None,
) -> None:
    """Give a topic to a person, with a due date and a note.

    Example:
      shopfloor gaps assign T0003 --owner "J. Weber" --due 2026-12-15 --note "add the PR-9 payload table"
    """
    who = by or who_am_i()
    _change(index, lambda s: s.assign_topic(topic, owner, who, due=due, note=note), f"{topic} assigned to {owner}")


@gaps_app.command("close")
def close(
    topic: TopicArgument,
    note: Annotated[str | None, typer.Option("--note", help="What documents it now.")] = None,
    by: ByOption = "",
    index: IndexOption = None,
) -> None:
    """Confirm a topic closed: the documentation now covers it (its questions leave the open gaps).

    Example:
      shopfloor gaps close T0003 --note "SOP-12 rev D, section 4"
    """
    who = by or who_am_i()
    _change(index, lambda s: s.close_topic(topic, who, note), f"{topic} closed")


@gaps_app.command("wont-document")
def wont_document(
    topic: TopicArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why it will not be documented.")],
    by: ByOption = "",
    index: IndexOption = None,
) -> None:
    """Decide a topic will not be documented, and say why.

    Example:
      shopfloor gaps wont-document T0007 --reason "canteen hours are not for the assistant"
    """
    who = by or who_am_i()
    _change(index, lambda s: s.wont_document(topic, who, reason), f"{topic} will not be documented")


@gaps_app.command("reopen")
def reopen(
    topic: TopicArgument,
    note: Annotated[str | None, typer.Option("--note", help="Why it is open again.")] = None,
    by: ByOption = "",
    index: IndexOption = None,
) -> None:
    """Open a closed topic again (its questions return to the open gaps).

    Example:
      shopfloor gaps reopen T0003 --note "operators still ask after rev D"
    """
    who = by or who_am_i()
    _change(index, lambda s: s.reopen_topic(topic, who, note), f"{topic} reopened")


@gaps_app.command("history")
def history(
    topic: Annotated[str | None, typer.Argument(help="Topic id; all topics when left out.")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV for export instead of a table.")] = False,
    index: IndexOption = None,
) -> None:
    """The audit trail: every change of a topic, who made it and when.

    Examples:
      shopfloor gaps history T0003
      shopfloor gaps history --csv > topic-audit.csv
    """
    shopfloor = Shopfloor(load_settings(index_dir=index), use_llm=False)
    try:
        events = shopfloor.topic_history(topic)
    finally:
        shopfloor.close()
    if as_csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(["topic", "at", "who", "action", "detail"])
        writer.writerows([e.topic_id, e.at, e.who, e.action, e.detail] for e in events)
        return
    table = Table(title=f"History of {topic}" if topic else "History of all topics")
    for column in ("topic", "at", "who", "action", "detail"):
        table.add_column(column)
    for e in events:
        table.add_row(e.topic_id, e.at, e.who, e.action, e.detail)
    out.print(table)


@gaps_app.command("confirm")
def confirm(topic: TopicArgument, by: ByOption = "", index: IndexOption = None) -> None:
    """Accept the answer a re-check found for a topic: the topic is closed.

    Example:
      shopfloor gaps confirm T0003
    """
    who = by or who_am_i()
    _change(index, lambda s: s.confirm_topic(topic, who), f"{topic} confirmed and closed")


@gaps_app.command("reject")
def reject(
    topic: TopicArgument,
    note: Annotated[str | None, typer.Option("--note", help="What is wrong with the answer.")] = None,
    by: ByOption = "",
    index: IndexOption = None,
) -> None:
    """Reject the answer a re-check found: the topic goes back to where it was.

    Example:
      shopfloor gaps reject T0003 --note "cites the old revision"
    """
    who = by or who_am_i()
    _change(index, lambda s: s.reject_topic(topic, who, note), f"{topic}: answer rejected")


@app.command("policy")
def policy(
    index: IndexOption = None,
    since: Annotated[str | None, typer.Option("--since", help="Count firings on/after this date (YYYY-MM-DD).")] = None,
) -> None:
    """The manager's policy rules (setting policy_file) and how often each fired: where the assistant
    may only quote the manual, and where it sends the operator to a person. A malformed file is refused.

    Example:
      SHOPFLOOR_POLICY_FILE=policy.toml shopfloor policy --since 2026-11-01
    """
    shopfloor = Shopfloor(load_settings(index_dir=index), use_llm=False)
    try:
        uses = shopfloor.policy_rules(since)
    finally:
        shopfloor.close()
    if not uses:
        err.print("no policy rules (set policy_file to a TOML file of [[rule]] tables)")
        return
    table = Table(title=f"Policy rules ({shopfloor.settings.policy_file})")
    for column in ("rule", "action", "keywords", "equipment", "direct to", "fired"):
        table.add_column(column)
    for use in uses:
        r = use.rule
        table.add_row(
            r.name, r.action, ", ".join(r.keywords), ", ".join(r.equipment), r.direct_to or "", str(use.fired)
        )
    out.print(table)
