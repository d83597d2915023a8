"""Text normalisation shared by every format, and the page-level clean-up of PDFs.

Manual PDFs carry ligatures, soft hyphens, words split at line ends, dot leaders in tables of
contents, and running headers/footers on every page; all of them hurt both BM25 and vectors.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from ingest.documents import Page

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000]+")
# "hydrau-\nlic" -> "hydraulic\n": only before a lower-case continuation, so "HP-\n200" stays.
_LINE_END_HYPHEN = re.compile(r"(\w)-\n([a-z]\w*)[ ]?")
_DOT_LEADER = re.compile(r"\s*(?:\.\s?){4,}\s*")
_DIGITS = re.compile(r"\d+")
_SAFETY_WORD = re.compile(r"^(?:DANGER|WARNING|CAUTION|NOTICE)\b", re.IGNORECASE)
_ROMAN = re.compile(r"\b[ivxlcdm]+\b", re.IGNORECASE)
# Lines this close to a page's top or bottom are where running headers and footers sit.
_EDGE_LINES = 3


# Control characters other than tab and newline: PDF text extraction leaks them from symbol fonts.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalize_text(text: str) -> str:
    """Unicode-normalise (ligatures, full-width forms), join line-end hyphenation, tidy spaces."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # PDFium marks a word hyphenated at a line end with U+0002: the word is joined again.
    text = _CONTROL.sub("", text.replace("\x02\n", ""))
    text = _LINE_END_HYPHEN.sub(r"\1\2\n", text)
    lines = (_SPACES.sub(" ", _DOT_LEADER.sub(" ... ", line)).strip() for line in text.split("\n"))
    return "\n".join(lines)


def looks_glued(text: str) -> bool:
    """True when the words of a page run together ("Thishandbookisaworkinprogress"): some PDFs
    position words by offsets instead of space characters, and pypdf then drops the spaces."""
    letters = sum(c.isalpha() for c in text)
    if letters < 150:
        return False
    long_word_letters = sum(len(w) for w in re.findall(r"[A-Za-z]{20,}", text))
    return long_word_letters / letters > 0.25


def _edge_key(line: str) -> str:
    """A running header/footer is short and differs per page only in its numbers ("Page 3 of 9").
    A safety notice is never one, however often it recurs."""
    if len(line.split()) > 14 or _SAFETY_WORD.match(line):
        return ""
    return _ROMAN.sub("#", _DIGITS.sub("#", line.lower()))


def _edge_keys(text: str) -> dict[int, str]:
    """Line index -> (position from its page edge, key) for the lines near the top and bottom."""
    lines = text.split("\n")
    content = [i for i, ln in enumerate(lines) if ln.strip()]
    keys = {i: f"top{rank}:{_edge_key(lines[i])}" for rank, i in enumerate(content[:_EDGE_LINES])}
    keys |= {i: f"bottom{rank}:{_edge_key(lines[i])}" for rank, i in enumerate(reversed(content[-_EDGE_LINES:]))}
    return {i: key for i, key in keys.items() if not key.endswith(":")}


def strip_running_lines(pages: list[Page]) -> list[Page]:
    """Drop header/footer lines that recur at the same place at the top or bottom of most pages."""
    texted = [p for p in pages if p.text.strip()]
    if len(texted) < 3:
        return pages
    counts: Counter[str] = Counter()
    for page in texted:
        counts.update(set(_edge_keys(page.text).values()))
    threshold = max(2, int(0.5 * len(texted)))
    running = {key for key, n in counts.items() if n >= threshold}
    if not running:
        return pages
    return [Page(p.number, _drop(p.text, running), p.label, p.source, p.styled) for p in pages]


def _drop(text: str, running: set[str]) -> str:
    drop = {i for i, key in _edge_keys(text).items() if key in running}
    return "\n".join(ln for i, ln in enumerate(text.split("\n")) if i not in drop)
