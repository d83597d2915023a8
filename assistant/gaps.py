"""The knowledge-gap log: every question asked, and which ones the manuals could not answer.

SQLite in WAL mode with a generous busy timeout: many processes write at once, readers never block
writers, and a row is never lost to a momentary lock. Within one process (the web app's many
handler threads) the one connection is used by one thread at a time: interleaved transactions on
a shared connection fail ("cannot start a transaction within a transaction").
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from assistant.answering import Answer
from assistant.gap_migrations import migrate

BUSY_TIMEOUT_MS = 30_000
# A gap: a question not answered, or answered and marked unhelpful, that nobody has resolved yet. A
# question a policy rule sent to a person was not answered on purpose: the manuals lack nothing.
_OPEN = "(answered = 0 OR feedback = 'down') AND resolved_at IS NULL AND mode IS NOT 'directed'"
# A logged question as the map reads it (in this order: see _logged); where it belongs is read by
# SQLite, not by parsing each row's JSON.
_COLUMNS = (
    "id, asked_at, terminal, question, answer, answered, reason, equipment, sources, cited, feedback, feedback_reason,"
    " json_extract(cited, '$[0]'), json_extract(sources, '$[0].file'), language, question_en"
)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating and migrating as needed) the gap log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    migrate(db)
    return db


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

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _tuples(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples: several times cheaper than named rows when a map reads thousands."""
        with self._lock:
            cursor = self._db.cursor()
            cursor.row_factory = None
            return cursor.execute(sql, params).fetchall()

    def record(self, answer: Answer, terminal: str, equipment: str | None = None) -> int:
        """Log one question and what was answered; returns its id (for feedback)."""
        sources = [{"file": p.file, "page": p.page, "score": round(p.score, 4)} for p in answer.contexts]
        cited = sorted({c.doc_id for c in answer.citations}) if answer.answered else []
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO questions (asked_at, terminal, question, answer, answered, reason, sources, latency_s,"
                " equipment, cited, mode, policy_rule, language, question_en)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            )
            return int(cursor.lastrowid or 0)

    def feedback(self, question_id: int, helpful: bool, reason: str | None = None) -> None:
        """Thumbs up or down; a thumbs down makes the question a gap."""
        with self.transaction() as db:
            db.execute(
                "UPDATE questions SET feedback = ?, feedback_reason = ? WHERE id = ?",
                ("up" if helpful else "down", reason, question_id),
            )

    def open_gaps(self, since: str | None = None) -> list[LoggedQuestion]:
        rows = self._tuples(
            f"SELECT {_COLUMNS}, 1 AS open FROM questions WHERE {_OPEN} AND asked_at >= ? ORDER BY id",
            (since or "",),
        )
        return [_logged(row) for row in rows]

    def questions(self, since: str | None = None) -> list[LoggedQuestion]:
        """Every question since a date but those a policy rule sent to a person: what the floor asked
        the documentation, answered or not."""
        rows = self._tuples(
            f"SELECT {_COLUMNS}, {_OPEN} AS open FROM questions WHERE asked_at >= ? AND mode IS NOT 'directed'"
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
                known[row["text"]] = np.frombuffer(row["vector"], dtype=np.float32)
        missing = [t for t in wanted if t not in known]
        if missing:
            fresh = np.asarray(embed(missing), dtype=np.float32)
            with self.transaction() as db:
                db.executemany(
                    "INSERT OR IGNORE INTO question_vectors (text, vector) VALUES (?, ?)",
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
        """Counted by SQLite: the figures of a long log without reading it into Python."""
        since = since or ""
        n, answered, down, gaps = self.query(
            f"SELECT COUNT(*), TOTAL(answered), TOTAL(feedback IS 'down'), TOTAL({_OPEN}) FROM questions"
            " WHERE asked_at >= ?",
            (since,),
        )[0]
        middle = self.query(  # the one or two latencies in the middle
            "SELECT latency_s FROM questions WHERE asked_at >= ? ORDER BY latency_s LIMIT ? OFFSET ?",
            (since, 2 - n % 2, max(n - 1, 0) // 2),
        )
        return Figures(
            questions=n,
            answered_pct=100 * answered / n if n else 0.0,
            thumbs_down_pct=100 * down / n if n else 0.0,
            median_latency_s=median(r[0] for r in middle) if n else 0.0,
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
            "SELECT question, SUM(feedback IS 'up') AS up, COUNT(*) AS asked, MAX(asked_at) AS last"
            " FROM questions WHERE answered = 1 GROUP BY lower(trim(question))"
            " HAVING SUM(feedback IS 'down') = 0 ORDER BY up DESC, asked DESC, last DESC LIMIT ?",
            (limit,),
        )
        return [str(row["question"]) for row in rows]

    def citation_counts(self, since: str | None = None) -> dict[str, tuple[int, int]]:
        """Per document id: (answers citing it, of those marked unhelpful) since a date."""
        rows = self.query(
            "SELECT doc.value, COUNT(*), TOTAL(q.feedback IS 'down') FROM questions q, json_each(q.cited) doc"
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
    """A row of `SELECT {_COLUMNS}, <open>`, read by position: a map reads tens of thousands."""
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
