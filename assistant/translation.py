"""Questions into the manuals' languages and answers back, with the bundled LLM (no translation
service: the plant has no internet).

The answer is composed and checked in the language of the manual that answers, against its lines,
and only then rendered in the operator's language: the check that holds an answer to its lines
works on the manual's words, and a refusal is decided exactly as for a question asked in the
manual's language. The manual's own lines, safety notices and citations are never translated
(the views show them as written).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

from assistant.llm import AnswerModel, Message
from shopfloor.errors import LlmUnavailableError
from shopfloor.languages import language_name

log = logging.getLogger(__name__)

# One fixed start for every translation, the target named in the request ("Into German: ..."):
# llama.cpp keeps what it read of the last prompt up to the first token that differs, so
# questions into English, into a manual's language and answers back all reuse it.
_SYSTEM = (
    "You translate questions and answers for factory operators and technicians. Keep machine names, codes, "
    "part numbers, numbers with units, quoted text and numbers in brackets like [1] exactly as written. Use the "
    "usual technical term for each part. Reply with the translation only."
)
# Worked examples on everyday shop-floor words (none from an evaluation set): with one per language
# the 1.5B model's English renderings found the gold page for 50 of 70 questions, with two 46
# (benchmarks/eval/multilingual.jsonl).
_EXAMPLES = (
    (
        "English",
        "wie oft muss man die lager am förderband nachschmieren",
        "how often do the conveyor bearings need regreasing",
    ),
    ("English", "la bomba hace ruido al arrancar, que reviso", "the pump makes noise when starting, what do i check"),
    (
        "English",
        "qual o torque dos parafusos da tampa do cabeçote",
        "what is the torque for the cylinder head cover screws",
    ),
    (
        "English",
        "la machine s'arrête toute seule apres 5 min, pourquoi",
        "the machine stops by itself after 5 min, why",
    ),
    ("English", "ile oleju wlać do skrzyni biegów", "how much oil goes into the gearbox"),
    (
        "English",
        "kompresör basınç şalteri kaç barda kesiyor",
        "at how many bar does the compressor pressure switch cut out",
    ),
    ("English", "ogni quanto si cambia il filtro dell'aria del motore", "how often is the engine air filter changed"),
    (
        "Portuguese",
        "how often is the hydraulic oil filter changed",
        "com que frequência se troca o filtro do óleo hidráulico",
    ),
    (
        "German",
        "Every 500 operating hours, with lithium grease EP2 [1].",
        "Alle 500 Betriebsstunden, mit Lithiumfett EP2 [1].",
    ),
)
_CITATION = re.compile(r"\[\d+\]")


class Translator:
    """Renders questions in the manuals' languages and answers in the operator's.

    It owns its model context: the answering context keeps its long fixed prompt read (llama.cpp
    re-reads a prompt from the first token that differs), and a translation between two answers
    would make it read that prompt again."""

    def __init__(self, model: AnswerModel, cache_size: int = 512) -> None:
        self._model = model
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._cache_size = cache_size

    def warm_up(self) -> None:
        """Read the fixed start of every translation now, not at the first foreign question."""
        with self._lock:
            for _ in self._model.stream(_messages("Hello", "English")):
                break

    def question_in(self, question: str, source: str, target: str) -> str:
        """The question in `target`; the question itself when it comes back empty. Kept: the floor
        asks the same questions again, and an English question over a Portuguese manual is
        rendered for every ask."""
        if source == target:
            return question
        key = (question, source, target)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            rendered = _first_line(self._complete(_messages(question, target))) or question
        except LlmUnavailableError as error:  # searched as asked: the vectors still catch some of it
            log.error("%s; the question is searched as asked", error)
            return question
        log.info("question rendered from %s into %s: %r -> %r", source, target, question, rendered)
        with self._lock:
            self._cache[key] = rendered
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return rendered

    def answer_in(self, text: str, source: str, target: str, on_token: Callable[[str], None] | None = None) -> str:
        """The answer in `target`, its citations kept; as composed when the rendering lost them."""
        if source == target:
            return text
        try:
            rendered = self._complete(_messages(text, target), on_token).strip()
        except LlmUnavailableError as error:
            log.error("%s; the answer is shown as composed", error)
            return text
        if not rendered or sorted(_CITATION.findall(rendered)) != sorted(_CITATION.findall(text)):
            log.warning("answer rendered into %s lost its citations; shown as composed: %r", target, rendered)
            return text
        return rendered

    def _complete(self, messages: Sequence[Message], on_token: Callable[[str], None] | None = None) -> str:
        pieces: list[str] = []
        with self._lock:
            for piece in self._model.stream(messages):
                pieces.append(piece)
                if on_token is not None:
                    on_token(piece)
        return "".join(pieces)


def _messages(text: str, target: str) -> list[Message]:
    messages = [Message(role="system", content=_SYSTEM)]
    for language, given, rendered in _EXAMPLES:
        messages += [
            Message(role="user", content=f"Into {language}: {given}"),
            Message(role="assistant", content=rendered),
        ]
    return [*messages, Message(role="user", content=f"Into {language_name(target)}: {text}")]


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip('"“”') if lines else ""
