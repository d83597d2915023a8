"""Cut cleaned pages into passages the way manuals are written.

Lines are grouped into units (a paragraph, a numbered step with its sub-items, a safety notice,
a table), units are packed into chunks within one section, and a chunk never crosses a heading.
A WARNING/CAUTION/DANGER travels with the step it guards; a table is cut only between rows, and
every piece repeats the header row. Chunks are measured in the embedding model's own tokens, so
none is longer than its window.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import takewhile

from ingest.cleaning import strip_running_lines
from ingest.documents import Chunk, OutlineEntry, Page, ParsedDocument
from ingest.pdf_fonts import line_key

# Bump when chunk boundaries, page reading or a passage's BM25 terms change: documents read by another
# version are read again.
# 4: sections from the PDF outline; labels and running lines that recur are never headings
# 6: titles from the cover's subject, never a code or boilerplate (embedded with every passage)
# 7: no front matter, callouts, captions, contents entries or wrapped text as sections; wrapped
#    titles joined; numbered paragraph titles ("4-26. Engine Air Cleaner Assembly") in body type
# 8: a figure's labels (after its page's text, or a type made of them) are text, not sections
# 9: BM25 terms without thousands separators, units as one term ("qts", "quarts": qt; indexes/words.py)
# 10: a value typed against its unit is also the two ("8mm": 8, mm)
CHUNKER_VERSION = "manual-10"

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
_NUMBERED_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2})+)\.?\s+([A-Z][^|]{1,80})$")
_TOP_HEADING = re.compile(r"^([1-9]|[12]\d)\s+([A-Z][A-Za-z][A-Za-z /&,()'-]{1,60})$")
_CHAPTER = re.compile(r"^(?:Chapter|Section|Part|Appendix|Module)\s+[\dA-Z]{1,4}\b[.:]?\s*(.{0,80})$")
_STEP = re.compile(r"^(?:Step\s+\d+\b[:.)]?|\d{1,2}[.)]|\(?[a-z][.)])\s+\S")
_SAFETY = re.compile(r"^(?:DANGER|WARNING|CAUTION|NOTICE|(?:Danger|Warning|Caution)\s*[:!\-–])")
_BULLET = re.compile(r"^[-•*▪●◦‣∙]\s*\S")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_MAX_SECTION_CHARS = 150
_MAX_HEADING_CHARS = 90
_PEERS_HOLD = 0.1  # the share of a document the peers of a front-matter heading hold at most
_WRAPPED_LINES = 3  # a heading wraps over at most this many lines; more in a row are a figure's callouts
_LABEL_WORDS = 5  # a line in a heading type this long is a list's item or a sentence, not a figure's label
_LABEL_TYPE_SHARE = 0.5  # a type whose headings are mostly figure labels is the figures' type
_LABEL_TYPE_MIN = 10  # headings of one type needed to judge the type as a whole
# A figure's caption ("Figure 4-35. Plug, Replace", "Fig. 2", "Figura 1 – Desenho em Corte").
_CAPTION = re.compile(
    r"^(?:Figure|Fig\.?|Figura|Abbildung|Abb\.?)\s*(?:[A-Z]-?)?\d+[A-Za-z]?(?:[-.]\d+[A-Za-z]?)*\b", re.IGNORECASE
)
# A numbered paragraph's title as military and many industrial manuals set it, in body type
# ("4-26. Engine Air Cleaner Assembly."): the section a maintenance procedure is filed under.
_PARAGRAPH_TITLE = re.compile(r"^\d{1,2}-\d{1,3}\.\s+([A-Z][A-Za-z0-9 ,/&()'’–—-]{2,70}?)\.?$")
# A line that opens a numbered title of its own, never the wrapped end of the one above it.
_NUMBERED_TITLE = re.compile(
    r"^(?:\d|(?i:chapter|section|part|appendix|table|tabela|tabla|tabelle|tableau)\s+(?:\d|[IVX]+\b))"
)
# Words a line of running text may break after, but no sentence or heading ends with.
_CONNECTORS = frozenset("a an and or of the to for with in on at by from as than".split())
_CONTINUED = re.compile(r"\s*(?:[-–—]\s*continued|\(cont(?:inued|['’]d|\.)?\))\.?\s*$", re.IGNORECASE)
_RECURRING = 3  # a line found this often in one document is a label or running line, not a heading


@dataclass
class _Line:
    text: str
    page: int | None
    label: str | None
    source: str = "text-layer"
    tokens: int = 0
    styled: dict[str, int] | None = None  # the page's lines set apart by type (see Page.styled)


@dataclass
class _Unit:
    kind: str  # text | step | safety | table
    section: str
    lines: list[_Line] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(line.tokens for line in self.lines) + len(self.lines)


class _Sections:
    """The heading path at the current line ("3 Operation > 3.2 Start-up")."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> None:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))

    @property
    def path(self) -> str:
        path = " > ".join(title for _, title in self._stack)
        return path if len(path) <= _MAX_SECTION_CHARS else "… " + path[-_MAX_SECTION_CHARS:]


