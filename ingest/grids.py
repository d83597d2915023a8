"""Grids rebuilt from positions on the page, where the text layer's reading order loses them.

- A ruled table (cells drawn as lines or rectangles) becomes one "a | b | c" line per row, header
  first, so a wrapped cell stays in its row and the chunker can keep rows whole under their
  header. The text layer gives such a table cell by cell, wrapped lines split from their rows.
- Tick marks placed as images in a schedule grid become "row label → column headers of its
  ticks", one line per row; the text layer holds only the labels, without the ticks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from ingest.cleaning import normalize_text

Box = tuple[float, float, float, float]  # left, bottom, right, top in PDF points (y grows upwards)


@dataclass
class TextRun:
    """A run of text-layer text on one line, with its box."""

    box: Box
    text: str


_MERGE_PT = 3.0  # edges closer than this are one border (adjacent cells overlap their borders)
_THIN_PT = 2.0
_MAX_RULES = 400  # more rule-like paths than this is a drawing, not a table


@dataclass
class Grid:
    """A grid's text and the labels it took from the text layer (to drop them from there)."""

    text: str
    words: set[str]


def replace_lines(text: str, grid: Grid, replacement: str | None) -> str | None:
    """The page text with its longest run of lines made only of the grid's words replaced by
    `replacement` (or removed); None when no such run holds at least half of those words."""
    lines = text.split("\n")
    flags = [_only_words_of(line, grid.words) for line in lines]
    best: tuple[int, int, int] = (0, 0, 0)  # words, start, end
    for flagged, group in itertools.groupby(enumerate(flags), key=lambda item: item[1]):
        if flagged:
            span = [i for i, _ in group]
            words = sum(len(lines[i].split()) for i in span)
            best = max(best, (words, span[0], span[-1] + 1))
    words, start, end = best
    if words < 0.5 * len(grid.words):
        return None
    return "\n".join(lines[:start] + ([replacement] if replacement else []) + lines[end:])


def _only_words_of(line: str, words: set[str]) -> bool:
    found = line.split()
    return bool(found) and all(w in words for w in found)


def _words(texts: list[str]) -> set[str]:
    return {w for text in texts for w in normalize_text(text).split()}


def ruled_tables(rules: list[Box], runs: list[TextRun], ticks: list[Box], text_in: Callable[[Box], str]) -> list[Grid]:
    """Every ruled table of at least two rows and two columns on the page, as rows of cells.
    `text_in(box)` is the page's text inside a box (PDFium), so a run crossing a border is cut."""
    if len(rules) > _MAX_RULES:
        return []
    tables = []
    for cluster in _clusters(rules):
        if any(_holds(cluster, tick) for tick in ticks):
            continue  # a tick grid: its tick map says more than empty cells
        rows = _cells(cluster, runs, text_in)
        if sum(len(row) >= 2 for row in rows) >= 2:
            lines = [" | ".join(row) if sum(map(bool, row)) > 1 else " ".join(row).strip() for row in rows]
            tables.append(Grid("\n".join(lines), _words([cell for row in rows for cell in row])))
    return tables


