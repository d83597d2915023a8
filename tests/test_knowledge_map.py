"""The knowledge map over the whole log: coverage by equipment and topic, outcomes week by week,
the report for the tier meeting. Real gap log, real embedding model, real index."""

from __future__ import annotations

import datetime as dt
import random
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant import knowledge_map
from assistant.answering import Answer, Citation
from assistant.gaps import GapLog
from assistant.knowledge_map import group_questions
from assistant.outcomes import iso_week
from shopfloor.errors import ShopfloorError
from shopfloor.settings import Settings
from tests.conftest import SAMPLE_DOCS
from ui.cli import app
from ui.usecases import Shopfloor

OIL = "HP-200_Hydraulic_Press_SOP.pdf"


def _answered(question: str, doc_id: str) -> Answer:
    citation = Citation(number=1, file=doc_id, page=3, page_label=None, section="", text="", doc_id=doc_id)
    return Answer(question=question, answered=True, answer="Every 4000 hours [1].", citations=[citation])


def _refused(question: str) -> Answer:
    return Answer(question=question, answered=False, answer="Not found", reason="the manual's lines do not answer it")


def _at(log: GapLog, question_id: int, when: dt.datetime) -> None:
    with log.transaction() as db:
        db.execute("UPDATE questions SET asked_at = ? WHERE id = ?", (when.isoformat(timespec="seconds"), question_id))


@pytest.fixture
def floor(ingest, settings: Settings, embedder) -> Shopfloor:
    ingest(SAMPLE_DOCS / OIL, tags={"equipment": "HP-200"})
    ingest(SAMPLE_DOCS / "CL-400_CNC_Lathe_Operator_Manual.pdf", tags={"equipment": "CL-400"})
    return Shopfloor(settings, use_llm=False, embedder=embedder)


def test_the_map_shows_where_the_manuals_carry_each_topic_by_equipment(floor: Shopfloor) -> None:
    log = floor.gap_log
    for q in ("hydraulic oil change interval HP-200", "how often change the press hydraulic oil"):
        log.record(_answered(q, OIL), "T1")
    down = log.record(_answered("hydraulic oil change interval?", OIL), "T2")
    log.feedback(down, helpful=False, reason="that is the old interval")
    log.record(_refused("spare fuse for the HP-200?"), "T1")
    log.record(_refused("which fuse goes in the HP-200 control box"), "T3")
    log.record(_refused("lathe chuck jaw spare part number"), "T3", equipment="CL-400")

    report = floor.gap_report()
    by_question = {q.question: t for t in report.topics for q in t.questions}
    oil, fuse = by_question["hydraulic oil change interval?"], by_question["spare fuse for the HP-200?"]
    assert oil is by_question["how often change the press hydraulic oil"] and fuse is not oil
    assert (oil.asked, oil.count, round(oil.answered_share, 2)) == (3, 1, 0.67), "the thumbs down is the one gap"
    assert "oil" in oil.label and "·" in oil.label, "named by its distinctive terms"
    assert fuse.id and fuse.count == 2 and fuse.question in ("spare fuse for the HP-200?",
                                                             "which fuse goes in the HP-200 control box")  # fmt: skip
    assert {t.id for t in report.open_topics} == {oil.id, fuse.id, by_question["lathe chuck jaw spare part number"].id}

    cover = report.coverage
    assert cover.rows_by == "equipment" and set(cover.rows) == {"HP-200", "CL-400"}
    oil_cell = cover.cell("HP-200", cover.topics.index(oil))
    assert (oil_cell.asked, oil_cell.open_gaps, round(oil_cell.thumbs_down_share, 2)) == (3, 1, 0.33)
    assert cover.cell("CL-400", cover.topics.index(oil)).asked == 0
    by_document = floor.gap_report(rows_by="document").coverage
    assert OIL in by_document.rows


