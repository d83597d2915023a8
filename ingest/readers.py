"""Read each supported format into a ParsedDocument of pages.

Every failure a user can cause (corrupt, truncated, encrypted, empty, wrong format) becomes a
DocumentError whose message names the file and the reason.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.cleaning import looks_glued, normalize_text
from ingest.documents import OutlineEntry, Page, ParsedDocument
from ingest.ocr import OcrOptions, recover_pages
from ingest.pdf_fonts import PageType, styled_lines
from ingest.titles import document_title
from shopfloor.errors import DocumentError

if TYPE_CHECKING:
    from shopfloor.settings import Settings

log = logging.getLogger(__name__)

_REVISION = re.compile(r"\b(?i:rev(?:ision)?\.?|version|issue|edition)\s*[:#]?\s*([A-Z]?\d+(?:\.\d+)*[A-Z]?|[A-Z])\b")
_DATE = re.compile(
    r"\b(?:(?:19|20)\d\d-[01]\d-[0-3]\d|"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? (?:[0-3]?\d, )?(?:19|20)\d\d)\b"
)
# A page with fewer letters than this has, for search purposes, no text layer.
_MIN_PAGE_LETTERS = 20
_MAX_OUTLINE_TITLE = 150  # longer "bookmarks" are whole sentences, not section titles
# Deeper than this, HTML is a bomb, not a manual: the parser's tree would recurse past Python's limit.
_MAX_HTML_DEPTH = 256
# A DOCX part that unpacks to more than this many times its packed size is a zip bomb.
_MAX_ZIP_RATIO = 200
_MB = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """What one document may cost to read. Each breach is refused in one line naming the file, the
    limit and the setting, before the expensive part where it can be (the file's size, a DOCX's
    unpacked size, HTML's depth, a PDF's page count), else as soon as it shows (characters, time)."""

    file_mb: float = 512
    unpacked_mb: float = 256
    pages: int = 5000
    characters: int = 10_000_000
    seconds: float = 900

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadLimits:
        return cls(
            settings.max_file_mb,
            settings.max_unpacked_mb,
            settings.max_pages,
            settings.max_characters,
            settings.max_seconds_per_document,
        )


class _Budget:
    """One document's limits while it is read: the clock started, the characters counted."""

    def __init__(self, path: Path, limits: ReadLimits) -> None:
        self.path = path
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds

    def check_time(self, where: str) -> None:
        if time.monotonic() > self.deadline:
            raise DocumentError(
                self.path,
                f"reading took over {self.limits.seconds:g} s ({where}); stopped (setting max_seconds_per_document)",
            )

    def check_characters(self, count: int) -> None:
        if count > self.limits.characters:
            raise DocumentError(
                self.path,
                f"{count:,} characters of text, over the limit of {self.limits.characters:,} (setting max_characters)",
            )


def find_revision(text: str) -> str | None:
    """'Rev C, 2026-03-14' from the front matter, where the document states them."""
    found = []
    if rev := _REVISION.search(text):
        found.append(f"Rev {rev.group(1)}")
    if date := _DATE.search(text):
        found.append(date.group(0))
    return ", ".join(found) or None