def heading_level(line: str) -> tuple[int, str] | None:
    """(level, title) when a line is a heading, else None."""
    if m := _MD_HEADING.match(line):
        return len(m.group(1)), m.group(2)
    if len(line) > _MAX_HEADING_CHARS or line.endswith((".", ",", ";", ":")):
        return None
    if _CHAPTER.match(line):
        return 1, line
    if line[-1:].isdigit():  # a table row or a contents line ("Oil Cooler ... 6-14")
        return None
    if m := _NUMBERED_HEADING.match(line):
        return m.group(1).count(".") + 1, line
    if _TOP_HEADING.match(line):
        return 1, line
    letters = [c for c in line if c.isalpha()]
    all_caps = len(letters) >= 4 and all(c.isupper() for c in letters) and len(line.split()) <= 8
    if all_caps and not _SAFETY.match(line) and "|" not in line:
        return 7, line  # an all-caps title: below any numbered level, replaced by its next peer
    return None


# Headings found in a document: line index -> (level, title).
_Found = dict[int, tuple[int, str]]


class Headings:
    """Which lines open a section.

    A PDF's own outline (its bookmarks), where it has one, is what the author called a section:
    a line that matches a bookmark's title on its page opens it, and a bookmark whose title is not
    in the page's text opens at the top of the page. No other line is then a heading. Without an
    outline, a line is a heading by its type or shape (heading_level), unless it recurs: a line
    found three times or more in a document is a running header ("Everlasting Company") or a label
    ("CORRECTIVE ACTION" before each remedy of a troubleshooting table), never a section. On PDF
    pages the headings are then read as a whole (see _join_wrapped, _without_whole_document)."""

    def __init__(self, lines: list[_Line], outline: list[OutlineEntry], title: str = "") -> None:
        self._title = line_key(title)
        self._outline: dict[int, list[OutlineEntry]] = {}
        for entry in outline:
            self._outline.setdefault(entry.page, []).append(entry)
        counts = Counter(line_key(ln.text) for ln in lines if ln.text)
        self._recurring = {key for key, n in counts.items() if n >= _RECURRING}
        self._in_text = {(ln.page, line_key(ln.text)) for ln in lines if ln.text}
        # Numbered paragraph titles in body type rank below every heading type of the document
        # (where it tells no type: with the all-caps titles, below any numbered level).
        types = {id(ln.styled): ln.styled for ln in lines if ln.styled}.values()
        self._paragraph_level = 1 + max((lv for styled in types for lv in styled.values()), default=6)
        # A page read by OCR tells no type. In a document whose other pages do, its lines are no
        # headings: a picture's text is a chart or a table ("7 Transmission", a lubrication
        # chart's row, had headed the rest of a forklift manual as its top section). A scan whose
        # text layer sets nothing apart (every page's type empty) keeps the headings OCR shapes give.
        self._typed = any(ln.styled for ln in lines)
        self._page: int | None = None
        found = {i: h for i, ln in enumerate(lines) if ln.text and (h := self._level(ln)) is not None}
        wrapped: dict[int, int] = {}
        if not outline:
            found = {i: h for i, h in found.items() if not _continues_text(lines, i, found)}
            found, wrapped = _join_wrapped(lines, found)
            found = _without_figure_labels(lines, found)
            found = _without_whole_document(lines, found)
        self._found = found
        # The wrapped end of a title no longer a heading is text again.
        self._wrapped = {i for i, start in wrapped.items() if start in found}

    def before(self, line: _Line) -> list[tuple[int, str]]:
        """Bookmarks of a new page whose titles its text does not hold: they open at its top."""
        if not self._outline or line.page == self._page or line.page is None:
            return []
        self._page = line.page
        return [
            (e.level, e.title)
            for e in self._outline.get(line.page, [])
            if (line.page, line_key(e.title)) not in self._in_text
        ]

    def at(self, index: int) -> tuple[int, str] | None:
        """(level, title) when the line at `index` opens a section."""
        return self._found.get(index)

    def wrapped(self, index: int) -> bool:
        """Whether the line at `index` is the wrapped end of the heading above it."""
        return index in self._wrapped

    def _level(self, line: _Line) -> tuple[int, str] | None:
        key = line_key(line.text)
        if self._outline:
            entry = next((e for e in self._outline.get(line.page or 0, []) if _title_matches(e.title, key)), None)
            return None if entry is None else (entry.level, line.text)
        if _MD_HEADING.match(line.text):
            return heading_level(line.text)
        if line.styled is None and self._typed:
            return None
        if not key or key in self._recurring or (len(key) >= 4 and key in self._title and key != self._title):
            return None  # a label, a running line, or a piece of the document's title wrapped over lines
        if _CAPTION.match(line.text):
            return None  # a figure's caption stands below the figure, not above what follows
        if " ... " in line.text:
            return None  # a contents entry (its dot leader, normalised), not the section itself
        if line.text.count("(") != line.text.count(")"):
            return None  # the wrapped end or start of a longer line ("Purifier)")
        if (m := _PARAGRAPH_TITLE.match(line.text)) and _title_like(m.group(1)):
            return self._paragraph_level, _without_continued(line.text).rstrip(".")
        found = _styled_heading(line, key) if line.styled is not None else heading_level(line.text)
        return None if found is None else (found[0], _without_continued(found[1]))


