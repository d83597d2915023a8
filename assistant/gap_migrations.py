"""Numbered schema migrations of the gap log, the same for SQLite and PostgreSQL (the dialect
spells the auto-numbered key and bytes). An applied migration is never edited: a fix is a new one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from assistant.gap_database import Database, Dialect, Transaction

Migration = Callable[[Transaction, Dialect], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(function: Migration) -> Migration:
    MIGRATIONS.append((function.__name__, function))
    return function


@migration
def m001_questions(db: Transaction, dialect: Dialect) -> None:
    db.execute(
        f"""CREATE TABLE questions (
            id {dialect.key_column},
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


@migration
def m002_topics(db: Transaction, dialect: Dialect) -> None:
    """Topics as work items: a stable id, a state, an owner; which questions belong to each; and
    every change with who and when."""
    db.execute(
        """CREATE TABLE topics (
            id TEXT PRIMARY KEY,
            label TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('open', 'assigned', 'documented', 'answered_now', 'closed',
                                                 'wont_document')),
            owner TEXT,
            due TEXT,
            note TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE topic_questions (
            question_id INTEGER PRIMARY KEY REFERENCES questions (id),
            topic_id TEXT NOT NULL REFERENCES topics (id)
        )"""
    )
    db.execute("CREATE INDEX topic_questions_topic ON topic_questions (topic_id)")
    db.execute(
        f"""CREATE TABLE topic_events (
            id {dialect.key_column},
            topic_id TEXT NOT NULL REFERENCES topics (id),
            at TEXT NOT NULL,
            who TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT
        )"""
    )
    db.execute("CREATE INDEX topic_events_topic ON topic_events (topic_id, at)")


@migration
def m003_topic_proposals(db: Transaction, dialect: Dialect) -> None:
    """A re-check never closes a topic: it proposes the new answer, and the state to return to if the
    manager rejects it."""
    db.execute("ALTER TABLE topics ADD COLUMN proposal TEXT")
    db.execute("ALTER TABLE topics ADD COLUMN state_before TEXT")


@migration
def m004_cited(db: Transaction, dialect: Dialect) -> None:
    """The documents an answer cited (JSON list of document ids): how often each manual carries the
    floor, and how often its answers get a thumbs down."""
    db.execute("ALTER TABLE questions ADD COLUMN cited TEXT")


@migration
def m005_policy(db: Transaction, dialect: Dialect) -> None:
    """How each question was answered (composed, quoted, directed, refused) and the manager's policy
    rule it fell under: a question directed to a person by a rule is not a documentation gap."""
    db.execute("ALTER TABLE questions ADD COLUMN mode TEXT")
    db.execute("ALTER TABLE questions ADD COLUMN policy_rule TEXT")


@migration
def m006_question_vectors(db: Transaction, dialect: Dialect) -> None:
    """Each distinct question's meaning vector, embedded once: the map of a long log is regrouped on
    every view without embedding its questions again."""
    db.execute(f"CREATE TABLE question_vectors (text TEXT PRIMARY KEY, vector {dialect.bytes_type} NOT NULL)")
    db.execute("CREATE INDEX questions_open ON questions (resolved_at, answered, feedback)")


@migration
def m007_languages(db: Transaction, dialect: Dialect) -> None:
    """The language a question was asked in and its English rendering: the knowledge map groups the
    same need asked in German and in Spanish into one topic."""
    db.execute("ALTER TABLE questions ADD COLUMN language TEXT")
    db.execute("ALTER TABLE questions ADD COLUMN question_en TEXT")


@migration
def m008_spool_tokens(db: Transaction, dialect: Dialect) -> None:
    """A spooled question's token, unique: a hand-over to the shared log cut short after the shared
    log took the questions (and before the spool let them go) is repeated without doubling them."""
    db.execute("ALTER TABLE questions ADD COLUMN spool_token TEXT")
    db.execute("CREATE UNIQUE INDEX questions_spool_token ON questions (spool_token)")


def migrate(database: Database) -> None:
    """Apply the missing migrations in order, each in its own transaction with its record. Writers
    take turns, so two servers starting at once apply each migration once. An up-to-date log is only
    read: opening it (every app server start, every spool) takes no writer's turn."""
    if not database.query(database.dialect.table_exists, ("_migrations",)):
        with database.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied = {row[0] for row in database.query("SELECT name FROM _migrations")}
    for name, function in MIGRATIONS:
        if name in applied:
            continue
        with database.transaction() as db:
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone() is None:
                function(db, database.dialect)
                db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, datetime.now(UTC).isoformat()))
