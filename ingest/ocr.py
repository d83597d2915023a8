"""Text a PDF's text layer lacks: scanned pages, tables drawn as vector outlines, tick-image grids.

A cheap survey of every page (PDFium's object list, a few ms a page) finds the candidates:
- "scan": little text-layer text and one image covering much of the page: read with tesseract
  `--psm 3` (automatic layout, follows columns);
- "vector": little text-layer text and hundreds of glyph-sized vector paths (text converted to
  outlines, typically a table): `--psm 4` (reads straight across a row) with the word boxes, so
  wide gaps become cell boundaries ("Symptom | Cause | Remedy"). `--psm 6` read only the title
  of a table with cell borders here, and `--psm 3` breaks every row apart;
- tick marks placed as small images in a grid: no OCR at all; each mark's position is mapped to
  the row label at its height and the column header above it ("Check oil → Daily, 200 hours").
OCR text is kept only when it adds words the text layer does not already hold, which separates
real scans from figure pages the survey also flags. Pages are rendered at 200 dpi (as good as
300 here, faster) and read by one single-threaded tesseract per core.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ingest.cleaning import normalize_text
from ingest.documents import Page, ParsedDocument

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

OcrMode = Literal["auto", "always", "never"]
Box = tuple[float, float, float, float]  # left, bottom, right, top in PDF points (y grows upwards)

_SPARSE_CHARS_PER_SQ_IN = 6.0  # ordinary text pages here hold 10-35 text-layer characters per square inch
_SCAN_IMAGE_SHARE = 0.3
_VECTOR_GLYPHS = 200
_GLYPH_MAX_PT = 20.0
_TICK_MAX_PT = 40.0
_MIN_TICKS = 3
_MIN_NEW_WORDS = 30  # OCR text must add this many words the text layer lacks...
_MIN_WORDS_BLANK_PAGE = 8  # ...or this many where the page has no text layer at all
_CELL_GAP = 1.5  # a gap wider than this many letter heights separates two table cells
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+|\d+(?:[.,]\d+)?")

# PDFium is not thread-safe: every call into it from this module holds this lock.
_PDFIUM = threading.Lock()


@dataclass
class TextRun:
    """A run of text-layer text on one line, with its box."""

    box: Box
    text: str


@dataclass
class PageSurvey:
    """What a page is made of, as far as choosing how to read it goes."""

    index: int
    kind: Literal["scan", "vector"] | None
    ticks: list[Box] = field(default_factory=list)
    runs: list[TextRun] = field(default_factory=list)


@dataclass
class OcrOptions:
    mode: OcrMode = "auto"
    languages: str = "eng"
    dpi: int = 200
    workers: int = 2


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def recover_pages(document: ParsedDocument, options: OcrOptions) -> None:
    """Fill in what the text layer of a PDF lacks, in place: OCR'd pages replace their empty or
    outlined text; a tick-map follows its page. Each page records its text source; the document
    counts its OCR'd pages and lists those that need OCR it could not run."""
    surveys = survey_pdf(document.path)
    by_number = {page.number: page for page in document.pages}
    extra: dict[int, Page] = {}
    for survey in surveys:
        page = by_number.get(survey.index + 1)
        if page is not None and (grid := tick_map(survey)) is not None:
            extra[survey.index + 1] = Page(page.number, grid.text, page.label, source="tick-map")
            # The grid's labels, read bare from the text layer, say nothing without their ticks.
            page.text = "\n".join(ln for ln in page.text.split("\n") if not _only_words_of(ln, grid.labels))
    wanted = [s for s in surveys if s.kind is not None or options.mode == "always"]
    if wanted and options.mode != "never":
        if tesseract_available():
            started = time.perf_counter()
            _ocr_pages(document, wanted, by_number, options)
            document.ocr_seconds += time.perf_counter() - started
        else:
            document.ocr_pending = [s.index + 1 for s in wanted if s.kind is not None]
    if document.ocr_pending:
        listed = ", ".join(map(str, document.ocr_pending))
        document.notices = [n for n in document.notices if "has no text layer" not in n]
        document.notices.append(
            f"{document.path.name}: pages {listed} need OCR (scanned or drawn as outlines) but tesseract is not "
            "installed; not searchable until it is (apt install tesseract-ocr) and you ingest again"
        )
    if extra:
        pages: list[Page] = []
        for page in document.pages:
            pages.append(page)
            if page.number in extra:
                pages.append(extra[page.number])
        document.pages = pages


def _ocr_pages(
    document: ParsedDocument,
    wanted: list[PageSurvey],
    by_number: dict[int | None, Page],
    options: OcrOptions,
) -> None:
    import pypdfium2

    with _PDFIUM:
        pdf = pypdfium2.PdfDocument(str(document.path))
    try:

        def read(survey: PageSurvey) -> tuple[PageSurvey, str]:
            with _PDFIUM:
                image = pdf[survey.index].render(scale=options.dpi / 72, grayscale=True).to_pil()
            if survey.kind == "vector":
                return survey, ocr_table(image, options.languages)
            return survey, ocr_text(image, options.languages)

        # One thread per tesseract: 1.8 s a page instead of 6-15 s, and one process per core.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="ocr") as pool:
            for survey, raw in pool.map(read, wanted):
                page = by_number.get(survey.index + 1)
                if page is None:
                    continue
                text = normalize_text(raw)
                if adds_words(page.text, text):
                    page.text = text
                    page.source = "ocr-table" if survey.kind == "vector" else "ocr"
                    document.ocr_pages += 1
                    if page.number in document.pages_without_text:
                        document.pages_without_text.remove(page.number)
    finally:
        with _PDFIUM:
            pdf.close()
    recovered = {p.number for p in document.pages if p.source.startswith("ocr")}
    document.notices[:] = [n for n in document.notices if not any(f"page {i} has" in n for i in recovered)]


