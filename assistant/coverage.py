"""Where the documentation carries the floor: questions by equipment (or document) and topic, each
cell with how often it was asked, answered, thumbed down, and its open gaps."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.gaps import LoggedQuestion
from assistant.knowledge_map import QuestionFigures, Topic

UNKNOWN = "(not known)"


@dataclass
class Cell(QuestionFigures):
    """The questions of one row (equipment or document) about one topic."""

    row: str
    topic: Topic
    questions: list[LoggedQuestion] = field(default_factory=list)

    @property
    def open_gaps(self) -> int:
        return sum(q.open for q in self.questions)


@dataclass
class Coverage:
    """The map: rows (equipment or documents, most asked first) × topics (most asked first)."""

    rows_by: str  # "equipment" or "document"
    rows: list[str]
    topics: list[Topic]
    cells: dict[tuple[str, int], Cell]  # (row, column index of its topic)

    def cell(self, row: str, column: int) -> Cell:
        return self.cells.get((row, column)) or Cell(row, self.topics[column])


class Locator:
    """Where a question belongs on the map. Its equipment: the one the operator chose, else one the
    question names, else the equipment tag of the document its answer cited; never guessed from a
    passage that did not answer. Its document: the one cited, else the one that came closest (the
    first retrieved, when anything retrieved was near the question): the manual a gap sits beside."""

    def __init__(self, equipment_of_document: dict[str, str]) -> None:
        self._equipment_of = equipment_of_document
        names = sorted(set(equipment_of_document.values()), key=len, reverse=True)
        self._named = [(n, re.compile(rf"(?<!\w){re.escape(n)}(?!\w)", re.IGNORECASE)) for n in names]

    def document(self, q: LoggedQuestion) -> str:
        if q.first_cited:
            return q.first_cited
        if not q.first_source or q.reason.startswith("no relevant passage"):  # nothing it retrieved was near
            return UNKNOWN
        return q.first_source

    def equipment(self, q: LoggedQuestion) -> str:
        if q.equipment:
            return q.equipment
        named = next((name for name, pattern in self._named if pattern.search(q.question)), None)
        return named or self._equipment_of.get(q.first_cited or "", UNKNOWN)

    def row_of(self, rows_by: str) -> Callable[[LoggedQuestion], str]:
        return self.equipment if rows_by == "equipment" else self.document


def coverage(
    topics: list[Topic], locator: Locator, rows_by: str = "equipment", max_rows: int = 15, max_topics: int = 20
) -> Coverage:
    """The most asked topics and rows: a map a person can read, not one cell per question."""
    columns = sorted(topics, key=lambda t: (-t.asked, t.label))[:max_topics]
    row_of = locator.row_of(rows_by)
    cells: dict[tuple[str, int], Cell] = {}
    asked: Counter[str] = Counter()
    for column, topic in enumerate(columns):
        for q in topic.questions:
            row = row_of(q)
            cells.setdefault((row, column), Cell(row, topic)).questions.append(q)
            asked[row] += 1
    rows = sorted(asked, key=lambda r: (-asked[r], r))[:max_rows]
    return Coverage(rows_by, rows, columns, {k: c for k, c in cells.items() if k[0] in rows})
