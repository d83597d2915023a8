"""`shopfloor report`: the week's results for the tier meeting, as one self-contained HTML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from shopfloor.errors import ShopfloorError
from shopfloor.settings import load_settings
from ui.cli.app import IndexOption, app, err, out
from ui.usecases import Shopfloor


@app.command("report")
def report(
    week: Annotated[str | None, typer.Option("--week", help="ISO week, YYYY-Www (default: this week).")] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the HTML report here (default: a summary on stdout).")
    ] = None,
    weeks: Annotated[int, typer.Option("--weeks", min=1, max=104, help="Weeks of trend up to --week.")] = 8,
    index: IndexOption = None,
) -> None:
    """The week's figures beside the weeks before (questions, share answered, thumbs down, gaps opened
    and closed, days to close, technician time saved), per equipment, the coverage map, the open topics
    with their owners, the gaps closed, the documents going stale.

    Examples:
      shopfloor report
      shopfloor report --week 2026-W48 --out tier-meeting.html
    """
    from ui.report import render_report

    shopfloor = Shopfloor(load_settings(index_dir=index), use_llm=False)
    try:
        weekly = shopfloor.weekly_report(week, weeks)
    finally:
        shopfloor.close()
    if out_file is not None:
        html = render_report(weekly)
        try:  # written beside, then renamed: a reader never sees half a report
            partial = out_file.with_name(f".{out_file.name}.partial")
            partial.write_text(html, encoding="utf-8")
            os.replace(partial, out_file)
        except OSError as exc:
            raise ShopfloorError(f"{out_file}: cannot write the report ({exc.strerror or exc})") from None
        err.print(f"report for {weekly.week} written to {out_file}")
        return
    w = weekly.current
    days = "—" if w.days_to_close is None else f"{w.days_to_close} days"
    out.print(
        f"{weekly.week}: {w.questions} questions, {w.answered_pct:.0f}% answered, "
        f"{w.thumbs_down_pct:.0f}% thumbs down, "
        f"{w.gaps_opened} gaps opened, {w.gaps_closed} closed (median {days} from first question), "
        f"{w.hours_saved:.1f} h technician time saved; {len(weekly.open_topics)} open topics",
        markup=False,
        highlight=False,
    )
