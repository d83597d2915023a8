"""What a document is called: the name of the equipment or subject its cover gives, never a
document code, a publisher's boilerplate or the kind of document alone.

The title is shown in every citation, names the manual in the operator's document filter and is
embedded with each of its passages, so "TECHNICAL MANUAL" (the cover line of every Army manual), "TM
10-3930-660-10" or "Untitled" tell an operator nothing and make every such manual look alike to the
search. A cover reads top to bottom as codes, boilerplate ("OPERATOR'S MANUAL FOR"), then the subject
("TRUCK, FORKLIFT; 6,000 LB / VARIABLE REACH, ROUGH TERRAIN"), wrapped over lines, then more codes
and notices: the title is that subject, its wrapped lines joined.
"""

from __future__ import annotations

import itertools
import re

# Words of document kinds, publishers' boilerplate, dates and connectives: a line of these alone
# says what sort of document it is, not what it is about (English, and the manuals' other languages).
_GENERIC = frozenset(
    """
    technical manual manuals operator operators operator's owner owner's user user's users guide handbook
    instruction instructions reference service maintenance repair parts list lists unit direct general
    support depot organizational field intermediate field-level installation operation operating
    department departments army navy air force marine corps headquarters government agency the of for and
    with to in on a an including changes change volume vol edition revision rev draft copy reprint
    january february march april may june july august september october november december
    manual técnico técnica manuel technique betriebsanleitung bedienungsanleitung handbuch anleitung manuale
    istruzioni uso de del la el las los das do dos instrucciones instruções operação serie série
    untitled document presentation slide title
    """.split()
)
# Tokens that mark a line of codes: stock and item numbers, publication numbers.
_CODE_WORDS = frozenset("tm to nsn eic lin niin pn p/n no nr part doc".split())
_NOT_NAMES = _GENERIC | _CODE_WORDS
# A line that starts a notice or a sentence ends the title and is never one.
_NOTICE = re.compile(
    r"^\W*(distribution|supersedure|supersedes|this (manual|copy|document|publication)|approved|warning|"
    r"caution|danger|copyright|©|all rights|printed|published|reporting|headquarters)\b",
    re.IGNORECASE,
)
_MAX_LINES = 30  # of the cover's text: the title is near its top
_MAX_TITLE = 100  # characters: a longer subject is cut at a comma
_MAX_WORDS = 14  # per line: a longer line is a sentence of the text, not a title's


def document_title(front: str, metadata_title: str | None = None) -> str | None:
    """The title from a document's metadata when it names something, else from its cover text."""
    if metadata_title and _names_something(metadata_title.strip()):
        return _shortened(metadata_title.strip())
    lines = [line.strip().lstrip("#").strip() for line in front.splitlines() if line.strip()][:_MAX_LINES]
    start = next((i for i, line in enumerate(lines) if _subject_line(line)), None)
    if start is None:
        return None
    # Where the cover also names the document kind with the subject ("SKR Mini E3 Setup Guide"
    # under a maker's name), that line is the title.
    if len(lines[start].split()) <= 3:
        kind = next((i for i in range(start + 1, min(start + 3, len(lines))) if _names_kind(lines[i])), None)
        start = kind if kind is not None else start
    taken = [lines[start]]
    for line in lines[start + 1 :]:
        if not _continues(taken[-1], line) or len(" ".join(taken)) >= _MAX_TITLE:
            break
        taken.append(line)
    return _shortened(" ".join(taken))


def _words(line: str) -> list[str]:
    return [w.replace("’", "'").strip(".,;:()[]*'\"“”").lower() for w in line.split()]


def _names_something(line: str) -> bool:
    """Some word of the line is neither boilerplate, a code nor a number."""
    if len(line) < 3 or line.lower().endswith((".doc", ".docx", ".pdf", ".indd", ".dot")):
        return False
    return any(sum(c.isalpha() for c in w) >= 3 and w.rstrip("0123456789") not in _NOT_NAMES for w in _words(line))


def _subject_line(line: str) -> bool:
    return (
        _names_something(line) and not _NOTICE.match(line) and not _code_line(line) and len(line.split()) <= _MAX_WORDS
    )


def _code_line(line: str) -> bool:
    """A stock or publication number line: "(NSN 4310-01-220-7262)", "AIR FORCE TO 35C2-3-456-11": a
    code word in capitals before a number."""
    tokens = [t.strip(".,;:()[]*") for t in line.split()]
    return any(
        word.isupper() and word.lower() in _CODE_WORDS and any(c.isdigit() for c in following)
        for word, following in itertools.pairwise(tokens)
    )


def _names_kind(line: str) -> bool:
    """A short title line naming the kind of document with its subject (not a sentence)."""
    kinds = {"manual", "guide", "handbook", "instructions", "manuel", "handbuch", "manuale"}
    short = len(line.split()) <= 8 and not line.rstrip().endswith(".")
    return short and _subject_line(line) and any(w in kinds for w in _words(line))


def _continues(previous: str, line: str) -> bool:
    """The line wraps the title's previous line: set alike (capitals after capitals), or the
    previous one left a phrase open."""
    if not _subject_line(line):
        return False
    open_phrase = previous.rstrip().endswith((",", ";", "-", "&")) or line[:1].islower()
    return open_phrase or (previous.isupper() and line.isupper())


def _shortened(title: str) -> str:
    title = re.sub(r"\s+", " ", title).strip(" ,;:-")
    if len(title) <= _MAX_TITLE:
        return title
    cut = title.rfind(",", 0, _MAX_TITLE)
    return title[:cut] if cut > 20 else title[:_MAX_TITLE].rsplit(" ", 1)[0]
