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

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexes.chunk_metadata import ChunkMetadata, chunk_metadata
from indexes.embedding import Embedder
from indexes.store import IndexSnapshot
from shopfloor.languages import DETECTOR

# A word or a code as the manuals and the questions are matched on ("hf-2040", "0.5", "oil").
WORD = re.compile(r"[a-z0-9]+(?:[-./][a-z0-9]+)*")
_STOPWORDS = frozenset(
    """
    a an and are as at be by can do does for from how i in is it its of on or should the this to
    what when where which who why will with my me we our you your there their them they these those
    was were has have had if into not no than then so any all about after before
    """.split()
)
MODES = ("hybrid", "bm25", "vector")


def tokenize(text: str, stem: Any) -> list[str]:
    """Lower-cased words and codes; a code is kept whole and also split ("hf-2040" -> hf, 2040)."""
    tokens: list[str] = []
    for token in WORD.findall(text.lower()):
        parts = re.split(r"[-./]", token)
        for word in [token, *parts] if len(parts) > 1 else [token]:
            if word and word not in _STOPWORDS:
                tokens.append(stem(word) if word.isalpha() else word)
    return tokens


@dataclass
class Filters:
    """Restrict retrieval to some documents and/or tag values (`equipment=HP-200`)."""

    doc_ids: set[str] = field(default_factory=set)
    tags: dict[str, str] = field(default_factory=dict)

    def allows(self, metadata: ChunkMetadata) -> bool:
        if self.doc_ids and metadata["doc_id"] not in self.doc_ids:
            return False
        node_tags = metadata.get("tags") or {}
        return all(node_tags.get(k) == v for k, v in self.tags.items())

    def __bool__(self) -> bool:
        return bool(self.doc_ids or self.tags)


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
    """Retrieval over one loaded index version."""

    def __init__(
        self, snapshot: IndexSnapshot, embedder: Embedder, mode: str = "hybrid", vector_weight: float = 1.0
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"retrieval mode {mode!r} is not one of {MODES}")
        import Stemmer

        self.snapshot = snapshot
        self.embedder = embedder
        self.mode = mode
        self.vector_weight = vector_weight
        self.stem = Stemmer.Stemmer("english").stemWord
        position_to_id = snapshot.index.index_struct.nodes_dict
        self._ids = [position_to_id[str(i)] for i in range(len(position_to_id))]
        docs = snapshot.index.docstore.docs
        self._nodes: list[Any] = [docs[node_id] for node_id in self._ids]
        self._building = threading.Lock()
        self._bm25_index: Any = None
        self._vocabulary: dict[str, int] | None = None
        self._languages: dict[str, str] | None = None

    @property
    def document_languages(self) -> dict[str, str]:
        """Each document's language (doc id -> ISO 639-1), as ingest detected it; an index written
        before that is detected here, once, from its passages."""
        with self._building:
            if self._languages is None:
                texts: dict[str, list[str]] = {}
                for node in self._nodes:
                    texts.setdefault(node.metadata["doc_id"], []).append(str(node.text))
                self._languages = {
                    doc_id: record.language or DETECTOR.of_document(texts.get(doc_id, []))
                    for doc_id, record in self.snapshot.manifest.documents.items()
                }
            return self._languages

    @property
    def passage_count(self) -> int:
        return len(self._nodes)

    @property
    def nodes(self) -> list[Any]:
        """Every indexed passage, in index order."""
        return self._nodes

    @property
    def _bm25(self) -> Any:
        """Built at the first question, once: the web app's requests arrive on several threads, and
        functools.cached_property stopped locking in Python 3.12."""
        with self._building:
            if self._bm25_index is None:
                import bm25s

                # bm25s sets its logger to DEBUG on import and then logs every index build, which
                # reached the operator's terminal ("DEBUG bm25s: Building index from tokens").
                logging.getLogger("bm25s").setLevel(logging.WARNING)
                bm25 = bm25s.BM25()
                bm25.index([self._tokens(n) for n in self._nodes] or [[""]], show_progress=False)
                self._bm25_index = bm25
            return self._bm25_index

    @property
    def vocabulary(self) -> dict[str, int]:
        """Every indexed word with the number of chunks it occurs in (built once, like _bm25)."""
        with self._building:
            if self._vocabulary is None:
                counts: dict[str, int] = {}
                for node in self._nodes:
                    for word in set(WORD.findall(f"{node.metadata.get('heading', '')} {node.text}".lower())):
                        counts[word] = counts.get(word, 0) + 1
                self._vocabulary = counts
            return self._vocabulary

    def _tokens(self, node: Any) -> list[str]:
        return tokenize(f"{node.metadata.get('heading', '')}\n{node.text}", self.stem)

    def correct_typos(self, query: str) -> str:
        """Replace words the manuals never use with the closest word they do use ("hydralic")."""
        from rapidfuzz import fuzz, process

        vocabulary = self.vocabulary

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            lower = word.lower()
            if len(lower) < 4 or lower in vocabulary or lower in _STOPWORDS or not lower.isalpha():
                return word
            best = process.extractOne(lower, vocabulary.keys(), scorer=fuzz.ratio, score_cutoff=80)
            return best[0] if best else word

        return re.sub(r"[A-Za-z]+", fix, query)

    def retrieve(self, query: str, k: int = 5, filters: Filters | None = None, correct: bool = True) -> list[Passage]:
        """The k best passages for a question, best first. Typos are corrected unless `correct` is
        off: the closest English word to a word of another language is another word."""
        if not self._nodes:
            return []
        query = self.correct_typos(query) if correct else query
        allowed = np.array([filters.allows(chunk_metadata(n.metadata)) for n in self._nodes]) if filters else None
        vector = self._vector_scores(query)
        lexical = self._bm25_scores(query)
        fused = self._fuse(vector, lexical, allowed)
        order = [i for i in np.argsort(-fused) if allowed is None or allowed[i]]
        return [
            Passage(
                node_id=self._ids[i],
                text=str(self._nodes[i].text),
                metadata=chunk_metadata(dict(self._nodes[i].metadata)),
                score=float(fused[i]),
                vector_score=float(vector[i]),
                bm25_score=float(lexical[i]),
            )
            for i in order[:k]
        ]

    def _vector_scores(self, query: str) -> np.ndarray:
        faiss_index = self.snapshot.index.vector_store.client  # type: ignore[attr-defined]
        scores = np.zeros(len(self._nodes), dtype=np.float32)
        similarities, positions = faiss_index.search(self.embedder.embed_query(query)[None, :], len(self._nodes))
        valid = positions[0] >= 0
        scores[positions[0][valid]] = similarities[0][valid]
        return scores

    def _bm25_scores(self, query: str) -> np.ndarray:
        tokens = tokenize(query, self.stem)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32) if tokens else np.zeros(len(self._nodes))

    def _fuse(self, vector: np.ndarray, lexical: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
        if self.mode == "vector":
            return vector
        if self.mode == "bm25":
            return lexical
        considered = lexical if allowed is None else np.where(allowed, lexical, 0.0)
        best = float(considered.max()) if len(considered) else 0.0
        # BM25 scaled to [0, 1] by the best allowed hit, so its scale is the cosine's.
        scaled = lexical / best if best > 0 else np.zeros_like(lexical)
        return (scaled + self.vector_weight * vector).astype(np.float32)


def passages_text(passages: Iterable[Passage]) -> str:
    """All text of the passages with their headings, for checks against an answer."""
    return "\n".join(f"{p.heading}\n{p.text}" for p in passages)
