"""Suggested questions: ones answered well, then topics the manuals really cover; never junk."""

from __future__ import annotations

from pathlib import Path

from assistant.answering import Answer
from assistant.gaps import GapLog
from assistant.service import open_retriever
from assistant.suggestions import _topic, covered_topics, suggested_questions
from indexes.embedding import Embedder
from shopfloor.settings import load_settings


def _answered(question: str, answered: bool = True) -> Answer:
    return Answer(question=question, answered=answered, answer="x" if answered else "Not found")


def test_well_answered_questions_come_first_and_thumbed_down_ones_never(tmp_path: Path) -> None:
    log = GapLog(tmp_path / "gaps.sqlite")
    for _ in range(3):
        log.record(_answered("torque for the ram guide bolts?"), "T1")
    liked = log.record(_answered("spindle warm-up time?"), "T2")
    log.feedback(liked, helpful=True)
    wrong = log.record(_answered("oil for the lathe?"), "T3")
    log.feedback(wrong, helpful=False)
    log.record(_answered("canteen hours?", answered=False), "T3")
    assert log.well_answered(5) == ["spindle warm-up time?", "torque for the ram guide bolts?"]


def test_topics_read_as_section_titles() -> None:
    assert _topic("6 GROUND FAULT CIRCUIT INTER- > SYMPTOM") is None, "one word is no topic"
    assert _topic("Everlasting Company > 4.5. Battery Charger") == "Battery Charger"
    assert _topic("Chapter 5 - Supporting Information > TABLE OF CONTENTS") is None
    assert _topic("OPERATOR MAINTENANCE > SERVICE OF AIR CLEANER") == "Service of air cleaner"
    assert _topic("Module 1 > 5.2 DESCRIBE the following ways that gamma radiation interacts with matter:") is None


def test_suggestions_over_the_sample_manuals(sample_index: Path, embedder: Embedder, tmp_path: Path) -> None:
    retriever = open_retriever(load_settings(index_dir=sample_index), embedder)
    topics = covered_topics(retriever)
    assert "Start-up Procedure" in topics and "Safety Instructions" in topics
    passages = retriever.snapshot.passages()
    titles = {str(p.metadata["title"]) for p in passages}
    assert not titles & set(topics), "a document's title is not a topic of it"
    first_docs = {
        next(str(p.metadata["doc_id"]) for p in passages if _topic(p.metadata["section"]) == t) for t in topics[:4]
    }
    assert len(first_docs) >= 3, "topics are taken in turn from each manual"
    log = GapLog(tmp_path / "gaps.sqlite")
    log.record(_answered("torque for the ram guide bolts?"), "T1")
    assert suggested_questions(retriever, log, limit=3) == ["torque for the ram guide bolts?", *topics[:2]]
