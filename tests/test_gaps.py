"""The gap log: every question kept, many terminals writing at once, topics for the manager."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.answering import Answer
from assistant.gap_migrations import MIGRATIONS
from assistant.gaps import GapLog
from assistant.knowledge_map import group_questions
from shopfloor.errors import ShopfloorError
from ui.cli import app


def _answer(question: str, answered: bool = False) -> Answer:
    reason = None if answered else "no relevant passage"
    return Answer(question=question, answered=answered, answer="x" if answered else "Not found", reason=reason)


def test_questions_feedback_and_gaps(tmp_path: Path) -> None:
    log = GapLog(tmp_path / "gaps.sqlite")
    answered = log.record(_answer("oil interval?", answered=True), "T1")
    log.record(_answer("canteen hours?"), "T2", equipment="HP-200")
    log.feedback(answered, helpful=False, reason="wrong interval")
    gaps = log.open_gaps()
    assert [(g.question, g.terminal) for g in gaps] == [("oil interval?", "T1"), ("canteen hours?", "T2")]
    assert [g.kind for g in gaps] == ["answered wrong", "not found"], "a thumbs down is a gap of its own kind"
    assert gaps[0].reason == "operator marked it unhelpful: wrong interval"
    assert gaps[1].reason == "no relevant passage" and gaps[1].equipment == "HP-200"
    figures = log.figures()
    assert (figures.questions, figures.answered_pct, figures.thumbs_down_pct) == (2, 50.0, 50.0)
    log.resolve([gaps[1].id])
    assert [g.question for g in log.open_gaps()] == ["oil interval?"]
    assert log.open_gaps(since="2999-01-01") == []
    assert log.has_open_gaps()
    log.resolve([g.id for g in log.open_gaps()])
    assert not log.has_open_gaps()


def test_migrations_are_recorded_and_not_rerun(tmp_path: Path) -> None:
    path = tmp_path / "gaps.sqlite"
    GapLog(path).close()
    GapLog(path).close()
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT name FROM _migrations")] == [name for name, _ in MIGRATIONS]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_up_to_date_log_opens_while_a_writer_holds_it(tmp_path: Path) -> None:
    """Opening the log (each app server start, each view) only reads when nothing is to migrate:
    a long write elsewhere does not hold it up for the 30 s busy timeout, nor make it fail."""
    path = tmp_path / "gaps.sqlite"
    GapLog(path).record(_answer("oil interval?"), "T1")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        opened = GapLog(path)
        assert [q.question for q in opened.questions()] == ["oil interval?"]
        opened.close()
    finally:
        writer.execute("ROLLBACK")


# One terminal process writing its questions: a real separate interpreter, as a second terminal is.
_WRITER = """
import sys
from pathlib import Path
from assistant.answering import Answer
from assistant.gaps import GapLog
path, terminal, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
log = GapLog(path)
for i in range(count):
    log.record(Answer(question=f"{terminal} question {i}", answered=False, answer="Not found"), terminal)
