"""The manager's charts (matplotlib, drawn off-screen): the coverage heat map and the weekly trends,
as figures for the web view and as inline SVG for the self-contained report."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from assistant.coverage import Coverage
from assistant.outcomes import WeekFigures

_LABEL_CHARS = 32


def gaps_text(count: int) -> str:
    return f"{count} gap" if count == 1 else f"{count} gaps"


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def coverage_figure(coverage: Coverage) -> Figure:
    """Rows × topics, colour = share answered (red none, green all), each cell with its questions
    asked and open gaps; blank where nobody asked."""
    rows, topics = coverage.rows, coverage.topics
    figure = Figure(figsize=(max(6.0, 0.55 * len(topics) + 3), max(2.5, 0.45 * len(rows) + 2.2)), layout="constrained")
    axes = figure.add_subplot()
    if not rows or not topics:
        axes.text(0.5, 0.5, "No questions in this period", ha="center", va="center")
        axes.set_axis_off()
        return figure
    share = np.full((len(rows), len(topics)), np.nan)
    for (row, column), cell in coverage.cells.items():
        share[rows.index(row), column] = cell.answered_share
    image = axes.imshow(np.ma.masked_invalid(share), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for (row, column), cell in coverage.cells.items():
        text = f"{cell.asked}" + (f"\n{gaps_text(cell.open_gaps)}" if cell.open_gaps else "")
        dark = not 0.25 <= cell.answered_share <= 0.85  # the ends of the colour scale are deep
        colour = "white" if dark else "black"
        axes.text(column, rows.index(row), text, ha="center", va="center", fontsize=7, color=colour, parse_math=False)
    # Labels come from questions and documents: never read as mathtext ("$5" must stay "$5").
    names = [_short(f"{t.id} {t.label}" if t.id else t.label) for t in topics]
    axes.set_xticks(range(len(topics)), names, rotation=50, ha="right", fontsize=8, parse_math=False)
    axes.set_yticks(range(len(rows)), [_short(r) for r in rows], fontsize=8, parse_math=False)
    axes.set_xlabel("topics (most asked first)")
    axes.set_ylabel(coverage.rows_by)
    figure.colorbar(image, ax=axes, label="share answered", shrink=0.8)
    return figure


def trend_figure(weeks: list[WeekFigures]) -> Figure:
    """Questions per week (bars) with the share answered (line), and the technician hours saved."""
    figure = Figure(figsize=(9, 3.2), layout="constrained")
    asked, saved = figure.subplots(1, 2)
    labels = [w.week[2:] for w in weeks]
    positions = np.arange(len(weeks))
    asked.bar(positions, [w.questions for w in weeks], color="#adb5bd", label="questions")
    asked.set_ylabel("questions")
    share = asked.twinx()
    answered = [w.answered_pct if w.questions else np.nan for w in weeks]  # no line through empty weeks
    share.plot(positions, answered, color="#2b8a3e", marker="o", label="answered %")
    share.set_ylim(0, 100)
    share.set_ylabel("answered %")
    asked.set_xticks(positions, labels, rotation=45, fontsize=8)
    asked.set_title("Questions and share answered")
    saved.bar(positions, [w.hours_saved for w in weeks], color="#1c7ed6")
    saved.set_xticks(positions, labels, rotation=45, fontsize=8)
    saved.set_ylabel("hours")
    saved.set_title("Technician time saved")
    return figure


def as_svg(figure: Figure) -> str:
    """The figure as an <svg> element to put inside a page (no XML prolog)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]
