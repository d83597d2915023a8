"""Questions suggested to an operator: ones the manuals answered well, then topics they cover.

Built from real manuals' headings, "What does the Everlasting Company manual say about areyour?"
was offered: a company name for a title and a junk heading for a topic. So a topic must read as a
section title (a few words, mostly letters), and the manual is not named at all.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import chain, zip_longest

from assistant.gaps import GapLog
from assistant.retrieval import HybridRetriever

# Sections every manual has that say nothing about its machine.
_GENERIC = re.compile(
    r"^(?:table of )?contents$|^index$|^introduction$|^foreword$|^preface$|^appendix\b|^glossary\b|^list of\b|"
    r"^abstract$|^overview$|^summary$|^references?$|^notes?$|^revision|^change|^warranty|^copyright|^legend\b",
    re.IGNORECASE,
)


def suggested_questions(retriever: HybridRetriever, gap_log: GapLog | None, limit: int = 4) -> list[str]:
    """Up to `limit` suggestions: well answered questions first, then the manuals' main topics."""
    asked = gap_log.well_answered(limit) if gap_log is not None else []
    topics = [t for t in covered_topics(retriever) if t.lower() not in {q.lower() for q in asked}]
    return [*asked, *topics][:limit]


def covered_topics(retriever: HybridRetriever, per_document: int = 3) -> list[str]:
    """The sections with the most passages in each document, taken in turn from each document."""
    by_document: dict[str, Counter[str]] = {}
    documents = retriever.snapshot.manifest.documents
    for doc_id, sections in retriever.sections().items():
        title = documents[doc_id].title.lower()
        for section, passages in sections.items():
            topic = _topic(section)
            if topic and topic.lower() not in title:  # the title is no topic
                by_document.setdefault(doc_id, Counter())[topic] += passages
    ranked = [[t for t, _ in counts.most_common(per_document)] for counts in by_document.values()]
    return [t for t in chain.from_iterable(zip_longest(*ranked)) if t]


def _topic(section: str) -> str | None:
    """The last part of a section path when it reads as a title, in sentence case."""
    title = re.sub(r"^(?:\d+(?:\.\d+)*\.?|[A-Z]\.|Chapter \d+\W*|Section [IVX\d]+\.?)\s*", "", section.split(" > ")[-1])
    words = title.split()
    letters = sum(c.isalpha() for c in title)
    if not 2 <= len(words) <= 7 or letters < 0.8 * len(title.replace(" ", "")) or _GENERIC.search(title):
        return None
    return title[0].upper() + title[1:].lower() if title.isupper() else title
