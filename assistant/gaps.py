"""The knowledge-gap log: every question asked, and which ones the manuals could not answer.

Kept in SQLite in the home folder, or in one PostgreSQL server that several app servers share
(`gap_log_url`); assistant/gap_database.py holds what differs between the two.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from assistant.answering import Answer
from assistant.gap_database import Database, Row, Transaction, open_database
from assistant.gap_migrations import migrate

# A gap: a question not answered, or answered and marked unhelpful, that nobody has resolved yet. A
# question a policy rule sent to a person was not answered on purpose: the manuals lack nothing.
_OPEN = "(answered = 0 OR feedback = 'down') AND resolved_at IS NULL AND COALESCE(mode, '') <> 'directed'"


def _count(condition: str) -> str:
    """SQL counting the rows where a condition holds (0 over no rows)."""
    return f"COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0)"


# A question's row but its number: what a spool hands over to the shared log.
_QUESTION_FIELDS = (
    "asked_at, terminal, question, answer, answered, reason, sources, latency_s, equipment, feedback,"
    " feedback_reason, resolved_at, cited, mode, policy_rule, language, question_en, spool_token"
)
_THUMBS_DOWN = _count("feedback = 'down'")
_THUMBS_UP = _count("feedback = 'up'")


@dataclass(slots=True)
class LoggedQuestion:
    """A question as the gap log holds it. It is a gap (`open`) when the manuals did not answer it, or
    the operator marked the answer unhelpful, and nobody has resolved it yet."""

    id: int
    asked_at: str
    terminal: str
    question: str
    reason: str
    equipment: str | None  # the equipment the operator narrowed the question to
    kind: str = "not found"  # or "answered wrong" (answered, marked unhelpful), or "answered"
    answered: bool = False
    thumbs_down: bool = False
    open: bool = True
    answer: str = ""
    # JSON as stored, read when asked for: a map of 50,000 questions reads few of them.
    sources_json: str = "[]"
    cited_json: str = "[]"
    first_cited: str | None = None  # the document its answer cited first (read by SQLite)
    first_source: str | None = None  # the file of the passage retrieved first
    language: str = "en"  # the language it was asked in
    question_en: str = ""  # its English rendering (the question itself when asked in English)

    @property
    def meaning(self) -> str:
        """What the map groups on: the question in English, whatever language it was asked in."""
        return self.question_en or self.question

    @property
    def carried(self) -> bool:
        """Answered, and not marked unhelpful: the answer carried the operator."""
        return self.answered and not self.thumbs_down

    @property
    def sources(self) -> list[dict[str, object]]:
        """The passages retrieved: file, page, score."""
        return list(json.loads(self.sources_json))

    @property
    def cited(self) -> list[str]:
        """Document ids the answer cited."""
        return list(json.loads(self.cited_json))


@dataclass
class Figures:
    """Answer-rate and feedback figures for a period."""

    questions: int
    answered_pct: float
    thumbs_down_pct: float
    median_latency_s: float
    open_gaps: int


class GapLog:
    """Records questions and feedback; lists, resolves and counts the gaps."""

    def __init__(self, location: Path | str) -> None:
        """`location`: the SQLite file, or a postgresql:// URL. Created and migrated as needed."""
        self._db: Database = open_database(location)
        migrate(self._db)
        dialect = self._db.dialect
        # A logged question as the map reads it (in this order: see _logged); where it belongs is read
        # by the database, not by parsing each row's JSON.
        self._columns = (
            "id, asked_at, terminal, question, answer, answered, reason, equipment, sources, cited, feedback,"
            f" feedback_reason, {dialect.json_at('cited', 0)}, {dialect.json_at('sources', 0, 'file')}, language,"
            " question_en"
        )
        self._cited_items = dialect.json_items("q.cited", "doc")

    def close(self) -> None:
        self._db.close()

    def transaction(self) -> AbstractContextManager[Transaction]:
        return self._db.transaction()

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[Row]:
        return self._db.query(sql, params)

    def record(self, answer: Answer, terminal: str, equipment: str | None = None) -> int:
        """Log one question and what was answered; returns its id (for feedback)."""
        sources = [{"file": p.file, "page": p.page, "score": round(p.score, 4)} for p in answer.contexts]
        cited = sorted({c.doc_id for c in answer.citations}) if answer.answered else []
        with self.transaction() as db:
            row = db.execute(
                "INSERT INTO questions (asked_at, terminal, question, answer, answered, reason, sources, latency_s,"
                " equipment, cited, mode, policy_rule, language, question_en)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    _now(),
                    terminal,
                    answer.question,
                    answer.answer,
                    int(answer.answered),
                    answer.reason,
                    json.dumps(sources),
                    answer.latency_s,
                    equipment,
                    json.dumps(cited),
                    answer.mode,
                    answer.rule,
                    answer.language,
                    answer.question_en or answer.question,
                ),
            ).fetchone()
            return int(row[0])

    def move_into(self, other: GapLog) -> int:
        """Hand every question of this log to `other`, oldest first, and keep none (a spool kept
        while the shared log was down). They leave this log only once the other holds them; each
        carries a token, committed here first, so a hand-over cut short between the two commits is
        repeated without doubling a question in the other."""
        with self.transaction() as db:
            for (question_id,) in db.execute("SELECT id FROM questions WHERE spool_token IS NULL").fetchall():
                db.execute("UPDATE questions SET spool_token = ? WHERE id = ?", (uuid.uuid4().hex, question_id))
        with self.transaction() as db:
            rows = [
                tuple(row) for row in db.execute(f"SELECT {_QUESTION_FIELDS} FROM questions ORDER BY id").fetchall()
            ]
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                with other.transaction() as target:
                    target.executemany(
                        f"INSERT INTO questions ({_QUESTION_FIELDS}) VALUES ({marks})"
                        " ON CONFLICT (spool_token) DO NOTHING",
                        rows,
                    )
                db.execute("DELETE FROM questions")
        return len(rows)

    def feedback(self, question_id: int, helpful: bool, reason: str | None = None) -> None:
        """Thumbs up or down; a thumbs down makes the question a gap."""
        with self.transaction() as db:
            db.execute(
                "UPDATE questions SET feedback = ?, feedback_reason = ? WHERE id = ?",
                ("up" if helpful else "down", reason, question_id),
            )

    def open_gaps(self, since: str | None = None) -> list[LoggedQuestion]:
        rows = self._db.tuples(
            f"SELECT {self._columns}, 1 AS open FROM questions WHERE {_OPEN} AND asked_at >= ? ORDER BY id",
            (since or "",),
        )
        return [_logged(row) for row in rows]

    def questions(self, since: str | None = None) -> list[LoggedQuestion]:
        """Every question since a date but those a policy rule sent to a person: what the floor asked
        the documentation, answered or not."""
        rows = self._db.tuples(
            f"SELECT {self._columns}, {_OPEN} AS open FROM questions WHERE asked_at >= ?"
            " AND COALESCE(mode, '') <> 'directed'"
            " ORDER BY id",
            (since or "",),
        )
        return [_logged(row) for row in rows]

    def question_vectors(self, texts: list[str], embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """The meaning vectors of questions (one row per text), embedded once and kept: the map of a
        long log is regrouped on every view without embedding its questions again."""
        known: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(texts))
        for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.query(f"SELECT text, vector FROM question_vectors WHERE text IN ({marks})", tuple(chunk)):
                known[row["text"]] = np.frombuffer(bytes(row["vector"]), dtype=np.float32)
        missing = [t for t in wanted if t not in known]
        if missing:
            fresh = np.asarray(embed(missing), dtype=np.float32)
            with self.transaction() as db:
                db.executemany(
                    "INSERT INTO question_vectors (text, vector) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [(t, v.tobytes()) for t, v in zip(missing, fresh, strict=True)],
                )
            known.update(zip(missing, fresh, strict=True))
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)

    def has_open_gaps(self) -> bool:
        """Whether any gap is open: one indexed row read, not the whole log."""
        return bool(self.query(f"SELECT 1 FROM questions WHERE {_OPEN} LIMIT 1"))

    def resolve(self, question_ids: list[int]) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE questions SET resolved_at = ? WHERE id = ?", [(_now(), i) for i in question_ids])

    def figures(self, since: str | None = None) -> Figures:
        """Counted by the database: the figures of a long log without reading it into Python."""
        since = since or ""
        [counts] = self.query(
            f"SELECT COUNT(*), COALESCE(SUM(answered), 0), {_THUMBS_DOWN}, {_count(_OPEN)}"
            " FROM questions WHERE asked_at >= ?",
            (since,),
        )
        n, answered, down, gaps = (int(counts[i]) for i in range(4))
        middle = self.query(  # the one or two latencies in the middle
            "SELECT latency_s FROM questions WHERE asked_at >= ? ORDER BY latency_s LIMIT ? OFFSET ?",
            (since, 2 - n % 2, max(n - 1, 0) // 2),
        )
        return Figures(
            questions=n,
            answered_pct=100 * answered / n if n else 0.0,
            thumbs_down_pct=100 * down / n if n else 0.0,
            median_latency_s=float(median(r[0] for r in middle)) if n else 0.0,
            open_gaps=int(gaps),
        )

    def daily_counts(self, since: str | None = None) -> list[tuple[str, int, int]]:
        """(day, answered, not answered) per day, for the trend plot."""
        rows = self.query(
            "SELECT substr(asked_at, 1, 10) AS day, SUM(answered), SUM(1 - answered) FROM questions"
            " WHERE asked_at >= ? GROUP BY day ORDER BY day",
            (since or "",),
        )
        return [(row[0], int(row[1]), int(row[2])) for row in rows]

    def well_answered(self, limit: int) -> list[str]:
        """Questions the manuals answered and no operator marked unhelpful: thumbs up first, then
        the most asked, then the latest."""
        rows = self.query(
            f"SELECT MIN(question), {_THUMBS_UP} AS up, COUNT(*) AS asked, MAX(asked_at) AS last"
            f" FROM questions WHERE answered = 1 GROUP BY lower(trim(question))"
            f" HAVING {_THUMBS_DOWN} = 0 ORDER BY up DESC, asked DESC, last DESC LIMIT ?",
            (limit,),
        )
        return [str(row[0]) for row in rows]

    def citation_counts(self, since: str | None = None) -> dict[str, tuple[int, int]]:
        """Per document id: (answers citing it, of those marked unhelpful) since a date."""
        rows = self.query(
            f"SELECT doc.value, COUNT(*), {_THUMBS_DOWN} FROM questions q, {self._cited_items}"
            " WHERE q.answered = 1 AND q.cited IS NOT NULL AND q.asked_at >= ? GROUP BY doc.value",
            (since or "",),
        )
        return {str(row[0]): (int(row[1]), int(row[2])) for row in rows}

    def rule_counts(self, since: str | None = None) -> dict[str, int]:
        """How often each policy rule fired since a date."""
        rows = self.query(
            "SELECT policy_rule, COUNT(*) FROM questions WHERE policy_rule IS NOT NULL AND asked_at >= ?"
            " GROUP BY policy_rule",
            (since or "",),
        )
        return {str(row[0]): int(row[1]) for row in rows}

    def count(self) -> int:
        return int(self.query("SELECT COUNT(*) FROM questions")[0][0])


def _logged(row: tuple[Any, ...]) -> LoggedQuestion:
    """A row of `SELECT <GapLog._columns>, <open>`, read by position: a map reads tens of thousands."""
    (id_, asked_at, terminal, question, answer, answered, reason, equipment, sources, cited, feedback,
     feedback_reason, first_cited, first_source, language, question_en, is_open) = row  # fmt: skip
    down = feedback == "down"
    if down:
        reason = "operator marked it unhelpful" + (f": {feedback_reason}" if feedback_reason else "")
    elif answered:
        reason = ""
    kind = ("answered wrong" if down else "answered") if answered else "not found"
    return LoggedQuestion(
        id=id_,
        asked_at=asked_at,
        terminal=terminal,
        question=question,
        reason=reason or ("" if answered else "not answered"),
        equipment=equipment,
        kind=kind,
        answered=bool(answered),
        thumbs_down=down,
        open=bool(is_open),
        answer=answer,
        sources_json=sources,
        cited_json=cited or "[]",
        first_cited=first_cited,
        first_source=first_source,
        language=language or "en",
        question_en=question_en or question,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
