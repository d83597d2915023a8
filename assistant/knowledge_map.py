"""The knowledge map: open gaps grouped into topics by the meaning of their questions."""

from __future__ import annotations

import csv
import json
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

    @property
    def count(self) -> int:
        return len(self.gaps)

    @property
    def examples(self) -> list[str]:
        return list(dict.fromkeys(g.question for g in self.gaps))[:3]

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
    """Topics, largest first. Each question joins the nearest topic centre it is close enough to."""
    if not gaps:
        return []
    vectors = embedder.embed_texts([g.question for g in gaps])
    members: list[list[int]] = []
    centres: list[np.ndarray] = []
    for i, vector in enumerate(vectors):
        similarities = [float(c @ vector) for c in centres]
        best = int(np.argmax(similarities)) if similarities else -1
        if best >= 0 and similarities[best] >= threshold:
            members[best].append(i)
            centre = vectors[members[best]].mean(axis=0)
            centres[best] = centre / np.linalg.norm(centre)
        else:
            members.append([i])
            centres.append(vector)
    topics = []
    for indices, centre in zip(members, centres, strict=True):
        central = max(indices, key=lambda i: float(vectors[i] @ centre))
        topics.append(Topic(label=gaps[central].question, gaps=[gaps[i] for i in indices]))
    return sorted(topics, key=lambda t: (-t.count, t.first_seen))


def write_csv(topics: list[Topic], out: IO[str]) -> None:
    """One row per open gap, with its topic: for spreadsheets and reports."""
    writer = csv.writer(out)
    writer.writerow(["topic", "id", "asked_at", "terminal", "equipment", "question", "reason", "sources"])
    for topic in topics:
        for g in topic.gaps:
            row = [topic.label, g.id, g.asked_at, g.terminal, g.equipment or "", g.question, g.reason]
            writer.writerow([*row, json.dumps(g.sources)])
