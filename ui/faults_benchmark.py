"""`shopfloor bench faults`: the hardening battery, run as an adversary would run it, against the
real commands in real processes. Each class of fault prints trials / held / failed:

- kill -9 of an ingest at random moments and at each crash point of the version switch: the index
  always loads, no document is lost, the live version is one whole batch, and what a killed writer
  left is removed by the next one;
- many terminals at once (browsers on the web app and CLI processes): every question logged once;
- hostile documents, one class each: one line naming the file, the rest of the batch ingested, and
  a batch that is refused whole leaves the index as it was;
- the web app's probes: routes the operator page does not use, the manager's login, and document
  markup that must reach the page as text.
"""

from __future__ import annotations

import logging
import random
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from indexes.manifest import Manifest
from indexes.store import CRASH_AT_VARIABLE, CRASH_POINTS, SEGMENTS, STAGING_PREFIX, VERSIONS, IndexStore
from ui.login import hash_password
from ui.processes import (
    ask_in_browsers,
    environment,
    free_port,
    http_status,
    served,
    shopfloor_command,
    terminal_page,
)

log = logging.getLogger(__name__)

SAMPLE_DOCS = Path(__file__).resolve().parents[1] / "sample_docs"
GOOD = "AC-75_Air_Compressor_Maintenance.md"
_PASSWORD = "bench-faults-password"
_EXTRA_DOCUMENTS = 30  # enough work in a batch that a random kill lands inside it


@dataclass
class FaultClass:
    """One class of fault and what its trials showed; a failure says what broke."""

    name: str
    trials: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def held(self) -> int:
        return self.trials - len(self.failures)

    def check(self, held: bool, failure: str) -> None:
        self.trials += 1
        if not held:
            self.failures.append(failure)


# --- processes -------------------------------------------------------------------------------