def _continues_text(lines: list[_Line], index: int, found: _Found) -> bool:
    """Whether a PDF line is the wrapped end of the text line above it, which breaks off on a word
    that cannot end a sentence ("f. Replace (Intercooler to" / "Separator Line")."""
    if not _by_type_or_shape(lines[index]):
        return False
    above = next((j for j in range(index - 1, -1, -1) if lines[j].text), None)
    if above is None or above in found or lines[above].page != lines[index].page:
        return False
    last = lines[above].text.rsplit(" ", 1)[-1]  # running text breaks on small words; "to ON" ends
    return last in _CONNECTORS or lines[above].text.endswith(",")


def _join_wrapped(lines: list[_Line], found: _Found) -> tuple[_Found, dict[int, int]]:
    """Headings of a PDF page that follow each other at one level, with no text between: two or
    three are one title wrapped over lines ("CHAPTER 1" / "INTRODUCTORY INFORMATION WITH" /
    "THEORY OF OPERATION") unless a line opens a numbered title of its own ("Tabela 3 – ...");
    more are the callouts of a figure ("PRIMARY", "FUEL FILTER", "SECONDARY", ...), none of them
    a section. Returns the headings, and the lines that continue a wrapped title with the line
    where that title starts."""
    joined = dict(found)
    wrapped: dict[int, int] = {}
    for run in _heading_runs(lines, found):
        if len(run) > _WRAPPED_LINES:
            for i in run:
                del joined[i]
            continue
        titles: list[list[int]] = []
        for i in run:
            if titles and not _NUMBERED_TITLE.match(lines[i].text):
                titles[-1].append(i)
            else:
                titles.append([i])
        for title in titles:
            text = " ".join(found[i][1] for i in title)
            if len(title) > 1 and len(text) <= _MAX_HEADING_CHARS:
                joined[title[0]] = (found[title[0]][0], text)
                for i in title[1:]:
                    del joined[i]
                    wrapped[i] = title[0]
    return joined, wrapped


def _heading_runs(lines: list[_Line], found: _Found) -> Iterator[list[int]]:
    """Runs of two or more PDF headings of one level on one page, no other text line between them."""
    run: list[int] = []
    for i, line in enumerate(lines):
        if not line.text:
            continue
        same = bool(run) and i in found and found[i][0] == found[run[0]][0] and line.page == lines[run[0]].page
        if same and _by_type_or_shape(line):
            run.append(i)
            continue
        if len(run) > 1:
            yield run
        run = [i] if i in found and _by_type_or_shape(line) else []
    if len(run) > 1:
        yield run


