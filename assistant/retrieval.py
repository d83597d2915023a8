"""Hybrid retrieval: BM25 over words and FAISS over meaning, fused by score.

Part numbers, error codes and values ("HF-2040", "E-14", "95 Nm") are found by BM25 and missed by
vectors; paraphrases are found by vectors and missed by BM25. Questions typed on a shop floor carry
typos, so a query word the manuals never use is matched to the closest word they do use.

Fusion, measured on the public E-Manual set (614 answerable questions, hit@1 / hit@5 / MRR):
BM25 alone .658/.909/.752, vectors alone .487/.774/.596, reciprocal-rank fusion .627/.878/.722
(it pushes BM25's correct first hit down), BM25 scaled by its best score plus the cosine
similarity .687/.917/.777 (stable for vector weights 0.25 to 1.5). The last one ships.
"""

from __future__ import annotations

import ctypes
import re
import sys
import threading
from collections import Counter, OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from indexes.chunk_metadata import ChunkMetadata, chunk_metadata
from indexes.embedding import Embedder
from indexes.manifest import DocumentRecord
from indexes.segments import Segment, StoredPassage, VectorSearch, bm25_idf
from indexes.store import IndexSnapshot
from indexes.words import STOPWORDS, english_stemmer, english_word, preload_english_words, tokenize

MODES = ("hybrid", "bm25", "vector")
_KEPT_FILTERS = 64  # the filters' passage masks kept per index version (1M passages: 1 MB each)
# A model code, matched whole (fullmatch): letters and digits in one word ("6k", "ka7", "802a"),
# not an ordinal ("1st").
_CODE = re.compile(r"(?=[a-z]*\d)(?=\d*[a-z])(?!\d+(?:st|nd|rd|th)$)[a-z0-9]+")
_CODE_RECURS = 10  # passages of a manual a code is found in when it names the manual's machine
_Kept = TypeVar("_Kept")
_KEPT_NAMES = 10_000  # question words whose names, everyday use and compounds are kept per index version
_APART_PASSAGES = 20  # passages read to see whether two words stand side by side
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_MEMORY_KEPT = False  # set once per process (see _keep_freed_memory)


@dataclass
class Filters:
    """Restrict retrieval to some documents and/or tag values (`equipment=HP-200`)."""

    doc_ids: set[str] = field(default_factory=set)
    tags: dict[str, str] = field(default_factory=dict)

    def allows(self, record: DocumentRecord) -> bool:
        if self.doc_ids and record.doc_id not in self.doc_ids:
            return False
        return all(record.tags.get(k) == v for k, v in self.tags.items())

    def __bool__(self) -> bool:
        return bool(self.doc_ids or self.tags)

    def key(self) -> Hashable:
        """Equal for filters that allow the same documents."""
        return frozenset(self.doc_ids), frozenset(self.tags.items())


@dataclass
class Passage:
    """A retrieved chunk with its provenance and scores."""

    node_id: str
    text: str
    metadata: ChunkMetadata
    score: float
    vector_score: float
    bm25_score: float

    @property
    def file(self) -> str:
        return self.metadata["file"]

    @property
    def page(self) -> int | None:
        page = self.metadata["page"]
        return int(page) if page is not None else None

    def page_of_line(self, row: int) -> tuple[int | None, str | None]:
        """(page, printed label) of line `row` (0-based) of the text: a passage can run over a page turn."""
        page, label = self.page, self.metadata["page_label"]
        for start, turn_page, turn_label in self.metadata.get("page_turns") or []:
            if row >= start:
                page, label = int(turn_page), turn_label
        return page, label

    @property
    def section(self) -> str:
        return self.metadata["section"] or ""

    @property
    def heading(self) -> str:
        return self.metadata["heading"] or ""