def _ingest(folder: Path, index: Path, home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    command = shopfloor_command("ingest", str(folder), "--index", str(index), "--no-recheck")
    return subprocess.run(command, env=environment(home, **extra), capture_output=True, text=True, timeout=900)


# --- kill -9 ---------------------------------------------------------------------------------


def _write_batch(folder: Path, variant: str) -> None:
    """The sample manuals and extra work instructions whose text depends on the variant: every other
    ingest revises all of them, so every kill lands in a real revision."""
    folder.mkdir(parents=True, exist_ok=True)
    for sample in SAMPLE_DOCS.iterdir():
        if sample.is_file():
            shutil.copy(sample, folder / sample.name)
    for i in range(_EXTRA_DOCUMENTS):
        text = f"# Station {i}\n" + f"Check gauge {i} of line {variant} and log the value. " * 30
        (folder / f"station_{i:02d}.md").write_text(text, encoding="utf-8")


def _is_one_batch(store: IndexStore, variants: dict[str, dict[str, str]]) -> str | None:
    """None when the live version loads and is wholly one batch; else what is wrong."""
    try:
        snapshot = store.load()
    except Exception as error:
        return f"unloadable: {error}"
    documents = {name: record.sha256 for name, record in snapshot.manifest.documents.items()}
    if not any(documents == hashes for hashes in variants.values()):
        lost = set(next(iter(variants.values()))) - set(documents)
        return f"lost documents {sorted(lost)[:3]}" if lost else "a mix of two batches"
    for record in snapshot.manifest.documents.values():
        passages, vectors = snapshot.passages_of(record), snapshot.vectors_of(record)
        if len(passages) != record.chunks or any(p.metadata["doc_id"] != record.doc_id for p in passages):
            return f"{record.doc_id}: {len(passages)} passages stored for {record.chunks} chunks"
        if len(vectors) != record.chunks:
            return f"{record.doc_id}: {len(vectors)} vectors for {record.chunks} chunks"
    return None


def _live_is(store: IndexStore, hashes: dict[str, str]) -> bool:
    manifest = store.read_manifest()
    return manifest is not None and {n: r.sha256 for n, r in manifest.documents.items()} == hashes


def _batch_hashes(folder: Path) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def _crash_point_of(trial: int) -> str | None:
    """The first trials kill at each crash point in turn, then every third trial does; the others
    kill at a random moment."""
    if trial < len(CRASH_POINTS):
        return CRASH_POINTS[trial]
    return CRASH_POINTS[trial // 3 % len(CRASH_POINTS)] if trial % 3 == 0 else None


def kill_trials(work: Path, trials: int, seed: int = 7) -> FaultClass:
    """Kill -9 ingests at the named crash points of the version switch and at random moments of a
    run (start-up, reading, embedding, writing); then one clean ingest."""
    result = FaultClass("kill -9 during ingest")
    home, index = work / "home", work / "index"
    batches = {name: work / f"batch-{name}" for name in ("a", "b")}
    for name, folder in batches.items():
        _write_batch(folder, name)
    variants = {name: _batch_hashes(folder) for name, folder in batches.items()}
    first = _ingest(batches["a"], index, home)
    started = time.monotonic()
    revision = _ingest(batches["b"], index, home)  # how long the runs to be killed take
    revision_s = time.monotonic() - started
    if first.returncode != 0 or revision.returncode != 0:
        raise RuntimeError(f"the first ingests failed: {(first.stderr + revision.stderr).strip()[-300:]}")
    store = IndexStore(index)
    rng = random.Random(seed)

    def other_batch() -> str:  # always a revision of every station document
        return "b" if _live_is(store, variants["a"]) else "a"

    landed = 0
    for trial in range(trials):
        name = other_batch()
        point = _crash_point_of(trial)
        extra = {CRASH_AT_VARIABLE: point} if point else {}
        command = shopfloor_command("ingest", str(batches[name]), "--index", str(index), "--no-recheck")
        process = subprocess.Popen(
            command, env=environment(home, **extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        moment = point or f"{rng.uniform(0.0, revision_s):.2f} s"
        if point is None:
            time.sleep(float(moment.removesuffix(" s")))
            process.send_signal(signal.SIGKILL)
        code = process.wait(timeout=900)
        landed += code == -signal.SIGKILL
        problem = _is_one_batch(store, variants)
        with store.writing():  # the next writer: it sweeps what a killed one left
            pass
        if problem is None and list(index.glob(f"{STAGING_PREFIX}*")) + list(
            index.glob(f"{SEGMENTS}/{STAGING_PREFIX}*")
        ):
            problem = "staging folders left after the next writer"
        result.check(problem is None, f"killed at {moment} (exit {code}): {problem}")
    result.name += f" ({landed} of {trials} killed mid-run)"
    last = _ingest(batches[other_batch()], index, home)
    versions = sorted(p.name for p in (index / VERSIONS).iterdir())
    used = {r.segment for v in versions for r in Manifest.read(index / VERSIONS / v).documents.values()}
    stray = sorted(p.name for p in (index / SEGMENTS).iterdir() if p.name not in used)
    result.check(
        last.returncode == 0 and _is_one_batch(store, variants) is None and len(versions) <= 2 and not stray,
        f"after the trials, a clean ingest: exit {last.returncode}, versions kept {versions}, stray segments {stray}",
    )
    return result


# --- hostile documents -----------------------------------------------------------------------


def docx_bomb(path: Path) -> None:
    """80 KB that unpacks to 30 MB of empty paragraphs."""
    import docx

    docx.Document().save(str(path))
    with zipfile.ZipFile(path) as original:
        parts = {name: original.read(name) for name in original.namelist()}
    body = b"<w:p/>" * 5_000_000
    parts["word/document.xml"] = parts["word/document.xml"].replace(b"<w:body>", b"<w:body>" + body, 1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for name, data in parts.items():
            bomb.writestr(name, data)


def pdf_page_bomb(path: Path, operators: int = 2_000_000) -> None:
    """A 90 KB PDF whose one page expands to millions of text operators: a reader's page-by-page
    time check never gets its turn (pypdf reads about 20,000 of them a second here)."""
    import zlib

    content = zlib.compress(b"BT /F1 12 Tf 72 720 Td " + b"(oil) Tj 0 -1 Td " * operators + b"ET", 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(pdf))


# (class, file name, how a held line reads: "skipped"/"note" and a part of its reason, or "ingested")
HOSTILE_FILES: tuple[tuple[str, str, str, str], ...] = (
    ("DOCX zip bomb", "bomb.docx", "skipped", "zip bomb"),
    ("50 MB text without a line break", "one_line.txt", "skipped", "setting max_characters"),
    ("PDF page of 2 million operators", "page_bomb.pdf", "skipped", "setting max_seconds_per_document"),
    ("HTML nested 100,000 deep", "deep.html", "skipped", "nest 100,000 deep"),
    ("DOCX that is not a document", "not_a_document.docx", "skipped", "not a readable DOCX"),
    ("PDF of random bytes", "random.pdf", "skipped", "not a readable PDF"),
    ("empty file", "empty.md", "skipped", "empty"),
    ("symbolic link loop", "loop", "skipped", "link"),
    ("broken symbolic link", "broken.md", "skipped", "broken symbolic link"),
    ("text that is not UTF-8", "latin1.md", "note", "not UTF-8"),
    ("damaged PDF (nameless pypdf warnings)", "damaged.pdf", "note", "damaged or unusual PDF"),
    ("file name with a newline", "name\nwith newline.md", "ingested", ""),
)


HOSTILE_SECONDS = 10  # the hostile batch's time limit per document: the page bomb would take minutes


def hostile_batch(root: Path) -> Path:
    """A folder with one file of each hostile class and one good manual."""
    folder = root / "batch"
    folder.mkdir(parents=True)
    shutil.copy(SAMPLE_DOCS / GOOD, folder / GOOD)
    docx_bomb(folder / "bomb.docx")
    pdf_page_bomb(folder / "page_bomb.pdf")
    with (folder / "one_line.txt").open("w") as f:  # 50 MB without a line break
        for _ in range(50):
            f.write("oil pump valve " * 70_000)
    (folder / "deep.html").write_text("<div>" * 100_000 + "hydraulic oil" + "</div>" * 100_000)
    with zipfile.ZipFile(folder / "not_a_document.docx", "w") as fake:
        fake.writestr("word/document.xml", "<not-word/>")
    (folder / "random.pdf").write_bytes(random.Random(3).randbytes(200_000))
    (folder / "empty.md").write_bytes(b"")
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "broken.md").symlink_to(root / "nowhere.md")
    (folder / "latin1.md").write_bytes("# Ölwechsel\nÖl der Presse alle 2000 Stunden wechseln.\n".encode("latin-1"))
    pdf = (SAMPLE_DOCS / "HP-200_Hydraulic_Press_SOP.pdf").read_bytes()
    (folder / "damaged.pdf").write_bytes(b"JUNK" + pdf[1:])  # pypdf: "invalid pdf header"
    (folder / "name\nwith newline.md").write_text("# Conveyor C-7\nThe C-7 belt speed is 0.5 m/s.\n")
    return folder


def hostile_documents(work: Path) -> list[FaultClass]:
    """The hostile batch through `shopfloor ingest`, each class judged on its own line."""
    folder = hostile_batch(work / "hostile")
    index, home = work / "hostile-index", work / "home"
    result = _ingest(folder, index, home, SHOPFLOOR_MAX_SECONDS_PER_DOCUMENT=str(HOSTILE_SECONDS))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    manifest = IndexStore(index).read_manifest()
    ingested = set(manifest.documents) if manifest else set()
    classes = []
    batch_whole = GOOD in ingested and "Traceback" not in result.stderr
    for name, file, kind, reason in HOSTILE_FILES:
        own = [line for line in lines if line.startswith(f"{kind}:") and _names(line, file)]
        if kind == "ingested":
            problem = None if file in ingested else "not ingested"
        elif len(own) != 1 or reason not in own[0]:
            problem = f"its lines: {own or lines[-3:]}"
        else:
            problem = None if kind == "skipped" or file in ingested else "noted but not ingested"
        fault = FaultClass(name)
        fault.check(problem is None and batch_whole, f"{file!r}: {problem or 'the rest of the batch was lost'}")
        classes.append(fault)
    refused = FaultClass("a batch refused whole leaves the index as it was")
    before = IndexStore(index).current_version
    bad_only = work / "bad-only"
    bad_only.mkdir()
    shutil.copy(folder / "bomb.docx", bad_only / "bomb.docx")
    (bad_only / "random.pdf").write_bytes((folder / "random.pdf").read_bytes())
    again = _ingest(bad_only, index, home)
    refused.check(again.returncode == 1 and IndexStore(index).current_version == before, again.stderr[-300:])
    classes.append(refused)
    return classes


def _names(line: str, file: str) -> bool:
    return file.replace("\n", "\\n") in line


# --- the web app -----------------------------------------------------------------------------

_TRAP_HITS: list[str] = []


class _Trap(BaseHTTPRequestHandler):
    """Where a document's <img> would send the terminal's browser: any request here is a finding."""

    def do_GET(self) -> None:
        _TRAP_HITS.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def _trap_server() -> Iterator[str]:
    _TRAP_HITS.clear()  # a second battery in the same process starts with no hits of the first
    trap = ThreadingHTTPServer(("127.0.0.1", free_port()), _Trap)
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{trap.server_address[1]}"
    finally:
        trap.shutdown()


def _login(base: str, password: str) -> int:
    data = urllib.parse.urlencode({"username": "manager", "password": password}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{base}/manager/login", data=data), timeout=120) as r:
            return int(r.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def web_probes(base: str, gaps_db: Path) -> FaultClass:
    """Every route the operator page does not use, and the manager's login, as an attacker tries them."""
    probes = FaultClass("web probes refused")
    upload = urllib.parse.quote(str(gaps_db))
    for method, path in (
        ("POST", "/gradio_api/upload"),
        ("GET", f"/gradio_api/file={upload}"),
        ("GET", "/gradio_api/file=/etc/passwd"),
        ("GET", "/gradio_api/info"),
        ("GET", "/gradio_api/openapi.json"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/monitoring"),
        ("POST", "/gradio_api/run/mark_resolved"),
        ("POST", "/gradio_api/call/v2/run_recheck"),
        ("POST", "/manager/gradio_api/upload"),
    ):
        status = http_status(base + path, method)
        probes.check(status == 404, f"{method} {path} answered {status}")
    for path in ("/manager/config", "/manager/gradio_api/info"):
        status = http_status(base + path)
        probes.check(status == 401, f"GET {path} without login answered {status}")
    guesses = [_login(base, f"guess-{n}") for n in range(8)]
    probes.check(guesses[-1] == 429, f"eight wrong logins answered {guesses}")
    status = _login(base, _PASSWORD)
    probes.check(status == 429, f"the right password during the lockout answered {status}")
    return probes


def concurrent_terminals(index: Path, home: Path, llm: Path, trap: str, web: int, cli: int) -> list[FaultClass]:
    """Web terminals (real browsers) and CLI processes asking at once, a hostile manual in the index:
    each question is in the gap log exactly once, and the page fetched nothing the manual pointed at."""
    logged = FaultClass(f"{web} web terminals + {cli} CLI processes at once, logged once")
    markup = FaultClass("document markup shown as text, nothing fetched")
    # The hostile manual's question first: with a single page, the markup check still has its page.
    questions = ["W9 clamp pressure?", "What torque for the ram guide bolts?", "How long is the spindle warm-up?"]
    web_asks = [(f"W{i:02d}", questions[i % len(questions)]) for i in range(web)]
    gaps_db = home / "gaps.sqlite"

    def rows() -> dict[str, int]:
        if not gaps_db.exists():
            return {}
        with sqlite3.connect(gaps_db) as db:
            return dict(db.execute("SELECT terminal, COUNT(*) FROM questions GROUP BY terminal").fetchall())

    expected = {t for t, _ in web_asks} | {f"C{i:02d}" for i in range(cli)}
    settings = {
        "SHOPFLOOR_LLM_MODEL": str(llm),
        "SHOPFLOOR_MANAGER_PASSWORD_HASH": hash_password(_PASSWORD),
        "SHOPFLOOR_LOGIN_LOCKOUT_AFTER": "5",
        "SHOPFLOOR_LOGIN_LOCKOUT_S": "60",
        "SHOPFLOOR_LOGIN_DELAY_S": "0.2",
    }
    with served(index, home, **settings) as base:
        clis = [
            subprocess.Popen(
                # Without the LLM: the log is written the same way, and five more models would not fit beside
                # the server's on a plant PC.
                shopfloor_command(
                    "ask", questions[i % len(questions)], "--index", str(index), "--terminal", f"C{i:02d}", "--no-llm"
                ),
                env=environment(home),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(cli)
        ]
        # One model answers them in turn, and every open page costs CPU while it waits: on 2 cores,
        # 20 pages got an answer about every 80 s.
        asks = [(terminal_page(base, terminal), question) for terminal, question in web_asks]
        texts = ask_in_browsers(asks, lambda: expected <= set(rows()), timeout_s=300 + 120 * len(asks))
        for process in clis:
            process.wait(timeout=900)
        counts = rows()
        for terminal in sorted(expected):
            logged.check(counts.get(terminal) == 1, f"{terminal}: logged {counts.get(terminal, 0)} times")
        for text in texts:
            markup.check(f'<img src="{trap}' not in text, "an <img> from a manual reached the page")
        shown = any(f"&lt;img src=&quot;{trap}" in text or f'&lt;img src="{trap}' in text for text in texts)
        markup.check(shown, "the manual's markup reached no page as text: nothing was tested")
        markup.check(not _TRAP_HITS, f"the browser fetched {_TRAP_HITS[:3]} named by a manual")
        probes = web_probes(base, gaps_db)
    return [logged, markup, probes]


def hostile_manual(trap: str) -> str:
    return (
        "# W9 welding fixture notes\n\n"
        f'The W9 fixture clamp pressure is 6 bar. <img src="{trap}/html.png"> See ![diagram]({trap}/md.png) '
        f"and [the supplier]({trap}/link).\n"
    )


def run_faults(work: Path, llm: Path, *, kill: int = 50, web: int = 20, cli: int = 5) -> list[FaultClass]:
    """The whole battery in the folder `work`; the web app answers with the GGUF model `llm`."""
    classes = [kill_trials(work / "kill", kill)] if kill else []
    classes += hostile_documents(work)
    docs, home, index = work / "served-docs", work / "served-home", work / "served-index"
    with _trap_server() as trap:
        docs.mkdir()
        for sample in SAMPLE_DOCS.iterdir():
            if sample.is_file():
                shutil.copy(sample, docs / sample.name)
        (docs / "W9_fixture_notes.md").write_text(hostile_manual(trap), encoding="utf-8")
        built = _ingest(docs, index, home)
        if built.returncode != 0:
            raise RuntimeError(f"ingest for the web app failed: {built.stderr.strip()[-300:]}")
        classes += concurrent_terminals(index, home, llm, trap, web, cli)
    return classes
