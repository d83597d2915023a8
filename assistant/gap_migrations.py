"""Numbered schema migrations of the gap log. An applied migration is never edited: a fix is a new one."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = []


def migration(function: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append((function.__name__, function))
    return function


@migration
def m001_questions(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE questions (
            id INTEGER PRIMARY KEY,
            asked_at TEXT NOT NULL,
            terminal TEXT NOT NULL,
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            answered INTEGER NOT NULL,
            reason TEXT,
            sources TEXT NOT NULL,
            latency_s REAL NOT NULL,
            equipment TEXT,
            feedback TEXT CHECK (feedback IN ('up', 'down')),
            feedback_reason TEXT,
            resolved_at TEXT
        )"""
    )
    db.execute("CREATE INDEX questions_asked_at ON questions (asked_at)")


def migrate(db: sqlite3.Connection) -> None:
    """Apply the missing migrations in order, each in its own transaction with its record."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    for name, function in MIGRATIONS:
        if name in applied:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone() is None:
                function(db)
                db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, datetime.now(UTC).isoformat()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
