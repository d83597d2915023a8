"""`shopfloor bench scale`: what a library of N passages costs, built from real manuals.

The library replicates the documents of a real index, each replica its own document (its own id,
a `replica` tag), and is written through `IndexStore.commit`, the write path of every ingest, in
batches of `batch` passages like a plant's ingests. Reading and embedding the same PDFs again
would only measure the reader: the replicas reuse the source's vectors, each moved by a small
random turn (cosine about 0.96 to its source). Exact copies would put hundreds of identical vectors
in the index, which no real library has.

Each size is measured in a fresh process (its resident memory is the index's, not the builder's):
load, the first question, question latency with and without filters, the vector search's recall
against exact search, then adding one manual and replacing it (time and bytes written), and the
first question on the new version opened beside the old one.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from indexes.manifest import DocumentRecord, Manifest
from indexes.segments import StoredPassage
from indexes.store import IndexStore, SegmentPolicy
from shopfloor.settings import Settings

log = logging.getLogger(__name__)

# The turn given to a replica's vectors: noise of this norm on a unit vector (cosine ~0.96).
JITTER = 0.3
TAG_SHARE = 10  # a tag filter allows one replica in this many


@dataclass
class Source:
    """One real document: its record, passages and vectors."""

    record: DocumentRecord
    passages: list[StoredPassage]
    vectors: np.ndarray


@dataclass
class ScaleRow:
    """The figures of one library size."""

    passages: int
    documents: int
    segments: int
    build_s: float
    disk_gb: float
    load_s: float
    first_question_s: float
    p50_ms: float
    p95_ms: float
    document_filter_p95_ms: float
    tag_filter_p95_ms: float
    manual_filter_p95_ms: float
    embed_ms: float
    recall_at_10: float
    tag_recall_at_10: float
    manual_recall_at_10: float
    rss_gb: float
    add_s: float
    add_mb: float
    replace_s: float
    replace_mb: float
    follow_s: float
    first_after_switch_s: float
    manual: str = ""


def read_sources(index: Path) -> tuple[Manifest, list[Source]]:
    """The live documents of a real index, with their stored vectors."""
    snapshot = IndexStore(index).load()
    sources = [
        Source(record, snapshot.passages_of(record), snapshot.vectors_of(record))
        for record in snapshot.manifest.documents.values()
    ]
    return snapshot.manifest, sources


def run_scale(
    sources_index: Path, sizes: list[int], questions: list[str], settings: Settings, work: Path, batch: int
) -> list[ScaleRow]:
    manifest, sources = read_sources(sources_index)
    manual = max(sources, key=lambda s: s.record.pages)
    # The filter to one machine: the replicas of the source manual whose share is nearest the tag's.
    total = sum(s.record.chunks for s in sources)
    machine = min(sources, key=lambda s: abs(s.record.chunks / total - 1 / TAG_SHARE)).record.doc_id
    rows = []
    for size in sizes:
        root = work / f"index-{size}"
        started = time.perf_counter()
        documents = build_library(root, manifest, sources, size, batch, settings)
        build_s = time.perf_counter() - started
        disk = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 1e9
        figures = _in_fresh_process(root, manual, machine, questions, settings)
        rows.append(ScaleRow(passages=size, documents=documents, build_s=build_s, disk_gb=disk, **figures))
        shutil.rmtree(root, ignore_errors=True)
    return rows


def build_library(
    root: Path, manifest: Manifest, sources: list[Source], size: int, batch: int, settings: Settings
) -> int:
    """Commit replicas of the sources until the library holds `size` passages; returns documents."""
    store = IndexStore(root, SegmentPolicy(ann_from=settings.ann_from))
    rng = np.random.default_rng(7)
    live = replace(manifest, documents={})
    written = replica = 0
    with store.writing():
        while written < size:
            added: list[StoredPassage] = []
            vectors: list[np.ndarray] = []
            while len(added) < batch and written + len(added) < size:
                for source in sources:
                    record, passages, turned = _replica(source, replica, rng, size - written - len(added))
                    live.documents[record.doc_id] = record
                    added += passages
                    vectors.append(turned)
                replica += 1
            store.commit(live, added, np.vstack(vectors))
            written += len(added)
            log.info("scale library passages=%d", written)
    return len(live.documents)


def _replica(
    source: Source, number: int, rng: np.random.Generator, room: int
) -> tuple[DocumentRecord, list[StoredPassage], np.ndarray]:
    doc_id = f"r{number:05d}/{source.record.doc_id}"
    count = max(0, min(room, source.record.chunks))
    passages = [
        StoredPassage(f"r{number:05d}/{p.node_id}", p.text, {**p.metadata, "doc_id": doc_id})
        for p in source.passages[:count]
    ]
    tags = {"replica": str(number % TAG_SHARE), "manual": source.record.doc_id}
    record = replace(source.record, doc_id=doc_id, chunks=count, segment="", first=0, tags=tags)
    return record, passages, _turned(source.vectors[:count], rng)


def _turned(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(vectors.shape).astype(np.float32) * (JITTER / np.sqrt(vectors.shape[1]))
    moved = vectors + noise
    return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(np.float32)


def _in_fresh_process(
    root: Path, manual: Source, machine: str, questions: list[str], settings: Settings
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        figures: dict[str, Any] = pool.apply(_measure, (root, manual, machine, questions, settings))
    return figures


def _measure(root: Path, manual: Source, machine: str, questions: list[str], settings: Settings) -> dict[str, Any]:
    """Figures of one library. Two tag filters of about a tenth each: one replica of every manual
    (a plant's own copies: its passages spread over every inverted list) and every replica of one
    manual (one machine's manuals: its passages in the lists of its own topics, often far from
    the question)."""
    from assistant.retrieval import Filters, HybridRetriever
    from indexes.embedding import Embedder
    from indexes.segments import VectorSearch

    embedder = Embedder.from_settings(settings)
    embedder.embed_query("load the model")  # the model's own start is not the index's
    store = IndexStore(root, SegmentPolicy(ann_from=settings.ann_from))
    search = VectorSearch(settings.vector_candidates, settings.vector_probes, settings.exact_below)
    started = time.perf_counter()
    retriever = HybridRetriever(store.load(), embedder, search=search)
    load_s = time.perf_counter() - started
    first_question_s = _timed(lambda: retriever.retrieve(questions[0]))
    embed_ms = statistics.median(_timed(lambda q=q: embedder.embed_query(q)) for q in questions[:50]) * 1000
    retriever.embedder = _Remembered(embedder)  # type: ignore[assignment]
    for question in questions:
        retriever.retrieve(question)  # each question's vector once, outside the timings
    plain = [_timed(lambda q=q: retriever.retrieve(q)) for q in questions]
    one_document = Filters(doc_ids={next(iter(retriever.snapshot.manifest.documents))})
    by_document = [_timed(lambda q=q: retriever.retrieve(q, filters=one_document)) for q in questions]
    plant, one_machine = Filters(tags={"replica": "3"}), Filters(tags={"manual": machine})
    by_tag = [_timed(lambda q=q: retriever.retrieve(q, filters=plant)) for q in questions]
    by_manual = [_timed(lambda q=q: retriever.retrieve(q, filters=one_machine)) for q in questions]
    vectors = [embedder.embed_query(q) for q in questions[:100]]
    snapshot = retriever.snapshot
    recall = _recall_at_10(snapshot, snapshot.live, vectors, search)
    records = snapshot.manifest.documents.values()
    tag_recall = _recall_at_10(snapshot, snapshot.masks(r for r in records if plant.allows(r)), vectors, search)
    manual_recall = _recall_at_10(
        snapshot, snapshot.masks(r for r in records if one_machine.allows(r)), vectors, search
    )
    rss_gb = _rss_gb()
    figures: dict[str, Any] = {
        "segments": len(retriever.snapshot.segments),
        "load_s": load_s,
        "first_question_s": first_question_s,
        "p50_ms": _percentile(plain, 50),
        "p95_ms": _percentile(plain, 95),
        "document_filter_p95_ms": _percentile(by_document, 95),
        "tag_filter_p95_ms": _percentile(by_tag, 95),
        "manual_filter_p95_ms": _percentile(by_manual, 95),
        "embed_ms": embed_ms,
        "recall_at_10": recall,
        "tag_recall_at_10": tag_recall,
        "manual_recall_at_10": manual_recall,
        "rss_gb": rss_gb,
        "manual": f"{manual.record.doc_id} ({manual.record.pages} pages, {manual.record.chunks} passages)",
    }
    figures |= _change(store, retriever, manual, questions[0], search)
    return figures


def _change(store: IndexStore, retriever: Any, manual: Source, question: str, search: Any) -> dict[str, float]:
    """Add one manual, then replace it: time and bytes of each commit; then open the new version
    beside the one in use (what the running app does) and ask on it."""
    from assistant.retrieval import HybridRetriever

    rng = np.random.default_rng(11)
    manifest = store.read_manifest()
    assert manifest is not None
    figures = {}
    for step, number in (("add", 90_000), ("replace", 90_000)):
        record, passages, vectors = _replica(manual, number, rng, manual.record.chunks)
        record.revision = step
        manifest.documents[record.doc_id] = record
        before = _bytes_written()
        started = time.perf_counter()
        with store.writing():
            store.commit(manifest, passages, vectors)
        figures[f"{step}_s"] = time.perf_counter() - started
        figures[f"{step}_mb"] = (_bytes_written() - before) / 1e6
        manifest = store.read_manifest()
        assert manifest is not None
    started = time.perf_counter()
    fresh = HybridRetriever(store.load(), retriever.embedder, search=search)
    figures["follow_s"] = time.perf_counter() - started
    figures["first_after_switch_s"] = _timed(lambda: fresh.retrieve(question))
    return figures


class _Remembered:
    """The embedder with each question's vector kept: the latencies timed are the index's."""

    def __init__(self, embedder: Any) -> None:
        self._embedder = embedder
        self._seen: dict[str, np.ndarray] = {}

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self._seen:
            self._seen[text] = self._embedder.embed_query(text)
        return self._seen[text]


def _recall_at_10(snapshot: Any, masks: dict[str, np.ndarray], queries: list[np.ndarray], search: Any) -> float:
    """Share of the exact 10 best cosine similarities among the passages of `masks` that the
    approximate search reaches (by score: replicas tie, and any of the tied passages is as good)."""
    segments = list(snapshot.segments.values())
    live = [masks[s.name] for s in segments]
    matrices = [s.vectors_at(np.flatnonzero(mask)) for s, mask in zip(segments, live, strict=True)]
    found = []
    for query in queries:
        exact = np.sort(np.concatenate([m @ query for m in matrices]))[::-1][:10]
        approximate = np.concatenate(
            [s.vector_scores(query, mask, search)[mask] for s, mask in zip(segments, live, strict=True)]
        )
        best = np.sort(approximate[np.isfinite(approximate)])[::-1][:10]
        found.append(float(np.sum(best >= exact[-1] - 1e-5)) / len(exact))
    return statistics.fmean(found)


def _timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _percentile(seconds: list[float], percent: int) -> float:
    return float(np.percentile(seconds, percent)) * 1000


def _rss_gb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1e6
    return float("nan")


def _bytes_written() -> int:
    """Bytes this process handed to write(2) so far (Linux)."""
    for line in Path(f"/proc/{os.getpid()}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def write_chart(rows: list[ScaleRow], path: Path) -> None:
    """The curve: question latency (p50, p95, p95 filtered) and resident memory against passages."""
    from matplotlib.figure import Figure

    sizes = [r.passages for r in rows]
    figure = Figure(figsize=(8, 3.4), layout="constrained")
    latency, memory = figure.subplots(1, 2)
    for label, values in (
        ("p50", [r.p50_ms for r in rows]),
        ("p95", [r.p95_ms for r in rows]),
        ("p95, document filter", [r.document_filter_p95_ms for r in rows]),
        ("p95, tag filter", [r.tag_filter_p95_ms for r in rows]),
        ("p95, one manual's filter", [r.manual_filter_p95_ms for r in rows]),
    ):
        latency.plot(sizes, values, marker="o", label=label)
    latency.axhline(50, color="grey", linestyle=":", label="target p95")
    latency.set(xscale="log", xlabel="passages", ylabel="ms per question (retrieval)", title="Question latency")
    latency.legend(fontsize=8)
    memory.plot(sizes, [r.rss_gb for r in rows], marker="o", label="resident memory")
    memory.plot(sizes, [r.disk_gb for r in rows], marker="s", label="disk")
    memory.set(xscale="log", xlabel="passages", ylabel="GB", title="Memory and disk")
    memory.legend(fontsize=8)
    figure.savefig(path, dpi=110)
