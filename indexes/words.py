"""Words as the lexical index stores them and as questions are matched against it.

Ingest writes each segment's BM25 index and vocabulary with these functions and retrieval tokenizes
questions with the same ones, so the two can never disagree.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable

# A word or a code as the manuals and the questions are matched on ("hf-2040", "0.5", "oil").
WORD = re.compile(r"[a-z0-9]+(?:[-./][a-z0-9]+)*")
STOPWORDS = frozenset(
    """
    a an and are as at be by can do does for from how i in is it its of on or should the this to
    what when where which who why will with my me we our you your there their them they these those
    was were has have had if into not no than then so any all about after before
    """.split()
)

Stem = Callable[[str], str]


def english_word(word: str) -> bool:
    """Whether a lower-case word is English as people write it (160,000 words, pyspellchecker's
    list; "dont" for "don't"). Such a word is never a typo, even where no manual writes it."""
    words = _english_words()
    return word in words or (word.endswith("nt") and f"{word[:-1]}'t" in words)


def preload_english_words() -> None:
    """Read the word list now (0.2 s), not during the first question."""
    _english_words()


@functools.cache
def _english_words() -> frozenset[str]:
    from spellchecker import SpellChecker

    return frozenset(SpellChecker(language="en").word_frequency.dictionary)


def english_stemmer() -> Stem:
    import Stemmer

    stem: Stem = Stemmer.Stemmer("english").stemWord
    return stem


# A thousands separator: "6,000 lb" is the "6000 lb" an operator types (a decimal comma, "4,5 bar", stays).
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# A unit written out, abbreviated or in the plural is one term (stems on the left): "how many qts"
# finds "15 qt", "hrs" finds "hours". Measured on the held-out forklift manual: "qts", "6000" and
# "lbs" matched nothing in the table rows that answer them.
_UNITS = {
    "qts": "qt", "quart": "qt", "gallon": "gal", "lbs": "lb", "pound": "lb",
    "hrs": "hour", "hr": "hour", "feet": "ft", "foot": "ft", "psig": "psi",
}  # fmt: skip

# A value typed against its unit ("8mm", "24v", "130f") is also the number and the unit the manuals
# print apart ("8 mm", "24 V", "130°F"); the typed form stays a term too.
_GLUED_UNIT = re.compile(
    r"(\d+(?:\.\d+)?)(mm|cm|m|ft|lbs?|kg|psig?|v|vac|vdc|amps?|w|kw|kva|hz|rpm|qts?|gal|l|ml|hp|nm|bar|kpa|hrs?|h|c|f)"
)


def written_words(text: str) -> list[str]:
    """The words and codes of a text as written, lower case, a thousands separator dropped: what
    `tokenize` stems, and what a question's words are weighted by."""
    return WORD.findall(_THOUSANDS.sub("", text.lower()))


def tokenize(text: str, stem: Stem) -> list[str]:
    """Lower-cased words and codes; a code is kept whole and also split ("hf-2040" -> hf, 2040), a
    value glued to its unit too ("8mm" -> 8mm, 8, mm)."""
    tokens: list[str] = []
    for token in written_words(text):
        parts = re.split(r"[-./]", token)
        for word in [token, *parts] if len(parts) > 1 else [token]:
            if word and word not in STOPWORDS:
                term = stem(word) if word.isalpha() else word
                tokens.append(_UNITS.get(term, term))
                if glued := _GLUED_UNIT.fullmatch(word):
                    tokens += [glued[1], _UNITS.get(glued[2], glued[2])]
    return tokens


def passage_terms(heading: str, text: str, stem: Stem) -> list[str]:
    """The BM25 terms of one passage: its heading line counts as part of it."""
    return tokenize(f"{heading}\n{text}", stem)


def word_counts(passages: Iterable[tuple[str, str]]) -> Counter[str]:
    """Every word of (heading, text) passages with the number of passages it occurs in: the
    vocabulary typos are corrected against and evidence words are weighted by."""
    counts: Counter[str] = Counter()
    for heading, text in passages:
        counts.update(set(WORD.findall(f"{heading} {text}".lower())))
    return counts
