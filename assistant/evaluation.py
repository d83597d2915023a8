"""`shopfloor eval`: score retrieval (and answers) on a question set with gold pages.

A question line: {"id", "question", "file", "pages", "key_facts"}; `file` may also be a list of
acceptable files, and is null (with `pages` empty) for a question the documents cannot answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from assistant.retrieval import HybridRetriever, Passage
from shopfloor.errors import ShopfloorError


@dataclass
class EvalQuestion:
    """One question with what counts as a correct source."""

    id: str
    question: str
    files: list[str]
    pages: list[int] = field(default_factory=list)
    key_facts: list[str] = field(default_factory=list)
    language: str | None = None  # the asking terminal's language (`lang`): a hint where the words say little

    @property
    def answerable(self) -> bool:
        return bool(self.files)

    def is_gold(self, file: str, page: int | None) -> bool:
        name = Path(file).name
        return any(Path(f).name == name for f in self.files) and (not self.pages or page in self.pages)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Parse a JSONL question set; a bad line is an error naming the file and line."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw: dict[str, Any] = json.loads(line)
            files = raw.get("file") or []
            questions.append(
                EvalQuestion(
                    id=str(raw.get("id", number)),
                    question=str(raw["question"]),
                    files=[files] if isinstance(files, str) else list(files),
                    pages=[int(p) for p in raw.get("pages") or []],
                    key_facts=[str(f) for f in raw.get("key_facts") or []],
                    language=str(raw["lang"]) if raw.get("lang") else None,
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ShopfloorError(f"{path}:{number}: not a question line ({type(exc).__name__}: {exc})") from None
    if not questions:
        raise ShopfloorError(f"{path}: no questions")
    return questions


@dataclass
class RetrievalScore:
    """Rank quality of the gold source among the retrieved passages."""

    mode: str
    questions: int
    hit_at_1: float
    hit_at_5: float
    mrr: float


def gold_rank(question: EvalQuestion, passages: Iterable[Passage]) -> int | None:
    """1-based rank of the first gold passage, or None."""
    for rank, passage in enumerate(passages, start=1):
        if question.is_gold(passage.file, passage.page):
            return rank
    return None


def score_retrieval(retriever: HybridRetriever, questions: list[EvalQuestion], k: int = 5) -> RetrievalScore:
    answerable = [q for q in questions if q.answerable]
    ranks = [gold_rank(q, retriever.retrieve(q.question, k=k)) for q in answerable]
    n = max(len(ranks), 1)
    return RetrievalScore(
        mode=retriever.mode,
        questions=len(ranks),
        hit_at_1=sum(r == 1 for r in ranks) / n,
        hit_at_5=sum(r is not None for r in ranks) / n,
        mrr=sum(1 / r for r in ranks if r is not None) / n,
    )


@dataclass
class AnswerRecord:
    """One question's outcome, kept so that a decision rule can be re-scored without the LLM."""

    id: str
    question: str
    answerable: bool
    answered: bool
    answer: str
    reason: str | None
    facts_expected: int
    facts_found: int
    citations: list[tuple[str, int | None]]
    citations_gold: int
    gold_rank: int | None
    latency_s: float
    first_evidence_s: float | None
    signals: dict[str, Any] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)  # the lines shown first, best first
    facts: list[str] = field(default_factory=list)
    language: str = "en"  # the question's, as the assistant decided it
    question_en: str = ""
    # Key facts in the answer as composed, in the manual's words, before it was rendered in the
    # operator's language (the facts are the manual's words; a German answer says them in German).
    facts_found_composed: int = 0


@dataclass
class AnswerScore:
    """Quality of the full answers (LLM included), as the operator meets them."""

    questions: int
    answered_of_answerable: float
    key_facts_found: float
    citation_precision: float
    refusal_accuracy: float
    median_latency_s: float
    median_answer_chars: float
    median_first_evidence_s: float | None
    records: list[AnswerRecord] = field(default_factory=list)