def _without_figure_labels(lines: list[_Line], found: _Found) -> _Found:
    """Without the PDF headings that label a figure. A page's text layer holds the callouts of its
    photographs and drawings last, after the page's text: a heading line there heads no text on
    its page, and the next page opens with a heading of its own ("INSTRUMENT" / "PANEL", then
    "PREVENTIVE MAINTENANCE CHECKS AND SERVICES" overleaf). Where most headings of one type are
    such labels, the type is the figures' and none of its lines is a heading (the forklift manual
    sets its callouts larger than its headings: 90 of the 141 lines of that type ended a page).
    A title alone on a divider page, and a heading at the foot of a page whose text opens the
    next, stay."""
    labels = {i for i in found if _by_type_or_shape(lines[i]) and _labels_a_figure(lines, i, found)}
    per_type = Counter(level for level, _ in found.values())
    labelled = Counter(found[i][0] for i in labels)
    figure_types = {
        level
        for level, n in labelled.items()
        if per_type[level] >= _LABEL_TYPE_MIN and n > _LABEL_TYPE_SHARE * per_type[level]
    }
    return {
        i: heading
        for i, heading in found.items()
        if i not in labels and not (heading[0] in figure_types and _by_type_or_shape(lines[i]))
    }


def _labels_a_figure(lines: list[_Line], index: int, found: _Found) -> bool:
    """Whether a heading comes after all of its page's text, and the next page opens with another."""
    if _NUMBERED_TITLE.match(lines[index].text):
        return False  # a numbered title at the foot of a page ("4 Operating the Press") heads the next
    page = lines[index].page
    before = range(index - 1, -1, -1)
    if not any(i not in found and _in_body_type(lines[i]) for i in takewhile(lambda i: lines[i].page == page, before)):
        return False  # a divider page's title heads the pages after it
    after = index + 1
    while after < len(lines) and lines[after].page == page:
        line = lines[after]
        if after not in found and (_in_body_type(line) or len(line.text.split()) >= _LABEL_WORDS):
            return False
        after += 1
    following = next((i for i in range(after, len(lines)) if lines[i].text), None)
    return following is None or following in found or not _in_body_type(lines[following])


def _in_body_type(line: _Line) -> bool:
    """A line of text in the page's body type: not set apart by its type (where the PDF tells it)."""
    return bool(line.text) and (line.styled is None or line_key(line.text) not in line.styled)


def _without_whole_document(lines: list[_Line], found: _Found) -> _Found:
    """Without the PDF headings whose section would hold more than half of the document's text
    while their peers (the other headings of their level) hold little of it: a front-matter
    heading set in the largest type ("HOW TO USE THIS MANUAL", its peers the contents pages) or a
    cover line above every chapter is no section of the manual; it would head the path of nearly
    every passage. Dropping one lengthens the sections of its peers, so it is asked again until
    none is left; a last chapter that holds most of a manual has chapters for peers and stays."""
    text_before = [0]
    for line in lines:
        text_before.append(text_before[-1] + bool(line.text))
    total = text_before[-1]
    kept = dict(found)
    while True:
        ends = _section_ends(kept, len(lines))
        held = {i: text_before[ends[i]] - text_before[i] for i in kept}
        per_level: Counter[int] = Counter()
        for i, (level, _) in kept.items():
            per_level[level] += held[i]
        whole = [
            i
            for i, (level, _) in kept.items()
            if _by_type_or_shape(lines[i]) and held[i] > total / 2 and per_level[level] - held[i] < total * _PEERS_HOLD
        ]
        if not whole:
            return kept
        for i in whole:
            del kept[i]


def _section_ends(found: _Found, count: int) -> dict[int, int]:
    """Where each heading's section ends: at the next heading of its level or above, else at the
    end of the document (`count` lines). One pass from the end, with the open headings on a stack."""
    ends: dict[int, int] = {}
    later: list[tuple[int, int]] = []  # (level, line) of the headings below, nearest last
    for i in sorted(found, reverse=True):
        level = found[i][0]
        while later and later[-1][0] > level:
            later.pop()
        ends[i] = later[-1][1] if later else count
        later.append((level, i))
    return ends


def _by_type_or_shape(line: _Line) -> bool:
    """A heading a PDF page's type or shape suggests, not one its author marked up ("# Title")."""
    return line.page is not None and not _MD_HEADING.match(line.text)


def _without_continued(title: str) -> str:
    """A heading repeated on the next page ("STEER FORKLIFT - CONTINUED", "4-26. Engine Air
    Cleaner Assembly (Cont).") names the same section as the first."""
    return _CONTINUED.sub("", title) or title


