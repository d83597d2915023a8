"""Is an answer supported by the passages it cites? Checked before an operator sees it.

Measured: asked for the CNC lathe's oil over passages about the hydraulic press, both Qwen models
answered with the press's oil, and no prompt wording stopped it. So the answer itself is checked:
its values must stand in the cited passages, the equipment the question names must be what the
passages are about, and the passages must speak of what was asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import Stemmer

from assistant.retrieval import Passage, passages_text

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z][a-z0-9-]{2,}")
# Words that name no equipment and no topic: they say nothing about what a passage covers.
_GENERIC = frozenset(
    """
    the and for with what how does which when where who why are is can should use used using type
    kind manual manuals procedure instructions instruction operator operating operation standard
    guide quick maintenance daily check checks document section page please tell about need want
    know issue problem fix trouble troubleshoot troubleshooting solve resolve help
    """.split()
)
# A question offering a choice ("braided or foil?") is answered in its own words.
_CHOICE = re.compile(r"\bor\b", re.IGNORECASE)
# A path, a setting, a key ("~/linuxcnc/configs", "tin/solder"): one token, though not one word.
_SYMBOL = re.compile(r"[^\s\[\]]*[/~_\\][^\s\[\]]*")
# A numbered step ("1. Press RESET") or list item: its number is no value the manual must hold.
_LIST_MARKER = re.compile(r"^\s*(?:step\s+)?\d{1,2}[.):]\s", re.IGNORECASE | re.MULTILINE)


_STEM = Stemmer.Stemmer("english").stemWord


def _content_words(text: str) -> set[str]:
    """Content words as written, plural s dropped; generic words are dropped before that too
    ("does" is no "doe", the DOE handbook's title word)."""
    return {w.rstrip("s") for w in _WORD.findall(text.lower()) if w not in _GENERIC} - _GENERIC


def _words(text: str) -> set[str]:
    """Content words, stemmed: what was asked is found in any form of its words ("running" is
    "runs", "moving" is "move")."""
    return {_STEM(w) for w in _content_words(text)}


def _numbers(text: str) -> set[str]:
    return {n.replace(",", ".") for n in _NUMBER.findall(text)}


def _value_context(value: str, passages: list[Passage]) -> list[str]:
    """Where a value stands: each line holding it with two lines either side (PDF tables wrap a
    row's cells over several lines), its passage's heading and first line (a table's header row):
    together they say what the value is a value of."""
    context = []
    for passage in passages:
        lines = passage.text.split("\n")
        for i, line in enumerate(lines):
            if value in _numbers(line):
                window = "\n".join(lines[max(0, i - 2) : i + 3])
                context.append(f"{passage.heading}\n{lines[0]}\n{window}")
    return context


def _statements(answer: str) -> str:
    """The answer without its citation markers and the numbers of its numbered steps."""
    return _LIST_MARKER.sub(" ", re.sub(r"\[\d+\]", " ", answer))


def numbers_in(text: str) -> set[str]:
    """The values an answer states ("95", "0.5", "2040")."""
    return _numbers(_statements(text))


def unsupported_reason(
    question: str,
    answer: str,
    cited: list[Passage],
    titles: Iterable[str],
    given: Sequence[Passage] = (),
    everyday: Callable[[str], bool] | None = None,
) -> str | None:
    """Why the answer is not supported by its cited passages, or None when it is.

    Values, equipment and topic must stand in the passages it cites. Equipment is what the question
    names of the documents' `titles`: their model codes, and their words the library does not use
    `everyday` (a title that reads "AIR COMPRESSOR, 5.1 CFM DIESEL ENGINE DRIVEN" makes no machine of
    "engine"). Its wording may come from any passage it was `given`: a small model often cites one
    source and words its answer from two."""
    if not cited:
        return "the answer cites no passage"
    support = passages_text(cited)
    missing_numbers = numbers_in(answer) - _numbers(support) - _numbers(question)
    if missing_numbers:
        return f"values not in the cited passages: {', '.join(sorted(missing_numbers))}"
    support_words = _words(support)
    # Equipment is matched as written: stemmed, "starting" in a title would make "start" a machine.
    named = _content_words(question) & set().union(*(_content_words(t) for t in titles))
    equipment = {w for w in named if everyday is None or any(c.isdigit() for c in w) or not everyday(w)}
    if equipment and not equipment & _content_words(support):
        return f"the cited passages are not about {', '.join(sorted(equipment))}"
    # What was asked, beyond what it was asked about: the title words are left out, everyday or not.
    asked = _words(question) - {_STEM(w) for w in named}
    if asked and not asked & support_words:
        return "the cited passages do not mention what was asked"
    for value in sorted(numbers_in(answer) - _numbers(question)):
        if asked and not any(asked & _words(line) for line in _value_context(value, cited)):
            return f"{value} stands in the passages, but not next to what was asked"
    answer_words = _words(_statements(answer))
    read_words = support_words | _words(passages_text(given))
    if answer_words and len(answer_words & read_words) / len(answer_words) < 0.5:
        return "most of the answer's words are not in the cited passages"
    return None


def restates_question(question: str, answer: str) -> bool:
    """Whether the answer only says the question back ("How to pair the remote?" -> "Pair the
    remote [1]."; "what is access notification?" -> "Access notification [4]."): no word, value or
    path the question lacks. Measured: the 1.5B model does this when its lines name the topic but
    it reads no answer in them (8 of the E-Manual's 164 composed answers, one of 126 on the hard
    sets), and when held to answer what it would have declined. Yes or no adds nothing. A question
    offering a choice is answered in its own words, so it never counts."""
    if _CHOICE.search(question):
        return False
    statements = _statements(answer)
    new_words = _words(statements) - _words(question) - _words("yes not")
    new_values = numbers_in(answer) - _numbers(question)
    new_symbols = set(_SYMBOL.findall(statements.lower())) - set(_SYMBOL.findall(question.lower()))
    return not (new_words or new_values or new_symbols)


def uncited_sources(answer: str, cited: list[Passage], given: Sequence[Passage]) -> list[Passage]:
    """Passages the answer was given but does not cite, though its wording comes from them, so
    the operator sees where the answer stands. Taken greedily: the passage holding most of the
    answer's words its citations lack, then the next for what is still lacking, while one holds
    at least two (the same row of another machine's table must not ride along)."""
    lacking = _words(_statements(answer)) - _words(passages_text(cited))
    candidates = {id(p): (p, _words(passages_text([p]))) for p in given if p not in cited}
    added: list[Passage] = []
    while candidates:
        key, (passage, words) = max(candidates.items(), key=lambda item: len(lacking & item[1][1]))
        if len(lacking & words) < 2:
            break
        added.append(passage)
        lacking -= words
        del candidates[key]
    return added
