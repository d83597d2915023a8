"""What flows between the ingest steps: a parsed document of pages, then chunks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Page:
    """The text of one physical page (`number` is 1-based; None for formats without pages)."""

    number: int | None
    text: str
    label: str | None = None
    # How the text was obtained: text-layer (the file's own text), ocr, ocr-table or tick-map.
    source: str = "text-layer"
    # Lines set apart by their type (larger or bold), by letters-and-digits key, with their heading
    # level; None where the format or the reading tells no type (then headings go by shape alone).
    styled: dict[str, int] | None = None


@dataclass(frozen=True)
class OutlineEntry:
    """A bookmark of a PDF: a section title, its depth (1 = top) and the page it opens on."""

    page: int
    level: int
    title: str


@dataclass
class ParsedDocument:
    """A document as read from disk, before cleaning and chunking."""

    path: Path
    title: str
    pages: list[Page]
    revision: str | None = None
    pages_without_text: list[int] = field(default_factory=list)
    # One-line notes for the engineer (e.g. a scanned page that cannot be searched yet).
    notices: list[str] = field(default_factory=list)
    ocr_pages: int = 0  # pages whose text came from OCR
    ocr_read: int = 0  # pages OCR read, kept or not (figure pages add no words and are not kept)
    ocr_pending: list[int] = field(default_factory=list)  # pages that need OCR it could not run
    pictures_pending: list[int] = field(default_factory=list)  # text pages whose pictures it could not read
    ocr_seconds: float = 0.0
    outline: list[OutlineEntry] = field(default_factory=list)  # the PDF's bookmarks, if it has any

    @property
    def page_count(self) -> int:
        """Physical pages (a tick map or an OCR reading beside a page is not a page of its own)."""
        return len({page.number for page in self.pages})


@dataclass
class Chunk:
    """One retrievable passage with its provenance."""

    text: str
    section: str
    page: int | None
    page_end: int | None = None
    page_label: str | None = None
    source: str = "text-layer"
    # Where the text turns to a new page: (line number in `text`, page, its printed label), so that
    # a line quoted from a passage cites the page it stands on, not the passage's first page.
    page_turns: list[tuple[int, int, str | None]] = field(default_factory=list)