def _title_matches(title: str, key: str) -> bool:
    """A line is a bookmark's heading when it reads as its title, maybe after a section number
    ("1.2 Selecting a Stepper Power Supply" for the bookmark "Selecting a Stepper Power Supply")."""
    title_key = line_key(title)
    if not key or not title_key.strip("0123456789"):
        return False
    return key == title_key or (key.endswith(title_key) and key[: -len(title_key)].isdigit())


def _styled_heading(line: _Line, key: str) -> tuple[int, str] | None:
    """A heading of a PDF that tells its type: a short line, not a sentence or a table row, set
    apart by its type; its level is its type's rank in the document."""
    text = line.text
    assert line.styled is not None
    level = line.styled.get(key)
    if level is None or len(text) > _MAX_HEADING_CHARS or len(text.split()) > 12 or text.endswith((".", ",", ";", ":")):
        return None
    if _is_table_row(text) or _SAFETY.match(text) or _BULLET.match(text) or text[:1].islower():
        return None  # a row, a notice, a list item, or the wrapped end of a bold sentence
    letters, digits = sum(c.isalpha() for c in text), sum(c.isdigit() for c in text)
    if letters < 3 or digits >= 0.25 * (letters + digits):
        return None  # a document code, a date or a page number ("TO 35C2-3-456-11", "0007-3")
    if heading_level(text) is None and not _title_like(text):
        return None  # a bold sentence ("Cutting oil must be applied sparingly") is emphasis
    return level, text


def _title_like(text: str) -> bool:
    """Most of the longer words capitalised, as titles are written ("Service of Fuel Filter")."""
    words = [w for w in re.findall(r"[A-Za-z]+", text) if len(w) >= 4]
    return not words or sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def _is_table_row(line: str) -> bool:
    return line.count("|") >= 2 or " | " in line


def _units(lines: list[_Line], headings: Headings) -> Iterator[_Unit]:
    sections = _Sections()
    unit: _Unit | None = None
    for index, line in enumerate(lines):
        text = line.text
        for entered in headings.before(line):
            sections.enter(*entered)
        if not text:
            if unit is not None and unit.kind != "safety":
                yield unit
                unit = None
            continue
        if _TABLE_RULE.match(text):
            continue
        if headings.wrapped(index):
            continue
        if (heading := headings.at(index)) is not None:
            if unit is not None:
                yield unit
            unit = None
            sections.enter(*heading)
            continue
        kind = _line_kind(text)
        if unit is not None and unit.lines[-1].source != line.source:
            yield unit  # text of another origin (OCR after the text layer, say) starts afresh
            unit = None
        if unit is None:
            unit = _Unit(kind, sections.path, [line])
        elif kind == "step" and unit.kind == "safety":
            unit.kind = "step"  # the warning stays with the step it guards
            unit.lines.append(line)
        elif kind in ("step", "safety") or (kind == "table") != (unit.kind == "table"):
            yield unit
            unit = _Unit(kind, sections.path, [line])
        else:
            unit.lines.append(line)
    if unit is not None:
        yield unit


def _line_kind(text: str) -> str:
    if _SAFETY.match(text):
        return "safety"
    if _STEP.match(text):
        return "step"
    if _is_table_row(text):
        return "table"
    return "text"


def _glue_safety(units: list[_Unit]) -> list[_Unit]:
    """A safety notice not followed by a step still belongs with its neighbour in the section
    (of the same origin: a notice of the text layer is not glued to a table read by OCR)."""
    out: list[_Unit] = []
    pending: _Unit | None = None
    for unit in units:
        if pending is not None and _same_block(pending, unit):
            unit = _Unit(unit.kind, unit.section, pending.lines + unit.lines)
        elif pending is not None:
            out.append(pending)
        pending = None
        if unit.kind == "safety":
            pending = unit
        else:
            out.append(unit)
    if pending is not None:
        if out and _same_block(out[-1], pending):
            out[-1] = _Unit(out[-1].kind, out[-1].section, out[-1].lines + pending.lines)
        else:
            out.append(pending)
    return out


def _same_block(first: _Unit, second: _Unit) -> bool:
    return first.section == second.section and first.lines[-1].source == second.lines[0].source


