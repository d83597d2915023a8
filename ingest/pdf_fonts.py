"""Which lines of a PDF page are set apart by their type: larger than the body text, or bold.

A heading is known to the reader by its type, not by its words: "21 DC CONTROL POWER circuit
breaker" (a callout of a figure, body type) and "29 DURING CONTROLS AND" (a row of a checks
table) look like numbered headings to any rule on words alone, and a running header or a sentence
became the section of every passage on real manuals. So where a PDF tells its fonts, a line is a
heading only if it is also set apart by its type. The fonts come from the same pypdf pass that
extracts the text (its visitor), so they cost no second parse.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_BOLD_NAMES = ("bold", "black", "heavy", "semibold", "demi")
_LARGER = 1.15  # this much above the body size is larger type
_SAME_LINE = 2.0  # text pieces whose baselines are this close (points) stand on one line


def line_key(text: str) -> str:
    """Letters and digits only, lower case: PDF text may lose or add spaces between pieces."""
    return "".join(c for c in text.lower() if c.isalnum())


@dataclass
class _Run:
    """The text pieces on one baseline of a page, with the type they are set in."""

    y: float
    text: str = ""
    sizes: list[tuple[float, int]] = field(default_factory=list)  # (size, characters)
    all_bold: bool = True


@dataclass
class PageType:
    """The type of each visual line of one page."""

    runs: list[_Run] = field(default_factory=list)

    def visitor(self) -> Callable[[str, Any, Any, Any, float], None]:
        """pypdf's visitor_text callback, recording each piece of text with its size and weight."""

        def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
            if not text.strip():
                return
            a, b = tm[0] * cm[0] + tm[1] * cm[2], tm[0] * cm[1] + tm[1] * cm[3]
            c, d = tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3]
            effective = float(size) * math.sqrt(abs(a * d - b * c))
            y = float(tm[4] * cm[1] + tm[5] * cm[3] + cm[5])
            name = str((font or {}).get("/BaseFont", "")).lower() if hasattr(font, "get") else ""
            bold = any(word in name for word in _BOLD_NAMES)
            run = self.runs[-1] if self.runs and abs(self.runs[-1].y - y) <= _SAME_LINE else None
            if run is None:
                run = _Run(y)
                self.runs.append(run)
            run.text += text
            run.sizes.append((round(effective, 1), len(text.strip())))
            run.all_bold = run.all_bold and bold

        return visit


def _body_size(pages: list[PageType]) -> float:
    """The size most of the document's characters are set in."""
    counts: Counter[float] = Counter()
    for page in pages:
        for run in page.runs:
            for size, chars in run.sizes:
                counts[size] += chars
    return counts.most_common(1)[0][0] if counts else 0.0


def styled_lines(pages: list[PageType]) -> list[dict[str, int]]:
    """For each page, the keys of its lines set apart by type, each with a level for the whole
    document: 1 for the largest heading type, then down by size; bold body text comes last."""
    body = _body_size(pages)
    if body <= 0:
        return [{} for _ in pages]
    found: list[dict[str, float]] = []
    for page in pages:
        styled: dict[str, float] = {}
        for run in page.runs:
            size = max(s for s, _ in run.sizes)
            key = line_key(run.text)
            larger = size >= body * _LARGER
            if key and (larger or (run.all_bold and size >= body * 0.95)):
                styled[key] = max(styled.get(key, 0.0), size if larger else body)
        found.append(styled)
    sizes = sorted({size for styled in found for size in styled.values()}, reverse=True)
    level = {size: rank for rank, size in enumerate(sizes, start=1)}
    return [{key: level[size] for key, size in styled.items()} for styled in found]