def _clusters(rules: list[Box]) -> list[list[Box]]:
    """Rules that touch each other, grouped (one group per table or box)."""
    parent = list(range(len(rules)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(len(rules)), 2):
        if _touch(rules[i], rules[j]):
            parent[root(i)] = root(j)
    groups: dict[int, list[Box]] = {}
    for i, rule in enumerate(rules):
        groups.setdefault(root(i), []).append(rule)
    return list(groups.values())


def _holds(cluster: list[Box], box: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in cluster)


def _touch(a: Box, b: Box) -> bool:
    m = _MERGE_PT
    return a[0] <= b[2] + m and b[0] <= a[2] + m and a[1] <= b[3] + m and b[1] <= a[3] + m


def _edges(values: list[float]) -> list[float]:
    merged: list[list[float]] = []
    for value in sorted(values):
        if merged and value - merged[-1][-1] <= _MERGE_PT:
            merged[-1].append(value)
        else:
            merged.append([value])
    return [sum(group) / len(group) for group in merged]


def _cells(cluster: list[Box], runs: list[TextRun], text_in: Callable[[Box], str]) -> list[list[str]]:
    """The text of each cell the cluster's borders draw, row by row; empty rows dropped.

    Each row is cut only by the vertical borders that cross it, so a merged cell (a caption row
    across the table) stays whole. A box gives horizontal borders at its top and bottom unless it
    is a vertical line, and vertical borders at its sides unless it is a horizontal line."""
    ys = _edges([y for b in cluster if b[2] - b[0] >= _THIN_PT for y in (b[1], b[3])])
    uprights = [b for b in cluster if b[3] - b[1] >= _THIN_PT]
    if len(ys) < 3 or len(_edges([x for b in uprights for x in (b[0], b[2])])) < 3:
        return []
    rows: list[list[str]] = []
    for bottom, top in reversed(list(itertools.pairwise(ys))):  # top row first
        middle = (bottom + top) / 2
        xs = _edges([x for b in uprights if b[1] - _MERGE_PT <= middle <= b[3] + _MERGE_PT for x in (b[0], b[2])])
        header_seen = any(sum(map(bool, row)) >= 2 for row in rows)
        # The header row is never split: its cells wrap in step ("Step / Time", "Step / Space").
        bands = _sub_rows(runs, xs, bottom, top) if header_seen else [(bottom, top)]
        for low, high in reversed(bands):
            row = [_clean(text_in((left, low, right, high))) for left, right in itertools.pairwise(xs)]
            while row and not row[-1]:
                row.pop()
            if row and row != (rows[-1] if rows else None):  # a line shared by two bands comes once
                rows.append(row)
    return rows


def _sub_rows(runs: list[TextRun], xs: list[float], bottom: float, top: float) -> list[tuple[float, float]]:
    """One band for the row, or one per text line when every line lies across two or more
    columns: rows ruled only as a block. A wrapped cell (its lines in one column) stays whole."""
    lines: dict[float, set[int]] = {}
    for run in runs:
        cx, cy = (run.box[0] + run.box[2]) / 2, (run.box[1] + run.box[3]) / 2
        col = next((i for i in range(len(xs) - 1) if xs[i] <= cx < xs[i + 1]), None)
        if col is not None and bottom <= cy < top:
            key = next((y for y in lines if abs(y - cy) <= _MERGE_PT), cy)
            lines.setdefault(key, set()).add(col)
    if len(lines) < 2 or any(len(cols) < 2 for cols in lines.values()):
        return [(bottom, top)]
    centres = sorted(lines)
    cuts = [bottom] + [(a + b) / 2 for a, b in itertools.pairwise(centres)] + [top]
    return list(itertools.pairwise(cuts))


def _clean(text: str) -> str:
    return " ".join(normalize_text(text).split())


def tick_map(ticks: list[Box], runs: list[TextRun]) -> Grid | None:
    """'row label → column headers of its ticks', one line per row, from the marks' positions."""
    if not ticks:
        return None
    grid_left = min(b[0] for b in ticks)
    grid_top = max(b[3] for b in ticks)
    centres = sorted({round((b[0] + b[2]) / 2) for b in ticks})
    spacing = min((b - a for a, b in itertools.pairwise(centres) if b - a > 4), default=60)
    rows: dict[str, list[tuple[float, str]]] = {}
    order: dict[str, float] = {}
    for tick in ticks:
        label = _row_label(runs, tick, grid_left)
        header = _column_header(runs, tick, grid_top, spacing)
        if not label or not header:
            continue
        rows.setdefault(label, []).append(((tick[0] + tick[2]) / 2, header))
        order[label] = max(order.get(label, tick[3]), tick[3])
    if not rows:
        return None
    lines = ["When each task is due (ticks in the schedule grid):"]
    for label in sorted(rows, key=lambda k: -order[k]):
        columns = [header for _, header in sorted(rows[label])]
        lines.append(f"{label} → {', '.join(dict.fromkeys(columns))}")
    headers = [header for cells in rows.values() for _, header in cells]
    corner = [r.text for r in runs if r.box[2] <= grid_left + 1 and grid_top <= r.box[1] < grid_top + spacing]
    return Grid("\n".join(lines), _words([*rows, *headers, *corner]))


def _row_label(runs: list[TextRun], tick: Box, grid_left: float) -> str:
    middle = (tick[1] + tick[3]) / 2
    same_row = [r for r in runs if r.box[1] <= middle <= r.box[3] and r.box[2] <= grid_left + 1]
    return normalize_text(" ".join(r.text for r in sorted(same_row, key=lambda r: r.box[0])))


def _column_header(runs: list[TextRun], tick: Box, grid_top: float, spacing: float) -> str:
    centre = (tick[0] + tick[2]) / 2
    above = [
        r
        for r in runs
        if r.box[1] >= grid_top - 1
        and r.box[1] - grid_top < 3 * spacing
        and r.box[0] - 2 <= centre <= r.box[2] + 2
        and r.box[2] - r.box[0] < 2 * spacing
    ]
    return normalize_text(" ".join(r.text for r in sorted(above, key=lambda r: -r.box[3])))