def _split_unit(unit: _Unit, budget: int, count: Callable[[list[str]], list[int]]) -> list[list[_Line]]:
    """Cut a unit longer than the budget between lines (table: between rows, header repeated)."""
    header = unit.lines[0] if unit.kind == "table" else None
    pieces: list[list[_Line]] = []
    current: list[_Line] = []
    used = 0
    for line in unit.lines:
        for part in _split_line(line, budget // 2, count) if line.tokens > budget // 2 else [line]:
            if current and used + part.tokens + 1 > budget:
                pieces.append(current)
                current = [header] if header is not None and part is not header else []
                used = sum(x.tokens + 1 for x in current)
            current.append(part)
            used += part.tokens + 1
    if current:
        pieces.append(current)
    return pieces


def _split_line(line: _Line, budget: int, count: Callable[[list[str]], list[int]]) -> list[_Line]:
    """A single over-long line (a run-on paragraph): cut at sentence ends, a run-on sentence
    between words, packing the pieces back together up to the budget."""
    pieces: list[tuple[str, int]] = []
    sentences = [p for p in _SENTENCE_END.split(line.text) if p]
    for sentence, tokens in zip(sentences, count(sentences), strict=True):
        if tokens <= budget:
            pieces.append((sentence, tokens))
        else:
            words = sentence.split(" ")
            pieces += zip(words, count(words), strict=True)
    out: list[_Line] = []
    for text, tokens in pieces:
        if out and out[-1].tokens + tokens + 1 <= budget:
            out[-1] = _Line(
                out[-1].text + " " + text, line.page, line.label, out[-1].source, out[-1].tokens + tokens + 1
            )
        else:
            out.append(_Line(text, line.page, line.label, line.source, tokens))
    return out


def _to_chunk(lines: list[_Line], section: str) -> Chunk:
    pages = [ln.page for ln in lines if ln.page is not None]
    return Chunk(
        text="\n".join(ln.text for ln in lines),
        section=section,
        page=pages[0] if pages else None,
        page_end=pages[-1] if pages else None,
        page_label=lines[0].label,
        source=lines[0].source,
        page_turns=_page_turns(lines),
    )


def _page_turns(lines: list[_Line]) -> list[tuple[int, int, str | None]]:
    """(line number in the chunk's text, page, label) wherever the next line is on a new page."""
    turns: list[tuple[int, int, str | None]] = []
    current = next((ln.page for ln in lines if ln.page is not None), None)
    row = 0
    for line in lines:
        if line.page is not None and line.page != current:
            turns.append((row, line.page, line.label))
            current = line.page
        row += line.text.count("\n") + 1
    return turns


def chunk_pages(
    pages: list[Page],
    budget: int,
    count: Callable[[list[str]], list[int]],
    outline: list[OutlineEntry] | None = None,
    title: str = "",
) -> list[Chunk]:
    """Chunks of at most `budget` tokens (as `count` measures them), in document order; sections
    from the document's `outline` where it has one."""
    lines: list[_Line] = []
    for page in pages:
        lines += [
            _Line(text.strip(), page.number, page.label, page.source, styled=page.styled)
            for text in page.text.split("\n")
        ]
    # Page breaks are not paragraph breaks: a blank line only where the text has one.
    for line, tokens in zip(lines, count([ln.text for ln in lines]), strict=True):
        line.tokens = tokens
    chunks: list[Chunk] = []
    pending: list[_Line] = []
    pending_section = ""
    for unit in _glue_safety(list(_units(lines, Headings(lines, outline or [], title)))):
        pieces = [unit.lines] if unit.tokens <= budget else _split_unit(unit, budget, count)
        for piece in pieces:
            size = sum(ln.tokens + 1 for ln in piece)
            used = sum(ln.tokens + 1 for ln in pending)
            new_source = pending and pending[0].source != piece[0].source
            if pending and (unit.section != pending_section or used + size > budget or new_source):
                chunks.append(_to_chunk(pending, pending_section))
                pending = []
            pending.extend(piece)
            pending_section = unit.section
    if pending:
        chunks.append(_to_chunk(pending, pending_section))
    return chunks


def chunk_document(document: ParsedDocument, budget: int, count: Callable[[list[str]], list[int]]) -> list[Chunk]:
    """A parsed document's chunks: running headers and footers stripped, sections from its outline
    (or its type), its title never taken for a section."""
    return chunk_pages(strip_running_lines(document.pages), budget, count, document.outline, document.title)
