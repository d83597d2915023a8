"""Pictures of cited PDF pages, with the cited passage highlighted where PDFium finds it.

Only documents in the index manifest can be rendered, looked up by their document id: a client
never names a file path, so nothing outside the indexed documents can be served. The picture is
drawn from the file the manifest names, and only while it is the file that was indexed (its size
and SHA-256): a newer revision beside an older index, or a terminal whose index was built
elsewhere, gets no picture of another text, but a note saying why.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from indexes.manifest import DocumentRecord, Manifest

log = logging.getLogger(__name__)
RENDER_SCALE = 1.4  # about 100 dpi: readable on a 1280x800 panel, quick to render


@dataclass
class PagePicture:
    """A picture of a cited page, or why there is none to show."""

    image: Any | None = None  # a PIL image
    note: str | None = None


def page_image(manifest: Manifest, doc_id: str, page: int, passage: str) -> PagePicture:
    """A picture of `page` (1-based) of an indexed PDF, the passage highlighted."""
    record = manifest.documents.get(doc_id)
    if record is None or not record.source.lower().endswith(".pdf") or not 1 <= page <= record.pages:
        return PagePicture()
    if not _is_indexed_file(record):
        return PagePicture(
            note=f"No page picture: {Path(record.source).name} on this terminal is not the file that was "
            "indexed (changed, moved or never copied here)."
        )
    return PagePicture(image=_render(record, page, passage))


def _is_indexed_file(record: DocumentRecord) -> bool:
    try:
        stat = os.stat(record.source)
    except OSError:
        return False
    return stat.st_size == record.size and _sha256(record.source, stat.st_size, stat.st_mtime_ns) == record.sha256


@lru_cache(maxsize=256)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """Hashed once per file state (size and mtime are part of the key)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _render(record: DocumentRecord, page: int, passage: str) -> Any | None:
    import pypdfium2
    from PIL import Image, ImageDraw

    try:
        document = pypdfium2.PdfDocument(record.source)
    except (pypdfium2.PdfiumError, OSError) as exc:
        log.warning("cannot render %s page %d: %s", record.source, page, exc)
        return None
    try:
        pdf_page = document[page - 1]
        image = pdf_page.render(scale=RENDER_SCALE).to_pil().convert("RGB")
        boxes = _passage_boxes(pdf_page, passage)
        if boxes:
            overlay = image.copy()
            draw = ImageDraw.Draw(overlay)
            height = pdf_page.get_height()
            for left, bottom, right, top in boxes:
                draw.rectangle(
                    [
                        left * RENDER_SCALE,
                        (height - top) * RENDER_SCALE,
                        right * RENDER_SCALE,
                        (height - bottom) * RENDER_SCALE,
                    ],
                    fill=(255, 220, 0),
                )
            image = Image.blend(image, overlay, 0.35)
        return image
    finally:
        document.close()


def _passage_boxes(pdf_page: Any, passage: str) -> list[tuple[float, float, float, float]]:
    """Rectangles of the passage's lines found on the page (PDF points, origin bottom left)."""
    boxes = []
    text_page = pdf_page.get_textpage()
    for line in (ln.strip() for ln in passage.split("\n")):
        if len(line) < 8:
            continue
        searcher = text_page.search(line[:60], match_case=False)
        found = searcher.get_next()
        if found is None:
            continue
        start, count = found
        for index in range(text_page.count_rects(start, count)):
            boxes.append(text_page.get_rect(index))
    return boxes
