"""The gap log on a real PostgreSQL server (`gap_log_url`): the same log, topics and figures as on
SQLite; many processes writing at once; the migrations applied once by servers starting together."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.answering import Answer, Citation
from assistant.gap_migrations import MIGRATIONS
from assistant.gaps import GapLog
from assistant.knowledge_map import group_questions
from assistant.retrieval import Passage
from assistant.topics import TopicBook
from shopfloor.errors import ShopfloorError
from tests.conftest import ROOT, chunk_meta
from ui.cli import app


def _answer(question: str, mode: str, doc: str | None = None, **fields: Any) -> Answer:
    passage = Passage("n1", "text", chunk_meta(file=f"{doc or 'other'}.pdf", page=4), 0.8, 0.7, 3.0)
    citations = [Citation(1, f"{doc}.pdf", 4, "4", "Maintenance", "text", doc)] if doc else []
    answered = mode in ("composed", "quoted")
    return Answer(
        question=question,
        answered=answered,
        answer="Every 2,000 hours [1]." if answered else "Not found in the manuals.",
        citations=citations,
        contexts=[passage],
        reason=None if answered else "no relevant passage",
        latency_s=3.5,
        mode=mode,
        **fields,
    )


def _a_week_of_questions(location: Path | str, embed: Any) -> dict[str, Any]:
    """Everything the manager's views read from a gap log, after a small week of questions."""
    log = GapLog(location)
    first = log.record(_answer("hydraulic oil interval HP-200?", "composed", "hp200"), "T1", equipment="HP-200")
    log.feedback(first, helpful=True)
    log.record(_answer("Hydraulic oil interval HP-200? ", "composed", "hp200"), "T2")
    wrong = log.record(_answer("press ram torque?", "composed", "hp200"), "T1")
    log.feedback(wrong, helpful=False, reason="wrong value")
    log.record(_answer("canteen hours?", "refused"), "T3")
    log.record(_answer("When does the canteen open?", "refused"), "T2")
    log.record(_answer("lockout the main breaker?", "directed", rule="electrical"), "T1")
    log.record(
        _answer("Wann öffnet die Kantine?", "refused", language="de", question_en="When does the canteen open?"), "T4"
    )
    resolved = log.record(_answer("spare fuse type?", "refused"), "T3")
    log.resolve([resolved])
    book = TopicBook(log)
    topics = group_questions(log.open_gaps(), lambda texts: log.question_vectors(texts, embed))
    book.sync(topics, who="manager")
    book.assign(topics[0].id, "J. Weber", who="manager", due="2026-12-15")
    book.close(topics[0].id, who="manager", note="added to the canteen notice")
    view = {
        "open_gaps": [_fields(q) for q in log.open_gaps()],
        "questions": [_fields(q) for q in log.questions()],
        "figures": asdict(log.figures()),
        "daily": [(answered, refused) for _, answered, refused in log.daily_counts()],
        "well_answered": log.well_answered(10),
        "citations": log.citation_counts(),
        "rules": log.rule_counts(),
        "count": log.count(),
        "has_open_gaps": log.has_open_gaps(),
        "topics": [(t.id, t.label, t.count) for t in topics],
        "topic": asdict(book.get(topics[0].id)),
        "history": [(e.topic_id, e.who, e.action, e.detail) for e in book.history()],
        "changes": [(c.topic_id, c.action, c.first_asked is not None) for c in book.changes()],
        "vectors": log.question_vectors(["canteen hours?", "spare fuse type?"], embed).round(5).tolist(),
    }
    log.close()
    return view


def _fields(q: Any) -> tuple[Any, ...]:
    return (
        q.id, q.terminal, q.question, q.kind, q.reason, q.equipment, q.answered, q.thumbs_down, q.open, q.answer,
        q.sources, q.cited, q.first_cited, q.first_source, q.language, q.question_en,
    )  # fmt: skip


def test_postgresql_keeps_the_same_log_topics_and_figures_as_sqlite(
    tmp_path: Path, postgres_gap_log: str, embedder
) -> None:
    on_sqlite = _a_week_of_questions(tmp_path / "gaps.sqlite", embedder.embed_texts)
    on_postgres = _a_week_of_questions(postgres_gap_log, embedder.embed_texts)
    for part, expected in on_sqlite.items():
        assert on_postgres[part] == expected, part
    # and what it holds is right, not only the same
    assert on_sqlite["figures"]["questions"] == 8 and on_sqlite["figures"]["open_gaps"] == 1
    assert on_sqlite["citations"] == {"hp200": (3, 1)} and on_sqlite["rules"] == {"electrical": 1}
    assert on_sqlite["well_answered"] == ["Hydraulic oil interval HP-200? "]
    assert [q[2] for q in on_sqlite["open_gaps"]] == ["press ram torque?"], "the canteen topic was closed"
    assert [h[2] for h in on_sqlite["history"]][-2:] == ["assign", "close"]


# One terminal process writing its questions: a real separate interpreter, as a second app server is.
_WRITER = """
import sys
from assistant.answering import Answer
from assistant.gaps import GapLog
location, terminal, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
log = GapLog(location)
for i in range(count):
    log.feedback(log.record(Answer(question=f"{terminal} question {i}", answered=True, answer="x"), terminal), False)
log.close()
"""


