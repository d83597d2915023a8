"""The ingest run: find files, skip unchanged ones, read → clean → chunk → embed, write one new
index version: the untouched documents where they were, the new and replaced ones in one new segment.

Nothing is written until every document of the batch has been processed, and the write itself
is atomic (see indexes.store), so the live index always holds either the old or the new batch.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from indexes.chunk_metadata import EMBEDDED_KEY, ChunkMetadata
from indexes.embedding import Embedder, TokenCounter
from indexes.manifest import DocumentRecord, Manifest
from indexes.model_spec import EmbeddingSpec
from indexes.segments import Segment, StoredPassage
from indexes.store import SEGMENTS, IndexStore
from ingest.chunking import CHUNKER_VERSION, chunk_document
from ingest.documents import Chunk, ParsedDocument
from ingest.ocr import OcrOptions, tesseract_available
from ingest.readers import ReadLimits
from ingest.reading_process import ReadingProcess
from shopfloor.errors import DocumentError, ShopfloorError, UnknownDocumentError, printable
from shopfloor.languages import DETECTOR
from shopfloor.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.schema import TextNode

log = logging.getLogger(__name__)

# Room left in the embedding window for the "heading: title > section" line and special tokens.
HEADING_TOKENS = 48
# Parsed documents waiting for the model: enough to keep the reader busy, bounded for memory.
READ_AHEAD = 4
STAGES = ("load", "read", "ocr", "chunk", "embed", "write")


@dataclass
class Source:
    """A file to ingest and the id it is known by (its path below the folder given)."""

    path: Path
    doc_id: str


@dataclass
class Outcome:
    """What happened to one document."""

    doc_id: str
    status: str  # ingested | replaced | unchanged | removed | skipped
    pages: int = 0
    chunks: int = 0
    reason: str = ""


@dataclass
class IngestReport:
    """Everything an ingest run did, for the summary table and the benchmark."""

    outcomes: list[Outcome] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    embedded_chunks: int = 0
    reused_chunks: int = 0
    ocr_pages: int = 0
    ocr_read: int = 0
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def skipped(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "skipped"]

    @property
    def pages(self) -> int:
        return sum(o.pages for o in self.outcomes if o.status in ("ingested", "replaced"))

    @property
    def chunks(self) -> int:
        return sum(o.chunks for o in self.outcomes if o.status in ("ingested", "replaced"))


class Progress(Protocol):
    """Where a long run reports its advance (the CLI draws a bar from it)."""

    def start(self, documents: int) -> None: ...
    def advance(self, *, documents: int = 0, pages: int = 0, chunks: int = 0, ocr_pages: int = 0) -> None: ...


class _NoProgress:
    def start(self, documents: int) -> None:
        pass

    def advance(self, *, documents: int = 0, pages: int = 0, chunks: int = 0, ocr_pages: int = 0) -> None:
        pass


def discover(paths: Iterable[Path]) -> tuple[list[Source], list[Outcome]]:
    """Files below the given paths (recursive, hidden ones left out), with their document ids."""
    sources: dict[str, Source] = {}
    missing: list[Outcome] = []
    for given in paths:
        if given.is_dir():
            found = []
            for f in sorted(given.rglob("*")):
                if any(part.startswith(".") for part in f.relative_to(given).parts):
                    continue
                if f.is_symlink() and (why := _unfollowed_link(f)):
                    missing.append(Outcome(f.relative_to(given).as_posix(), "skipped", reason=f"{printable(f)}: {why}"))
                elif f.is_file():
                    found.append(Source(f, f.relative_to(given).as_posix()))
        elif given.is_file():
            found = [Source(given, given.name)]
        else:
            missing.append(Outcome(str(given), "skipped", reason=f"{given}: no such file or folder"))
            continue
        for source in found:
            taken = sources.get(source.doc_id)
            if taken is not None and taken.path.resolve() != source.path.resolve():
                reason = (
                    f"{source.path}: same document id '{source.doc_id}' as {taken.path}; "
                    "ingest their common folder so each keeps its own id"
                )
                missing.append(Outcome(source.doc_id, "skipped", reason=reason))
                continue
            sources[source.doc_id] = source
    return list(sources.values()), missing


def _unfollowed_link(link: Path) -> str | None:
    """Why a symbolic link in a folder is not ingested (None: it names a file, which is read)."""
    try:
        target = link.resolve(strict=True)
    except RuntimeError:
        return "a symbolic link loop; skipped"
    except OSError:
        return "a broken symbolic link; skipped"
    if target.is_dir():
        return "a link to a folder; links to folders are not followed (ingest that folder itself)"
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class IngestRun:
    """One ingest (or removal) into one index, under its write lock."""

    def __init__(
        self,
        settings: Settings,
        store: IndexStore,
        progress: Progress | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.progress = progress or _NoProgress()
        self.spec = EmbeddingSpec.from_model_path(settings.embed_model)
        if settings.chunk_tokens + HEADING_TOKENS > self.spec.max_tokens:
            raise ShopfloorError(
                f"chunk_tokens={settings.chunk_tokens} does not fit the embedding model's "
                f"{self.spec.max_tokens}-token window; use at most {self.spec.max_tokens - HEADING_TOKENS}"
            )
        self._embedder = embedder

    @property
    def loaded_embedder(self) -> Embedder | None:
        """The embedding model, if this run needed it (unchanged files never load it)."""
        return self._embedder

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder.from_settings(self.settings)
        return self._embedder

    def run(
        self,
        paths: Sequence[Path] = (),
        tags: dict[str, str] | None = None,
        remove: Sequence[str] = (),
    ) -> IngestReport:
        """Ingest `paths` (tags=None keeps each document's earlier tags) and drop the `remove` ids."""
        started = time.perf_counter()
        report = IngestReport()
        sources, report.outcomes = discover(paths)
        with self.store.writing():
            manifest = self.store.read_manifest()
            if manifest is not None:
                self.store.check_model(manifest, self.spec.fingerprint)
            known = manifest.documents if manifest is not None else {}
            unknown = [doc_id for doc_id in remove if doc_id not in known]
            if unknown:
                raise UnknownDocumentError(f"not in the index: {', '.join(unknown)} (see `shopfloor docs`)")
            todo = self._plan(sources, manifest, tags, report)
            if todo or remove:
                self._rebuild(todo, remove, manifest, tags, report)
        report.seconds = time.perf_counter() - started
        return report

    def _plan(
        self,
        sources: list[Source],
        manifest: Manifest | None,
        tags: dict[str, str] | None,
        report: IngestReport,
    ) -> list[tuple[Source, str]]:
        todo = []
        for source in sources:
            try:
                sha = file_sha256(source.path)
            except OSError as exc:
                report.outcomes.append(Outcome(source.doc_id, "skipped", reason=f"{source.path}: {exc.strerror}"))
                continue
            record = manifest.documents.get(source.doc_id) if manifest is not None else None
            unchanged = (
                record is not None
                and manifest is not None
                and record.sha256 == sha
                and manifest.chunker == CHUNKER_VERSION
                and (tags is None or tags == record.tags)
                and not self._ocr_now_possible(record)
            )
            if unchanged and record is not None:
                report.outcomes.append(Outcome(source.doc_id, "unchanged", record.pages, record.chunks))
            else:
                todo.append((source, sha))
        return todo

    def _ocr_now_possible(self, record: DocumentRecord) -> bool:
        """Pages that needed OCR when tesseract was missing, and pictures on text pages, are read
        again once it is installed."""
        pending = record.ocr_pending or record.pictures_pending
        return bool(pending) and self.settings.ocr != "never" and tesseract_available()

    def _rebuild(
        self,
        todo: list[tuple[Source, str]],
        remove: Sequence[str],
        manifest: Manifest | None,
        tags: dict[str, str] | None,
        report: IngestReport,
    ) -> None:
        old_docs = dict(manifest.documents) if manifest is not None else {}
        previous = _PreviousVectors(self.store, [old_docs[s.doc_id] for s, _ in todo if s.doc_id in old_docs], report)
        new_docs: dict[str, DocumentRecord] = {}
        new_nodes: list[TextNode] = []
        new_vectors: list[np.ndarray] = []
        self.progress.start(len(todo))
        for source, prepared in self._read_ahead(todo, old_docs, tags, report):
            self.progress.advance(documents=1)
            if isinstance(prepared, DocumentError):
                report.outcomes.append(Outcome(source.doc_id, "skipped", reason=str(prepared)))
                continue
            record, nodes = prepared
            new_vectors.append(self._embed(nodes, previous.by_hash, manifest, report))
            status = "replaced" if source.doc_id in old_docs else "ingested"
            report.outcomes.append(Outcome(source.doc_id, status, record.pages, record.chunks))
            new_docs[source.doc_id] = record
            new_nodes += nodes
        for doc_id in remove:
            report.outcomes.append(Outcome(doc_id, "removed", old_docs[doc_id].pages, old_docs[doc_id].chunks))
        if not new_docs and not remove:
            return  # every document was skipped: the live index stays exactly as it was
        started = time.perf_counter()
        kept = {k: v for k, v in old_docs.items() if k not in new_docs and k not in remove}
        dim = manifest.embedding_dim if manifest is not None else self.embedder.dim
        vectors = np.vstack([np.zeros((0, dim), np.float32), *new_vectors])
        space, backend = self._vector_space(manifest, embedded=report.embedded_chunks > 0)
        new_manifest = Manifest(
            embedding_model=self.spec.name,
            embedding_fingerprint=space,
            embedding_backend=backend,
            embedding_dim=dim,
            chunker=CHUNKER_VERSION,
            documents={**kept, **new_docs},
        )
        passages = [StoredPassage(n.node_id, n.text, dict(n.metadata)) for n in new_nodes]
        self.store.commit(new_manifest, passages, vectors)
        report.timings["write"] += time.perf_counter() - started

    def _vector_space(self, manifest: Manifest | None, *, embedded: bool) -> tuple[str, str]:
        """The space and backend to record; with no new vector (a removal, reused passages) the
        index keeps its own, and no calibration is needed to know it."""
        if manifest is not None and not embedded:
            return manifest.embedding_fingerprint, manifest.embedding_backend
        return self.embedder.space, self.embedder.backend

    def _read_ahead(
        self,
        todo: list[tuple[Source, str]],
        old_docs: dict[str, DocumentRecord],
        tags: dict[str, str] | None,
        report: IngestReport,
    ) -> Iterator[tuple[Source, tuple[DocumentRecord, list[TextNode]] | DocumentError]]:
        """Documents read and chunked ahead, in a thread, while the model embeds the earlier ones
        (torch releases the GIL): parsing hides behind embedding. Smallest files go first, so the
        model starts embedding early instead of waiting for the largest manual to be parsed."""

        def prepare(source: Source, sha: str) -> tuple[DocumentRecord, list[TextNode]] | DocumentError:
            earlier = old_docs.get(source.doc_id)
            doc_tags = tags if tags is not None else (earlier.tags if earlier else {})
            try:
                return self._prepare(reader, source, sha, doc_tags, report)
            except DocumentError as exc:
                return exc
            except Exception as exc:  # a reader's own bug on a hostile file costs that file, not the batch
                log.info("reading %s failed", source.path, exc_info=True)  # the traceback with --verbose
                return DocumentError(source.path, f"could not be read ({type(exc).__name__}: {exc})"[:300])

        ordered = sorted(todo, key=lambda item: item[0].path.stat().st_size)
        reader = ReadingProcess(self.settings.max_reader_memory_mb)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool, closing(reader):
            pending: deque[tuple[Source, Future[tuple[DocumentRecord, list[TextNode]] | DocumentError]]]
            pending = deque()
            for source, sha in ordered:
                pending.append((source, pool.submit(prepare, source, sha)))
                if len(pending) > READ_AHEAD:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()

    def _prepare(
        self, reader: ReadingProcess, source: Source, sha: str, tags: dict[str, str], report: IngestReport
    ) -> tuple[DocumentRecord, list[TextNode]]:
        """Read, clean and chunk one document into nodes (no embedding yet)."""
        started = time.perf_counter()
        document = reader.read(source.path, self._ocr_options, ReadLimits.from_settings(self.settings))
        if document.notices:
            report.notices.append(_one_line(source.path.name, document.notices))
        mid = time.perf_counter()
        report.timings["read"] += mid - started - document.ocr_seconds
        report.timings["ocr"] += document.ocr_seconds
        report.ocr_pages += document.ocr_pages
        report.ocr_read += document.ocr_read
        chunks = chunk_document(document, self.settings.chunk_tokens, self._token_counter.count)
        if not chunks:
            raise DocumentError(source.path, "no text to index after cleaning")
        nodes = [_node(source, document, chunk, i, tags) for i, chunk in enumerate(chunks)]
        report.timings["chunk"] += time.perf_counter() - mid
        self.progress.advance(pages=document.page_count)
        record = DocumentRecord(
            doc_id=source.doc_id,
            source=str(source.path.resolve()),
            sha256=sha,
            size=source.path.stat().st_size,
            title=document.title,
            revision=document.revision,
            pages=document.page_count,
            chunks=len(nodes),
            ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
            tags=tags,
            pages_without_text=document.pages_without_text,
            ocr_pending=document.ocr_pending,
            pictures_pending=document.pictures_pending,
            language=DETECTOR.of_document([n.text for n in nodes]),
        )
        log.info("doc=%s pages=%d chunks=%d secs=%.2f", source.doc_id, record.pages, record.chunks, mid - started)
        return record, nodes

    @cached_property
    def _ocr_options(self) -> OcrOptions:
        s = self.settings
        return OcrOptions(
            mode=s.ocr,
            languages=s.ocr_languages,
            dpi=s.ocr_dpi,
            workers=s.threads,
            on_page=lambda: self.progress.advance(ocr_pages=1),
        )

    @cached_property
    def _token_counter(self) -> TokenCounter:
        return TokenCounter(self.settings.embed_model)

    def _embed(
        self, nodes: list[TextNode], old: dict[str, np.ndarray], live: Manifest | None, report: IngestReport
    ) -> np.ndarray:
        """Vectors for the nodes; a passage embedded before (same heading and text) is reused.

        Before the first new vector, the backend is checked against the live index's vector space
        (the model itself was checked at start): nothing is embedded, or written, that would mix."""
        vectors: list[np.ndarray | None] = [old.get(n.metadata["content_hash"]) for n in nodes]
        missing = [i for i, v in enumerate(vectors) if v is None]
        report.reused_chunks += len(nodes) - len(missing)
        if missing and live is not None and report.embedded_chunks == 0:
            self.store.check_compatible(live, self.embedder.space, self.embedder.backend)
        if missing and self._embedder is None:
            began = time.perf_counter()
            self.embedder.encoder  # noqa: B018 - load the model outside the embed timing
            report.timings["load"] += time.perf_counter() - began
        batch = self.settings.embed_batch_size
        for start in range(0, len(missing), batch):
            ids = missing[start : start + batch]
            began = time.perf_counter()
            rows = self.embedder.embed_texts([embed_text(nodes[i]) for i in ids])
            report.timings["embed"] += time.perf_counter() - began
            for i, row in zip(ids, rows, strict=True):
                vectors[i] = row
            report.embedded_chunks += len(ids)
            self.progress.advance(chunks=len(ids))
        return np.vstack([v for v in vectors if v is not None]).astype(np.float32)


def embed_text(node: TextNode) -> str:
    """Exactly what the model embeds for a chunk: its heading line, then its text."""
    from llama_index.core.schema import MetadataMode

    return node.get_content(metadata_mode=MetadataMode.EMBED)


def passage_embed_text(passage: StoredPassage) -> str:
    """What the model embedded for a stored passage (a benchmark embeds the same texts again)."""
    return embed_text(_text_node(passage.text, passage.metadata))


def _text_node(text: str, metadata: dict[str, Any]) -> TextNode:
    from llama_index.core.schema import TextNode

    # Only the heading line joins the passage in the embedded text: it carries the topic, the rest
    # would spend the model's 256-token window on bookkeeping.
    excluded = [k for k in ChunkMetadata.__annotations__ if k != EMBEDDED_KEY]
    return TextNode(
        text=text, metadata=metadata, excluded_embed_metadata_keys=excluded, excluded_llm_metadata_keys=excluded
    )


def _node(source: Source, document: ParsedDocument, chunk: Chunk, ordinal: int, tags: dict[str, str]) -> TextNode:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo

    heading = " > ".join(part for part in (document.title, chunk.section) if part)
    metadata = ChunkMetadata(
        doc_id=source.doc_id,
        file=source.path.name,
        title=document.title,
        revision=document.revision,
        section=chunk.section,
        page=chunk.page,
        page_end=chunk.page_end,
        page_label=chunk.page_label,
        page_turns=[list(turn) for turn in chunk.page_turns],
        text_source=chunk.source,
        tags=tags,
        heading=heading,
    )
    node = _text_node(chunk.text, dict(metadata))
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=source.doc_id)
    content_hash = hashlib.sha256(embed_text(node).encode()).hexdigest()[:32]
    node.metadata["content_hash"] = content_hash
    node.id_ = f"{source.doc_id}#{ordinal}:{content_hash[:12]}"
    return node


