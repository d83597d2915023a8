"""The knowledge map: open gaps grouped into topics by the meaning of their questions."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from assistant.gaps import Gap
from indexes.embedding import Embedder

# Cosine similarity (MiniLM) above which two questions are taken to ask about the same thing.
SAME_TOPIC = 0.55


@dataclass
class Topic:
    """Gaps about one subject: what the documentation does not cover."""

    label: str
    gaps: list[Gap] = field(default_factory=list)
    # Set by the topic book (assistant/topics.py): the stable id and where the work on it stands.
    id: str = ""
    state: str = "open"
    owner: str | None = None
    due: str | None = None
    proposal: str | None = None  # the answer a re-check found, waiting for the manager

    @property
    def count(self) -> int:
        return len(self.gaps)

    @property
    def examples(self) -> list[str]:
        return list(dict.fromkeys(g.question for g in self.gaps))[:3]

    @property
    def kinds(self) -> str:
        """What kind of gap its questions are: "2 not found · 1 answered wrong"."""
        counts = Counter(g.kind for g in self.gaps)
        return " · ".join(f"{counts[k]} {k}" for k in ("not found", "answered wrong") if counts[k])

    @property
    def first_seen(self) -> str:
        return min(g.asked_at for g in self.gaps)

    @property
    def last_seen(self) -> str:
        return max(g.asked_at for g in self.gaps)

    @property
    def equipment(self) -> list[str]:
        return sorted({g.equipment for g in self.gaps if g.equipment})


def group_gaps(gaps: list[Gap], embedder: Embedder, threshold: float = SAME_TOPIC) -> list[Topic]:
    """Topics, largest first: average-linkage clustering of the questions' meanings (scikit-learn),
    cut where the average similarity between two groups falls below `threshold`. The same questions
    make the same topics whatever order they arrived in; each topic is labelled by its most central
    question."""
    if not gaps:
        return []
    vectors = embedder.embed_texts([g.question for g in gaps])
    if len(gaps) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        from sklearn.cluster import AgglomerativeClustering

        clustering = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=1 - threshold
        )
        labels = clustering.fit_predict(vectors)
    topics = []
    for label in set(labels.tolist()):
        indices = [i for i in range(len(gaps)) if labels[i] == label]
        centre = vectors[indices].mean(axis=0)
        central = max(indices, key=lambda i: (float(vectors[i] @ centre), gaps[i].question))
        topics.append(Topic(label=gaps[central].question, gaps=[gaps[i] for i in indices]))
    return sorted(topics, key=lambda t: (-t.count, t.first_seen, t.label))


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
