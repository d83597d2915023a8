"""Text a PDF's text layer lacks: scanned pages, tables drawn as vector outlines, tick-image grids.

A cheap survey of every page (ingest/pdf_survey.py) finds the candidates:
- "scan": little text-layer text and one image covering much of the page: read with tesseract
  `--psm 1` (automatic layout, follows columns, and turns a page scanned sideways or upside
  down: `--psm 3` read such a page as gibberish, for 0.3 s a page less);
- "unmapped": text whose fonts have no character map: read like a scan;
- "vector": little text-layer text and hundreds of glyph-sized vector paths (text converted to
  outlines, typically a table): `--psm 4` (reads straight across a row) with the word boxes, so
  wide gaps become cell boundaries ("Symptom | Cause | Remedy"). `--psm 6` read only the title
  of a table with cell borders here, and `--psm 3` breaks every row apart;
- pictures on a text page (a table pasted as an image, a screenshot): each is cut out and read
  like an outlined table; one that yields almost nothing is turned upright by tesseract's
  orientation check (`--psm 0`) and read again (tables set sideways to fit the page). What they
  add goes beside the page's text layer;
- tick marks placed as small images in a grid, and ruled tables of the text layer, need no OCR:
  they are rebuilt from positions (ingest/grids.py).
OCR text is kept only when it adds words the text layer does not already hold, which separates
real scans from figure pages the survey also flags. Pages are rendered at 200 dpi (as good as
300 here, faster) and read by one single-threaded tesseract per core.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import os
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from ingest.cleaning import normalize_text
from ingest.documents import Page, ParsedDocument
from ingest.grids import replace_lines
from ingest.pdf_survey import PDFIUM_LOCK, PageSurvey, survey_pdf
from shopfloor.errors import OcrError
from shopfloor.languages import DETECTOR, ENGLISH

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

OcrMode = Literal["auto", "always", "never"]

_MIN_NEW_WORDS = 30  # OCR text must add this many words the text layer lacks...
_MIN_WORDS_BLANK_PAGE = 8  # ...or this many where the page has no text layer at all
_MIN_PICTURE_WORDS = 12  # a picture's OCR text must add this many words (not a photo's noise)
_PICTURE_MIN_CONF = 60  # tesseract's word confidence: below it a picture's "words" are mostly noise
_SURE_LINE_CONF = 80  # ...unless the median word of their line scores this much
# A picture must yield this many words of three letters or more: a chart's axis numbers and
# units ("0ms 3ms 6ms", "2.0A") are not worth a passage.
_PICTURE_MIN_WORDS = 8
_LONG_WORD = re.compile(r"[^\W\d_]{3,}")
_RULE_MIN_INCHES = 0.3  # a dark run this long is a border (a letter's stroke is shorter)
_CELL_GAP = 1.5  # a gap wider than this many letter heights separates two table cells
_ROTATE = re.compile(r"^Rotate: (\d+)$", re.MULTILINE)
_ROTATE_CONF = re.compile(r"^Orientation confidence: ([\d.]+)$", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+|\d+(?:[.,]\d+)?")


@dataclass
class OcrOptions:
    mode: OcrMode = "auto"
    languages: str = "eng"
    dpi: int = 200
    workers: int = 2
    # Called after each page OCR reads: a scanned manual takes minutes, and the bar should move.
    on_page: Callable[[], None] | None = None
    # time.monotonic() past which no further page is read (the document's time limit)
    deadline: float | None = None


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


# tesseract's language packs (apt install tesseract-ocr-<code>) for the languages a manual is recognised in.
_TESSERACT_CODES = {
    "en": "eng",
    "de": "deu",
    "es": "spa",
    "pt": "por",
    "fr": "fra",
    "pl": "pol",
    "tr": "tur",
    "it": "ita",
}


@functools.cache
def installed_packs() -> frozenset[str]:
    try:
        listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(line.strip() for line in listed.splitlines()[1:] if line.strip())


def with_document_language(languages: str, texts: list[str]) -> str:
    """The configured packs (`ocr_languages`), and before them the pack of the language the
    document's text layer is written in, where it is another than English and installed: a
    Portuguese manual's scanned tables read with English alone lose their accented words."""
    language = DETECTOR.of_document(texts)
    pack = _TESSERACT_CODES.get(language)
    configured = languages.split("+")
    if language == ENGLISH or pack is None or pack in configured or pack not in installed_packs():
        return languages
    return "+".join([pack, *configured])


