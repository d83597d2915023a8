"""The manifest: what one index version holds, document by document.

It is the source of truth for incremental ingest (content hashes) and for `shopfloor docs`. On disk
it is in two parts, so that an ingest writes bytes in proportion to itself: each segment carries
the records of the documents it brought (`documents.json`, written with it, never changed), and a
version names its segments with, for each, the documents of it no longer live (replaced or removed
since). A version file grows with the segments and the replaced documents not yet merged away,
not with the library.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shopfloor.errors import IncompatibleIndexError

MANIFEST_NAME = "manifest.json"
SEGMENT_DOCUMENTS = "documents.json"
SEGMENTS = "segments"  # beside the versions folder: <index>/segments/<name>/
# Bump when the on-disk layout or the chunk format changes: an old index is then refused, not misread.
# 2: passages in segments (SQLite, FAISS, saved BM25) instead of one llama-index docstore per version.
# 3: document records in their segments; a version names its segments and their dead documents.
FORMAT_VERSION = 3


@dataclass
class DocumentRecord:
    """One ingested document (one revision of it)."""

    doc_id: str
    source: str
    sha256: str
    size: int
    title: str
    revision: str | None
    pages: int
    chunks: int
    ingested_at: str
    tags: dict[str, str] = field(default_factory=dict)
    pages_without_text: list[int] = field(default_factory=list)
    ocr_pending: list[int] = field(default_factory=list)  # pages left unread for want of tesseract
    # Text pages whose pictures were not read for want of tesseract (the text layer is indexed).
    pictures_pending: list[int] = field(default_factory=list)
    # ISO 639-1, detected from the text at ingest: a question is also searched in this language.
    language: str = "en"
    # Where its passages are: `chunks` passages from position `first` of segment `segment` (empty
    # until the store writes the segment).
    segment: str = ""
    first: int = 0


@dataclass
class Manifest:
    """Index-wide facts and the documents of one version."""

    embedding_model: str
    embedding_fingerprint: str
    embedding_dim: int
    chunker: str
    embedding_backend: str = "torch-fp32"
    documents: dict[str, DocumentRecord] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    def to_json(self, dead: dict[str, list[str]]) -> str:
        """The version file: index-wide facts and, per segment in use, its documents no longer live."""
        facts = {k: v for k, v in asdict(self).items() if k != "documents"}
        return json.dumps({**facts, "segments": dead}, indent=1, sort_keys=True)

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """The manifest of the version in `folder`, its records read from the segments it names."""
        path = folder / MANIFEST_NAME
        raw = cls._raw(path)
        documents: dict[str, DocumentRecord] = {}
        for segment, dead in sorted(raw.pop("segments").items()):
            gone = set(dead)
            for record in segment_records(folder.parent.parent / SEGMENTS / segment):
                if record["doc_id"] not in gone:
                    documents[record["doc_id"]] = DocumentRecord(**record)
        return cls(documents=documents, **raw)

    @staticmethod
    def segments_of(folder: Path) -> set[str]:
        """The segments a version uses (cheap: its records are not read)."""
        return set(Manifest._raw(folder / MANIFEST_NAME)["segments"])

    @staticmethod
    def _raw(path: Path) -> dict[str, Any]:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT_VERSION:
            raise IncompatibleIndexError(
                f"{path}: index format {raw.get('format')} is not {FORMAT_VERSION}; re-ingest into a new index"
            )
        return raw


def write_segment_records(segment: Path, records: list[DocumentRecord]) -> None:
    """The records of the documents a segment brings, written into it before it is made final."""
    (segment / SEGMENT_DOCUMENTS).write_text(json.dumps([asdict(r) for r in records]), encoding="utf-8")


def segment_records(segment: Path) -> list[dict[str, Any]]:
    """A segment's document records as stored."""
    records: list[dict[str, Any]] = json.loads((segment / SEGMENT_DOCUMENTS).read_text(encoding="utf-8"))
    return records
