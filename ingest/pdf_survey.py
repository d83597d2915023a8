"""What each PDF page is made of, from PDFium's object list (2-8 ms a page): enough to choose how
to read it, and, while the page is open, its ruled tables and tick grid (ingest/grids.py).

- "scan": little text-layer text and one image covering much of the page;
- "vector": little text-layer text and hundreds of glyph-sized vector paths (text converted to
  outlines, typically a table);
- "unmapped": text whose fonts carry no character map (no ToUnicode): the text layer holds glyph
  numbers, extracted as control characters, so the page reads as blank though it shows text;
- tick marks: small images of one size, three or more (check marks in a schedule grid);
- pictures: images of a sizeable share of a text page: often a table pasted as a picture, or a
  screenshot; OCR reads them and keeps what adds words (ingest/ocr.py);
- rules: lines and cell rectangles (the borders of a ruled table).
"""

from __future__ import annotations

import re
import statistics
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ingest.grids import Box, Grid, TextRun, ruled_tables, tick_map

_SPARSE_CHARS_PER_SQ_IN = 6.0  # ordinary text pages here hold 10-35 text-layer characters per square inch
_SCAN_IMAGE_SHARE = 0.3
_VECTOR_GLYPHS = 200
_GLYPH_MAX_PT = 20.0
_TICK_MAX_PT = 40.0
_MIN_TICKS = 3
_RULE_THIN_PT = 2.0
_CELL_MIN_W, _CELL_MIN_H = 20.0, 8.0  # smaller rectangles are glyphs or bullets, not table cells
_MIN_RULES = 4
_PICTURE_SHARE = 0.04  # smaller images are logos, icons and photos too small to hold a table
_TEXT_OVER_PICTURE = 40  # text-layer words over a picture that make it a background, not a table
# Characters a text layer yields for glyphs it cannot map to Unicode: control codes (glyph ids),
# U+FFFD and the private-use area. Line breaks are PDFium's own.
_UNMAPPED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd\ue000-\uf8ff]")
_MIN_UNMAPPED = 40  # fewer is a symbol font's stray bullet or arrow, not a page of unreadable text

PageKind = Literal["scan", "vector", "unmapped"]

# PDFium is not thread-safe: every call into it from ingest holds this lock.
PDFIUM_LOCK = threading.Lock()


@dataclass
class PageSurvey:
    """What a page is made of, as far as choosing how to read it goes."""

    index: int
    kind: PageKind | None
    tables: list[Grid] = field(default_factory=list)  # ruled tables of the text layer, row by row
    tick_map: Grid | None = None  # a grid of tick images, as task → intervals
    pictures: list[Box] = field(default_factory=list)  # sizeable images on a text page, to OCR
    height: float = 0.0  # the page's height in points (picture boxes count y upwards from the bottom)


def survey_pdf(path: Path) -> list[PageSurvey]:
    """Every page's kind, its tick-sized images, its rules and, where those exist, its text runs."""
    import pypdfium2

    with PDFIUM_LOCK:
        pdf = pypdfium2.PdfDocument(str(path))
        try:
            return [_survey_page(page, i) for i, page in enumerate(pdf)]
        finally:
            pdf.close()