@pytest.mark.slow
def test_processes_starting_and_writing_at_once_lose_no_row_and_migrate_once(postgres_gap_log: str) -> None:
    """Six processes open a new PostgreSQL gap log at the same moment (each applies the migrations
    it finds missing) and write 50 questions each, with feedback."""
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, postgres_gap_log, f"T{i}", "50"],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    failures = [w.stderr.read() if w.stderr else "" for w in writers if w.wait(timeout=120) != 0]
    assert failures == []
    log = GapLog(postgres_gap_log)
    assert log.count() == 300
    assert len({g.question for g in log.open_gaps()}) == 300, "every row kept, every thumbs down on its own row"
    assert [r[0] for r in log.query("SELECT name FROM _migrations ORDER BY name")] == sorted(n for n, _ in MIGRATIONS)


_QUESTION = "What is the coolant mix ratio?"


def test_the_setting_sends_the_cli_to_postgresql(sample_index: Path, postgres_gap_log: str, monkeypatch) -> None:
    monkeypatch.setenv("SHOPFLOOR_GAP_LOG_URL", postgres_gap_log)
    monkeypatch.setenv("SHOPFLOOR_TERMINAL_ID", "T-PG")
    result = CliRunner().invoke(app, ["ask", _QUESTION, "--index", str(sample_index), "--no-llm"])
    assert result.exit_code == 0, result.output
    [logged] = GapLog(postgres_gap_log).questions()
    assert (logged.terminal, logged.question) == ("T-PG", _QUESTION)
    assert not Path("home/gaps.sqlite").exists(), "nothing written to the embedded log"


def test_an_unreachable_database_is_one_line_without_the_password(sample_index: Path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPFLOOR_GAP_LOG_URL", "postgresql://shopfloor:s3cret@127.0.0.1:9/gaps")
    result = CliRunner().invoke(app, ["gaps", "--index", str(sample_index)])
    assert isinstance(result.exception, ShopfloorError), result.output  # the console prints it as one line
    message = str(result.exception)
    assert message.startswith("gap log postgresql://shopfloor:***@127.0.0.1:9/gaps: cannot connect (")
    assert "s3cret" not in message and "\n" not in message


def test_a_gap_log_url_that_is_not_postgresql_is_refused_at_start(monkeypatch) -> None:
    monkeypatch.setenv("SHOPFLOOR_GAP_LOG_URL", "mysql://db/gaps")
    result = CliRunner().invoke(app, ["gaps"])
    assert isinstance(result.exception, ShopfloorError)
    assert str(result.exception).startswith("invalid setting gap_log_url (SHOPFLOOR_GAP_LOG_URL)")
    assert str(result.exception).endswith("must be a postgresql:// URL")


def test_questions_asked_while_the_database_is_down_reach_it_when_it_is_back(
    sample_index: Path, settings, embedder
) -> None:
    """The operator still gets the answer; the question waits in a spool on the app server and
    joins the shared log, in order, with the first question after the database is back."""
    from pydantic import SecretStr

    from tests.postgres import fresh_database, postgres_server
    from ui.usecases import Shopfloor

    with postgres_server() as server:  # its own server: this test stops it
        url = fresh_database(server.url, "spooled")
        update = {"index_dir": sample_index, "gap_log_url": SecretStr(url)}
        floor = Shopfloor(settings.model_copy(update=update), use_llm=False, embedder=embedder)
        assert floor.ask("What torque for the ram guide bolts?", terminal="T1").question_id is not None
        server.stop()
        while_down = floor.ask("What torque for the ram guide bolts?", terminal="T2")
        assert while_down.answer.answered and "95 Nm" in while_down.answer.answer
        assert while_down.question_id is None, "no row to give feedback on yet"
        server.start()
        assert floor.ask("canteen opening hours?", terminal="T3").question_id is not None
        logged = GapLog(url).questions()
    assert [(q.terminal, q.answered) for q in logged] == [("T1", True), ("T2", True), ("T3", False)]
    assert logged[1].question == "What torque for the ram guide bolts?" and "95 Nm" in logged[1].answer
    assert not (settings.home / "gaps-spool.sqlite").exists(), "handed over, the spool is removed"


def test_a_hand_over_cut_short_is_repeated_without_doubling_a_question(tmp_path: Path, postgres_gap_log: str) -> None:
    """The shared log took the spool's questions, then the app server died before the spool let
    them go: the next hand-over finds them already there and adds none twice."""
    import sqlite3

    spool = GapLog(tmp_path / "gaps-spool.sqlite")
    for terminal in ("T1", "T2"):
        spool.record(_answer("coolant mix ratio?", "refused"), terminal)
    shared = GapLog(postgres_gap_log)

    def no_delete(action: int, table: str | None, *_: object) -> int:
        return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_DELETE and table == "questions" else sqlite3.SQLITE_OK

    spool._db._db.set_authorizer(no_delete)  # type: ignore[attr-defined]  # the spool's delete fails: a death there
    with pytest.raises(sqlite3.DatabaseError):
        spool.move_into(shared)
    assert [q.terminal for q in shared.questions()] == ["T1", "T2"], "the shared log committed first"
    assert spool.count() == 2, "the spool kept them"
    spool._db._db.set_authorizer(None)  # type: ignore[attr-defined]
    assert spool.move_into(shared) == 2 and spool.count() == 0
    assert [q.terminal for q in shared.questions()] == ["T1", "T2"], "each question once"