class HybridRetriever:
    """Retrieval over one loaded index version: its segments searched together, as one library."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        embedder: Embedder,
        mode: str = "hybrid",
        vector_weight: float = 1.0,
        search: VectorSearch | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"retrieval mode {mode!r} is not one of {MODES}")
        _keep_freed_memory()
        self.snapshot = snapshot
        self.embedder = embedder
        self.mode = mode
        self.vector_weight = vector_weight
        self.search = search or VectorSearch()
        self.stem = english_stemmer()
        self._segments: list[Segment] = list(snapshot.segments.values())
        self._starts = np.cumsum([0] + [s.count for s in self._segments])
        self._live = np.concatenate([snapshot.live[s.name] for s in self._segments] or [np.zeros(0, bool)])
        # Every passage of the segments counts for word statistics, replaced ones too until merging
        # drops them: a word's weight is off by the share of replaced passages, nothing more.
        self._collection = int(self._starts[-1])
        self.vocabulary = _summed(s.words for s in self._segments)
        self.passage_count = int(self._live.sum())
        self.document_languages = {d: r.language for d, r in snapshot.manifest.documents.items()}
        self._sections: dict[str, Counter[str]] | None = None
        self._sections_lock = threading.Lock()
        self._live_per_list = self._per_list(snapshot.live)
        self._filter_masks: OrderedDict[Hashable, tuple[np.ndarray, list[np.ndarray | None]]] = OrderedDict()
        self._masks_lock = threading.Lock()
        self._ranges: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] | None = None
        self._names: dict[str, set[str]] = {}  # a question word -> the documents naming it (empty: no name)
        self._everyday: dict[str, bool] = {}  # a title word -> whether other documents use it freely
        self._apart: dict[str, tuple[str, str] | None] = {}  # a typed compound -> the manuals' two words
        self._title_words = {d: _words_of(str(r.title)) for d, r in snapshot.manifest.documents.items()}
        preload_english_words()

    def correct_typos(self, query: str) -> str:
        """Replace misspelt words the manuals never use with the closest word they do use
        ("hydralic"), and a compound they write as two words with those ("bandsaw": "band saw"). An
        English word is otherwise left as typed, written in the manuals or not: measured on the
        held-out set, the closest manual word turned "loud" into "cloud", "dive" into "drive",
        "unloaded" into "loaded" and "morning" into "rning", for retrieval and for the model alike."""
        from rapidfuzz import fuzz, process

        vocabulary = self.vocabulary

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            lower = word.lower()
            if len(lower) < 4 or lower in vocabulary or lower in STOPWORDS or not lower.isalpha():
                return word
            if parts := self._written_apart(lower):
                return " ".join(parts)
            if english_word(lower):
                return word
            best = process.extractOne(lower, vocabulary.keys(), scorer=fuzz.ratio, score_cutoff=80)
            return best[0] if best else word

        return re.sub(r"[A-Za-z]+", fix, query)

    def _written_apart(self, word: str) -> tuple[str, str] | None:
        """The two words the manuals write for a compound typed as one ("bandsaw": "band saw"):
        English words of three letters or more that stand side by side in a live passage holding
        both. Kept per word: a question corrects its words more than once."""
        if word in self._apart:
            return self._apart[word]
        found = None
        for cut in range(3, len(word) - 2):
            first, second = word[:cut], word[cut:]
            if first not in self.vocabulary or second not in self.vocabulary:
                continue
            if not (english_word(first) and english_word(second)):
                continue  # "mor" + "ning": the halves of a word hyphenated at a line end
            both = np.intersect1d(self._passages_holding(first), self._passages_holding(second))
            apart = re.compile(rf"\b{re.escape(first)}\s+{re.escape(second)}\b", re.IGNORECASE)
            if any(apart.search(text) for text in self._texts(both[:_APART_PASSAGES].tolist())):
                found = first, second
                break
        return _remember(self._apart, word, found)

    def _term(self, word: str) -> str | None:
        """The one BM25 term a word is indexed as, or None (a code split in parts, a stopword)."""
        terms = tokenize(word, self.stem)
        return terms[0] if len(terms) == 1 else None

    def _passages_holding(self, word: str) -> np.ndarray:
        """The positions of the live passages holding a word, as BM25 indexes it, in order."""
        if (term := self._term(word)) is None:
            return np.zeros(0, dtype=np.int64)
        positions = np.concatenate(
            [self._starts[i] + segment.positions_with(term) for i, segment in enumerate(self._segments)]
            or [np.zeros(0, dtype=np.int64)]
        )
        return np.sort(positions[self._live[positions]])

    def retrieve(self, query: str, k: int = 5, filters: Filters | None = None, correct: bool = True) -> list[Passage]:
        """The k best passages for a question, best first. Typos are corrected unless `correct` is
        off: the closest English word to a word of another language is another word."""
        if not self.passage_count:
            return []
        query = self.correct_typos(query) if correct else query
        allowed, per_list = self._allowed(filters)
        query_vector = self.embedder.embed_query(query)
        lexical = self._lexical_scores(query)
        bounds = zip(self._starts, self._starts[1:], strict=False)
        vector = np.concatenate(
            [
                segment.vector_scores(query_vector, allowed[start:end], self.search, lists)
                for segment, (start, end), lists in zip(self._segments, bounds, per_list, strict=True)
            ]
        )
        candidates = self._candidates(lexical, vector, allowed)
        self._score_missing_vectors(vector, candidates, query_vector)
        fused = self._fuse(vector[candidates], lexical[candidates], float(np.where(allowed, lexical, 0).max()))
        order = _best(fused, k)
        return self._passages(candidates[order], fused[order], vector, lexical)

    def _allowed(self, filters: Filters | None) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """The passages a filter allows, with per segment how many each inverted list holds; kept per
        filter for this version: a terminal narrowed to its machine asks under the same filter again
        and again, and reading every document's record for it costs milliseconds in a library of
        thousands."""
        if not filters:
            return self._live, self._live_per_list
        key = filters.key()
        with self._masks_lock:
            kept = self._filter_masks.get(key)
            if kept is not None:
                self._filter_masks.move_to_end(key)
                return kept
        masks = self.snapshot.masks(r for r in self.snapshot.manifest.documents.values() if filters.allows(r))
        kept = np.concatenate([masks[s.name] for s in self._segments]), self._per_list(masks)
        with self._masks_lock:
            self._filter_masks[key] = kept
            if len(self._filter_masks) > _KEPT_FILTERS:
                self._filter_masks.popitem(last=False)
        return kept

    def _per_list(self, masks: dict[str, np.ndarray]) -> list[np.ndarray | None]:
        return [s.allowed_per_list(masks[s.name]) for s in self._segments]

    def _lexical_scores(self, query: str) -> np.ndarray:
        terms = tokenize(query, self.stem)
        frequency = {t: sum(s.document_frequency(t) for s in self._segments) for t in set(terms)}
        idf = {t: bm25_idf(df, self._collection) for t, df in frequency.items() if df}
        known = [t for t in terms if t in idf]
        return np.concatenate([s.lexical_scores(known, idf) for s in self._segments])

    def _candidates(self, lexical: np.ndarray, vector: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """Positions to fuse: every allowed passage when every segment is scored exactly (so a small
        library ranks exactly as before segments), else BM25's best and the vector search's best.
        Each best is taken among the passages with a score (a word of the question, a vector found):
        at a million passages, ranking over all of them cost more than the search itself."""
        scored = np.isfinite(vector) & allowed
        allowed_count = int(np.count_nonzero(allowed))
        if allowed_count <= self.search.lexical_candidates or int(np.count_nonzero(scored)) == allowed_count:
            return np.flatnonzero(allowed)
        matched = np.flatnonzero((lexical > 0) & allowed)
        found = np.flatnonzero(scored)
        lexical_best = _top(matched, lexical[matched], self.search.lexical_candidates)
        return np.union1d(lexical_best, _top(found, vector[found], self.search.candidates))

    def _score_missing_vectors(self, vector: np.ndarray, candidates: np.ndarray, query: np.ndarray) -> None:
        missing = candidates[~np.isfinite(vector[candidates])]
        for index, segment in enumerate(self._segments):
            start, end = self._starts[index], self._starts[index + 1]
            mine = missing[(missing >= start) & (missing < end)]
            if len(mine):
                vector[mine] = segment.vectors_at(mine - start) @ query

    def _fuse(self, vector: np.ndarray, lexical: np.ndarray, best_lexical: float) -> np.ndarray:
        if self.mode == "vector":
            return vector
        if self.mode == "bm25":
            return lexical
        # BM25 scaled to [0, 1] by the best allowed hit, so its scale is the cosine's.
        scaled = lexical / best_lexical if best_lexical > 0 else np.zeros_like(lexical)
        return (scaled + self.vector_weight * vector).astype(np.float32)

    def _passages(
        self, positions: np.ndarray, fused: np.ndarray, vector: np.ndarray, lexical: np.ndarray
    ) -> list[Passage]:
        owners = np.searchsorted(self._starts, positions, side="right") - 1
        stored: dict[int, StoredPassage] = {}
        for index in set(owners.tolist()):
            mine = positions[owners == index]
            local = mine - self._starts[index]
            stored.update(zip(mine.tolist(), self._segments[index].passages(local.tolist()), strict=True))
        return [
            Passage(
                node_id=stored[p].node_id,
                text=stored[p].text,
                metadata=chunk_metadata(stored[p].metadata),
                score=float(score),
                vector_score=float(vector[p]),
                bm25_score=float(lexical[p]),
            )
            for p, score in zip(positions.tolist(), fused.tolist(), strict=True)
        ]

    def documents_naming(self, word: str) -> set[str]:
        """The live documents a question's word names, else none: a product or maker the library
        writes with a capital inside it (DoALL, LinuxCNC, SmartThings; operators type names in
        lower case), or a model code of letters and digits that recurs through a few manuals and
        no other ("6k" for the forklift, "ka7", "802a"). A code found in a passage or two is a
        value ("80v", "4a"), not what the manual is about."""
        key = word.lower()
        code = _CODE.fullmatch(key) is not None
        if not (code or (len(key) >= 4 and key[0].isalpha())):
            return set()
        known = self._names.get(key)
        if known is None:
            holders = self._documents_holding(key)
            if code:
                few = len(holders) <= max(1, len(self.snapshot.manifest.documents) // 20)
                named = few and all(count >= _CODE_RECURS for _, count in holders.values())
            else:
                first = self._texts([position for position, _ in list(holders.values())[:3]])
                named = any(_written_as_name(key, text) for text in first)
            known = _remember(self._names, key, set(holders) if named else set())
        return known

    def everyday_word(self, word: str) -> bool:
        """Whether the passages of more than a few documents hold `word` though their titles do not
        name it: an everyday word of some manual's title ("engine", "blade", "set"), not the name of
        its equipment ("forklift", "lathe"), which the other manuals seldom write."""
        key = word.lower()
        known = self._everyday.get(key)
        if known is None:
            titled = {d for d, words in self._title_words.items() if key in words}
            others = set(self._documents_holding(key)) - titled
            known = _remember(self._everyday, key, len(others) > max(1, len(self.snapshot.manifest.documents) // 20))
        return known

    def _documents_holding(self, word: str) -> dict[str, tuple[int, int]]:
        """The live documents whose passages hold a word (as BM25 indexes it), each with the
        position of one such passage and the number of its passages holding it."""
        if (term := self._term(word)) is None:
            return {}
        found: dict[str, tuple[int, int]] = {}
        for index, segment in enumerate(self._segments):
            positions = segment.positions_with(term)
            firsts, ends, doc_ids = self._document_ranges()[segment.name]
            if not len(positions) or not len(firsts):
                continue
            owners = np.searchsorted(firsts, positions, side="right") - 1
            inside = (owners >= 0) & (positions < ends[owners.clip(0)])
            owned, first_seen, counts = np.unique(owners[inside], return_index=True, return_counts=True)
            seen = positions[inside][first_seen].tolist()
            for owner, at, count in zip(owned.tolist(), seen, counts.tolist(), strict=True):
                before = found.get(doc_ids[owner], (0, 0))[1]
                found[doc_ids[owner]] = (int(self._starts[index]) + at, before + count)
        return found

    def _document_ranges(self) -> dict[str, tuple[np.ndarray, np.ndarray, list[str]]]:
        """Per segment, its live documents' first and end positions (sorted) and their ids."""
        if self._ranges is None:
            by_segment: dict[str, list[DocumentRecord]] = {s.name: [] for s in self._segments}
            for record in self.snapshot.manifest.documents.values():
                by_segment[record.segment].append(record)
            ranges = {}
            for name, records in by_segment.items():
                records.sort(key=lambda r: r.first)
                firsts = np.array([r.first for r in records], dtype=np.int64)
                ends = np.array([r.first + r.chunks for r in records], dtype=np.int64)
                ranges[name] = (firsts, ends, [r.doc_id for r in records])
            self._ranges = ranges
        return self._ranges

    def _texts(self, positions: list[int]) -> list[str]:
        owners = np.searchsorted(self._starts, positions, side="right") - 1
        return [
            self._segments[owner].passages([position - int(self._starts[owner])])[0].text
            for owner, position in zip(owners.tolist(), positions, strict=True)
        ]

    def sections(self) -> dict[str, Counter[str]]:
        """Passages per section heading path, per document (read once, from the segments)."""
        with self._sections_lock:
            if self._sections is None:
                self._sections = {
                    doc_id: self.snapshot.segments[r.segment].sections(r.first, r.chunks)
                    for doc_id, r in self.snapshot.manifest.documents.items()
                }
            return self._sections


