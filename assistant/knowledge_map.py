"""The knowledge map: what the floor asks, grouped into topics by the meaning of the questions, and
where the documentation carries each topic (answered) or fails it (gaps)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from assistant.gaps import LoggedQuestion

# Cosine similarity (MiniLM) above which two questions are taken to ask about the same thing.
SAME_TOPIC = 0.55
# Distinct questions clustered together; the rarer rest join the nearest topic. Average-linkage
# clustering costs memory and time with the square of its input: 1,500 keep a view of a 50,000-
# question log under a second or two, and every gap is always among them.
CLUSTERED_AT_MOST = 1500
# Distinctive terms naming a topic ("hydraulic oil · change interval · hp-200").
LABEL_TERMS = 3
# Words of how operators ask, not of what: never a topic's name.
_ASKING_WORDS = "does use using need needed tell say please pls know want get make often long much many way right"
# A word, or a part code kept whole (HP-200, 3/8, M12x1.5).
_TERM = r"(?u)\b\w(?:[\w./-]*\w)?\b"


class QuestionFigures:
    """How a group of logged questions fared (a topic, a cell of the map)."""

    questions: list[LoggedQuestion]

    @property
    def asked(self) -> int:
        return len(self.questions)

    @property
    def answered_share(self) -> float:
        """Answered and not marked unhelpful: what carried the operator."""
        return sum(q.carried for q in self.questions) / self.asked if self.asked else 0.0

    @property
    def thumbs_down_share(self) -> float:
        return sum(q.thumbs_down for q in self.questions) / self.asked if self.asked else 0.0


@dataclass
class Topic(QuestionFigures):
    """Questions about one subject: how often the floor asks, how often the manuals answer."""

    label: str  # its distinctive terms
    question: str  # its most central question (of its gaps when it has any): asked again by a re-check
    questions: list[LoggedQuestion] = field(default_factory=list)
    # Set by the topic book (assistant/topics.py) when the topic has, or had, gaps: the stable id
    # and where the work on it stands.
    id: str = ""
    state: str = "open"
    owner: str | None = None
    due: str | None = None
    proposal: str | None = None  # the answer a re-check found, waiting for the manager

    @property
    def gaps(self) -> list[LoggedQuestion]:
        return [q for q in self.questions if q.open]

    @property
    def count(self) -> int:
        """Open gaps."""
        return len(self.gaps)

    @property
    def examples(self) -> list[str]:
        ordered = sorted(self.questions, key=lambda q: not q.open)  # the gaps first
        return list(dict.fromkeys(q.question for q in ordered))[:3]

    @property
    def kinds(self) -> str:
        """What kind of gap its questions are: "2 not found · 1 answered wrong"."""
        counts = Counter(g.kind for g in self.gaps)
        return " · ".join(f"{counts[k]} {k}" for k in ("not found", "answered wrong") if counts[k])

    @property
    def first_seen(self) -> str:
        return min(q.asked_at for q in self.gaps or self.questions)

    @property
    def last_seen(self) -> str:
        return max(q.asked_at for q in self.gaps or self.questions)

    @property
    def equipment(self) -> list[str]:
        return sorted({q.equipment for q in self.questions if q.equipment})


def question_key(question: str) -> str:
    """The same question typed twice, whatever its case and spacing."""
    return " ".join(question.casefold().split())


def group_questions(
    questions: list[LoggedQuestion],
    vectors_of: Callable[[list[str]], np.ndarray],
    threshold: float = SAME_TOPIC,
) -> list[Topic]:
    """Topics, most open gaps first: average-linkage clustering of the distinct questions' meanings
    (scikit-learn), cut where the average similarity between two groups falls below `threshold`.
    The same questions make the same topics whatever order they arrived in."""
    if not questions:
        return []
    by_key: dict[str, list[LoggedQuestion]] = {}
    for q in questions:
        by_key.setdefault(question_key(q.meaning), []).append(q)
    keys = sorted(by_key, key=lambda k: (not any(q.open for q in by_key[k]), -len(by_key[k]), k))
    vectors = vectors_of(keys)
    seeds = min(len(keys), CLUSTERED_AT_MOST)
    labels = np.zeros(len(keys), dtype=int)
    if seeds > 1:
        from sklearn.cluster import AgglomerativeClustering

        clustering = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=1 - threshold
        )
        labels[:seeds] = clustering.fit_predict(vectors[:seeds])
    groups = sorted(set(labels[:seeds].tolist()))
    if len(keys) > seeds:  # the long tail joins the topic whose centre is nearest
        centres = np.stack([_unit(vectors[:seeds][labels[:seeds] == g].mean(axis=0)) for g in groups])
        labels[seeds:] = np.asarray(groups)[np.argmax(vectors[seeds:] @ centres.T, axis=1)]
    topics, phrasings = [], []
    for group in groups:
        members = np.flatnonzero(labels == group).tolist()
        phrasings.append([keys[i] for i in members])
        asked = [q for i in members for q in by_key[keys[i]]]
        with_gaps = [i for i in members if any(q.open for q in by_key[keys[i]])] or members
        centre = vectors[members].mean(axis=0)
        central = max(with_gaps, key=lambda i: (float(vectors[i] @ centre), keys[i]))
        question = by_key[keys[central]][0].meaning
        topics.append(Topic(label=question, question=question, questions=sorted(asked, key=lambda q: q.id)))
    _name_by_terms(topics, phrasings)
    return sorted(topics, key=lambda t: (-t.count, -t.asked, t.first_seen, t.label))


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / (np.linalg.norm(vector) or 1.0)


def _name_by_terms(topics: list[Topic], phrasings: list[list[str]]) -> None:
    """Label each topic by the terms that set its questions apart from the other topics' (TF-IDF,
    scikit-learn); a topic with no distinctive term keeps its central question as label."""
    if len(topics) < 2:
        return
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Each distinct phrasing once: a topic's name should not cost a pass over every time it was asked.
    documents = [" ".join(keys) for keys in phrasings]
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stop_words = sorted(ENGLISH_STOP_WORDS | set(_ASKING_WORDS.split()))
    tfidf = TfidfVectorizer(ngram_range=(1, 2), stop_words=stop_words, sublinear_tf=True, token_pattern=_TERM)
    try:
        weights = tfidf.fit_transform(documents)
    except ValueError:  # only stop words everywhere
        return
    terms = tfidf.get_feature_names_out()
    for topic, row in zip(topics, weights, strict=True):
        ranked = sorted(zip(row.data, row.indices, strict=True), key=lambda x: (-x[0], terms[x[1]]))
        chosen: list[str] = []
        for _, index in ranked:
            term = str(terms[index])
            if len(term) > 1 and not any(term in c or c in term for c in chosen):
                chosen.append(term)
            if len(chosen) == LABEL_TERMS:
                break
        if chosen:
            topic.label = " · ".join(chosen)


def write_csv(topics: list[Topic], out: IO[str]) -> None:
    """One row per open gap, with its topic: for spreadsheets and reports."""
    writer = csv.writer(out)
    writer.writerow(
        [
            "topic_id",
            "state",
            "owner",
            "topic",
            "id",
            "asked_at",
            "terminal",
            "equipment",
            "kind",
            "question",
            "reason",
            "sources",
        ]
    )
    for topic in topics:
        for g in topic.gaps:
            row = [topic.id, topic.state, topic.owner or "", topic.label, g.id, g.asked_at, g.terminal]
            row += [g.equipment or "", g.kind, g.question, g.reason]
            writer.writerow([*row, json.dumps(g.sources)])
