"""The manifest: what one index version holds, document by document.

It is the source of truth for incremental ingest (content hashes) and for `shopfloor docs`,
and it is written inside the version folder, so it can never disagree with the vectors beside it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shopfloor.errors import IncompatibleIndexError

MANIFEST_NAME = "manifest.json"
# Bump when the on-disk layout or the chunk format changes: an old index is then refused, not misread.
# 2: passages in segments (SQLite, FAISS, saved BM25) instead of one llama-index docstore per version.
FORMAT_VERSION = 2


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

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: Path) -> Manifest:
        raw: dict[str, Any] = json.loads(text)
        if raw.get("format") != FORMAT_VERSION:
            raise IncompatibleIndexError(
                f"{where}: index format {raw.get('format')} is not {FORMAT_VERSION}; re-ingest into a new index"
            )
        docs = {k: DocumentRecord(**v) for k, v in raw.pop("documents").items()}
        return cls(documents=docs, **raw)

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST_NAME
        return cls.from_json(path.read_text(encoding="utf-8"), path)
