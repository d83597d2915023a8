"""The weekly report for the tier meeting: one self-contained HTML file (styles and charts inline,
nothing fetched), every piece of logged or document text escaped."""

from __future__ import annotations

from html import escape

from assistant.outcomes import WeekFigures
from ui.charts import as_svg, coverage_figure, trend_figure
from ui.usecases import WeeklyReport

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #212529; max-width: 1200px; }
h1 { margin-bottom: 0; } .sub { color: #868e96; margin-top: 4px; }
.figures { display: flex; gap: 16px; flex-wrap: wrap; margin: 16px 0; }
.figure { border: 1px solid #dee2e6; border-radius: 6px; padding: 10px 14px; min-width: 140px; }
.figure b { display: block; font-size: 26px; } .figure span { color: #868e96; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 20px; font-size: 14px; }
th, td { border-bottom: 1px solid #dee2e6; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f1f3f5; } svg { max-width: 100%; height: auto; }
"""


def render_report(report: WeeklyReport) -> str:
    now = report.current
    before = report.trend[-2] if len(report.trend) > 1 and report.trend[-2].questions else None
    parts = [
        f"<h1>Shopfloor Assistant: week {escape(report.week)}</h1>",
        f'<p class="sub">Technician time counted at {now.minutes_per_call:g} minutes per question answered.</p>',
        _headline(now, before),
        "<h2>Trend</h2>",
        as_svg(trend_figure(report.trend)),
        _table(
            [
                "week",
                "questions",
                "answered",
                "thumbs down",
                "gaps opened",
                "gaps closed",
                "days to close",
                "hours saved",
            ],
            [_week_row(w) for w in report.trend],
        ),
        f"<h2>By equipment, week {escape(report.week)}</h2>",
        _table(
            ["equipment", "questions", "answered", "thumbs down", "questions not answered", "hours saved"],
            [[row, *_figures(w)] for row, w in report.by_equipment],
        ),
        "<h2>Where the documentation carries the floor</h2>",
        as_svg(coverage_figure(report.coverage)),
        "<h2>Open topics</h2>",
        _table(
            ["topic", "state", "owner", "due", "open gaps", "asked", "example"],
            [
                [t.id, t.state, t.owner or "—", t.due or "", t.count, t.asked, t.question]
                for t in report.open_topics[:15]
            ],
        ),
        f"<h2>Closed in week {escape(report.week)}</h2>",
        _table(
            ["topic", "closed", "days from first question"],
            [[f"{c.id} {c.label}", c.at[:10], "" if c.days_open is None else c.days_open] for c in report.closed],
        ),
        "<h2>Documents to look at</h2>",
        _table(
            ["document", "revision", "cited", "thumbs down", "pages not searchable"],
            [
                [
                    u.doc_id,
                    u.revision or "",
                    u.cited or "never",
                    u.thumbs_down,
                    ", ".join(map(str, u.unsearchable_pages)),
                ]
                for u in report.stale_documents
            ],
        ),
        "<h2>Policy rules</h2>",
        _table(
            ["rule", "action", "direct to", "fired"],
            [[u.rule.name, u.rule.action, u.rule.direct_to or "", u.fired] for u in report.rules],
        ),
    ]
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Shopfloor Assistant {escape(report.week)}</title><style>{_STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _headline(now: WeekFigures, before: WeekFigures | None) -> str:
    def change(value: float, previous: float | None, unit: str) -> str:
        return "" if previous is None else f" ({value - previous:+.0f}{unit} on the week before)"

    figures = [
        (f"{now.questions}", "questions", change(now.questions, before.questions if before else None, "")),
        (
            f"{now.answered_pct:.0f} %",
            "answered",
            change(now.answered_pct, before.answered_pct if before else None, " pts"),
        ),
        (f"{now.thumbs_down_pct:.0f} %", "thumbs down", ""),
        (f"{now.gaps_opened} / {now.gaps_closed}", "gaps opened / closed", ""),
        (f"{now.hours_saved:.1f} h", "technician time saved", ""),
    ]
    boxes = "".join(
        f'<div class="figure"><b>{escape(v)}</b><span>{escape(label + note)}</span></div>' for v, label, note in figures
    )
    return f'<div class="figures">{boxes}</div>'


def _figures(w: WeekFigures) -> list[object]:
    return [w.questions, f"{w.answered_pct:.0f} %", f"{w.thumbs_down_pct:.0f} %", w.gaps_opened, f"{w.hours_saved:.1f}"]


def _week_row(w: WeekFigures) -> list[object]:
    days = "" if w.days_to_close is None else w.days_to_close
    return [w.week, w.questions, f"{w.answered_pct:.0f} %", f"{w.thumbs_down_pct:.0f} %", w.gaps_opened,
            w.gaps_closed, days, f"{w.hours_saved:.1f}"]  # fmt: skip


def _table(headers: list[str], rows: list[list[object]]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