def test_topics_do_not_depend_on_question_order_even_past_the_clustered_few(
    embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past CLUSTERED_AT_MOST distinct questions, the rarer rest join the nearest topic: still the
    same topics whatever order the questions came in."""
    monkeypatch.setattr(knowledge_map, "CLUSTERED_AT_MOST", 4)
    log = GapLog(tmp_path / "gaps.sqlite")
    questions = ["oil change interval press", "how often change press oil", "lathe coolant mix", "coolant ratio lathe",
                 "press oil grade", "coolant concentration for the lathe", "first aid kit location"]  # fmt: skip
    for q in questions + questions[:2]:
        log.record(_answered(q, OIL), "T1")
    asked = log.questions()

    def shape(ordered: list) -> set[frozenset[str]]:
        return {frozenset(q.question for q in t.questions) for t in group_questions(ordered, embedder.embed_texts)}

    first = shape(asked)
    for seed in range(3):
        shuffled = asked[:]
        random.Random(seed).shuffle(shuffled)
        assert shape(shuffled) == first
    assert sum(t.asked for t in group_questions(asked, embedder.embed_texts)) == 9, "every question on the map"


def test_each_question_is_embedded_once_however_often_the_map_is_drawn(floor: Shopfloor) -> None:
    for q in ("spare fuse for the HP-200?", "Spare  fuse for the HP-200?", "canteen hours"):
        floor.gap_log.record(_refused(q), "T1")
    embedded: list[str] = []
    real = floor.embedder.embed_texts

    def counting(texts: list[str]):
        embedded.extend(texts)
        return real(texts)

    floor.embedder.embed_texts = counting  # type: ignore[method-assign]
    try:
        floor.gap_report()
        floor.gap_report()
    finally:
        del floor.embedder.embed_texts
    assert sorted(embedded) == ["canteen hours", "spare fuse for the hp-200?"], "same question, any case: once"


def test_drawing_the_map_again_writes_nothing_and_waits_for_no_writer(floor: Shopfloor) -> None:
    """Every map view synced the topics in a write transaction: with terminals logging, the view
    queued behind them (and they behind it). Once the topics are placed, a view only reads."""
    for q in ("spare fuse for the HP-200?", "HP-200 spare fuse", "canteen hours"):
        floor.gap_log.record(_refused(q), "T1")
    first = floor.gap_report()
    writer = sqlite3.connect(floor.settings.gaps_db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a terminal's logging, holding the write lock
    try:
        again = floor.gap_report()  # would wait the busy timeout, then fail, if it wrote
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert [t.id for t in again.topics] == [t.id for t in first.topics] and first.topics[0].id


def test_weekly_figures_count_answers_gaps_closed_and_technician_time(floor: Shopfloor) -> None:
    log = floor.gap_log
    now = dt.datetime.now(dt.UTC)
    last_week = now - dt.timedelta(days=7)
    for i in range(3):
        _at(log, log.record(_answered(f"hydraulic oil change interval {i}", OIL), "T1"), last_week)
    _at(log, log.record(_refused("spare fuse for the HP-200?"), "T1"), last_week)
    log.record(_answered("what torque for the ram guide bolts", OIL), "T2")
    down = log.record(_answered("ram guide bolt torque HP-200", OIL), "T2")
    log.feedback(down, helpful=False)
    fuse = next(t for t in floor.gap_report().open_topics if "fuse" in t.question)
    floor.close_topic(fuse.id, "mgr", "fuse table added")

    weekly = floor.weekly_report(weeks=3)
    this, before = weekly.trend[-1], weekly.trend[-2]
    assert weekly.week == iso_week(dt.date.today()) and [w.week for w in weekly.trend][-1] == weekly.week
    assert (before.questions, before.answered, before.hours_saved) == (4, 3, 0.75), "3 answers × 15 min"
    assert (before.gaps_opened, before.gaps_closed) == (0, 0), "the fuse topic opened when first mapped: now"
    assert (this.questions, this.answered, this.thumbs_down) == (2, 1, 1)
    assert this.gaps_closed == 1 and this.days_to_close == pytest.approx(7.0, abs=0.1), "from its first question"
    assert [c.id for c in weekly.closed] == [fuse.id]
    assert dict(weekly.by_equipment)["HP-200"].questions == 2
    with pytest.raises(ShopfloorError, match="not an ISO week"):
        floor.weekly_report("2026-48")


def test_the_report_is_one_self_contained_page_with_document_text_escaped(floor: Shopfloor, tmp_path: Path) -> None:
    floor.gap_log.record(_refused('<img src="http://attacker/x.png"> spare fuse $5?'), "T1")
    floor.gap_log.record(_answered("hydraulic oil change interval", OIL), "T1")
    out = tmp_path / "week.html"
    result = CliRunner().invoke(app, ["report", "--out", str(out), "--index", str(floor.settings.index_path)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 2, "trend and map drawn inline"
    assert "<img" not in page and "&lt;img src=&quot;http://attacker/x.png&quot;&gt;" in page
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//|url\((?!#)", page), "nothing fetched when opened"
    assert "technician time saved" in page and "0.2 h" in page
    summary = CliRunner().invoke(app, ["report", "--index", str(floor.settings.index_path)])
    assert "2 questions, 50% answered" in summary.output and "0.2 h technician time saved" in summary.output


def test_a_gap_log_of_the_last_release_upgrades_in_place_with_its_topics(tmp_path: Path) -> None:
    """A log written by the previous release (m001-m004): every question and topic kept."""
    from assistant import gap_migrations
    from assistant.gap_database import SQLITE

    path = tmp_path / "gaps.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, migration in gap_migrations.MIGRATIONS[:4]:
        migration(old, SQLITE)
        old.execute("INSERT INTO _migrations VALUES (?, '2026-11-20T00:00:00+00:00')", (name,))
    old.execute(
        "INSERT INTO questions (asked_at, terminal, question, answer, answered, sources, latency_s, cited) VALUES"
        " ('2026-11-21T08:00:00+00:00', 'T1', 'spare fuse?', 'Not found', 0, '[]', 1.0, '[]')"
    )
    old.execute(
        "INSERT INTO topics (id, label, state, owner, created_at, updated_at) VALUES"
        " ('T0001', 'spare fuse?', 'assigned', 'J. Weber', '2026-11-21', '2026-11-21')"
    )
    old.execute("INSERT INTO topic_questions VALUES (1, 'T0001')")
    old.close()
    log = GapLog(path)
    [gap] = log.questions()
    assert gap.question == "spare fuse?" and gap.open
    assert tuple(log.query("SELECT id, state, owner FROM topics")[0]) == ("T0001", "assigned", "J. Weber")
    assert log.rule_counts() == {}


def test_an_ingest_for_a_topic_marks_it_documented_and_the_recheck_proposes_the_answer(
    settings: Settings, embedder, tmp_path: Path
) -> None:
    floor = Shopfloor(settings, use_llm=False, embedder=embedder)
    floor.ingest([SAMPLE_DOCS / "AC-75_Air_Compressor_Maintenance.md"])
    floor.gap_log.record(_refused("What is the payload of the palletizing robot PR-9?"), "T1")
    [topic] = floor.gap_report().open_topics
    robot = tmp_path / "PR-9_Palletizing_Robot.md"
    robot.write_text(
        "# Palletizing robot PR-9\n## Technical data\nThe PR-9 palletizing robot has a payload of 180 kg.\n"
    )
    runner = CliRunner()
    unknown = runner.invoke(app, ["ingest", str(robot), "--for-topic", "T0999"])
    assert isinstance(unknown.exception, ShopfloorError) and "T0999" in str(unknown.exception)
    assert "PR-9_Palletizing_Robot.md" not in [d.doc_id for d in floor.documents()], "refused before the ingest"

    result = runner.invoke(app, ["ingest", str(robot), "--for-topic", topic.id, "--no-recheck"])
    assert result.exit_code == 0, result.output
    assert floor.topic_book.get(topic.id).state == "documented"
    assert runner.invoke(app, ["gaps", "--recheck", "--no-llm"]).exit_code == 0
    state = floor.topic_book.get(topic.id)
    assert state.state == "answered_now" and state.proposal and "180 kg" in state.proposal
    assert [e.action for e in floor.topic_history(topic.id)] == ["opened", "document", "propose"]
    assert "ingested PR-9_Palletizing_Robot.md" in floor.topic_history(topic.id)[1].detail