log.close()
"""


@pytest.mark.slow
def test_concurrent_terminals_lose_no_row(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    path = tmp_path / "gaps.sqlite"
    GapLog(path).close()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), f"T{i}", "60"], cwd=ROOT, stderr=subprocess.PIPE, text=True
        )
        for i in range(6)
    ]
    failures = [w.stderr.read() if w.stderr else "" for w in writers if w.wait(timeout=120) != 0]
    assert failures == []
    log = GapLog(path)
    assert log.count() == 360
    assert len({g.question for g in log.open_gaps()}) == 360


def test_similar_questions_form_one_topic(embedder, tmp_path: Path) -> None:
    log = GapLog(tmp_path / "gaps.sqlite")
    for question in (
        "What is the torque for the robot gripper bolts?",
        "robot gripper bolt torque?",
        "How tight are the gripper bolts on the robot?",
        "When does the canteen open?",
        "canteen opening hours",
    ):
        log.record(_answer(question), "T1")
    topics = group_questions(log.open_gaps(), embedder.embed_texts)
    assert [t.count for t in topics] == [3, 2]
    assert "gripper" in topics[0].label and "canteen" in topics[1].label


def test_the_same_questions_make_the_same_topics_in_any_order(embedder, tmp_path: Path) -> None:
    """The hand-written pass joined each question to the nearest topic so far: its result
    depended on the order the questions arrived in."""
    import random

    log = GapLog(tmp_path / "gaps.sqlite")
    for question in (
        "hydraulic oil change interval HP-200",
        "how often change the press oil",
        "which oil grade for the hydraulic press",
        "coolant mix ratio for the lathe",
        "lathe coolant concentration",
        "spindle warm up time",
        "how long to warm up the spindle",
        "where is the first aid kit",
    ):
        log.record(_answer(question), "T1")
    gaps = log.open_gaps()

    def shape(ordered: list) -> list[tuple[str, frozenset[str]]]:
        return [
            (t.label, frozenset(g.question for g in t.gaps)) for t in group_questions(ordered, embedder.embed_texts)
        ]

    first = shape(gaps)
    for seed in range(3):
        shuffled = gaps[:]
        random.Random(seed).shuffle(shuffled)
        assert shape(shuffled) == first
    assert len(first) >= 3, "oil, coolant and warm-up are not one topic"


def test_gaps_command_exports_csv_and_json(tmp_path: Path, monkeypatch) -> None:
    from shopfloor.settings import load_settings

    log = GapLog(load_settings().gaps_db)
    log.record(_answer("Where is the spare fuse for the press?"), "T7", equipment="HP-200")
    log.close()
    runner = CliRunner()
    csv_out = runner.invoke(app, ["gaps", "--format", "csv"])
    assert csv_out.exit_code == 0, csv_out.output
    assert "Where is the spare fuse for the press?" in csv_out.output and "T7" in csv_out.output
    json_out = runner.invoke(app, ["gaps", "--format", "json"])
    topic = json.loads(json_out.output.strip().splitlines()[-1])
    assert topic["count"] == 1 and topic["equipment"] == ["HP-200"]


def test_a_recheck_proposes_what_a_new_document_answers_and_the_manager_confirms(
    ingest, settings, tmp_path: Path
) -> None:
    """A re-check never closes a gap by itself: the topic waits, with the new answer, for the manager."""
    from tests.conftest import SAMPLE_DOCS

    ingest(SAMPLE_DOCS / "AC-75_Air_Compressor_Maintenance.md")
    log = GapLog(settings.gaps_db)
    log.record(_answer("What is the payload of the palletizing robot PR-9?"), "T1")
    log.record(_answer("When does the canteen open?"), "T1")
    log.close()
    runner = CliRunner()
    before = runner.invoke(app, ["gaps", "--recheck", "--no-llm"])
    assert before.exit_code == 0, before.output
    assert "2 open gaps" in before.output and "0 answered now" in before.output
    robot = tmp_path / "PR-9_Palletizing_Robot.md"
    robot.write_text(
        "# Palletizing robot PR-9\n## Technical data\nThe PR-9 palletizing robot has a payload of 180 kg.\n"
    )
    ingest(robot)
    after = runner.invoke(app, ["gaps", "--recheck", "--no-llm"])
    assert after.exit_code == 0, after.output
    assert "1 answered now" in after.output and "2 open gaps" in after.output, "nothing closed silently"
    topics = {
        t["id"]: t for t in map(json.loads, runner.invoke(app, ["gaps", "--format", "json"]).output.split("\n")[:-1])
    }
    robot_topic = next(
        t for t in topics.values() if t["question"] == "What is the payload of the palletizing robot PR-9?"
    )
    assert robot_topic["state"] == "answered_now"
    assert "180 kg" in robot_topic["proposal"] and "PR-9_Palletizing_Robot.md" in robot_topic["proposal"]
    assert runner.invoke(app, ["gaps", "confirm", robot_topic["id"], "--by", "mgr"]).exit_code == 0
    final = runner.invoke(app, ["gaps"])
    assert "1 open gaps" in final.output and "canteen" in final.output and "PR-9" not in final.output
    trail = runner.invoke(app, ["gaps", "history", robot_topic["id"], "--csv"]).output
    assert ",re-check,propose," in trail and ",mgr,confirm," in trail


def test_a_rejected_answer_sends_the_topic_back_to_where_it_was(settings, embedder) -> None:
    from assistant.topics import TopicBook

    log = GapLog(settings.gaps_db)
    log.record(_answer("spare fuse for the press?"), "T1")
    book = TopicBook(log)
    topics = group_questions(log.open_gaps(), embedder.embed_texts)
    book.sync(topics)
    [topic] = topics
    book.assign(topic.id, "J. Weber", "mgr")
    book.propose(topic.id, "The fuse is in the drawer [1].")
    book.reject(topic.id, "mgr", "wrong drawer")
    state = book.get(topic.id)
    assert (state.state, state.owner, state.proposal) == ("assigned", "J. Weber", None)
    assert [g.question for g in log.open_gaps()] == ["spare fuse for the press?"]


def test_threads_sharing_one_log_lose_no_row(tmp_path: Path) -> None:
    """The web app's handler threads share one GapLog: questions and feedback at the same time."""
    import threading

    log = GapLog(tmp_path / "gaps.sqlite")
    errors: list[Exception] = []

    def terminal(name: str) -> None:
        for i in range(100):
            try:
                log.feedback(log.record(_answer(f"{name} question {i}"), name), helpful=False)
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=terminal, args=(f"T{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert log.count() == 400 and len(log.open_gaps()) == 400


def test_a_gap_log_of_the_previous_release_upgrades_in_place(tmp_path: Path) -> None:
    """A log written before topics existed (migration m001 only) keeps every row and gains the topic tables."""
    from assistant import gap_migrations
    from assistant.gap_database import SQLITE

    path = tmp_path / "gaps.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    gap_migrations.m001_questions(old, SQLITE)
    old.execute("INSERT INTO _migrations VALUES ('m001_questions', '2026-11-01T00:00:00+00:00')")
    old.execute(
        "INSERT INTO questions (asked_at, terminal, question, answer, answered, sources, latency_s) VALUES"
        " ('2026-11-02T08:00:00+00:00', 'T1', 'canteen hours?', 'Not found', 0, '[]', 1.0)"
    )
    old.close()
    log = GapLog(path)
    assert [g.question for g in log.open_gaps()] == ["canteen hours?"]
    assert log.query("SELECT COUNT(*) FROM topics")[0][0] == 0


def test_a_topic_keeps_its_id_and_is_assigned_closed_and_audited_from_the_cli(embedder) -> None:
    from shopfloor.settings import load_settings

    log = GapLog(load_settings().gaps_db)
    for question in ("robot gripper bolt torque?", "What is the torque for the robot gripper bolts?"):
        log.record(_answer(question), "T1")
    log.record(_answer("When does the canteen open?"), "T2")
    runner = CliRunner()

    def topics() -> dict[str, dict]:
        result = runner.invoke(app, ["gaps", "--format", "json"])
        assert result.exit_code == 0, result.output
        return {t["id"]: t for t in map(json.loads, result.output.strip().splitlines())}

    first = topics()
    assert sorted(first) == ["T0001", "T0002"]
    gripper_id = next(i for i, t in first.items() if t["count"] == 2)
    log.record(_answer("How tight are the gripper bolts on the robot?"), "T3")
    assert topics()[gripper_id]["count"] == 3, "a new question joins the topic and it keeps its id"
    assign = ["gaps", "assign", gripper_id, "--owner", "J. Weber", "--due", "2026-12-15", "--by", "mgr"]
    assert runner.invoke(app, assign).exit_code == 0
    assert {"state": "assigned", "owner": "J. Weber", "due": "2026-12-15"}.items() <= topics()[gripper_id].items()
    assert runner.invoke(app, ["gaps", "close", gripper_id, "--note", "SOP-12 rev D", "--by", "mgr"]).exit_code == 0
    assert gripper_id not in topics(), "its questions left the open gaps"
    twice = runner.invoke(app, ["gaps", "close", gripper_id, "--by", "mgr"])
    assert isinstance(twice.exception, ShopfloorError) and "is closed: it cannot be close" in str(twice.exception)
    history = runner.invoke(app, ["gaps", "history", gripper_id, "--csv"])
    rows = [line.split(",") for line in history.output.strip().splitlines()[1:]]
    assert [(r[2], r[3]) for r in rows] == [("system", "opened"), ("mgr", "assign"), ("mgr", "close")]
    assert runner.invoke(app, ["gaps", "reopen", gripper_id, "--by", "mgr"]).exit_code == 0
    assert topics()[gripper_id]["count"] == 3
    unknown = runner.invoke(app, ["gaps", "assign", "T9999", "--owner", "x"])
    assert "no such topic" in str(unknown.exception)
    bad_due = runner.invoke(app, ["gaps", "assign", gripper_id, "--owner", "x", "--due", "soon"])
    assert "due 'soon': not a date" in str(bad_due.exception)
