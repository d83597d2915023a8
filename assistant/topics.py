"""The knowledge map's topics as work a person owns: a stable id, a state, an owner and due date,
and an audit trail of every change (who, when, what).

A topic keeps its id as new questions join it: a question, once in a topic, stays there, and a new
question joins the topic most of its group (see knowledge_map.group_questions) already belongs to. Closing
a topic, or deciding it will not be documented, takes its questions off the open gaps; reopening puts
them back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from assistant.gap_database import Row, Transaction
from assistant.gaps import GapLog
from assistant.knowledge_map import Topic
from assistant.outcomes import TopicChange
from shopfloor.errors import ShopfloorError

STATES = ("open", "assigned", "documented", "answered_now", "closed", "wont_document")
_WORKING = frozenset({"open", "assigned", "documented", "answered_now"})
_DONE = frozenset({"closed", "wont_document"})
# action: (the states it may be taken from, the state it leads to)
_MOVES = {
    "assign": (_WORKING, "assigned"),
    "document": (frozenset({"open", "assigned"}), "documented"),
    "close": (_WORKING, "closed"),
    "wont_document": (_WORKING, "wont_document"),
    "reopen": (_DONE, "open"),
    "propose": (frozenset({"open", "assigned", "documented"}), "answered_now"),
    "confirm": (frozenset({"answered_now"}), "closed"),
    "reject": (frozenset({"answered_now"}), "open"),  # or the state it had before (see reject)
}


@dataclass
class TopicEvent:
    """One change of a topic, as the audit trail shows it."""

    topic_id: str
    at: str
    who: str
    action: str
    detail: str


@dataclass
class TopicState:
    """Where a topic stands."""

    id: str
    label: str
    state: str
    owner: str | None
    due: str | None
    note: str | None
    proposal: str | None = None  # the answer a re-check found, waiting for the manager


class TopicBook:
    """The topics' ids, states and history, kept in the gap log's database."""

    def __init__(self, gap_log: GapLog) -> None:
        self._log = gap_log

    def sync(self, topics: list[Topic], who: str = "system") -> None:
        """Give each grouped topic its stable id and state: the id most of its placed questions
        carry; a group with open gaps and no placed question opens a new topic. A group that never
        had a gap (the manuals carry it) is no work item and gets no id. One transaction, taken only
        when there is something to write: a map view must not hold up the terminals' logging."""
        placed = {r[0]: r[1] for r in self._log.query("SELECT question_id, topic_id FROM topic_questions")}
        if not any(_needs_placing(topic, placed) for topic in topics):
            rows = {r["id"]: r for r in self._log.query("SELECT * FROM topics")}
            for topic in topics:
                owners = Counter(placed[q.id] for q in topic.questions if q.id in placed)
                if owners:
                    _describe(topic, rows[_owner(owners)])
            return
        with self._log.transaction() as db:
            placed = {r[0]: r[1] for r in db.execute("SELECT question_id, topic_id FROM topic_questions").fetchall()}
            rows = {r["id"]: r for r in db.execute("SELECT * FROM topics").fetchall()}
            for topic in topics:
                owners = Counter(placed[q.id] for q in topic.questions if q.id in placed)
                if owners:
                    topic_id = _owner(owners)
                elif topic.count:
                    topic_id = f"T{len(rows) + 1:04d}"
                    now = _now()
                    db.execute(
                        "INSERT INTO topics (id, label, state, created_at, updated_at) VALUES (?, ?, 'open', ?, ?)",
                        (topic_id, topic.label, now, now),
                    )
                    _event(db, topic_id, who, "opened", topic.label)
                    rows[topic_id] = db.execute("SELECT * FROM topics WHERE id = ?", (topic_id,)).fetchone()
                else:
                    continue
                joining = [(q.id, topic_id) for q in topic.questions if q.id not in placed]
                db.executemany("INSERT INTO topic_questions (question_id, topic_id) VALUES (?, ?)", joining)
                placed.update(joining)
                _describe(topic, rows[topic_id])

    def get(self, topic_id: str) -> TopicState:
        rows = self._log.query("SELECT * FROM topics WHERE id = ?", (topic_id,))
        if not rows:
            raise ShopfloorError(f"topic {topic_id!r}: no such topic (see `shopfloor gaps`)")
        row = rows[0]
        return TopicState(row["id"], row["label"], row["state"], row["owner"], row["due"], row["note"], row["proposal"])

    def assign(self, topic_id: str, owner: str, who: str, due: str | None = None, note: str | None = None) -> None:
        if not owner.strip():
            raise ShopfloorError(f"topic {topic_id}: an owner is needed to assign it")
        detail = f"to {owner}" + (f", due {due}" if due else "") + (f": {note}" if note else "")
        self._move(topic_id, "assign", who, detail, owner=owner.strip(), due=due, note=note)

    def document(self, topic_id: str, who: str, documents: list[str]) -> None:
        """A new or revised document for the topic was ingested; a re-check will say if it answers."""
        self._move(topic_id, "document", who, "ingested " + ", ".join(documents))

    def check_can_document(self, topic_id: str) -> None:
        """Refused before an ingest, not after it: an unknown topic, or one that is not open or assigned."""
        state = self.get(topic_id).state
        if state not in _MOVES["document"][0]:
            raise ShopfloorError(f"topic {topic_id} is {state}: only an open or assigned topic can be documented")

    def close(self, topic_id: str, who: str, note: str | None = None) -> None:
        """Confirmed closed by the manager: the documentation now covers it."""
        self._move(topic_id, "close", who, note or "", note=note)

    def wont_document(self, topic_id: str, who: str, reason: str) -> None:
        if not reason.strip():
            raise ShopfloorError(f"topic {topic_id}: say why it will not be documented")
        self._move(topic_id, "wont_document", who, reason, note=reason)

    def reopen(self, topic_id: str, who: str, note: str | None = None) -> None:
        self._move(topic_id, "reopen", who, note or "", note=note)

    def propose(self, topic_id: str, proposal: str, who: str = "re-check") -> None:
        """The index now answers the topic: it waits, with the answer, for the manager to confirm."""
        before = self.get(topic_id).state
        self._move(topic_id, "propose", who, proposal, proposal=proposal, state_before=before)

    def confirm(self, topic_id: str, who: str) -> None:
        """The manager accepts the proposed answer: the topic is closed."""
        self._move(topic_id, "confirm", who, self.get(topic_id).proposal or "")

    def reject(self, topic_id: str, who: str, note: str | None = None) -> None:
        """The manager rejects the proposed answer: the topic goes back to where it was."""
        current = self.get(topic_id)
        if current.state != "answered_now":
            raise ShopfloorError(f"topic {topic_id} is {current.state}: it has no answer to reject")
        back = self._log.query("SELECT state_before FROM topics WHERE id = ?", (topic_id,))[0][0] or "open"
        self._move(topic_id, "reject", who, note or "", target=back)

    def history(self, topic_id: str | None = None) -> list[TopicEvent]:
        """The audit trail, oldest first: of one topic, or of all."""
        if topic_id is not None:
            self.get(topic_id)  # an unknown id is an error, not an empty history
        if topic_id is None:
            rows = self._log.query("SELECT * FROM topic_events ORDER BY id")
        else:
            rows = self._log.query("SELECT * FROM topic_events WHERE topic_id = ? ORDER BY id", (topic_id,))
        return [TopicEvent(r["topic_id"], r["at"], r["who"], r["action"], r["detail"] or "") for r in rows]

    def changes(self, since: str | None = None) -> list[TopicChange]:
        """Every topic event since a date, with when its topic's first question was asked."""
        rows = self._log.query(
            "SELECT e.topic_id, e.at, e.action, (SELECT MIN(q.asked_at) FROM topic_questions tq"
            " JOIN questions q ON q.id = tq.question_id WHERE tq.topic_id = e.topic_id) AS first_asked"
            " FROM topic_events e WHERE e.at >= ? ORDER BY e.id",
            (since or "",),
        )
        return [TopicChange(r["topic_id"], r["at"], r["action"], r["first_asked"]) for r in rows]

    def _move(
        self, topic_id: str, action: str, who: str, detail: str, target: str | None = None, **fields: str | None
    ) -> None:
        allowed_from, usual = _MOVES[action]
        target = target or usual
        current = self.get(topic_id)
        if current.state not in allowed_from:
            raise ShopfloorError(f"topic {topic_id} is {current.state}: it cannot be {action.replace('_', ' ')}")
        now = _now()
        changes: dict[str, str | None] = {k: v for k, v in fields.items() if v is not None}
        if action in ("confirm", "reject"):
            changes["proposal"] = None  # answered: the proposal is in the audit trail
        with self._log.transaction() as db:
            sets = ", ".join(f"{k} = ?" for k in changes)
            db.execute(
                f"UPDATE topics SET state = ?, updated_at = ?{', ' + sets if sets else ''} WHERE id = ?",
                (target, now, *changes.values(), topic_id),
            )
            if target in _DONE or action == "reopen":  # its questions leave the open gaps, or come back
                db.execute(
                    "UPDATE questions SET resolved_at = ? WHERE id IN (SELECT question_id FROM topic_questions"
                    " WHERE topic_id = ?)",
                    (now if target in _DONE else None, topic_id),
                )
            _event(db, topic_id, who, action, detail)


def _event(db: Transaction, topic_id: str, who: str, action: str, detail: str) -> None:
    db.execute(
        "INSERT INTO topic_events (topic_id, at, who, action, detail) VALUES (?, ?, ?, ?, ?)",
        (topic_id, _now(), who, action, detail),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _needs_placing(topic: Topic, placed: dict[int, str]) -> bool:
    """A topic that is (or becomes) a work item and has questions not yet placed in it."""
    unplaced = [q for q in topic.questions if q.id not in placed]
    return bool(unplaced) and (topic.count > 0 or len(unplaced) < len(topic.questions))


def _owner(owners: Counter[str]) -> str:
    return min(owners, key=lambda t: (-owners[t], t))  # most members, then the oldest


def _describe(topic: Topic, row: Row) -> None:
    topic.id, topic.state, topic.owner, topic.due = row["id"], row["state"], row["owner"], row["due"]
    topic.proposal = row["proposal"]
