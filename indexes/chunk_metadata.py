"""What every indexed passage carries beside its text. Ingest writes it; retrieval, answering, the
suggestions and the views read it. A key is spelled here only: mypy holds every reader to it.

An index written by an earlier chunker version may lack the newer keys until its documents are
ingested again (the chunker version forces that), so readers `.get()` the optional ones.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict, cast


class ChunkMetadata(TypedDict):
    doc_id: str  # the document id (`shopfloor docs`): its file name, unique in the index
    file: str  # the file name, for citations
    title: str
    revision: str | None
    section: str  # the heading path ("4 Maintenance > 4.5 Alternator")
    page: int | None  # the 1-based physical page the passage starts on (None: a format without pages)
    page_end: int | None
    page_label: str | None  # the printed page number of `page`
    # [line of the text, page, printed label] where the text turns to a new page
    page_turns: NotRequired[list[list[Any]]]
    text_source: str  # text-layer, ocr, ocr-table or tick-map: how the text was read
    tags: dict[str, str]  # key=value given at ingest (equipment=HP-200): retrieval filters
    heading: str  # "title > section": the one line embedded with the text
    content_hash: NotRequired[str]  # of the embedded text: an unchanged passage keeps its vector


# The only key the embedding model (and the LLM, through llama-index) reads beside the text.
EMBEDDED_KEY = "heading"


def chunk_metadata(raw: dict[str, Any]) -> ChunkMetadata:
    """A stored node's metadata as the contract types it (the docstore keeps plain JSON)."""
    return cast(ChunkMetadata, raw)