def recover_pages(document: ParsedDocument, options: OcrOptions) -> None:
    """Fill in what the text layer of a PDF lacks, in place. Ruled tables are rebuilt row by row
    and a tick grid is mapped (both from positions, no OCR); OCR'd pages replace their empty or
    outlined text, and what pictures on a text page hold is added beside it. Each page records its
    text source; the document counts its OCR'd pages and lists those that need OCR it could not
    run."""
    import pypdfium2

    try:
        surveys = survey_pdf(document.path)
    except pypdfium2.PdfiumError as exc:  # pypdf read it; what PDFium cannot read keeps its text layer
        document.notices.append(f"{document.path.name}: PDFium cannot read it ({exc}); no OCR or table layout")
        return
    by_number = {page.number: page for page in document.pages}
    # Glyph numbers are no text: such a page is as blank as a scan until OCR reads it.
    document.pages_without_text = sorted(
        {*document.pages_without_text, *(s.index + 1 for s in surveys if s.kind == "unmapped")}
    )
    extra: dict[int | None, list[Page]] = {}
    for survey in surveys:
        page = by_number.get(survey.index + 1)
        if page is None:
            continue
        for table in survey.tables:
            page.text = replace_lines(page.text, table, table.text) or page.text
        if (grid := survey.tick_map) is not None:
            extra.setdefault(page.number, []).append(Page(page.number, grid.text, page.label, source="tick-map"))
            # The grid's labels, read bare from the text layer, say nothing without their ticks.
            page.text = replace_lines(page.text, grid, None) or page.text
    wanted = [s for s in surveys if s.kind is not None or s.pictures or options.mode == "always"]
    if wanted and options.mode != "never":
        if tesseract_available():
            started = time.perf_counter()
            for page in _ocr_pages(document, wanted, by_number, options):
                extra.setdefault(page.number, []).append(page)
            document.ocr_seconds += time.perf_counter() - started
        else:
            # Pictures are read once tesseract is there; a notice about them would mostly name photos.
            document.pictures_pending = [s.index + 1 for s in wanted if s.kind is None and s.pictures]
            if pending := [s.index + 1 for s in wanted if s.kind is not None]:
                document.ocr_pending = pending
                document.notices.append(
                    f"{document.path.name}: pages {', '.join(map(str, pending))} need OCR (scanned, drawn as "
                    "outlines or without a character map) but tesseract is not installed; not searchable until it "
                    "is (apt install tesseract-ocr) and you ingest again"
                )
    if extra:
        pages: list[Page] = []
        for page in document.pages:
            pages += [page, *extra.pop(page.number, [])]
        document.pages = pages


