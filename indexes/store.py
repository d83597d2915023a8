"""The on-disk index: immutable segments, immutable versions, and an atomically switched CURRENT.

Layout of an index folder:
    CURRENT              name of the live version (replaced atomically, never edited in place)
    versions/<name>/     manifest.json: the segments of that version and their documents no longer live
    segments/<name>/     passages and the records of their documents, written once (see
                         indexes.segments, indexes.manifest); shared by the versions
    .staging-<id>/       a version being written; left behind only by a killed writer, swept later
    segments/.staging-<id>/  likewise for a segment
    .lock                held by the one process allowed to write

Adding or replacing a manual writes one segment with its passages and a new manifest; the other
segments are shared with the previous version, so the cost follows the change, not the library.
A replaced or removed manual's passages stay in their segment, no longer live, until merging
rewrites it. A writer makes the segment and the version complete and fsynced before it switches
CURRENT; killed at any moment, it leaves the previous version live and intact, and the next writer
removes what was never made live. `shopfloor bench faults` kills writers at each of the named
crash points below as well as at random moments.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from indexes.manifest import MANIFEST_NAME, SEGMENTS, DocumentRecord, Manifest, segment_records, write_segment_records
from indexes.segments import Segment, StoredPassage, write_segment
from shopfloor.errors import IncompatibleIndexError, IndexLockedError, IndexMissingError
from shopfloor.settings import Settings

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
VERSIONS = "versions"
STAGING_PREFIX = ".staging-"
# The moments of a commit where a crash leaves a distinct state on disk. A random kill -9 almost
# never lands between two system calls, so the faults benchmark names the moment in this variable
# and the writer kills itself there, exactly as kill -9 would.
CRASH_AT_VARIABLE = "SHOPFLOOR_CRASH_AT"
CRASH_POINTS = ("segment", "staged", "renamed", "switched")


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class SegmentPolicy:
    """How segments are written and merged (Lucene's tiered merging, simplified).

    `ann_from`: a segment of this many passages gets FAISS inverted lists instead of exact search.
    Exact search reads every vector of a segment for each question (48,480 passages: 7 ms on a 2-core
    machine, 0.3 ms through inverted lists), and tiered merging keeps up to seven segments of each
    size tier side by side: below 50,000 the flat segments could hold 600,000 passages (about 90 ms
    a question), below 5,000 at most about 68,000.
    `merge_factor`: that many segments of about the same size (the same power of it) are merged
    into one, so a library has O(log n) segments and each passage is rewritten O(log n) times.
    `largest_merge`: segments past half this size are not merged again (a merge costs its size).
    `least_live`: a segment whose live share falls below this is rewritten without its dead passages.
    """

    ann_from: int = 5_000
    merge_factor: int = 8
    largest_merge: int = 400_000
    least_live: float = 0.5


@dataclass
class IndexSnapshot:
    """One loaded version: its manifest and its open segments."""

    version: Path
    manifest: Manifest
    segments: dict[str, Segment]

    @cached_property
    def live(self) -> dict[str, np.ndarray]:
        """Per segment, which of its passages belong to a document of this version."""
        return self.masks(self.manifest.documents.values())

    def masks(self, records: Iterable[DocumentRecord]) -> dict[str, np.ndarray]:
        """Per segment, the passages of `records` as a mask over its positions (one pass over them)."""
        masks = {name: np.zeros(segment.count, dtype=bool) for name, segment in self.segments.items()}
        for record in records:
            masks[record.segment][record.first : record.first + record.chunks] = True
        return masks

    def passages(self) -> list[StoredPassage]:
        """Every live passage, document after document (for tests and benchmarks: it reads them all)."""
        return [p for record in self.manifest.documents.values() for p in self.passages_of(record)]

    def passages_of(self, record: DocumentRecord) -> list[StoredPassage]:
        return self.segments[record.segment].passage_range(record.first, record.chunks)

    def vectors_of(self, record: DocumentRecord) -> np.ndarray:
        positions = np.arange(record.first, record.first + record.chunks)
        return self.segments[record.segment].vectors_at(positions)


class IndexStore:
    """Reads and writes the versions of one index folder. Segments opened by one version are reused
    by the next, so following a new version opens only the segments it added."""

    def __init__(self, root: Path, policy: SegmentPolicy | None = None) -> None:
        self.root = Path(root)
        self.policy = policy or SegmentPolicy()
        self._open: dict[str, Segment] = {}
        self._opening = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexStore:
        return cls(settings.index_path, SegmentPolicy(ann_from=settings.ann_from))

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

    def load(self) -> IndexSnapshot:
        """Open the live version."""
        version = self.current_version
        if version is None:
            raise IndexMissingError(f"{self.root}: no index here yet; run `shopfloor ingest` first")
        manifest = Manifest.read(version)
        names = {record.segment for record in manifest.documents.values()}
        with self._opening:
            opened = {name: self._open.get(name) or Segment(self.root / SEGMENTS / name) for name in sorted(names)}
            self._open = dict(opened)  # an older snapshot keeps its own references to what it uses
        return IndexSnapshot(version=version, manifest=manifest, segments=opened)

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

    def commit(self, manifest: Manifest, added: Sequence[StoredPassage], vectors: np.ndarray) -> Path:
        """Write a new version and make it live. Call inside `writing()`.

        `manifest.documents` are the documents of the new version; those without a segment yet are
        the new ones, and `added` holds their passages (with `vectors`), document after document in
        the manifest's order.
        """
        new = [record for record in manifest.documents.values() if not record.segment]
        if sum(record.chunks for record in new) != len(added):
            raise ValueError(f"{len(added)} passages for new documents of {sum(r.chunks for r in new)}")
        if added:
            self._write_segment(new, added, vectors)
        self._merge(manifest)
        return self._switch(manifest)

    def _write_segment(
        self, records: Sequence[DocumentRecord], passages: Sequence[StoredPassage], vectors: np.ndarray
    ) -> None:
        """Write the passages of `records` (in their order) as one new segment and point them at it."""
        segments = self.root / SEGMENTS
        staging = segments / f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
        segments.mkdir(parents=True, exist_ok=True)
        name = datetime.now(UTC).strftime("s%Y%m%dT%H%M%S%fZ")
        first = 0
        for record in records:
            record.segment, record.first = name, first
            first += record.chunks
        write_segment(staging, passages, vectors, self.policy.ann_from)
        write_segment_records(staging, list(records))
        _fsync_tree(staging)
        os.rename(staging, segments / name)
        _fsync_dir(segments)
        _crash_point("segment")
        log.info("segment written segment=%s documents=%d passages=%d", name, len(records), len(passages))

    def _merge(self, manifest: Manifest) -> None:
        """Merge what the policy asks for, re-pointing the documents to the merged segments."""
        for group in self._merge_groups(manifest):
            records = sorted(
                (r for r in manifest.documents.values() if r.segment in group), key=lambda r: (r.segment, r.first)
            )
            opened = {name: Segment(self.root / SEGMENTS / name) for name in group}
            passages: list[StoredPassage] = []
            vectors: list[np.ndarray] = []
            for record in records:
                segment = opened[record.segment]
                passages += segment.passage_range(record.first, record.chunks)
                vectors.append(segment.vectors_at(np.arange(record.first, record.first + record.chunks)))
            for segment in opened.values():
                segment.close()
            self._write_segment(records, passages, np.vstack(vectors))
            log.info("segments merged from=%s passages=%d", ",".join(sorted(group)), len(passages))

    def _merge_groups(self, manifest: Manifest) -> list[set[str]]:
        live: Counter[str] = Counter()
        for record in manifest.documents.values():
            live[record.segment] += record.chunks
        policy = self.policy
        tiers: dict[int, set[str]] = {}
        groups: list[set[str]] = []
        for name, count in live.items():
            total = Segment.passage_total(self.root / SEGMENTS / name)
            if count < policy.least_live * total:
                groups.append({name})  # mostly replaced passages: rewrite it alone
            elif count < policy.largest_merge / 2:
                tiers.setdefault(int(math.log(max(count, 1), policy.merge_factor)), set()).add(name)
        groups += [names for names in tiers.values() if len(names) >= policy.merge_factor]
        return groups

    def _switch(self, manifest: Manifest) -> Path:
        staging = self.root / f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        (staging / MANIFEST_NAME).write_text(manifest.to_json(self._dead(manifest)), encoding="utf-8")
        _fsync_tree(staging)
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
        log.info(
            "index version live version=%s documents=%d passages=%d",
            name,
            len(manifest.documents),
            sum(r.chunks for r in manifest.documents.values()),
        )
        _crash_point("switched")
        self._prune(keep={name, previous.name if previous else name})
        return final

    def _dead(self, manifest: Manifest) -> dict[str, list[str]]:
        """Per segment the new version uses, its documents that are not live in it."""
        dead: dict[str, list[str]] = {}
        for name in sorted({record.segment for record in manifest.documents.values()}):
            own = (r["doc_id"] for r in segment_records(self.root / SEGMENTS / name))
            live = manifest.documents
            dead[name] = sorted(d for d in own if d not in live or live[d].segment != name)
        return dead

    def _sweep_staging(self) -> None:
        for leftover in [*self.root.glob(f"{STAGING_PREFIX}*"), *(self.root / SEGMENTS).glob(f"{STAGING_PREFIX}*")]:
            log.info("removing unfinished work left by a killed writer path=%s", leftover)
            shutil.rmtree(leftover, ignore_errors=True)

    def _prune(self, keep: set[str]) -> None:
        """Keep the live version and the one before it (a reader that resolved CURRENT just before the
        switch may still be loading it) and the segments they use; any other version is old, or was
        renamed in by a writer killed before it switched CURRENT, and was never live. A reader still
        holding a removed segment keeps reading it: its files stay open (or mapped) until closed."""
        used: set[str] = set()
        for version in list((self.root / VERSIONS).iterdir()):
            if not version.is_dir():
                continue
            if version.name not in keep:
                shutil.rmtree(version, ignore_errors=True)
                continue
            used |= Manifest.segments_of(version)
        for segment in (self.root / SEGMENTS).glob("*"):
            if segment.is_dir() and not segment.name.startswith(STAGING_PREFIX) and segment.name not in used:
                shutil.rmtree(segment, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file():
            _fsync_file(path)
        else:
            _fsync_dir(path)
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
