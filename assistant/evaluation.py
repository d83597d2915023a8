"""`shopfloor eval`: score retrieval (and answers) on a question set with gold pages.

A question line: {"id", "question", "file", "pages", "key_facts"}; `file` may also be a list of
acceptable files, and is null (with `pages` empty) for a question the documents cannot answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.retrieval import HybridRetriever, Passage
from indexes.errors import ShopfloorError


@dataclass
class EvalQuestion:
    """One question with what counts as a correct source."""

    id: str
    question: str
    files: list[str]
    pages: list[int] = field(default_factory=list)
    key_facts: list[str] = field(default_factory=list)

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
class AnswerScore:
    """Quality of the full answers (LLM included)."""

    questions: int
    answered_of_answerable: float
    key_facts_found: float
    citation_precision: float
    refusal_accuracy: float
    median_latency_s: float


def score_answers(assistant: Any, questions: list[EvalQuestion]) -> AnswerScore:
    """Ask every question; compare the answers with the expected facts and sources."""
    from statistics import median

    facts_total = facts_found = cited_total = cited_gold = 0
    answered_ok = refused_ok = 0
    latencies = []
    for question in questions:
        answer = assistant.ask(question.question)
        latencies.append(answer.latency_s)
        if not question.answerable:
            refused_ok += not answer.answered
            continue
        answered_ok += answer.answered
        text = _squash(answer.answer) if answer.answered else ""
        facts_total += len(question.key_facts)
        facts_found += sum(_squash(fact) in text for fact in question.key_facts)
        cited_total += len(answer.citations)
        cited_gold += sum(question.is_gold(c.file, c.page) for c in answer.citations)
    answerable = sum(q.answerable for q in questions)
    unanswerable = len(questions) - answerable
    return AnswerScore(
        questions=len(questions),
        answered_of_answerable=answered_ok / answerable if answerable else 0.0,
        key_facts_found=facts_found / facts_total if facts_total else 0.0,
        citation_precision=cited_gold / cited_total if cited_total else 0.0,
        refusal_accuracy=refused_ok / unanswerable if unanswerable else 0.0,
        median_latency_s=median(latencies) if latencies else 0.0,
    )


def _squash(text: str) -> str:
    """Lower case without spaces: "6 %" and "6%" state the same fact."""
    return "".join(text.lower().split())