def _ocr_pages(
    document: ParsedDocument,
    wanted: list[PageSurvey],
    by_number: dict[int | None, Page],
    options: OcrOptions,
) -> list[Page]:
    """OCR the wanted pages, a worker per core. A page with little text-layer text takes the OCR
    text as its own; beside a real text layer (its pictures, or --ocr always) the OCR text is
    returned as an extra page, so the text layer's cleaner text is never lost."""
    import pypdfium2

    languages = with_document_language(options.languages, [page.text for page in document.pages])
    with PDFIUM_LOCK:
        pdf = pypdfium2.PdfDocument(str(document.path))
    try:

        def read(survey: PageSurvey) -> tuple[PageSurvey, str | OcrError]:
            if options.deadline is not None and time.monotonic() > options.deadline:
                return survey, OcrError("not read: the document is over its time limit")
            scale = options.dpi / 72
            with PDFIUM_LOCK:
                image = pdf[survey.index].render(scale=scale, grayscale=True).to_pil()
            try:
                how = _how_to_read(survey, options.mode)
                if how == "table":
                    return survey, ocr_table(image, languages)
                if how == "pictures":
                    crops = [image.crop(_pixels(box, survey.height, scale)) for box in survey.pictures]
                    texts = (ocr_picture(crop, languages, options.dpi) for crop in crops)
                    return survey, "\n\n".join(text for text in texts if text)
                return survey, ocr_text(image, languages)
            except subprocess.TimeoutExpired:
                return survey, OcrError("tesseract took over 5 minutes")
            except OcrError as exc:
                return survey, exc

        failed: list[tuple[int, str]] = []
        added: list[Page] = []
        with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="ocr") as pool:
            for survey, raw in pool.map(read, wanted):
                page = by_number.get(survey.index + 1)
                if isinstance(raw, OcrError):
                    failed.append((survey.index + 1, str(raw)))
                    continue
                document.ocr_read += 1
                if options.on_page is not None:
                    options.on_page()
                if page is None:
                    continue
                text = normalize_text(raw)
                how = _how_to_read(survey, options.mode)
                pictures = how == "pictures"
                if not adds_words(page.text, text, _MIN_PICTURE_WORDS if pictures else _MIN_NEW_WORDS):
                    continue
                tabular = how == "table" or (pictures and text.count(" | ") >= 4)
                source = "ocr-table" if tabular else "ocr"
                document.ocr_pages += 1
                if pictures or len(_WORD.findall(page.text)) >= _MIN_NEW_WORDS:
                    added.append(Page(page.number, text, page.label, source=source))
                    continue
                page.text, page.source, page.styled = text, source, None  # OCR tells no type
                if page.number in document.pages_without_text:
                    document.pages_without_text.remove(page.number)
        if failed:
            # Read again on the next ingest, once the cause (a missing language pack, say) is fixed.
            document.ocr_pending += [number for number, _ in failed]
            pages = ", ".join(str(number) for number, _ in failed)
            document.notices.append(f"{document.path.name}: OCR failed on pages {pages} ({failed[0][1]})")
    finally:
        with PDFIUM_LOCK:
            pdf.close()
    return added


def _how_to_read(survey: PageSurvey, mode: OcrMode) -> Literal["table", "pictures", "page"]:
    """Outlined text row by row; on a text page only its pictures (all of it with --ocr always);
    a scan or a page without a character map as a whole page in reading order."""
    if survey.kind == "vector":
        return "table"
    if survey.kind is None and mode != "always":
        return "pictures"
    return "page"


def adds_words(text_layer: str, ocr: str, min_new: int = _MIN_NEW_WORDS) -> bool:
    """True when OCR found enough words the text layer does not hold (a real scan or drawn text,
    not a figure whose labels the text layer already has)."""
    known = {w.lower() for w in _WORD.findall(text_layer)}
    found = [w.lower() for w in _WORD.findall(ocr)]
    new = [w for w in found if w not in known]
    return len(new) >= min_new or (not known and len(found) >= _MIN_WORDS_BLANK_PAGE)


def _pixels(box: tuple[float, float, float, float], page_height: float, scale: float) -> tuple[int, int, int, int]:
    """A box in PDF points (y upwards) as the pixel box of the page rendered at `scale`."""
    left, bottom, right, top = (round(edge * scale) for edge in box)
    height = round(page_height * scale)
    return left, height - top, right, height - bottom


def ocr_text(image: Image, languages: str) -> str:
    """A scanned page in reading order (tesseract's automatic layout: columns are followed, and
    the page is turned upright first where its script says it lies sideways)."""
    return _tesseract(image, languages, "1")


def ocr_table(image: Image, languages: str, min_conf: float = 0) -> str:
    """A page read straight across a row, with wide gaps between words made cell borders.

    With `min_conf`, a word tesseract is unsure of is kept only on a line it reads with
    confidence: the first word after a wide cell gap often scores low though it is right."""
    lines: dict[tuple[int, ...], list[tuple[int, int, int, str, float]]] = {}
    for row in csv.DictReader(
        io.StringIO(_tesseract(image, languages, "4", "tsv")), delimiter="\t", quoting=csv.QUOTE_NONE
    ):
        word = (row.get("text") or "").strip().strip("|[]")  # cell borders read as glyphs
        if word and float(row["conf"]) >= 0:
            key = tuple(int(row[part]) for part in ("block_num", "par_num", "line_num"))
            box = (int(row["left"]), int(row["width"]), int(row["height"]), word, float(row["conf"]))
            lines.setdefault(key, []).append(box)
    rows = []
    for _, words in sorted(lines.items()):
        sure_line = statistics.median(conf for *_, conf in words) >= _SURE_LINE_CONF
        kept = [
            (left, width, height, word)
            for left, width, height, word, conf in words
            if conf >= min_conf or (sure_line and any(c.isalnum() for c in word))
        ]
        if kept:
            rows.append(_cells(kept))
    return "\n".join(rows)


