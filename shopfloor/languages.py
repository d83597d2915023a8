"""Which language a question, or a manual, is written in.

Questions on a floor terminal are short and full of codes ("mdi mode?", "E-14 on hp-200"), where any
detector guesses wildly; a wrong guess would answer an English operator in Turkish. So a language is
only taken from the text when the detector is sure and the question has enough words; otherwise the
terminal's own language decides (its `?lang=`, else its browser's), and English where it has none.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

# The languages operators may ask in and manuals are recognised in, by ISO 639-1 code (each has
# its terminal labels in ui/labels.py).
LANGUAGES = {
    "en": "English",
    "de": "German",
    "es": "Spanish",
    "pt": "Portuguese",
    "fr": "French",
    "pl": "Polish",
    "tr": "Turkish",
    "it": "Italian",
}
ENGLISH = "en"
_WORD = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class LanguageGuess:
    """A question's language and how it was decided: by its words, or by the terminal."""

    code: str
    confidence: float  # the detector's probability for `code`; 0 when the terminal decided
    by_text: bool


class LanguageDetector:
    """py3langid restricted to LANGUAGES (its naive Bayes model ships in the package: no download)."""

    def __init__(self, min_confidence: float = 0.9, min_words: int = 3) -> None:
        self.min_confidence = min_confidence
        self.min_words = min_words
        self._identifier: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        with self._lock:  # loaded once, at the first question (about 0.3 s)
            if self._identifier is None:
                from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

                identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
                identifier.set_languages(list(LANGUAGES))
                self._identifier = identifier
            return self._identifier

    def detect(self, text: str, terminal: str | None = None) -> LanguageGuess:
        """The question's language; `terminal` is the terminal's language, the fallback."""
        fallback = terminal if terminal in LANGUAGES else ENGLISH
        if len(_WORD.findall(text)) < self.min_words:
            return LanguageGuess(fallback, 0.0, by_text=False)
        code, confidence = self._model().classify(text.lower())
        if code == fallback or confidence >= self.min_confidence:
            return LanguageGuess(str(code), float(confidence), by_text=True)
        return LanguageGuess(fallback, 0.0, by_text=False)

    def of_document(self, texts: list[str], sample_chars: int = 20_000) -> str:
        """A manual's language, from its passages spread over the whole document (a first page can
        be a cover in two languages); English when unsure."""
        step = max(1, len(texts) // 20)
        sample = " ".join(texts[::step])[:sample_chars]
        if len(_WORD.findall(sample)) < 20:
            return ENGLISH
        code, confidence = self._model().classify(sample.lower())
        return str(code) if confidence >= self.min_confidence else ENGLISH


# One detector per process: its model is read once.
DETECTOR = LanguageDetector()


def language_name(code: str) -> str:
    return LANGUAGES.get(code, code)


def supported(code: str | None) -> str | None:
    """A browser's or an address's language tag ("de-AT", "pt_BR") as one of LANGUAGES, or None."""
    if not code:
        return None
    base = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return base if base in LANGUAGES else None
