"""The operations the command line and the web app offer, each written once.

`shopfloor ask` and the operator chat ask and log through `Shopfloor.ask`; `shopfloor gaps` and
the manager view read the same gap report and re-check through the same call; `shopfloor docs` and
the manager's index status list the same documents. No command or view opens the index store, the
embedding model or the gap log by itself: they are opened here, once, when first needed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock

from assistant.policy import Policy, Rule, load_policy
from indexes.store import IndexStore
from shopfloor.errors import GapLogUnavailableError, ShopfloorError
from shopfloor.languages import supported
from shopfloor.settings import Settings

if TYPE_CHECKING:
    from assistant.answering import Answer, Assistant, Turn
    from assistant.coverage import Coverage, Locator
    from assistant.evidence import Evidence
    from assistant.gaps import Figures, GapLog
    from assistant.knowledge_map import Topic
    from assistant.outcomes import WeekFigures
    from assistant.retrieval import Filters
    from assistant.topics import TopicBook, TopicEvent
    from indexes.embedding import Embedder
    from indexes.manifest import DocumentRecord
    from ingest.pipeline import IngestReport, Progress
from ui.pages import PagePicture

log = logging.getLogger(__name__)


@dataclass
class Logged:
    """An answer as the operator gets it, and its row in the gap log (for feedback)."""

    answer: Answer
    question_id: int | None  # None: kept in the spool while the shared gap log is down


@dataclass
class GapReport:
    """The knowledge map as it stands: every question of the period by topic, where the documents
    carry each topic, the answer-rate figures, questions per day."""

    topics: list[Topic]  # most open gaps first; those with an id have, or had, gaps: work items
    figures: Figures
    daily: list[tuple[str, int, int]]  # (day, answered, not answered)
    coverage: Coverage

    @property
    def work(self) -> list[Topic]:
        return [t for t in self.topics if t.id]

    @property
    def open_topics(self) -> list[Topic]:
        """Work items with open gaps."""
        return [t for t in self.topics if t.id and t.count]


@dataclass
class ClosedTopic:
    """A gap the documentation now covers."""

    id: str
    label: str
    at: str
    days_open: float | None


@dataclass
class WeeklyReport:
    """The figures for the tier meeting: one week, the trend up to it, the map of its period."""

    week: str
    trend: list[WeekFigures]  # oldest first, ending with `week`
    by_equipment: list[tuple[str, WeekFigures]]
    open_topics: list[Topic]  # work items with open gaps, most gaps first
    closed: list[ClosedTopic]  # closed in `week`
    stale_documents: list[DocumentUsage]  # thumbs down on their answers, never cited, or unsearchable pages
    coverage: Coverage
    rules: list[RuleUse]

    @property
    def current(self) -> WeekFigures:
        return self.trend[-1]


@dataclass
class Recheck:
    """Open topics asked again against the live index."""

    checked: int
    answered: list[str]  # topic ids the index now answers: waiting for the manager to confirm


@dataclass
class DocumentUsage:
    """How a document serves the floor: how often answers cite it, how often those get a thumbs
    down (a sign of a stale or wrong manual), when it was last revised, what of it is unsearchable."""

    doc_id: str
    title: str
    revision: str | None
    ingested_at: str
    cited: int
    thumbs_down: int
    unsearchable_pages: list[int]


@dataclass
class RuleUse:
    """A policy rule and how often it fired."""

    rule: Rule
    fired: int


@dataclass
class FilterChoices:
    """What an operator can narrow a question to, from the live index."""

    tags: list[str]  # key=value
    documents: list[str]  # document ids


def parse_since(since: str | None, what: str = "since") -> str | None:
    """A date as the gap log compares it (YYYY-MM-DD), or a clear error."""
    if since is None or not since.strip():
        return None
    try:
        return dt.date.fromisoformat(since.strip()).isoformat()
    except ValueError:
        raise ShopfloorError(f"{what} {since!r}: not a date (YYYY-MM-DD)") from None


class Shopfloor:
    """Everything the assistant does for its users, over one index and one gap log."""

    def __init__(self, settings: Settings, *, use_llm: bool = True, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.policy: Policy = load_policy(settings.policy_file)  # a malformed policy stops the start here
        self.store = IndexStore.from_settings(settings)
        self._use_llm = use_llm
        self._embedder = embedder
        self._assistant: Assistant | None = None
        self._gap_log: GapLog | None = None
        self._opening = threading.Lock()  # web requests arrive on several threads

    @property
    def embedder(self) -> Embedder:
        with self._opening:
            if self._embedder is None:
                from indexes.embedding import Embedder

                self._embedder = Embedder.from_settings(self.settings)
            return self._embedder

    @property
    def assistant(self) -> Assistant:
        embedder = self.embedder
        with self._opening:
            if self._assistant is None:
                from assistant.service import open_assistant

                self._assistant = open_assistant(
                    self.settings, use_llm=self._use_llm, embedder=embedder, policy=self.policy
                )
            return self._assistant

    @property
    def gap_log(self) -> GapLog:
        with self._opening:
            if self._gap_log is None:
                from assistant.gaps import GapLog

                self._gap_log = GapLog(self.settings.gap_log)
            return self._gap_log

    def close(self) -> None:
        if self._gap_log is not None:
            self._gap_log.close()

    # The operator's questions.

    def ask(
        self,
        question: str,
        *,
        terminal: str | None = None,
        filters: Filters | None = None,
        history: Sequence[Turn] = (),
        on_token: Callable[[str], None] | None = None,
        on_evidence: Callable[[list[Evidence]], None] | None = None,
        language: str | None = None,
    ) -> Logged:
        """Answer and log: every question reaches the gap log, answered or not. `language` is the
        terminal's, for questions whose words do not say theirs."""
        answer = self.assistant.ask(
            question,
            history=history,
            filters=filters or None,
            on_token=on_token,
            on_evidence=on_evidence,
            language=supported(language),
        )
        equipment = filters.tags.get("equipment") if filters else None
        return Logged(answer, self._log_question(answer, terminal or self.settings.terminal_id, equipment))

    def _log_question(self, answer: Answer, terminal: str, equipment: str | None) -> int | None:
        """Into the gap log; while a shared log's server cannot be reached, into a spool in this
        machine's home, handed over (oldest first) as soon as it can be reached again. A spooled
        question has no id yet: no feedback on it."""
        from assistant.gaps import GapLog

        spool_path = self.settings.home / "gaps-spool.sqlite"
        try:
            if spool_path.exists():  # a stat: the spool is removed once handed over
                self._hand_over_spool(spool_path)
            return self.gap_log.record(answer, terminal, equipment=equipment)
        except GapLogUnavailableError as error:
            log.error("%s; the question is kept in %s until it is back", error, spool_path)
            with _spool_lock(spool_path):
                spool = GapLog(spool_path)
                try:
                    spool.record(answer, terminal, equipment=equipment)
                finally:
                    spool.close()
            return None

    def _hand_over_spool(self, spool_path: Path) -> None:
        """The spool's questions into the shared log, then the spool removed. App servers sharing a
        home take turns: a question is never spooled into a file being removed."""
        from assistant.gaps import GapLog

        with _spool_lock(spool_path):
            if not spool_path.exists():  # another app server handed it over meanwhile
                return
            spool = GapLog(spool_path)
            try:
                if moved := spool.move_into(self.gap_log):
                    log.info("gap log reachable again: %d spooled questions handed over", moved)
            finally:
                spool.close()
            for suffix in ("", "-wal", "-shm"):  # SQLite's write-ahead log beside it
                spool_path.with_name(spool_path.name + suffix).unlink(missing_ok=True)

    def feedback(self, question_id: int, helpful: bool, reason: str | None = None) -> None:
        self.gap_log.feedback(question_id, helpful=helpful, reason=reason[:200] if reason else None)

    def filter_choices(self) -> FilterChoices:
        """Read from the live index each time: documents ingested while the app runs appear."""
        documents = self.documents()
        return FilterChoices(
            tags=sorted({f"{k}={v}" for d in documents for k, v in d.tags.items()}),
            documents=sorted(d.doc_id for d in documents),
        )

    def page_image(self, doc_id: str, page: int, passage: str) -> PagePicture:
        """A picture of a cited page of an indexed PDF (live index), or why there is none."""
        from ui.pages import PagePicture, page_image

        manifest = self.store.read_manifest()
        return page_image(manifest, doc_id, page, passage) if manifest is not None else PagePicture()

    def suggested_questions(self) -> list[str]:
        from assistant.suggestions import suggested_questions

        return suggested_questions(self.assistant.retriever, self.gap_log)

    # The manager's knowledge map.

    def gap_report(self, since: str | None = None, rows_by: str = "equipment") -> GapReport:
        """Every question since a date grouped into topics; topics with gaps keep their id, state and
        owner as questions join them; the coverage of the most asked topics by equipment or document."""
        from assistant.coverage import coverage
        from assistant.knowledge_map import group_questions

        since = parse_since(since)
        gap_log = self.gap_log
        topics = group_questions(gap_log.questions(since), self._question_vectors)
        self.topic_book.sync(topics)
        topics.sort(key=lambda t: (-t.count, not t.id, -t.asked, t.label))
        cover = coverage(topics, self.locator(), rows_by)
        return GapReport(topics, gap_log.figures(since), gap_log.daily_counts(since), cover)

    def _question_vectors(self, texts: list[str]) -> np.ndarray:
        return self.gap_log.question_vectors(texts, self.embedder.embed_texts)

    def locator(self) -> Locator:
        """Places questions on the map by the equipment tags of the indexed documents."""
        from assistant.coverage import Locator

        equipment = {}
        for d in self.documents():
            if d.tags.get("equipment"):
                equipment[d.doc_id] = equipment[Path(d.source).name] = d.tags["equipment"]
        return Locator(equipment)

    def recheck_gaps(self, since: str | None = None) -> Recheck:
        """Ask each open or assigned topic's central question again. A topic the live index now
        answers moves to "answered now", with the answer and its citation, for the manager to confirm
        or reject: a re-check never closes a gap by itself."""
        working = ("open", "assigned", "documented")
        topics = [t for t in self.gap_report(since).work if t.state in working and t.count]
        self.assistant.follow_index(wait_s=None)  # the ingest that prompted the re-check counts
        answered = []
        for topic in topics:
            answer = self.assistant.ask(topic.question)
            if answer.answered:
                cited = "; ".join(f"{c.file} p. {c.page}" if c.page else c.file for c in answer.citations)
                self.topic_book.propose(topic.id, f"{answer.answer} ({cited})" if cited else answer.answer)
                answered.append(topic.id)
        return Recheck(len(topics), answered)

    def weekly_report(self, week: str | None = None, weeks: int = 8) -> WeeklyReport:
        """The week's figures (default: this week) beside the weeks before it, per equipment and
        overall, the open topics with their owners, the gaps closed, the documents going stale."""
        from assistant.outcomes import (
            CLOSING_ACTIONS,
            by_row,
            days_between,
            iso_week,
            week_start,
            weekly,
            weeks_until,
        )

        week = iso_week(dt.date.today()) if week is None else iso_week(week_start(week))
        trend_weeks = weeks_until(week, weeks)
        start = week_start(trend_weeks[0]).isoformat()
        report = self.gap_report(start)
        questions = [q for t in report.topics for q in t.questions]
        minutes = self.settings.technician_minutes
        changes = self.topic_book.changes(start)
        closed = [
            ClosedTopic(c.topic_id, self.topic_book.get(c.topic_id).label, c.at, days_between(c.first_asked, c.at))
            for c in changes
            if c.action in CLOSING_ACTIONS and iso_week(c.at) == week
        ]
        stale = [
            u
            for u in self.document_usage(start)
            if u.cited == 0 or u.unsearchable_pages or (u.thumbs_down and u.thumbs_down >= 0.2 * u.cited)
        ]
        return WeeklyReport(
            week=week,
            trend=weekly(trend_weeks, questions, changes, minutes),
            by_equipment=by_row(week, questions, self.locator().equipment, minutes),
            open_topics=report.open_topics,
            closed=closed,
            stale_documents=sorted(stale, key=lambda u: (-u.thumbs_down, u.cited, u.doc_id)),
            coverage=report.coverage,
            rules=self.policy_rules(start),
        )

    def has_open_topics(self) -> bool:
        """Whether anything is left for a re-check to ask (cheap: no model is loaded)."""
        return self.gap_log.has_open_gaps()

    def confirm_topic(self, topic_id: str, who: str) -> None:
        self.topic_book.confirm(topic_id, who)

    def reject_topic(self, topic_id: str, who: str, note: str | None = None) -> None:
        self.topic_book.reject(topic_id, who, note)

    @property
    def topic_book(self) -> TopicBook:
        from assistant.topics import TopicBook

        return TopicBook(self.gap_log)

    def assign_topic(
        self, topic_id: str, owner: str, who: str, due: str | None = None, note: str | None = None
    ) -> None:
        self.topic_book.assign(topic_id, owner, who, due=parse_since(due, "due"), note=note)

    def mark_documented(self, topic_ids: Sequence[str], who: str, documents: list[str]) -> None:
        for topic_id in topic_ids:
            self.topic_book.document(topic_id, who, documents)

    def close_topic(self, topic_id: str, who: str, note: str | None = None) -> None:
        self.topic_book.close(topic_id, who, note)

    def wont_document(self, topic_id: str, who: str, reason: str) -> None:
        self.topic_book.wont_document(topic_id, who, reason)

    def reopen_topic(self, topic_id: str, who: str, note: str | None = None) -> None:
        self.topic_book.reopen(topic_id, who, note)

    def topic_history(self, topic_id: str | None = None) -> list[TopicEvent]:
        return self.topic_book.history(topic_id)

    def policy_rules(self, since: str | None = None) -> list[RuleUse]:
        """The manager's rules in file order, with how often each fired."""
        counts = self.gap_log.rule_counts(parse_since(since))
        return [RuleUse(rule, counts.get(rule.name, 0)) for rule in self.policy.rules]

    def document_usage(self, since: str | None = None) -> list[DocumentUsage]:
        """Every indexed document, the never-cited ones included (cited 0), least cited first."""
        counts = self.gap_log.citation_counts(parse_since(since))
        usage = []
        for d in self.documents():
            cited, down = counts.get(d.doc_id, (0, 0))
            unread = sorted(set(d.pages_without_text) | set(d.ocr_pending))
            usage.append(DocumentUsage(d.doc_id, d.title, d.revision, d.ingested_at, cited, down, unread))
        return sorted(usage, key=lambda u: (u.cited, u.doc_id))

    # The engineer's documents.

    def documents(self) -> list[DocumentRecord]:
        manifest = self.store.read_manifest()
        return sorted(manifest.documents.values(), key=lambda r: r.doc_id) if manifest else []

    def ingest(
        self,
        paths: list[Path],
        *,
        tags: dict[str, str] | None = None,
        replaces: Sequence[str] = (),
        progress: Progress | None = None,
        for_topics: Sequence[str] = (),
        who: str = "ingest",
    ) -> IngestReport:
        """Ingest; the topics named (knowledge-map ids) become "documented" by what was ingested."""
        from ingest.pipeline import IngestRun

        for topic_id in for_topics:
            self.topic_book.check_can_document(topic_id)
        run = IngestRun(self.settings, self.store, progress=progress, embedder=self._embedder)
        report = run.run(paths, tags=tags, remove=list(replaces))
        written = [o.doc_id for o in report.outcomes if o.status in ("ingested", "replaced", "unchanged")]
        if for_topics and written:
            self.mark_documented(for_topics, who, written)
        # The re-check after an ingest embeds with the model the ingest loaded, not a second copy.
        self._embedder = self._embedder or run.loaded_embedder
        return report

    def remove(self, doc_ids: list[str]) -> IngestReport:
        from ingest.pipeline import IngestRun

        return IngestRun(self.settings, self.store, embedder=self._embedder).run(remove=doc_ids)


def _spool_lock(spool_path: Path) -> FileLock:
    """Held while the spool is written or handed over: app servers sharing a home take turns."""
    return FileLock(str(spool_path) + ".lock")
