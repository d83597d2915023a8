"""Errors an operator or engineer reads: str() is one line naming the thing and the reason."""

from __future__ import annotations


class ShopfloorError(Exception):
    """Base of every expected failure; the CLI prints str() as one line and exits 1."""


def printable(text: object) -> str:
    """A name as one line: a newline or other control character in a file name is shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class DocumentError(ShopfloorError):
    """A document cannot be read (corrupt, encrypted, empty, unsupported...)."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{printable(path)}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type[DocumentError], tuple[object, str]]:
        """Pickled as its two parts: it crosses from the reading process."""
        return (DocumentError, (self.path, self.reason))


class LlmUnavailableError(ShopfloorError):
    """The LLM server did not answer (down, unreachable, overloaded): the manual's lines stand alone."""


class GapLogUnavailableError(ShopfloorError):
    """The shared gap log's database server cannot be reached (down, restarting, unreachable)."""


class IndexLockedError(ShopfloorError):
    """Another process is writing the index."""


class IndexMissingError(ShopfloorError):
    """No index has been written at the configured location yet."""


class IncompatibleIndexError(ShopfloorError):
    """The index was built with another embedding model or format than the one configured."""


class UnknownDocumentError(ShopfloorError):
    """A document id that is not in the index."""


class ConfigError(ShopfloorError):
    """A setting from the environment, the TOML file or an option has an invalid value."""


class BackendUnavailableError(ShopfloorError):
    """An embedding backend cannot run this model on this machine (package missing, model layout unknown)."""


class OcrError(ShopfloorError):
    """tesseract could not read a page (a missing language pack, a crash)."""