class _PreviousVectors:
    """The vectors of the documents a batch replaces, by passage hash, so a passage that did not
    change is not embedded again. Read only when a document needs them (a batch of skipped files
    must not pay for it), and only from those documents' segments: the cost follows the change."""

    def __init__(self, store: IndexStore, replaced: list[DocumentRecord], report: IngestReport) -> None:
        self._store = store
        self._replaced = replaced
        self._report = report

    @cached_property
    def by_hash(self) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        found: dict[str, np.ndarray] = {}
        for name in {record.segment for record in self._replaced}:
            segment = Segment(self._store.root / SEGMENTS / name)
            for record in (r for r in self._replaced if r.segment == name):
                passages = segment.passage_range(record.first, record.chunks)
                vectors = segment.vectors_at(np.arange(record.first, record.first + record.chunks))
                found.update(
                    (p.metadata["content_hash"], v)
                    for p, v in zip(passages, vectors, strict=True)
                    if "content_hash" in p.metadata
                )
            segment.close()
        self._report.timings["load"] += time.perf_counter() - started
        return found


def _one_line(name: str, notices: list[str]) -> str:
    """A document's notices as one line that names it: the summary gives each file one line."""
    said = [notice.removeprefix(f"{name}: ") for notice in notices]
    return f"{printable(name)}: " + "; ".join(printable(s) for s in said)
