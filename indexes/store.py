"""The on-disk index: immutable version folders and an atomically switched CURRENT pointer.

Layout of an index folder:
    CURRENT              name of the live version (replaced atomically, never edited in place)
    versions/<name>/     llama-index storage (docstore, index store, FAISS vectors) + manifest.json
    .staging-<id>/       a version being written; left behind only by a killed writer, swept later
    .lock                held by the one process allowed to write

A writer builds a complete new version beside the old one, fsyncs it, then switches CURRENT.
A reader resolves CURRENT once and loads that folder. Killed at any moment, a writer leaves the
previous version live and intact; a version renamed into place but never made live is removed
by the next writer. `shopfloor bench faults` kills writers at each of the named crash points
below as well as at random moments.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexes.manifest import MANIFEST_NAME, Manifest
from shopfloor.errors import IncompatibleIndexError, IndexLockedError, IndexMissingError

if TYPE_CHECKING:
    from llama_index.core import VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.schema import TextNode

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
VERSIONS = "versions"
STAGING_PREFIX = ".staging-"
# The moments of a commit where a crash leaves a distinct state on disk. A random kill -9 almost
# never lands between two system calls, so the faults benchmark names the moment in this variable
# and the writer kills itself there, exactly as kill -9 would.
CRASH_AT_VARIABLE = "SHOPFLOOR_CRASH_AT"
CRASH_POINTS = ("staged", "renamed", "switched")


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class IndexSnapshot:
    """One loaded version: its manifest and the llama-index index over its FAISS vectors."""

    version: Path
    manifest: Manifest
    index: VectorStoreIndex

    def nodes(self, node_ids: Sequence[str]) -> list[TextNode]:
        return list(self.index.docstore.get_nodes(list(node_ids)))  # type: ignore[arg-type]

    def vectors(self) -> dict[str, np.ndarray]:
        """Every stored vector by node id (read back from FAISS, so nothing is re-embedded)."""
        faiss_index = self.index.vector_store.client  # type: ignore[attr-defined]
        if faiss_index.ntotal == 0:
            return {}
        matrix = faiss_index.reconstruct_n(0, faiss_index.ntotal)
        return {node_id: matrix[int(pos)] for pos, node_id in self.index.index_struct.nodes_dict.items()}


class IndexStore:
    """Reads and writes the versions of one index folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def current_version(self) -> Path | None:
        pointer = self.root / CURRENT
        if not pointer.is_file():
            return None
        name = pointer.read_text(encoding="utf-8").strip()
        return self.root / VERSIONS / name

    def read_manifest(self) -> Manifest | None:
        """The live manifest, or None for an index never written. Cheap: no model, no vectors."""
        version = self.current_version
        return Manifest.read(version) if version is not None else None

    def load(self, embed_model: BaseEmbedding | None = None) -> IndexSnapshot:
        """Load the live version; `embed_model` is needed only to run queries on it."""
        from llama_index.core import StorageContext, load_index_from_storage
        from llama_index.vector_stores.faiss import FaissVectorStore

        version = self.current_version
        if version is None:
            raise IndexMissingError(f"{self.root}: no index here yet; run `shopfloor ingest` first")
        manifest = Manifest.read(version)
        storage = StorageContext.from_defaults(
            persist_dir=str(version), vector_store=FaissVectorStore.from_persist_dir(str(version))
        )
        from indexes.precomputed import PrecomputedOnly

        index: Any = load_index_from_storage(storage, embed_model=embed_model or PrecomputedOnly())
        return IndexSnapshot(version=version, manifest=manifest, index=index)

    def check_model(self, manifest: Manifest, fingerprint: str) -> None:
        """Refuse another embedding model (cheap: no model is loaded to check it)."""
        built_with = manifest.embedding_fingerprint.split("+", 1)[0]
        if built_with != fingerprint:
            raise IncompatibleIndexError(
                f"{self.root}: built with embedding model {manifest.embedding_model} ({built_with}), "
                f"configured model differs ({fingerprint}); re-ingest into a new --index folder"
            )

    def check_compatible(self, manifest: Manifest, space: str, backend: str) -> None:
        """Refuse an embedder whose vectors would not be comparable with the index's."""
        self.check_model(manifest, space.split("+", 1)[0])
        if manifest.embedding_fingerprint != space:
            raise IncompatibleIndexError(
                f"{self.root}: built with embedding backend {manifest.embedding_backend}; {backend} gives "
                "vectors that differ beyond the calibration tolerance; set "
                f"SHOPFLOOR_EMBED_BACKEND={manifest.embedding_backend} or re-ingest into a new --index folder"
            )

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the single-writer lock; a second writer is refused at once, with a clear message."""
        from filelock import FileLock, Timeout

        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / ".lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise IndexLockedError(
                f"{self.root}: another ingest or remove is writing this index; try again when it finishes"
            ) from None
        try:
            self._sweep_staging()
            yield
        finally:
            lock.release()

    def commit(self, manifest: Manifest, nodes: Sequence[TextNode], vectors: np.ndarray) -> Path:
        """Write a complete new version and make it live. Call inside `writing()`."""
        staging = self.root / f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        _persist(staging, manifest, nodes, vectors)
        _crash_point("staged")
        previous = self.current_version
        name = datetime.now(UTC).strftime("v%Y%m%dT%H%M%S%fZ")
        versions = self.root / VERSIONS
        versions.mkdir(exist_ok=True)
        final = versions / name
        os.rename(staging, final)
        _fsync_dir(versions)
        _crash_point("renamed")
        _atomic_write(self.root / CURRENT, name + "\n")
        log.info("index version live version=%s chunks=%d", name, len(nodes))
        _crash_point("switched")
        self._prune_versions(keep={name, previous.name if previous else name})
        return final

    def _sweep_staging(self) -> None:
        for leftover in self.root.glob(f"{STAGING_PREFIX}*"):
            log.info("removing unfinished version left by a killed writer path=%s", leftover)
            shutil.rmtree(leftover, ignore_errors=True)

    def _prune_versions(self, keep: set[str]) -> None:
        """Keep the live version and the one before it (a reader that resolved CURRENT just before the
        switch may still be loading it); any other is old, or was renamed in by a writer killed
        before it switched CURRENT, and was never live."""
        for version in (self.root / VERSIONS).iterdir():
            if version.is_dir() and version.name not in keep:
                shutil.rmtree(version, ignore_errors=True)


def _persist(folder: Path, manifest: Manifest, nodes: Sequence[TextNode], vectors: np.ndarray) -> None:
    import faiss
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.vector_stores.faiss import FaissVectorStore

    from indexes.precomputed import PrecomputedOnly

    if len(nodes) != len(vectors):
        raise ValueError(f"{len(nodes)} nodes but {len(vectors)} vectors")
    # Inner product over normalised vectors is cosine similarity.
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(manifest.embedding_dim))
    storage = StorageContext.from_defaults(vector_store=store)
    for node, vector in zip(nodes, vectors, strict=True):
        node.embedding = vector.tolist()
    VectorStoreIndex(list(nodes), storage_context=storage, embed_model=PrecomputedOnly())
    storage.persist(persist_dir=str(folder))
    (folder / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    for file in folder.iterdir():
        _fsync_file(file)
    _fsync_dir(folder)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