def _decode(path: Path, data: bytes, notices: list[str]) -> str:
    """UTF-8 (or UTF-16 with its mark) as written; anything else by detection (charset-normalizer),
    said in the summary, never garbled in silence."""
    if not data.strip():
        raise DocumentError(path, "empty file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:4096]:
        raise DocumentError(path, "binary data, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        encoding = best.encoding if best is not None else "cp1252"
        notices.append(f"{path.name}: not UTF-8 (byte {exc.start:,}); read as {encoding}")
        return data.decode(encoding, errors="replace")


def read_text(path: Path, budget: _Budget | None = None) -> ParsedDocument:
    """Plain text and Markdown: one page; Markdown `#` headings are kept for the chunker."""
    budget = budget or _Budget(path, ReadLimits())
    if path.stat().st_size > 4 * budget.limits.characters:  # more than even 4-byte characters could hold
        budget.check_characters(path.stat().st_size // 4)
    notices: list[str] = []
    text = _decode(path, path.read_bytes(), notices)
    budget.check_characters(len(text))
    text = normalize_text(text)
    if not text.strip():
        raise DocumentError(path, "empty file")
    return ParsedDocument(
        path=path,
        title=document_title(text[:3000]) or path.stem,
        pages=[Page(None, text)],
        revision=find_revision(text[:3000]),
        notices=notices,
    )


def read_pdf(path: Path, ocr: OcrOptions | None = None, budget: _Budget | None = None) -> ParsedDocument:
    """PDF via pypdf, page by page; a page whose words run together is re-read with PDFium.

    With `ocr`, what the text layer lacks (scans, outlined tables, tick grids) is recovered too.
    pypdf's own warnings ("EOF marker not found") name no file: they become this file's notice."""
    caught: list[str] = []
    with _library_warnings("pypdf", caught):
        document = _read_pdf(path, ocr, budget or _Budget(path, ReadLimits()))
    if caught:
        distinct = list(dict.fromkeys(caught))
        more = f" (and {len(distinct) - 3} more)" if len(distinct) > 3 else ""
        document.notices.insert(0, f"{path.name}: damaged or unusual PDF, read anyway: {'; '.join(distinct[:3])}{more}")
    return document


@contextmanager
def _library_warnings(name: str, caught: list[str]) -> Iterator[None]:
    """A library's logged warnings, kept for the file being read instead of printed without it."""

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            caught.append(record.getMessage()[:200])

    logger = logging.getLogger(name)
    handler, propagate = _Keep(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _read_pdf(path: Path, ocr: OcrOptions | None, budget: _Budget) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if path.stat().st_size == 0:
        raise DocumentError(path, "empty file (0 bytes)")
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(path, "encrypted PDF (password protected); ingest an unprotected copy")
        count = len(reader.pages)
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise DocumentError(path, f"not a readable PDF ({type(exc).__name__}: {exc})") from None
    except NotImplementedError as exc:  # e.g. an encryption algorithm pypdf does not implement
        raise DocumentError(path, f"unsupported PDF feature ({exc})") from None
    if count == 0:
        raise DocumentError(path, "PDF has no pages")
    if count > budget.limits.pages:
        raise DocumentError(path, f"{count:,} pages, over the limit of {budget.limits.pages:,} (setting max_pages)")
    labels = _page_labels(reader, count)
    notices: list[str] = []
    types = [PageType() for _ in range(count)]
    raw_pages, characters = [], 0
    for i in range(count):
        budget.check_time(f"at page {i + 1} of {count}")
        raw_pages.append(_extract_page(reader, i, path, notices, types[i]))
        characters += len(raw_pages[-1])
        budget.check_characters(characters)
    # The cause (a font whose word gaps are offsets, not spaces) is document-wide, and a table
    # page can hide it, so one glued page sends the whole document to PDFium.
    if any(looks_glued(raw) for raw in raw_pages):
        raw_pages = _pdfium_pages(path) or raw_pages
    pages, without_text = [], []
    for i, (raw, styled) in enumerate(zip(raw_pages, styled_lines(types), strict=True)):
        text = normalize_text(raw)
        if sum(c.isalpha() for c in text) < _MIN_PAGE_LETTERS and _has_images(reader, i):
            without_text.append(i + 1)
        pages.append(Page(i + 1, text, labels[i], styled=styled))
    document = ParsedDocument(path=path, title="", pages=pages, pages_without_text=without_text, notices=notices)
    if ocr is not None:
        recover_pages(document, dataclasses.replace(ocr, deadline=budget.deadline))
        budget.check_time("reading its pages by OCR")
    # Said once OCR is done: about the pages it did not read or could not (those have their own line).
    document.notices += [
        f"{path.name}: page {number} has no readable text layer (a scan, or fonts without a character map); "
        "not searchable"
        for number in document.pages_without_text
        if number not in document.ocr_pending
    ]
    if not any(p.text.strip() for p in document.pages):
        if len({*document.pages_without_text, *document.ocr_pending}) == count:
            ran = ocr is not None and ocr.mode != "never" and not document.ocr_pending
            why = "OCR found no text in them" if ran else _no_ocr(ocr)
            raise DocumentError(
                path,
                f"no readable text layer on any of its {count} pages (scanned, or fonts without a character map); "
                f"{why}; nothing to index",
            )
        raise DocumentError(path, "no text on any page")
    front = "\n".join(p.text for p in document.pages[:2])
    document.outline = _outline(reader, count)
    document.title = document_title(front, _pdf_title(reader)) or path.stem
    document.revision = find_revision(front)
    return document


def _no_ocr(ocr: OcrOptions | None) -> str:
    if ocr is None or ocr.mode == "never":
        return "OCR is off (--ocr never)"
    return "tesseract is not installed for OCR (apt install tesseract-ocr)"


def _extract_page(reader: Any, i: int, path: Path, notices: list[str], types: PageType) -> str:
    try:
        return str(reader.pages[i].extract_text(visitor_text=types.visitor()))
    except Exception as exc:  # pypdf raises many types on damaged content streams
        notices.append(f"{path.name}: page {i + 1} could not be read ({type(exc).__name__}); skipped")
        return ""


def _outline(reader: Any, count: int) -> list[OutlineEntry]:
    """The PDF's bookmarks as (page, level, title); none when it has too few to map the sections
    (a lone "Cover" bookmark says nothing about the rest)."""
    entries: list[OutlineEntry] = []

    def walk(items: list[Any], level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # a bookmark pointing nowhere (or malformed) is skipped, not fatal
                continue
            title = normalize_text(str(getattr(item, "title", "") or "")).strip()
            sentence = title.endswith(".") and len(title.split()) > 3  # glossaries bookmark each entry
            if page is not None and 0 <= page < count and title and len(title) <= _MAX_OUTLINE_TITLE and not sentence:
                entries.append(OutlineEntry(page + 1, level, title))

    try:
        walk(list(reader.outline), 1)
    except Exception:  # a malformed /Outlines tree: the text's own headings are used instead
        return []
    return entries if len(entries) >= max(3, count // 10) else []


def _page_labels(reader: Any, count: int) -> list[str | None]:
    try:
        labels = list(reader.page_labels)
    except Exception:  # a malformed /PageLabels tree is not worth losing the document over
        return [None] * count
    # pypdf invents "1", "2"... when a PDF has no labels; keep only labels that say something.
    if labels == [str(i + 1) for i in range(count)]:
        return [None] * count
    return [str(label) for label in labels]


def _has_images(reader: Any, i: int) -> bool:
    try:
        return len(reader.pages[i].images) > 0
    except Exception:
        return True  # unreadable images: still report the page rather than drop it silently


def _pdf_title(reader: Any) -> str | None:
    try:
        title = (reader.metadata or {}).get("/Title")
    except Exception:
        return None
    return re.sub(r"^Microsoft (?:Word|PowerPoint) - ", "", str(title or "")).strip() or None


def _pdfium_pages(path: Path) -> list[str] | None:
    """Every page's text from PDFium, which infers word spaces from glyph positions."""
    try:
        import pypdfium2

        document = pypdfium2.PdfDocument(str(path))
        try:
            return [str(page.get_textpage().get_text_bounded()) for page in document]
        finally:
            document.close()
    except Exception as exc:
        log.warning("PDFium could not re-read %s (%s); keeping pypdf's text", path, exc)
        return None


def read_docx(path: Path, budget: _Budget | None = None) -> ParsedDocument:
    """DOCX paragraphs and tables in body order; Heading styles become Markdown headings."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    if path.stat().st_size == 0:
        raise DocumentError(path, "empty file (0 bytes)")
    budget = budget or _Budget(path, ReadLimits())
    _check_unpacked(path, budget.limits)
    try:
        document = docx.Document(str(path))
    except KeyError as exc:  # the package lacks a part every Word document has
        raise DocumentError(path, f"not a readable DOCX (no part {exc})") from None
    except (PackageNotFoundError, ValueError, OSError) as exc:
        raise DocumentError(path, f"not a readable DOCX ({type(exc).__name__})") from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, docx.table.Table):
            lines.extend(" | ".join(c.text.strip() for c in row.cells) for row in block.rows)
            lines.append("")
        else:
            lines.append(_docx_paragraph(block))
        if len(lines) % 1000 == 0:
            budget.check_time(f"at block {len(lines):,}")
    text = "\n".join(lines)
    budget.check_characters(len(text))
    text = normalize_text(text)
    if not text.strip():
        raise DocumentError(path, "document has no text")
    title = document_title(text[:3000], document.core_properties.title) or path.stem
    return ParsedDocument(path=path, title=title, pages=[Page(None, text)], revision=find_revision(text[:3000]))


def _hidden_run(run: Any) -> bool:
    font = run.font
    color = font.color.rgb if font.color is not None and font.color.type is not None else None
    return bool(font.hidden) or str(color).upper() == "FFFFFF" or (font.size is not None and font.size.pt < 2)


def _check_unpacked(path: Path, limits: ReadLimits) -> None:
    """Refused from the zip's own directory, before anything is expanded."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DocumentError(path, f"not a readable DOCX ({type(exc).__name__})") from None
    unpacked = sum(m.file_size for m in members)
    if unpacked > limits.unpacked_mb * _MB:
        raise DocumentError(
            path,
            f"unpacks to {unpacked / _MB:,.0f} MB, over the limit of {limits.unpacked_mb:g} MB "
            "(setting max_unpacked_mb)",
        )
    for m in members:
        if m.file_size > 10 * _MB and m.file_size > _MAX_ZIP_RATIO * max(m.compress_size, 1):
            raise DocumentError(
                path, f"{m.filename} unpacks {m.file_size // max(m.compress_size, 1):,} times its size: a zip bomb"
            )


def _docx_paragraph(paragraph: Any) -> str:
    style = (paragraph.style.name or "") if paragraph.style is not None else ""
    runs = paragraph.runs
    if any(_hidden_run(run) for run in runs):  # Word's hidden text, or white on white: no reader sees it
        text = "".join(run.text for run in runs if not _hidden_run(run)).strip()
    else:
        text = paragraph.text.strip()
    if match := re.match(r"Heading (\d)", style):
        return "#" * int(match.group(1)) + " " + text
    if style == "Title":
        return "# " + text
    if style.startswith("List") and text:
        return "- " + text
    return text


_HTML_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "tr", "pre", "dt", "dd", "caption")


def read_html(path: Path, budget: _Budget | None = None) -> ParsedDocument:
    """HTML block elements in order: headings as Markdown headings, table rows as `a | b` lines."""
    from bs4 import BeautifulSoup

    budget = budget or _Budget(path, ReadLimits())
    if path.stat().st_size > 4 * budget.limits.characters:
        budget.check_characters(path.stat().st_size // 4)
    notices: list[str] = []
    markup = _decode(path, path.read_bytes(), notices)
    budget.check_characters(len(markup))
    _check_depth(path, markup)
    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "nav", "noscript", "template"]):
        tag.decompose()
    hidden = [tag for tag in soup.find_all(True) if _invisible(tag)]
    for tag in hidden:
        if not tag.decomposed:
            tag.decompose()
    if hidden:  # what a reader cannot see is no part of the manual (and a place to hide instructions)
        notices.append(f"{path.name}: {len(hidden)} hidden element(s) left out (not shown when the page is viewed)")
    lines: list[str] = []
    for el in soup.find_all(_HTML_BLOCKS):
        if el.find_parent(_HTML_BLOCKS) is not None:
            continue  # its text is already part of the enclosing block
        if el.name == "tr":
            lines.append(" | ".join(c.get_text(" ", strip=True) for c in el.find_all(["th", "td"])))
        elif el.name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            lines += ["", "#" * int(el.name[1]) + " " + el.get_text(" ", strip=True)]
        elif el.name == "li":
            lines.append("- " + el.get_text(" ", strip=True))
        else:
            lines += [el.get_text(" ", strip=True), ""]
    text = normalize_text("\n".join(lines))
    if not text.strip():
        raise DocumentError(path, "HTML page has no text")
    title = soup.title.get_text(strip=True) if soup.title else ""
    return ParsedDocument(
        path=path,
        title=document_title(text[:3000], title) or path.stem,
        pages=[Page(None, text)],
        revision=find_revision(text[:3000]),
        notices=notices,
    )


_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])|opacity\s*:\s*0(?![.\d]*[1-9])|"
    r"(?<![-\w])color\s*:\s*(?:#fff(?:fff)?\b|white\b|transparent\b)",
    re.IGNORECASE,
)


def _invisible(tag: Any) -> bool:
    """An element the browser does not show: hidden, display:none, zero size or opacity, white text."""
    if tag.attrs is None:
        return False
    if tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true":
        return True
    return bool(_HIDDEN_STYLE.search(str(tag.get("style", ""))))


class _DepthProbe(HTMLParser):
    """How deep elements nest, read as a stream (no tree is built). Elements that close themselves
    (br, img) or are closed by a sibling (p, li, tr, td) do not deepen the page."""

    _VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
    _SIBLINGS = frozenset("p li tr td th dt dd option".split())

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.deepest = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._VOID:
            return
        if tag in self._SIBLINGS and self.stack and self.stack[-1] == tag:
            self.stack.pop()
        self.stack.append(tag)
        self.deepest = max(self.deepest, len(self.stack))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass


def _check_depth(path: Path, markup: str) -> None:
    probe = _DepthProbe()
    probe.feed(markup)
    if probe.deepest > _MAX_HTML_DEPTH:
        raise DocumentError(path, f"elements nest {probe.deepest:,} deep (at most {_MAX_HTML_DEPTH}): not a document")


READERS: dict[str, Callable[..., ParsedDocument]] = {
    ".pdf": read_pdf,
    ".md": read_text,
    ".markdown": read_text,
    ".txt": read_text,
    ".text": read_text,
    ".docx": read_docx,
    ".html": read_html,
    ".htm": read_html,
}


def read_document(path: Path, ocr: OcrOptions | None = None, limits: ReadLimits | None = None) -> ParsedDocument:
    """Dispatch on the file suffix; an unsupported suffix or unreadable file is a DocumentError.
    `ocr` applies to PDFs (the formats whose text can be missing from the file)."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        supported = ", ".join(sorted(READERS))
        raise DocumentError(path, f"unsupported file type '{path.suffix or '(none)'}' (supported: {supported})")
    budget = _Budget(path, limits or ReadLimits())
    try:
        size = path.stat().st_size
        if size > budget.limits.file_mb * _MB:
            raise DocumentError(
                path, f"{size / _MB:,.0f} MB, over the limit of {budget.limits.file_mb:g} MB (setting max_file_mb)"
            )
        return read_pdf(path, ocr, budget) if reader is read_pdf else reader(path, budget)
    except PermissionError:
        raise DocumentError(path, "permission denied") from None
    except FileNotFoundError:
        raise DocumentError(path, "file not found") from None
