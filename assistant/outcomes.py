"""The assistant's results in operational terms, week by week: questions, share answered, thumbs
down, gaps opened and closed, days from the first question to a closed gap, technician time saved."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from statistics import median

from assistant.gaps import LoggedQuestion
from shopfloor.errors import ShopfloorError

# Topic events that end a gap: the documentation now covers it (a confirmed answer, or closed by hand).
CLOSING_ACTIONS = frozenset({"close", "confirm"})


@dataclass
class WeekFigures:
    """One week (or one piece of equipment in a week)."""

    week: str  # ISO week, 2026-W48
    questions: int
    answered: int  # answered and not marked unhelpful
    thumbs_down: int
    gaps_opened: int
    gaps_closed: int
    days_to_close: float | None  # median, over the gaps closed that week
    minutes_per_call: float

    @property
    def answered_pct(self) -> float:
        return 100 * self.answered / self.questions if self.questions else 0.0

    @property
    def thumbs_down_pct(self) -> float:
        return 100 * self.thumbs_down / self.questions if self.questions else 0.0

    @property
    def hours_saved(self) -> float:
        """Each answer that carried the operator spared a call to a technician."""
        return self.answered * self.minutes_per_call / 60


@dataclass
class TopicChange:
    """A topic event, with when the topic's first question was asked."""

    topic_id: str
    at: str
    action: str
    first_asked: str | None


def iso_week(moment: str | dt.date) -> str:
    day = dt.date.fromisoformat(moment[:10]) if isinstance(moment, str) else moment
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(week: str) -> dt.date:
    """Monday of an ISO week (YYYY-Www), or a clear error."""
    try:
        year, number = week.strip().upper().split("-W")
        return dt.date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise ShopfloorError(f"week {week!r}: not an ISO week (YYYY-Www, e.g. 2026-W48)") from None


def weeks_until(last: str, count: int) -> list[str]:
    """The `count` ISO weeks ending with `last`, oldest first."""
    monday = week_start(last)
    return [iso_week(monday - dt.timedelta(weeks=n)) for n in range(count - 1, -1, -1)]


def weekly(
    weeks: list[str], questions: Iterable[LoggedQuestion], changes: Iterable[TopicChange], minutes_per_call: float
) -> list[WeekFigures]:
    """The figures of each week in `weeks`, oldest first."""
    asked: dict[str, list[LoggedQuestion]] = defaultdict(list)
    for q in questions:
        asked[iso_week(q.asked_at)].append(q)
    opened: dict[str, int] = defaultdict(int)
    closed_days: dict[str, list[float]] = defaultdict(list)
    for change in changes:
        week = iso_week(change.at)
        if change.action == "opened":
            opened[week] += 1
        elif change.action in CLOSING_ACTIONS:
            days = days_between(change.first_asked, change.at)
            closed_days[week].append(0.0 if days is None else days)
    return [
        WeekFigures(
            week=week,
            questions=len(asked[week]),
            answered=sum(q.carried for q in asked[week]),
            thumbs_down=sum(q.thumbs_down for q in asked[week]),
            gaps_opened=opened[week],
            gaps_closed=len(closed_days[week]),
            days_to_close=round(median(closed_days[week]), 1) if closed_days[week] else None,
            minutes_per_call=minutes_per_call,
        )
        for week in weeks
    ]


def by_row(
    week: str, questions: Iterable[LoggedQuestion], row_of: Callable[[LoggedQuestion], str], minutes_per_call: float
) -> list[tuple[str, WeekFigures]]:
    """One week's figures per equipment (or document), most asked first. A topic spans equipment, so
    here gaps_opened counts the questions that were gaps, and no gap is counted closed."""
    rows: dict[str, list[LoggedQuestion]] = defaultdict(list)
    for q in questions:
        if iso_week(q.asked_at) == week:
            rows[row_of(q)].append(q)
    figures = [
        (
            row,
            WeekFigures(
                week=week,
                questions=len(qs),
                answered=sum(q.carried for q in qs),
                thumbs_down=sum(q.thumbs_down for q in qs),
                gaps_opened=sum(not q.answered or q.thumbs_down for q in qs),  # here: questions that were gaps
                gaps_closed=0,
                days_to_close=None,
                minutes_per_call=minutes_per_call,
            ),
        )
        for row, qs in rows.items()
    ]
    return sorted(figures, key=lambda item: (-item[1].questions, item[0]))


def days_between(first: str | None, last: str) -> float | None:
    """Days from a topic's first question to a change of it (None when it has no question)."""
    if first is None:
        return None
    delta = dt.datetime.fromisoformat(last) - dt.datetime.fromisoformat(first)
    return round(max(delta.total_seconds() / 86400, 0.0), 1)
