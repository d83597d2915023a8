"""Evidence: the few lines of the retrieved passages that answer the question, quoted exactly.

A retrieved passage is up to 200 tokens of a page; the answer is usually one sentence or one table
row of it. The operator is shown those lines at once (before the model has read anything), and the
model reads only them, which is what makes an answer take seconds instead of twenty: prompt reading
is most of an answer's time on a plant PC.

Each candidate line (a sentence, a table row, a numbered step, a safety notice) is scored on
  - meaning: the embedding model's cosine between the question and the line;
  - words: the question's words found in the line, weighted by how rare they are in the manuals
    (words found only in the line's heading count half: "alternator" is often the section's word);
  - kind: the kind of value the question asks for (an interval, a torque, a part number...) found
    in the line;
  - place: how well retrieval ranked the passage the line stands in.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import numpy as np

from assistant.retrieval import Passage
from indexes.words import tokenize, written_words

# The kinds of value a question can ask for: (what the question says, what a line holding one says).
_UNIT = r"(?:\s?(?:-|to|–)\s?\d[\d.,]*)?\s?"
VALUE_KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    name: (re.compile(asked, re.IGNORECASE), re.compile(held, re.IGNORECASE))
    for name, asked, held in (
        (
            "interval",
            r"how often|how frequent|\binterval|\bevery\b|when (?:do|should|must|to|is)\b.{0,30}"
            r"\b(?:chang|replac|servic|check|clean|greas|lubric|inspect|drain|flush|test)|schedule|how many hours"
            r"|how long (?:before|between|until)|\bafter how",
            rf"\d[\d.,]*{_UNIT}(?:h|hrs?|hours?|days?|weeks?|months?|years?|km|miles?|cycles?|shifts?)\b"
            r"|\b(?:daily|weekly|monthly|annually|yearly|every|each (?:day|shift|week|month|year))\b",
        ),
        ("temperature", r"\btemp|\bhot\b|\bcold\b|°|\bdegrees?\b|\bheat|freez", rf"\d{_UNIT}(?:°|º|deg)|\d\s?[CF]\b"),
        (
            "torque",
            r"\btorque|\btighten",
            rf"\d[\d.,]*{_UNIT}(?:N\.?\s?m|Nm|lb\.?\s?-?\s?ft|ft\.?\s?-?\s?lbs?|in\.?\s?-?\s?lbs?|kgf?\.?\s?-?\s?m)\b",
        ),
        (
            "pressure",
            r"pressure|\bpsi\b|\bbar\b|\bvacuum",
            rf"\d[\d.,]*{_UNIT}(?:bar|psi[ag]?|kpa|mpa|kg/cm|mm\s?hg)\b",
        ),
        (
            "electrical",
            r"\bvolt|\bamp|current|\bfuse|\bwatt|\bkw\b|\bkva\b|\bhz\b|frequency|breaker|\bpower (?:supply|rating)",
            rf"\d[\d.,]*{_UNIT}(?:v|vac|vdc|volts?|a|amps?|amperes?|w|watts?|kw|kva|hz|ma|mw)\b",
        ),
        (
            "volume",
            r"capacity|how much (?:oil|fuel|coolant|water|grease|fluid|refrigerant)|\bvolume|\bliters?\b|\blitres?\b"
            r"|\bgallons?\b|\bquarts?\b",
            rf"\d[\d.,]*{_UNIT}(?:l|liters?|litres?|gal|gallons?|qts?|quarts?|ml|cc|oz|m3|cm3)\b",
        ),
        (
            "speed",
            r"\bspeed|\brpm\b|how fast|velocity|\bfeed ?rate",
            rf"\d[\d.,]*{_UNIT}(?:rpm|r/min|m/s|mm/s|in/s|ipm|mm/min|m/min|km/h|mph|units?/s)\b",
        ),
        (
            "dimension",
            r"\bsize\b|\bgap\b|clearance|\blength|\bwidth|diameter|thick|how (?:long|big|wide|tall|deep)|distance"
            r"|\bheight",
            rf"\d[\d.,]*{_UNIT}(?:mm|cm|m|in|inch|inches|ft|feet|\"|')(?!\w)",
        ),
        ("weight", r"\bweigh|\bmass\b|how heavy|\bload\b", rf"\d[\d.,]*{_UNIT}(?:kg|lbs?|pounds?|t|tons?|tonnes?)\b"),
        (
            "part",
            r"part (?:number|no)|\bp/n\b|which (?:filter|oil|fuse|grease|belt|bulb|fuel|coolant|lubricant|battery)"
            r"|what (?:kind|type|grade|brand) of|(?:what|which) (?:oil|grease|fuel|coolant|filter|refrigerant)\b",
            r"\b[A-Z]{1,6}[- ]?\d{2,}[A-Z0-9-]*\b|\bSAE\s?\d+W?(?:-\d+)?|\bISO\s?VG\s?\d+|\bgrade\b|\btype\b",
        ),
    )
}
# A question asking for some value, of whatever kind ("what is the max ...", "how many ...").
_ASKS_VALUE = re.compile(
    r"\bhow (?:much|many|long|far|high|low)|\bmax|\bmin(?:imum)?\b|\blimit|\brating|\bvalue", re.IGNORECASE
)
_HAS_NUMBER = re.compile(r"\d")
_RARE_CODE = 3  # a code in more passages than this names the machine (MEP-802A: 10), not what is asked
_CODE = re.compile(r"\b[A-Za-z]{1,6}-?\d[\w-]*\b")
_ASKS_STEPS = re.compile(r"\bhow (?:do|can|to|should)\b|\bsteps?\b|\bprocedure\b|\bwhat do i do\b", re.IGNORECASE)

_STEP = re.compile(r"^(?:Step\s+\d+\b[:.)]?|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+\S")
# A table-of-contents entry ("11-16 Carburetor Synchronization ....... 42"): it names a topic and
# where it is; it answers only a question about where to read.
_CONTENTS_ENTRY = re.compile(r"(?:\.\s?){3,}\s*[\w-]*\s*$|…\s*[\w-]*\s*$")
_ASKS_PLACE = re.compile(r"\bpages?\b|\bsection\b|\bchapter\b|where (?:do|can|would|should) i (?:find|read|look)", re.I)
_SAFETY = re.compile(r"^(?:DANGER|WARNING|CAUTION|NOTICE|(?:Danger|Warning|Caution)\s*[:!\-–])")
# A sentence ends at . ! ? followed by a space and a capital, digit or quote ("4.000 hours" stays whole).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
_MAX_LINE_WORDS = 45  # a run-on "sentence" (PDF text without stops) is cut into windows of this many words

WEIGHTS = {"meaning": 0.45, "words": 0.35, "kind": 0.15, "place": 0.10}
_CAPTION_FACTOR = 0.6


@dataclass
class Line:
    """A candidate line of a passage: its exact text and where it stands."""

    text: str
    kind: str  # sentence | row | step | safety
    passage: Passage
    passage_rank: int
    position: int  # order within the passage
    context: str = ""  # a table row's header row
    row: int = 0  # the line of the passage's text it starts on (for its page)


@dataclass
class Evidence:
    """A line shown to the operator and given to the model as source [number]."""

    number: int
    text: str
    kind: str
    passage: Passage
    score: float
    context: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    position: int = 0  # order of the line within its passage
    row: int = 0  # the line of the passage's text it starts on
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)  # its embedding, reused

    @property
    def page(self) -> int | None:
        """The page this line stands on (a passage can run over a page turn)."""
        return self.passage.page_of_line(self.row)[0]

    def for_model(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text


def split_lines(passage: Passage, rank: int) -> list[Line]:
    """The passage as candidate lines: table rows, numbered steps, notices, and the sentences of
    its paragraphs (PDF text breaks lines mid-sentence, so a paragraph is joined first)."""
    lines: list[Line] = []
    block: list[tuple[int, str]] = []  # (row in the passage's text, text)
    block_kind = "sentence"
    header = ""

    def flush() -> None:
        joined = " ".join(text for _, text in block)
        offsets = list(accumulate((len(text) + 1 for _, text in block), initial=0))
        pieces = _SENTENCE_END.split(joined) if block_kind == "sentence" else [joined]
        searched = 0
        for piece in pieces:
            at = max(joined.find(piece, searched), 0)
            searched = at + len(piece)
            row = block[bisect_right(offsets, at) - 1][0] if block else 0
            for window in _windows(piece.strip()):
                if window:
                    lines.append(Line(window, block_kind, passage, rank, len(lines), row=row))
        block.clear()

    for number, raw in enumerate(passage.text.split("\n")):
        text = raw.strip()
        is_row = " | " in text or text.count("|") >= 2
        if is_row:
            flush()
            lines.append(Line(text, "row", passage, rank, len(lines), header, row=number))
            header = header or text
            continue
        header = ""
        starts = "step" if _STEP.match(text) else "safety" if _SAFETY.match(text) else None
        if not text or starts:
            flush()
            block_kind = starts or "sentence"
        if text:
            block.append((number, text))
    flush()
    return lines


def _windows(sentence: str) -> list[str]:
    words = sentence.split()
    if len(words) <= _MAX_LINE_WORDS:
        return [sentence]
    step = _MAX_LINE_WORDS - 10  # windows overlap so that no fact is cut in two
    return [" ".join(words[i : i + _MAX_LINE_WORDS]) for i in range(0, len(words) - 10, step)]


def _is_caption(line: Line, asks_place: bool) -> bool:
    if not asks_place and _CONTENTS_ENTRY.search(line.text):
        return True
    return line.kind == "sentence" and len(line.text.split()) <= 3


def asked_kinds(question: str) -> set[str]:
    """The kinds of value the question asks for ("how often" -> interval)."""
    return {name for name, (asked, _) in VALUE_KINDS.items() if asked.search(question)}


def _codes(text: str) -> set[str]:
    """Codes a question names (alarm AL-205, part HF-2040, drive OEM750): letters and digits together."""
    return {c.lower() for c in _CODE.findall(text) if any(ch.isdigit() for ch in c) and any(ch.isalpha() for ch in c)}


def _kind_score(question: str, kinds: set[str], codes: set[str], text: str) -> float:
    if codes:  # a line that names the code the question names is what it asks about
        return 1.0 if codes & _codes(text) else 0.0
    if kinds:
        return 1.0 if any(VALUE_KINDS[k][1].search(text) for k in kinds) else 0.0
    if _ASKS_VALUE.search(question):
        return 0.5 if _HAS_NUMBER.search(text) else 0.0
    return 0.0


class EvidenceFinder:
    """Scores the lines of retrieved passages against a question and picks the few that answer."""

    def __init__(
        self,
        embed: Callable[[list[str]], np.ndarray],
        stem: Callable[[str], str],
        document_frequency: Callable[[str], int],
        passages_total: int,
        *,
        max_lines: int = 4,
        max_chars: int = 1000,
    ) -> None:
        self._embed = embed
        self._stem = stem
        self._df = document_frequency
        self._total = max(passages_total, 1)
        self.max_lines = max_lines
        self.max_chars = max_chars

    def score(self, question: str, query_vector: np.ndarray, passages: Sequence[Passage]) -> list[Evidence]:
        """Every line of the passages, scored, best first (numbers not yet assigned)."""
        lines = [line for rank, p in enumerate(passages) for line in split_lines(p, rank)]
        if not lines:
            return []
        weights = self._word_weights(question)
        kinds = asked_kinds(question)
        # A code found all over the manuals is the machine's name ("MEP-802A"), not what is asked about.
        codes = {c for c in _codes(question) if self._df(c) <= _RARE_CODE}
        vectors = self._embed([line.text for line in lines])
        meaning = vectors @ query_vector
        best_place = max(max(p.score for p in passages), 1e-6)  # fused scores can be zero or below
        asks_place = _ASKS_PLACE.search(question) is not None
        scored = []
        for line, vector, cosine in zip(lines, vectors, meaning, strict=True):
            parts = {
                "meaning": float(cosine),
                "words": self._word_score(weights, line),
                "kind": _kind_score(question, kinds, codes, line.text),
                "place": max(line.passage.score, 0.0) / best_place,
            }
            total = sum(WEIGHTS[k] * v for k, v in parts.items())
            if _is_caption(
                line, asks_place
            ):  # a heading, caption or contents entry names the topic; it does not answer
                total *= _CAPTION_FACTOR
            scored.append(
                Evidence(
                    0, line.text, line.kind, line.passage, total, line.context, parts, line.position, line.row, vector
                )
            )
        scored.sort(key=lambda e: -e.score)
        return scored

    def select(self, question: str, scored: list[Evidence], margin: float = 0.12) -> list[Evidence]:
        """The best lines with the neighbours they need to be understood, in the manual's order.

        The best line, and those nearly as good; then around each (best first, while the budget
        lasts): the short line before it (a glossary term before its definition), the lines after
        a short one (a symptom before its remedy, a lead-in ending with a colon before its list),
        and for a how-to the steps that follow. Numbered in reading order; `score` stays the line's own."""
        if not scored:
            return []
        best = scored[0]
        close = [e for e in scored[1:] if e.score >= best.score - margin]
        core = [best, *close[: self.max_lines - 1]]
        by_place = {(id(e.passage), e.position): e for e in scored}
        wanted: list[Evidence] = []
        for i, evidence in enumerate(core):
            wide = i == 0  # the best line comes with the sentences around it: a value is often stated beside it
            group = [
                *self._before(evidence, by_place, wide),
                evidence,
                *self._after(question, evidence, by_place, wide),
            ]
            for line in group:
                if line not in wanted and self._fits(wanted, line):
                    wanted.append(line)
        passage_order = {id(e.passage): i for i, e in reversed(list(enumerate(wanted)))}
        wanted.sort(key=lambda e: (passage_order[id(e.passage)], e.position))
        for number, evidence in enumerate(wanted, start=1):
            evidence.number = number
        return wanted

    def _fits(self, wanted: list[Evidence], line: Evidence) -> bool:
        if not wanted:
            return True
        used = sum(len(e.for_model()) for e in wanted)
        return len(wanted) < self.max_lines + 4 and used + len(line.for_model()) <= self.max_chars

    @staticmethod
    def _before(evidence: Evidence, by_place: dict[tuple[int, int], Evidence], wide: bool) -> list[Evidence]:
        previous = by_place.get((id(evidence.passage), evidence.position - 1))
        if previous is None or previous.kind != evidence.kind:
            return []
        term = len(previous.text.split()) <= 6
        return [previous] if wide or term or evidence.text[:1].islower() else []

    def _after(
        self, question: str, evidence: Evidence, by_place: dict[tuple[int, int], Evidence], wide: bool
    ) -> list[Evidence]:
        how_to = _ASKS_STEPS.search(question) is not None
        short = len(evidence.text.split()) <= 12 or evidence.text.rstrip().endswith(":")
        count = self.max_lines if how_to else 2 if short else 1 if wide else 0
        after = []
        for offset in range(1, count + 1):
            following = by_place.get((id(evidence.passage), evidence.position + offset))
            if following is None or (how_to and following.kind not in ("step", "safety") and offset > 1):
                break
            after.append(following)
        return after

    def _word_weights(self, question: str) -> dict[str, float]:
        """Each content word of the question, stemmed, weighted by its rarity in the manuals."""
        weights: dict[str, float] = {}
        for word in written_words(question):
            for token in tokenize(word, self._stem):
                df = self._df(word)
                weights[token] = max(weights.get(token, 0.0), math.log(1 + self._total / (1 + df)))
        return weights

    def _word_score(self, weights: dict[str, float], line: Line) -> float:
        if not weights:
            return 0.0
        own = set(tokenize(line.text + " " + line.context, self._stem))
        around = set(tokenize(line.passage.heading, self._stem))
        found = sum(w if t in own else (0.5 * w if t in around else 0.0) for t, w in weights.items())
        return found / sum(weights.values())


def evidence_summary(evidence: Sequence[Evidence]) -> dict[str, Any]:
    """The scores of the best line, for the gap log and for calibrating the refusal rule."""
    if not evidence:
        return {"evidence": 0.0}
    best = max(evidence, key=lambda e: e.score)
    return {"evidence": round(best.score, 4), **{k: round(v, 4) for k, v in best.scores.items()}}