def score_answers(assistant: Any, questions: list[EvalQuestion]) -> AnswerScore:
    """Ask every question; compare the answers with the expected facts and sources.

    Key facts count over every answerable question: a refusal finds none of them."""
    records = [_record(assistant, question) for question in questions]
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    facts_total = sum(r.facts_expected for r in answerable)
    cited_total = sum(len(r.citations) for r in answerable if r.answered)
    evidence_times = [r.first_evidence_s for r in records if r.first_evidence_s is not None]
    return AnswerScore(
        questions=len(records),
        answered_of_answerable=_share(sum(r.answered for r in answerable), len(answerable)),
        key_facts_found=_share(sum(r.facts_found for r in answerable), facts_total),
        citation_precision=_share(sum(r.citations_gold for r in answerable if r.answered), cited_total),
        refusal_accuracy=_share(sum(not r.answered for r in unanswerable), len(unanswerable)),
        median_latency_s=median([r.latency_s for r in records]) if records else 0.0,
        median_answer_chars=median([len(r.answer) for r in records if r.answered] or [0]),
        median_first_evidence_s=median(evidence_times) if evidence_times else None,
        records=records,
    )


def _record(assistant: Any, question: EvalQuestion) -> AnswerRecord:
    answer = assistant.ask(question.question, language=question.language)
    text = _squash(answer.answer) if answer.answered else ""
    composed = _squash(answer.signals.get("composed", answer.answer)) if answer.answered else ""
    found = sum(_squash(fact) in text for fact in question.key_facts) if question.answerable else 0
    found_composed = sum(_squash(fact) in composed for fact in question.key_facts) if question.answerable else 0
    return AnswerRecord(
        id=question.id,
        question=question.question,
        answerable=question.answerable,
        answered=answer.answered,
        answer=answer.answer,
        reason=answer.reason,
        facts_expected=len(question.key_facts) if question.answerable else 0,
        facts_found=found,
        citations=[(c.file, c.page) for c in answer.citations],
        citations_gold=sum(question.is_gold(c.file, c.page) for c in answer.citations),
        gold_rank=gold_rank(question, answer.contexts) if question.answerable else None,
        latency_s=answer.latency_s,
        first_evidence_s=answer.first_evidence_s,
        signals={"mode": answer.mode, **answer.signals},
        evidence=[e.text for e in answer.evidence],
        facts=question.key_facts,
        language=answer.language,
        question_en=answer.question_en,
        facts_found_composed=found_composed,
    )


@dataclass
class LanguageScore:
    """One language's share of an answer run: retrieval as the assistant searched (its renderings
    included), answers, key facts."""

    language: str
    answerable: int
    unanswerable: int
    hit_at_5: float
    answered: float
    key_facts: float
    key_facts_composed: float
    refused: float
    median_latency_s: float


def by_language(records: list[AnswerRecord], languages: dict[str, str]) -> list[LanguageScore]:
    """Figures per language the questions were written in (`languages`: question id -> language)."""
    groups: dict[str, list[AnswerRecord]] = {}
    for record in records:
        groups.setdefault(languages.get(record.id, "en"), []).append(record)
    scores = []
    for language, group in sorted(groups.items()):
        answerable = [r for r in group if r.answerable]
        unanswerable = [r for r in group if not r.answerable]
        facts = sum(r.facts_expected for r in answerable)
        scores.append(
            LanguageScore(
                language=language,
                answerable=len(answerable),
                unanswerable=len(unanswerable),
                hit_at_5=_share(sum(r.gold_rank is not None for r in answerable), len(answerable)),
                answered=_share(sum(r.answered for r in answerable), len(answerable)),
                key_facts=_share(sum(r.facts_found for r in answerable), facts),
                key_facts_composed=_share(sum(r.facts_found_composed for r in answerable), facts),
                refused=_share(sum(not r.answered for r in unanswerable), len(unanswerable)),
                median_latency_s=median([r.latency_s for r in group]),
            )
        )
    return scores


def write_records(path: Path, records: list[AnswerRecord]) -> None:
    """One JSON line per question: what was answered, why, and the signals behind the decision."""
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _squash(text: str) -> str:
    """Lower case without spaces: "6 %" and "6%" state the same fact."""
    return "".join(text.lower().split())