def ocr_picture(image: Image, languages: str, dpi: int) -> str:
    """A picture cut from a page (a table, a screenshot), read row by row with confident words
    only, its table borders taken out first; one that reads as almost nothing is turned upright,
    where tesseract sees it lies sideways, and read again. A picture with too few words (a chart,
    a photo) reads as ""."""
    image = without_rules(image, round(dpi * _RULE_MIN_INCHES))
    text = ocr_table(image, languages, _PICTURE_MIN_CONF)
    few_words = len(_LONG_WORD.findall(text)) < _PICTURE_MIN_WORDS
    if few_words and min(image.size) >= 100 and (turn := _orientation(image)):
        text = ocr_table(image.rotate(-turn, expand=True), languages, _PICTURE_MIN_CONF)
    return text if len(_LONG_WORD.findall(text)) >= _PICTURE_MIN_WORDS else ""


def without_rules(image: Image, length: int) -> Image:
    """The image with its long horizontal and vertical lines whitened. tesseract takes a narrow
    column boxed in by cell borders for a drawing and skips it: the codes in a table's first
    column went missing until the borders were taken out."""
    from PIL import Image as PilImage

    pixels = np.asarray(image.convert("L")).copy()
    dark = pixels < 160
    across, down = _on_long_runs(dark, length), _on_long_runs(dark.T, length).T
    # A scaled picture's lines are smeared over their neighbours in grey: those go too.
    across[1:] |= across[:-1].copy()
    across[:-1] |= across[1:].copy()
    down[:, 1:] |= down[:, :-1].copy()
    down[:, :-1] |= down[:, 1:].copy()
    pixels[across | down] = 255
    return PilImage.fromarray(pixels)


def _on_long_runs(dark: np.ndarray, length: int) -> np.ndarray:
    """Which pixels lie on a horizontal run of at least `length` dark pixels."""
    width = dark.shape[1]
    if width < length:
        return np.zeros_like(dark)
    sums = np.cumsum(np.pad(dark, ((0, 0), (1, 0))), axis=1, dtype=np.int32)
    starts = (sums[:, length:] - sums[:, :-length]) == length  # a full run starts at this column
    started = np.cumsum(np.pad(starts, ((0, 0), (1, 0))), axis=1, dtype=np.int32)
    columns = np.arange(width)
    first = np.clip(columns - length + 1, 0, starts.shape[1])
    last = np.clip(columns + 1, 0, starts.shape[1])
    return (started[:, last] - started[:, first]) > 0  # some full run starting in [x-length+1, x]


def _orientation(image: Image) -> int:
    """Degrees clockwise that turn the image upright, by tesseract's orientation check (0 when it
    is unsure, or finds too little text to tell)."""
    try:
        report = _tesseract(image, "osd", "0")
    except OcrError:  # "Too few characters": a photo or a diagram
        return 0
    turn, confidence = _ROTATE.search(report), _ROTATE_CONF.search(report)
    return int(turn.group(1)) if turn and confidence and float(confidence.group(1)) >= 2 else 0


def _tesseract(image: Image, languages: str, psm: str, *output: str) -> str:
    """Run the tesseract program on one page image (PNG on stdin, text or TSV on stdout).

    OMP_THREAD_LIMIT=1 goes to tesseract alone: 1.8 s a page instead of 6-15 s, one process per
    core. Set in our own environment it would also cap torch's threads for the embedding model."""
    png = io.BytesIO()
    image.save(png, format="PNG")
    command = ["tesseract", "stdin", "stdout", "-l", languages, "--psm", psm, *output]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(command, input=png.getvalue(), capture_output=True, env=env, timeout=300, check=False)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        cause = next((line for line in lines if line.startswith("Failed loading language")), None)
        raise OcrError(cause or (lines[-1] if lines else f"tesseract exited with {done.returncode}"))
    return done.stdout.decode("utf-8", errors="replace")


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
