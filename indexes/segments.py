"""A segment: the passages of one ingest (or of a merge of segments), written once and never changed.

An index version is a list of segments plus the manifest saying which passages of each are live, so
adding or replacing a manual writes a segment the size of that manual, not the library. Each
segment holds its passages in the engines that scale to a plant's library:

    passages.sqlite   text and metadata by position (SQLite: texts stay on disk, read for the hits)
    vectors.faiss     FAISS: exact inner product below `ann_from` passages, inverted lists (IVF) above
    bm25/             bm25s's saved index (memory-mapped), so no question waits for it to be built
    words.json        every word with the number of passages it occurs in (typos, evidence weights)
    segment.json      passage count, vector kind
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexes.words import english_stemmer, passage_terms, word_counts

log = logging.getLogger(__name__)

SEGMENT_INFO = "segment.json"
PASSAGES = "passages.sqlite"
VECTORS = "vectors.faiss"
BM25_FOLDER = "bm25"
WORDS = "words.json"
# Inverted lists: about 4 * sqrt(n) lists (FAISS's guidance), trained on 40 vectors per list.
# An HNSW graph was measured first: on replicated manuals (hundreds of near-copies of each passage,
# as boilerplate is in a real library) it reached recall@10 0.81 at 1M passages, IVF 0.99 (400k:
# HNSW32 0.75-0.94 for efSearch 512-2048; IVF 0.993 at 16 lists probed, 1.0 at 128).
IVF_TRAINING_PER_LIST = 40


@dataclass
class StoredPassage:
    """One passage as a segment stores it."""

    node_id: str
    text: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class VectorSearch:
    """How hard the approximate search looks: `candidates` per segment from `probes` inverted lists
    (under a filter, from the nearest lists holding as many allowed passages), and below
    `exact_below` allowed passages a filtered search scores them all exactly. Past an
    approximate segment, the fusion also scores BM25's `lexical_candidates` best passages: a passage
    in neither list cannot win on the sum of the two scores."""

    candidates: int = 100
    probes: int = 32
    exact_below: int = 2_000
    lexical_candidates: int = 100
    # A small segment's lists hold about 40 passages, so 32 of them compared too few: recall@10
    # 0.975 on a 10,000-passage segment. At least this many are compared (from 40 % of its lists).
    least_compared: int = 4_000

    def compared(self, segment_count: int, lists: int, filtered: bool) -> float:
        """Passages a search compares in a segment of this many passages and lists. Not the floor
        under a filter: 4,000 allowed passages of a tenth meant scanning most of a 50,000-passage
        segment (1M, tag filter p95 46 -> 59 ms), and recall@10 there was 1.000 without it."""
        lists_hold = self.probes * segment_count / lists
        return lists_hold if filtered else max(lists_hold, min(self.least_compared, segment_count))


def write_segment(folder: Path, passages: Sequence[StoredPassage], vectors: np.ndarray, ann_from: int) -> None:
    """Write a complete segment into `folder` (a staging folder: the caller fsyncs and renames it)."""
    import faiss

    if len(passages) != len(vectors) or not passages:
        raise ValueError(f"a segment needs passages and one vector each ({len(passages)} / {len(vectors)})")
    folder.mkdir(parents=True)
    _write_passages(folder / PASSAGES, passages)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    kind = "ivf" if len(passages) >= ann_from else "flat"
    index: Any = _inverted_lists(vectors) if kind == "ivf" else faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)  # inner product of normalised vectors: cosine
    faiss.write_index(index, str(folder / VECTORS))
    stem = english_stemmer()
    _write_bm25(folder / BM25_FOLDER, [passage_terms(_heading(p), p.text, stem) for p in passages])
    words = word_counts((_heading(p), p.text) for p in passages)
    (folder / WORDS).write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
    info = {"passages": len(passages), "dim": int(vectors.shape[1]), "vectors": kind}
    (folder / SEGMENT_INFO).write_text(json.dumps(info), encoding="utf-8")


def _inverted_lists(vectors: np.ndarray) -> Any:
    import faiss

    count, dim = vectors.shape
    lists = max(1, min(int(4 * math.sqrt(count)), count // IVF_TRAINING_PER_LIST))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(count, min(count, lists * IVF_TRAINING_PER_LIST), replace=False)
    index.train(vectors[np.sort(sample)])
    return index


def _list_of_each(index: Any, count: int) -> np.ndarray:
    """The inverted list each position was filed in."""
    import faiss

    lists = np.empty(count, dtype=np.int32)
    for number in range(index.nlist):
        size = index.invlists.list_size(number)
        if size:
            lists[faiss.rev_swig_ptr(index.invlists.get_ids(number), size)] = number
    return lists


def _heading(passage: StoredPassage) -> str:
    return str(passage.metadata.get("heading", ""))


def _write_passages(path: Path, passages: Sequence[StoredPassage]) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE passage (position INTEGER PRIMARY KEY, node_id TEXT NOT NULL, text TEXT NOT NULL, "
            "metadata TEXT NOT NULL)"
        )
        db.executemany(
            "INSERT INTO passage VALUES (?, ?, ?, ?)",
            ((i, p.node_id, p.text, json.dumps(p.metadata, ensure_ascii=False)) for i, p in enumerate(passages)),
        )
    db.close()


def _write_bm25(folder: Path, terms: list[list[str]]) -> None:
    import bm25s

    # bm25s sets its logger to DEBUG on import and logs every build, which reached the terminal.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    bm25 = bm25s.BM25()
    bm25.index([t or [""] for t in terms], show_progress=False)
    bm25.save(str(folder), show_progress=False)


def bm25_idf(document_frequency: float, passages: float) -> float:
    """bm25s's (Lucene's) inverse document frequency, so a weight can be moved between collections."""
    return math.log(1 + (passages - document_frequency + 0.5) / (document_frequency + 0.5))


class Segment:
    """One segment opened for reading; safe to share between threads and between index versions."""

    def __init__(self, folder: Path) -> None:
        import bm25s
        import faiss

        self.folder = folder
        self.name = folder.name
        info = json.loads((folder / SEGMENT_INFO).read_text(encoding="utf-8"))
        self.count: int = int(info["passages"])
        self.approximate = info["vectors"] == "ivf"
        index: Any = faiss.read_index(str(folder / VECTORS))
        self._index = index
        self._list_of: np.ndarray | None = None  # each passage's inverted list
        if self.approximate:
            index.make_direct_map()  # a passage's vector by position, for exact scores of candidates
            self._list_of = _list_of_each(index, self.count)
        # A flat segment is scored with one matrix product over a view of its vectors (no copy).
        self._matrix: np.ndarray | None = (
            None if self.approximate else faiss.rev_swig_ptr(index.get_xb(), self.count * index.d).reshape(-1, index.d)
        )
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        bm25 = bm25s.BM25.load(str(folder / BM25_FOLDER), mmap=True, show_progress=False)
        self._terms: dict[str, int] = bm25.vocab_dict
        self._data, self._indices, self._indptr = (bm25.scores[k] for k in ("data", "indices", "indptr"))
        self.words: Counter[str] = Counter(json.loads((folder / WORDS).read_text(encoding="utf-8")))
        self._db = sqlite3.connect(f"file:{folder / PASSAGES}?mode=ro", uri=True, check_same_thread=False)
        self._db_lock = threading.Lock()

    @staticmethod
    def passage_total(folder: Path) -> int:
        """A segment's passage count, live or not, without opening it."""
        return int(json.loads((folder / SEGMENT_INFO).read_text(encoding="utf-8"))["passages"])

    def close(self) -> None:
        self._db.close()

    # --- words -------------------------------------------------------------------------------

    def document_frequency(self, term: str) -> int:
        """Passages of this segment (live or not) holding the BM25 term."""
        column = self._terms.get(term)
        return 0 if column is None else int(self._indptr[column + 1] - self._indptr[column])

    def positions_with(self, term: str) -> np.ndarray:
        """The positions of this segment's passages (live or not) holding the BM25 term."""
        column = self._terms.get(term)
        if column is None:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self._indices[int(self._indptr[column]) : int(self._indptr[column + 1])], dtype=np.int64)

    def lexical_scores(self, terms: Sequence[str], idf: dict[str, float]) -> np.ndarray:
        """BM25 of every passage, each term weighted by the library's idf instead of this segment's:
        a segment holding one manual must not score its words as if they were the library's."""
        scores = np.zeros(self.count, dtype=np.float32)
        for term in terms:
            column = self._terms.get(term)
            own = bm25_idf(self.document_frequency(term), self.count) if column is not None else 0.0
            if column is None or own <= 0:
                continue
            start, end = int(self._indptr[column]), int(self._indptr[column + 1])
            scores[self._indices[start:end]] += self._data[start:end] * np.float32(idf[term] / own)
        return scores

    # --- vectors -----------------------------------------------------------------------------

    def vector_scores(
        self, query: np.ndarray, allowed: np.ndarray | None, search: VectorSearch, per_list: np.ndarray | None = None
    ) -> np.ndarray:
        """Cosine similarity per passage: every one in a flat segment; in an IVF segment the best
        `search.candidates` allowed ones, the others -inf (scored later only if BM25 wants them).
        `per_list`: `allowed_per_list(allowed)`, when the caller keeps it for a filter it reuses."""
        if self._matrix is not None:
            return self._matrix @ query
        scores = np.full(self.count, -np.inf, dtype=np.float32)
        if allowed is not None and allowed.all():
            allowed = None
        if allowed is not None and np.count_nonzero(allowed) <= search.exact_below:
            positions = np.flatnonzero(allowed)
            scores[positions] = self.vectors_at(positions) @ query
            return scores
        similarities, positions = self._search(query, allowed, per_list, search)
        found = positions >= 0
        scores[positions[found]] = similarities[found]
        return scores

    def allowed_per_list(self, allowed: np.ndarray) -> np.ndarray | None:
        """How many allowed passages each inverted list holds (None for a flat segment)."""
        if self._list_of is None:
            return None
        return np.bincount(self._list_of[allowed], minlength=self._index.nlist)

    def _search(
        self, query: np.ndarray, allowed: np.ndarray | None, per_list: np.ndarray | None, search: VectorSearch
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        params = faiss.SearchParametersIVF()
        vector = np.ascontiguousarray(query[None, :], dtype=np.float32)
        nlist = self._index.nlist
        wanted = search.compared(self.count, nlist, filtered=allowed is not None)
        if allowed is None:
            params.nprobe = min(nlist, math.ceil(wanted * nlist / self.count))
            similarities, positions = self._index.search(vector, search.candidates, params=params)
            return similarities[0], positions[0]
        # Under a filter, the lists nearest the question may hold none of the allowed passages (a
        # filter to one machine's manuals, a question its manuals barely cover): the nearest lists
        # that hold allowed passages are probed, until as many allowed passages are compared as an
        # unfiltered search compares. The others in those lists are skipped by the selector.
        # Measured at 1M passages under a filter to one manual's replicas (11 %): recall@10 1.000,
        # where probing ten times the usual lists reached 0.82 in as much time.
        counts = self.allowed_per_list(allowed) if per_list is None else per_list
        assert counts is not None
        centre_scores, nearest = self._index.quantizer.search(vector, nlist)
        holding = counts[nearest[0]] > 0
        lists, closeness = nearest[0][holding], centre_scores[0][holding]
        probed = min(len(lists), int(np.searchsorted(np.cumsum(counts[lists]), wanted)) + 1)
        params.nprobe = probed
        bits = np.packbits(allowed, bitorder="little")
        params.sel = faiss.IDSelectorBitmap(self.count, faiss.swig_ptr(bits))
        assign = np.ascontiguousarray(lists[None, :probed], dtype=np.int64)
        centres = np.ascontiguousarray(closeness[None, :probed], dtype=np.float32)
        similarities = np.empty((1, search.candidates), dtype=np.float32)
        positions = np.empty((1, search.candidates), dtype=np.int64)
        # The C++ call: faiss's Python wrapper of search_preassigned takes no selector.
        self._index.search_preassigned_c(
            1,
            faiss.swig_ptr(vector),
            search.candidates,
            faiss.swig_ptr(assign),
            faiss.swig_ptr(centres),
            faiss.swig_ptr(similarities),
            faiss.swig_ptr(positions),
            False,
            params,
        )
        return similarities[0], positions[0]

    def vectors_at(self, positions: np.ndarray) -> np.ndarray:
        """The stored vectors of some passages (exact: both kinds keep full vectors)."""
        wanted = np.asarray(positions, dtype=np.int64)
        if self._matrix is not None:
            return self._matrix[wanted]
        if not len(wanted):
            return np.zeros((0, self._index.d), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(wanted))

    # --- passages ----------------------------------------------------------------------------

    def passages(self, positions: Sequence[int]) -> list[StoredPassage]:
        """The stored passages at these positions, in the order asked."""
        wanted = [int(p) for p in positions]
        found: dict[int, StoredPassage] = {}
        with self._db_lock:
            for start in range(0, len(wanted), 500):  # SQLite's limit on host parameters
                batch = wanted[start : start + 500]
                marks = ",".join("?" * len(batch))
                query = f"SELECT position, node_id, text, metadata FROM passage WHERE position IN ({marks})"
                rows = self._db.execute(query, batch).fetchall()
                found.update({row[0]: StoredPassage(row[1], row[2], json.loads(row[3])) for row in rows})
        return [found[p] for p in wanted]

    def passage_range(self, first: int, count: int) -> list[StoredPassage]:
        """The passages of one document, in order (they are stored together)."""
        with self._db_lock:
            rows = self._db.execute(
                "SELECT node_id, text, metadata FROM passage WHERE position >= ? AND position < ? ORDER BY position",
                (first, first + count),
            ).fetchall()
        return [StoredPassage(row[0], row[1], json.loads(row[2])) for row in rows]

    def sections(self, first: int, count: int) -> Counter[str]:
        """Passages per section heading path in one document's range (for suggested questions)."""
        with self._db_lock:
            rows = self._db.execute(
                "SELECT json_extract(metadata, '$.section'), count(*) FROM passage "
                "WHERE position >= ? AND position < ? GROUP BY 1",
                (first, first + count),
            ).fetchall()
        return Counter({str(section or ""): int(n) for section, n in rows})