def _survey_page(page: Any, index: int) -> PageSurvey:
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    area = max(width * height, 1.0)
    largest_image, glyphs = 0.0, 0
    images: list[Box] = []
    rules: list[Box] = []
    for obj, box in _objects(page):
        w, h = box[2] - box[0], box[3] - box[1]
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            largest_image = max(largest_image, w * h / area)
            images.append(box)
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_PATH:
            if w < _GLYPH_MAX_PT and h < _GLYPH_MAX_PT:
                glyphs += 1
            if _is_rule(w, h, area):
                rules.append(box)
    textpage = page.get_textpage()
    unmapped = len(_UNMAPPED.findall(textpage.get_text_range())) if textpage.count_chars() else 0
    chars_per_sq_in = (textpage.count_chars() - unmapped) / (area / 72**2)
    kind: PageKind | None = None
    if chars_per_sq_in < _SPARSE_CHARS_PER_SQ_IN:
        if largest_image > _SCAN_IMAGE_SHARE:
            kind = "scan"
        elif glyphs > _VECTOR_GLYPHS:
            kind = "vector"
        elif unmapped >= _MIN_UNMAPPED:
            kind = "unmapped"
    survey = PageSurvey(index, kind, height=height)
    ticks = _tick_boxes(images)
    if kind is None:
        pictures = _pictures(images, ticks, (0.0, 0.0, width, height))
        # Text drawn over a picture (a page background, a labelled figure) is in the text layer.
        survey.pictures = [box for box in pictures if len(textpage.get_text_bounded(*box).split()) < _TEXT_OVER_PICTURE]
    if kind is None and (ticks or len(rules) >= _MIN_RULES):
        runs = _text_runs(textpage)
        survey.tables = ruled_tables(rules, runs, ticks, lambda box: str(textpage.get_text_bounded(*box)))
        survey.tick_map = tick_map(ticks, runs)
    textpage.close()
    return survey


def _objects(page: Any) -> Iterator[tuple[Any, Box]]:
    """Every object on the page with its bounds on the page. An object inside a form XObject (a
    table pasted as a picture often is one) has bounds in the form's own space: mapped here."""
    import pypdfium2.raw as pdfium_c

    to_page: dict[int, Any] = {}  # nesting level -> the matrix from that form's space to the page
    for obj in page.get_objects(max_depth=3):
        box: Box = tuple(obj.get_bounds())
        if obj.level > 0 and (outer := to_page.get(obj.level - 1)) is not None:
            corners = [outer.on_point(x, y) for x in (box[0], box[2]) for y in (box[1], box[3])]
            xs, ys = [x for x, _ in corners], [y for _, y in corners]
            box = (min(xs), min(ys), max(xs), max(ys))
        if obj.type == pdfium_c.FPDF_PAGEOBJ_FORM:
            matrix = obj.get_matrix()
            outer = to_page.get(obj.level - 1) if obj.level > 0 else None
            to_page[obj.level] = matrix.multiply(outer) if outer is not None else matrix
        yield obj, box


def _pictures(images: list[Box], ticks: list[Box], page: Box) -> list[Box]:
    """Images big enough to hold a table or a screenshot, cut to the page, each once (a logo
    drawn twice is one)."""
    page_area = (page[2] - page[0]) * (page[3] - page[1])
    pictures: list[Box] = []
    for image in images:
        if image in ticks:
            continue
        box = (max(image[0], page[0]), max(image[1], page[1]), min(image[2], page[2]), min(image[3], page[3]))
        share = max(box[2] - box[0], 0) * max(box[3] - box[1], 0) / page_area
        if share >= _PICTURE_SHARE and box not in pictures:
            pictures.append(box)
    return pictures


def _is_rule(w: float, h: float, page_area: float) -> bool:
    """A horizontal or vertical line, or a cell-sized rectangle (not a page background)."""
    line = (h < _RULE_THIN_PT and w > _CELL_MIN_W) or (w < _RULE_THIN_PT and h > _CELL_MIN_H)
    cell = w >= _CELL_MIN_W and h >= _CELL_MIN_H and w * h < 0.25 * page_area
    return line or cell


def _tick_boxes(images: list[Box]) -> list[Box]:
    """Small images of one size, at least three: check marks in a grid."""
    small = [b for b in images if 2 < b[2] - b[0] < _TICK_MAX_PT and 2 < b[3] - b[1] < _TICK_MAX_PT]
    if len(small) < _MIN_TICKS:
        return []
    typical = statistics.median((b[2] - b[0]) * (b[3] - b[1]) for b in small)
    alike = [b for b in small if 0.5 * typical <= (b[2] - b[0]) * (b[3] - b[1]) <= 2 * typical]
    return alike if len(alike) >= _MIN_TICKS else []


def _text_runs(textpage: Any) -> list[TextRun]:
    runs = []
    for i in range(textpage.count_rects()):
        box = textpage.get_rect(i)
        text = textpage.get_text_bounded(*box).strip()
        if text:
            runs.append(TextRun(tuple(box), text))
    return runs