def adds_words(text_layer: str, ocr: str) -> bool:
    """True when OCR found enough words the text layer does not hold (a real scan or drawn text,
    not a figure whose labels the text layer already has)."""
    known = {w.lower() for w in _WORD.findall(text_layer)}
    found = [w.lower() for w in _WORD.findall(ocr)]
    new = [w for w in found if w not in known]
    return len(new) >= _MIN_NEW_WORDS or (not known and len(found) >= _MIN_WORDS_BLANK_PAGE)


def survey_pdf(path: Path) -> list[PageSurvey]:
    """Every page's kind, its tick-sized images and, where those exist, its text runs."""
    import pypdfium2

    with _PDFIUM:
        pdf = pypdfium2.PdfDocument(str(path))
        try:
            return [_survey_page(page, i) for i, page in enumerate(pdf)]
        finally:
            pdf.close()


def _survey_page(page: Any, index: int) -> PageSurvey:
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    area = max(width * height, 1.0)
    largest_image, glyphs, images = 0.0, 0, []
    for obj in page.get_objects(max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        w, h = right - left, top - bottom
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            largest_image = max(largest_image, w * h / area)
            images.append((left, bottom, right, top))
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_PATH and w < _GLYPH_MAX_PT and h < _GLYPH_MAX_PT:
            glyphs += 1
    textpage = page.get_textpage()
    chars_per_sq_in = textpage.count_chars() / (area / 72**2)
    kind: Literal["scan", "vector"] | None = None
    if chars_per_sq_in < _SPARSE_CHARS_PER_SQ_IN:
        if largest_image > _SCAN_IMAGE_SHARE:
            kind = "scan"
        elif glyphs > _VECTOR_GLYPHS:
            kind = "vector"
    ticks = _tick_boxes(images)
    runs = _text_runs(textpage) if ticks else []
    textpage.close()
    return PageSurvey(index, kind, ticks, runs)


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


@dataclass
class TickMap:
    text: str
    labels: set[str]  # the row labels and column headers it used


def tick_map(survey: PageSurvey) -> TickMap | None:
    """'row label → column headers of its ticks', one line per row, from the marks' positions."""
    if not survey.ticks:
        return None
    grid_left = min(b[0] for b in survey.ticks)
    grid_top = max(b[3] for b in survey.ticks)
    centres = sorted({round((b[0] + b[2]) / 2) for b in survey.ticks})
    spacing = min((b - a for a, b in itertools.pairwise(centres) if b - a > 4), default=60)
    rows: dict[str, list[tuple[float, str]]] = {}
    order: dict[str, float] = {}
    for tick in survey.ticks:
        label = _row_label(survey.runs, tick, grid_left)
        header = _column_header(survey.runs, tick, grid_top, spacing)
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
    headers = {header for cells in rows.values() for _, header in cells}
    corner = [r.text for r in survey.runs if r.box[2] <= grid_left + 1 and grid_top <= r.box[1] < grid_top + spacing]
    return TickMap("\n".join(lines), set(rows) | headers | set(corner))


def _only_words_of(line: str, labels: set[str]) -> bool:
    """True when a text-layer line is made only of the grid's labels (a row label, the header row)."""
    words = line.split()
    allowed = {w for label in labels for w in label.split()}
    return bool(words) and all(w in allowed for w in words)


def _row_label(runs: list[TextRun], tick: Box, grid_left: float) -> str:
    middle = (tick[1] + tick[3]) / 2
    same_row = [r for r in runs if r.box[1] <= middle <= r.box[3] and r.box[2] <= grid_left + 1]
    return " ".join(r.text for r in sorted(same_row, key=lambda r: r.box[0]))


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
    return " ".join(r.text for r in sorted(above, key=lambda r: -r.box[3]))


def ocr_text(image: Image, languages: str) -> str:
    """A scanned page in reading order (tesseract's automatic layout: columns are followed)."""
    import pytesseract

    return str(pytesseract.image_to_string(image, lang=languages, config="--psm 3"))


def ocr_table(image: Image, languages: str) -> str:
    """A page read straight across (one block), with wide gaps between words made cell borders."""
    import pytesseract

    data = pytesseract.image_to_data(image, lang=languages, config="--psm 4", output_type=pytesseract.Output.DICT)
    lines: dict[tuple[int, int, int], list[tuple[int, int, int, str]]] = {}
    for i, raw in enumerate(data["text"]):
        word = raw.strip().strip("|[]")  # cell borders read as glyphs
        if word and float(data["conf"][i]) >= 0:
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            lines.setdefault(key, []).append((data["left"][i], data["width"][i], data["height"][i], word))
    return "\n".join(_cells(words) for _, words in sorted(lines.items()))


def _cells(words: list[tuple[int, int, int, str]]) -> str:
    words.sort()
    height = statistics.median(h for _, _, h, _ in words)
    cells, current, right = [], [words[0][3]], words[0][0] + words[0][1]
    for left, width, _, word in words[1:]:
        if left - right > _CELL_GAP * height:
            cells.append(" ".join(current))
            current = []
        current.append(word)
        right = left + width
    cells.append(" ".join(current))
    return " | ".join(cells)
