"""Documents are read in a separate process, with hard limits the reader cannot starve.

The readers check their time and size limits as they go (page by page, block by block), but one
pathological page (a content stream that expands to millions of operators) or a native crash in a
PDF library would still hold or kill the whole ingest. So the pipeline hands each file to a
long-lived reading process:
  - its address space is capped (`max_reader_memory_mb`): a document that needs more fails with
    MemoryError there, and costs one line, not the machine;
  - it is killed when a document overruns `max_seconds_per_document` (with a grace for the
    cooperative check to speak first), and a fresh one is started for the next file;
  - if it dies (a segfault in a native library, the kernel's OOM killer), that file costs one line.
The process is started on the first document (an unchanged re-run starts none) and imports only
the readers, not the embedding model.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ingest.documents import ParsedDocument
from ingest.ocr import OcrOptions
from ingest.readers import ReadLimits, read_document
from shopfloor.errors import DocumentError

log = logging.getLogger(__name__)

_MB = 1024 * 1024
_GRACE_S = 5.0  # past the time limit, before the reader is killed: the cooperative check speaks first
_START_S = 120.0  # a fresh process importing the readers, on a loaded machine


def _serve(connection: Connection, memory_mb: float) -> None:
    """The reading process: read each requested file, send back the document or the error."""
    limit = int(memory_mb * _MB)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    connection.send(("ready", None))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        path, ocr, limits = request
        ocr = replace(ocr, on_page=lambda: connection.send(("page", None))) if ocr is not None else None
        try:
            result: Any = read_document(path, ocr, limits)
        except DocumentError as error:
            result = error
        except MemoryError:
            result = DocumentError(path, f"needs more than {memory_mb:g} MB to read (setting max_reader_memory_mb)")
        except Exception as error:  # a reader's own bug on a hostile file costs that file
            result = DocumentError(path, f"could not be read ({type(error).__name__}: {error})"[:300])
        connection.send(("done", result))


class ReadingProcess:
    """One reading process at a time, restarted after a kill or a crash. Not thread-safe: the
    pipeline reads one document at a time (in its read-ahead thread)."""

    def __init__(self, memory_mb: float) -> None:
        self.memory_mb = memory_mb
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None

    def read(self, path: Path, ocr: OcrOptions | None, limits: ReadLimits) -> ParsedDocument:
        connection = self._started()
        on_page = ocr.on_page if ocr is not None else None
        sent = replace(ocr, on_page=None) if ocr is not None else None
        connection.send((path, sent, limits))
        deadline = time.monotonic() + limits.seconds + _GRACE_S
        while True:
            if not connection.poll(max(deadline - time.monotonic(), 0.0)):
                self.close()
                raise DocumentError(
                    path, f"still reading after {limits.seconds:g} s (setting max_seconds_per_document); stopped"
                )
            try:
                kind, result = connection.recv()
            except (EOFError, OSError):
                code = self._exit_code()
                self.close()
                raise DocumentError(path, f"the reader crashed on it (exit {code})") from None
            if kind == "page":
                if on_page is not None:
                    on_page()
                continue
            if isinstance(result, DocumentError):
                raise result
            assert isinstance(result, ParsedDocument)
            return result

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=10)
        self._process = self._connection = None

    def _started(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._connection is not None:
            return self._connection
        self.close()
        # spawn, not fork: the parent holds the embedding model and its threads
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(target=_serve, args=(theirs, self.memory_mb), name="shopfloor-reader", daemon=True)
        process.start()
        theirs.close()
        self._process, self._connection = process, ours
        if not ours.poll(_START_S) or ours.recv() != ("ready", None):
            self.close()
            raise DocumentError("reading process", f"did not start within {_START_S:g} s")
        return ours

    def _exit_code(self) -> int | None:
        if self._process is None:
            return None
        self._process.join(timeout=10)
        return self._process.exitcode