def _keep_freed_memory() -> None:
    """Keep the memory of freed score arrays in the process for the next question (glibc).

    A question over a million passages allocates a few dozen arrays of 4-8 MB and frees them. By
    default glibc maps each anew from the kernel and gives it back when freed, so every question paid
    the page faults of zeroing them again: the same code and index answered at 40-45 ms (p50) in one
    process and 16 ms in another, depending on what the process had allocated before. Measured with
    the thresholds fixed: 15-18 / 23-27 ms (p50 / p95) in every fresh process."""
    global _MEMORY_KEPT
    if _MEMORY_KEPT or not sys.platform.startswith("linux"):
        return
    _MEMORY_KEPT = True
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl): its allocator has no such thresholds
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)  # glibc's largest: arrays up to 32 MB from the heap
    libc.mallopt(_M_TRIM_THRESHOLD, 512 * 2**20)  # and up to 512 MB of freed heap kept


def _remember(cache: dict[str, _Kept], key: str, value: _Kept) -> _Kept:
    """Keep a value computed for a question word (up to _KEPT_NAMES of them, then start afresh) and
    return it as computed: terminals ask at once, and another's question may empty the cache
    between this store and a read."""
    if len(cache) > _KEPT_NAMES:
        cache.clear()
    cache[key] = value
    return value


def _words_of(title: str) -> set[str]:
    """A title's words, lower case: "air" is not a word of "REPAIR PARTS"."""
    return set(re.findall(r"[^\W_]+", title.lower()))


def _written_as_name(word: str, text: str) -> bool:
    """Whether the text writes the word with a capital after a small letter ("DoALL", "iPad")."""
    return any(
        re.search(r"[a-z][A-Z]", match.group(0))
        for match in re.finditer(rf"\b{re.escape(word)}\b", text, re.IGNORECASE)
    )


def _top(positions: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    """The positions of the n highest scores, in no order."""
    return positions[np.argpartition(-scores, n)[:n]] if len(positions) > n else positions


def _best(scores: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the k highest scores, highest first (a full sort of a million costs ~80 ms)."""
    if len(scores) > 4 * k:
        chosen = np.sort(np.argpartition(-scores, k)[:k])
        return chosen[np.argsort(-scores[chosen], kind="stable")]
    return np.argsort(-scores, kind="stable")[:k]


def _summed(counts: Iterable[Counter[str]]) -> Counter[str]:
    parts = list(counts)
    if len(parts) == 1:
        return parts[0]
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    return total


def passages_text(passages: Iterable[Passage]) -> str:
    """All text of the passages with their headings, for checks against an answer."""
    return "\n".join(f"{p.heading}\n{p.text}" for p in passages)
