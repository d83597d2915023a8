"""The web app as operators and the manager use it: HTTP security probes and a real browser
(Debian's Chromium driven by Playwright; never `playwright install`, which downloads browsers)."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assistant.gaps import GapLog
from tests.conftest import ROOT
from ui.processes import BROWSER_ARGS as CHROMIUM_ARGS
from ui.processes import CHROMIUM, http_status

pytestmark = pytest.mark.slow
PASSWORD = "floor-test-pw"


@contextmanager
def _serving(settings) -> Iterator[str]:
    """The real app (LLM, index, gap log) for these settings on a free loopback port."""
    import uvicorn
    from pydantic import SecretStr

    from ui.login import manager_auth
    from ui.server import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = settings.model_copy(update={"manager_password": SecretStr(PASSWORD)})
    auth, _ = manager_auth(settings)
    web = uvicorn.Server(uvicorn.Config(create_app(settings, auth), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not web.started and time.monotonic() < deadline:
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    web.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def server(llm_settings, embedder):
    """The app over the sample manuals."""
    settings = llm_settings.model_copy(update={"manager_user": "manager"})
    with _serving(settings) as base:
        yield base, settings


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the browser tests' screenshots go: a temporary folder, or SCREENSHOTS_DIR (relative to the
    project, e.g. docs) to refresh the README's pictures on purpose."""
    chosen = os.environ.get("SCREENSHOTS_DIR")
    folder = ROOT / chosen if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_manager_routes_refuse_without_credentials(server) -> None:
    base, settings = server
    rows_before = GapLog(settings.gaps_db).count()
    for path in ("/manager/config", "/manager/gradio_api/info"):
        assert http_status(base + path) == 401, path
    assert http_status(base + "/manager/gradio_api/upload", "POST") == 404, "no uploads, logged in or not"
    assert http_status(base + "/manager/gradio_api/queue/join", "POST") == 401
    login_page = urllib.request.urlopen(base + "/manager/", timeout=30).read().decode()
    for secret in ("run_recheck", "mark_resolved", "drill", "canteen"):
        assert secret not in login_page
    assert GapLog(settings.gaps_db).count() == rows_before, "nothing changed"


def _login(base: str, password: str) -> tuple[int, float]:
    """(status, seconds) of one manager login attempt through the real login route."""
    import urllib.parse

    data = urllib.parse.urlencode({"username": "manager", "password": password}).encode()
    started = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{base}/manager/login", data=data), timeout=60) as r:
            return int(r.status), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return int(error.code), time.monotonic() - started


def test_guessing_the_manager_password_is_slowed_then_locked_out(llm_settings) -> None:
    """100 wrong logins in a row used to be answered at once, and the right password still worked."""
    settings = llm_settings.model_copy(update={"login_lockout_after": 5, "login_lockout_s": 4.0, "login_delay_s": 1.0})
    with _serving(settings) as base:
        attempts = [_login(base, f"guess-{n}") for n in range(5)]
        assert [status for status, _ in attempts] == [400] * 5
        waits = [seconds for _, seconds in attempts]
        assert waits[0] < 1.0 and waits[2] >= 1.0 and waits[3] >= 2.0 and waits[4] >= 4.0, waits
        assert _login(base, PASSWORD)[0] == 429, "locked out: the right password is not even checked"
        assert _login(base, "guess-6")[0] == 429
        time.sleep(4.5)
        assert _login(base, PASSWORD)[0] == 200, "the lockout ends"
        assert _login(base, "one slip")[1] < 1.0, "a success starts the count again"


def test_the_operator_app_cannot_call_manager_functions(server) -> None:
    base, settings = server
    rows_before = GapLog(settings.gaps_db).count()
    for name in ("run_recheck", "mark_resolved", "load", "drill"):
        assert http_status(f"{base}/gradio_api/run/{name}", "POST") == 404
        assert http_status(f"{base}/gradio_api/call/v2/{name}", "POST") == 404
    assert GapLog(settings.gaps_db).count() == rows_before


def test_the_operator_app_serves_no_files_takes_no_uploads_and_describes_no_api(server) -> None:
    """Gradio serves uploads, files and its API description by default; the operator page needs none."""
    base, settings = server
    assert http_status(f"{base}/") == 200 and http_status(f"{base}/config") == 200
    for target in ("/etc/passwd", "../../etc/passwd", str(settings.index_path), str(ROOT / "pyproject.toml")):
        assert http_status(f"{base}/gradio_api/file={target}") == 404, target
    upload = urllib.request.Request(
        f"{base}/gradio_api/upload",
        data=b'--b\r\nContent-Disposition: form-data; name="files"; filename="x.html"\r\n\r\n<script>\r\n--b--\r\n',
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        method="POST",
    )
    try:
        urllib.request.urlopen(upload, timeout=30)
        raise AssertionError("the upload was taken")
    except urllib.error.HTTPError as error:
        assert error.code == 404
    for path in ("/gradio_api/info", "/gradio_api/openapi.json", "/openapi.json", "/docs", "/monitoring",
                 "/gradio_api/upload_progress", "/gradio_api/mcp/sse"):  # fmt: skip
        assert http_status(base + path) == 404, path


def _listening_addresses(port: int) -> set[str]:
    """The local IPv4 addresses with a socket listening on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if state == "0A" and int(local_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_serve_binds_to_loopback_unless_told_otherwise(llm_settings) -> None:
    """The plant network reaches the app only when --host says so: the real command's socket."""
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kept = ("SHOPFLOOR_CACHE_DIR", "SHOPFLOOR_CONFIG")  # the test session's machine cache, no config file
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOOR_") or k in kept}
    env |= {"SHOPFLOOR_HOME": str(llm_settings.home), "SHOPFLOOR_MANAGER_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "ui", "serve", "--index", str(llm_settings.index_path), "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while not _listening_addresses(port) and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.5)
        assert _listening_addresses(port) == {"127.0.0.1"}
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_operator_asks_opens_the_page_gives_a_thumbs_down_and_the_manager_sees_it(server, screenshots) -> None:
    from playwright.sync_api import sync_playwright

    base, settings = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base}/?terminal=T-E2E")
        page.get_by_placeholder("Type your question…").fill(
            "What system pressure do I set at start-up of the HP-200 press?"
        )
        page.get_by_role("button", name="Ask", exact=True).click()
        page.get_by_text("180 bar").first.wait_for(timeout=180_000)
        assert page.locator(".safety").first.inner_text().startswith("⚠ WARNING: Hydraulic oil under pressure")
        chip = page.locator("#sources label").first
        assert "HP-200_Hydraulic_Press_SOP.pdf · page 2" in chip.inner_text()
        chip.click()
        page.locator("#page-picture img[src^='data:image/webp;base64,']").first.wait_for(timeout=60_000)
        page.screenshot(path=str(screenshots / "operator_view.png"), full_page=True)
        page.get_by_label("Dislike").first.click()
        page.get_by_placeholder("What was wrong? (optional)").fill("also need the warm-up time")
        page.get_by_role("button", name="Send").click()
        page.get_by_placeholder("What was wrong? (optional)").wait_for(state="hidden", timeout=30_000)

        manager = browser.new_page(viewport={"width": 1280, "height": 800})
        manager.goto(f"{base}/manager")
        manager.locator("input[type=text]").fill("manager")
        manager.locator("input[type=password]").fill("not-the-password")
        manager.get_by_role("button", name="Login").click()
        manager.get_by_text("Incorrect").first.wait_for(timeout=30_000)
        manager.locator("input[type=text]").fill("manager")
        manager.locator("input[type=password]").fill(PASSWORD)
        manager.get_by_role("button", name="Login").click()
        manager.get_by_role("heading", name="Knowledge map").wait_for(timeout=60_000)
        manager.get_by_role("tab", name="Topics").click()
        manager.get_by_text("What system pressure do I set at start-up").filter(visible=True).first.wait_for(
            timeout=60_000
        )
        browser.close()
    gaps = GapLog(settings.gaps_db).open_gaps()
    downvoted = [g for g in gaps if g.terminal == "T-E2E"]
    assert downvoted and downvoted[0].reason == "operator marked it unhelpful: also need the warm-up time"


MAP_MANUALS = (
    "AC-75_Air_Compressor_Maintenance.md",
    "HP-200_Hydraulic_Press_SOP.pdf",
    "CL-400_CNC_Lathe_Operator_Manual.pdf",
    "FL-25_Forklift_Daily_Check.docx",
)
# A morning on the floor, for the map (asked without the LLM: the manual's lines answer).
FLOOR_QUESTIONS = (
    "How often must the hydraulic oil of the HP-200 press be changed?", "hydraulic oil change interval press",
    "What torque for the ram guide bolts?", "ram guide bolt torque HP-200", "spare fuse for the HP-200?",
    "which fuse goes in the HP-200 control box", "How long is the spindle warm-up on the CL-400 lathe?",
    "lathe spindle warm up time", "What coolant concentration should the lathe run?", "CL-400 chuck jaw part number",
    "forklift tyre pressure", "FL-25 tire pressure?", "FL-25 daily check before the shift",
    "AC-75 compressor air filter change", "how often drain the compressor tank", "canteen opening hours?",
)  # fmt: skip


# A manual with markup in it: none of it may become an element on a terminal's page.
TRAP = "http://127.0.0.1:9"
HOSTILE_NOTES = f"""# W9 welding fixture notes
## Clamp pressure
The W9 fixture clamp pressure is 6 bar. <img src="{TRAP}/html.png"> See ![diagram]({TRAP}/md.png) and
[the vendor page]({TRAP}/link), or {TRAP}/bare for the data sheet.

WARNING: <img src=x onerror="document.title='pwned'"> keep hands clear of the W9 clamp while it closes.
"""


@pytest.fixture(scope="module")
def loop_server(llm_settings, embedder, tmp_path_factory):
    """The app over one manual, with its own gap log and a policy file; the bundled model shared."""
    from shopfloor.settings import load_settings
    from tests.conftest import SAMPLE_DOCS
    from ui.usecases import Shopfloor

    home = tmp_path_factory.mktemp("loop-home")
    llm_settings.model_cache.mkdir(parents=True, exist_ok=True)  # assembled once, used by both apps
    (home / "models").symlink_to(llm_settings.model_cache, target_is_directory=True)
    policy = home / "policy.toml"
    policy.write_text(
        '[[rule]]\nname = "interlock bypass"\nkeywords = ["bypass interlock"]\naction = "refuse"\n'
        'direct_to = "the shift supervisor"\n'
    )
    settings = load_settings(home=home, index_dir=home / "index", policy_file=policy)
    floor = Shopfloor(settings, use_llm=False, embedder=embedder)
    for name in MAP_MANUALS:
        floor.ingest([SAMPLE_DOCS / name], tags={"equipment": name.split("_")[0]})
    hostile = home / "W9_Fixture_Notes.md"
    hostile.write_text(HOSTILE_NOTES)
    floor.ingest([hostile], tags={"equipment": "W9"})
    with _serving(settings) as base:
        yield base, settings


def _manager_login(browser, base: str):
    manager = browser.new_page(viewport={"width": 1400, "height": 1000})
    manager.goto(f"{base}/manager")
    manager.locator("input[type=text]").fill("manager")
    manager.locator("input[type=password]").fill(PASSWORD)
    manager.get_by_role("button", name="Login").click()
    manager.get_by_role("heading", name="Knowledge map").wait_for(timeout=60_000)
    return manager


def _pick_topic(manager, topic_id: str) -> None:
    manager.get_by_label("Topic", exact=True).click()
    manager.get_by_role("option", name=topic_id).first.click()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_the_manager_turns_a_gap_into_a_task_and_confirms_it_closed(loop_server, embedder, screenshots) -> None:
    """Ask what no manual says, see the topic, assign it, ingest a manual that answers it, see
    "answered now", confirm it, see the figures move; a policy rule fires and is listed."""
    from playwright.sync_api import expect, sync_playwright

    from ui.usecases import Shopfloor

    base, settings = loop_server
    question = "What is the payload of the palletizing robot PR-9?"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base}/?terminal=T-LOOP")
        for asked in (question, "how do I bypass the door interlock?"):
            page.get_by_role("button", name="New conversation").click()
            page.get_by_placeholder("Type your question…").fill(asked)
            page.get_by_role("button", name="Ask", exact=True).click()
            page.locator("#chat .message").last.get_by_text("Not found in the manuals").or_(
                page.locator(".directed")
            ).first.wait_for(timeout=180_000)
        assert page.locator(".directed").first.inner_text() == (
            "The assistant does not answer this: ask the shift supervisor."
        )

        manager = _manager_login(browser, base)
        figures = manager.locator("p", has_text="open gaps").first
        assert "1 open gaps in 1 topics" in figures.inner_text().replace("*", "")
        manager.get_by_role("tab", name="Topics").click()
        manager.get_by_text(question).filter(visible=True).first.wait_for(timeout=30_000)
        state = manager.locator("#topics").get_by_test_id("cell-0-1").first  # the first topic's state
        _pick_topic(manager, "T0001")
        manager.get_by_label("Owner").fill("J. Weber")
        manager.get_by_label("Due (YYYY-MM-DD)").fill("2026-12-15")
        manager.get_by_role("button", name="Assign").click()
        expect(state).to_have_text("assigned", timeout=30_000)

        robot = settings.home / "PR-9_Palletizing_Robot.md"
        robot.write_text(
            "# Palletizing robot PR-9\n## Technical data\nThe PR-9 palletizing robot has a payload of 180 kg.\n"
        )
        Shopfloor(settings, use_llm=False, embedder=embedder).ingest([robot])
        manager.get_by_role("button", name="Re-check open gaps against the index").click()
        expect(state).to_have_text("answered_now", timeout=180_000)
        _pick_topic(manager, "T0001")
        proposal = manager.locator("p", has_text="Answered now, waiting for you").first
        proposal.wait_for(timeout=30_000)
        assert "180 kg" in proposal.inner_text() and "PR-9_Palletizing_Robot.md" in proposal.inner_text()
        manager.screenshot(path=str(screenshots / "manager_topics.png"), full_page=True)
        manager.get_by_role("button", name="Confirm the new answer").click()
        expect(state).to_have_text("closed", timeout=30_000)
        assert "0 open gaps in 0 topics" in figures.inner_text().replace("*", "")

        manager.get_by_role("tab", name="Outcomes").click()
        manager.get_by_role("button", name="Show the week").click()
        this_week_closed = manager.locator("#weeks").get_by_test_id("cell-7-5").first  # 8 weeks, the last
        expect(this_week_closed).to_have_text("1", timeout=30_000)  # one gap closed this week
        manager.get_by_role("tab", name="Policy").click()
        expect(manager.locator("#rules").get_by_test_id("cell-0-0").first).to_have_text("interlock bypass")
        expect(manager.locator("#rules").get_by_test_id("cell-0-5").first).to_have_text("1")  # fired once
        floor = Shopfloor(settings, use_llm=False, embedder=embedder)
        for number, asked in enumerate(FLOOR_QUESTIONS):
            logged = floor.ask(asked, terminal=f"T{number % 4 + 1}")
            if "fuse goes" in asked or "chuck" in asked:
                floor.feedback(logged.question_id, helpful=False, reason="not what I asked")
        manager.get_by_role("tab", name="Map").click()
        manager.get_by_role("button", name="Refresh").click()
        expect(manager.locator("#coverage").get_by_test_id("cell-0-0").first).to_have_text("HP-200", timeout=60_000)
        manager.locator("#coverage").get_by_test_id("cell-0-1").first.click()
        drilled = manager.locator("#cell-questions").get_by_test_id("cell-0-4").first
        expect(drilled).not_to_have_text("", timeout=30_000)  # the cell's questions, their answers, passages
        manager.wait_for_timeout(1000)
        manager.screenshot(path=str(screenshots / "manager_map.png"), full_page=True)
        manager.get_by_role("tab", name="Outcomes").click()
        manager.get_by_role("button", name="Show the week").click()
        expect(manager.locator("#weeks").get_by_test_id("cell-7-1").first).to_have_text(
            str(len(FLOOR_QUESTIONS) + 1), timeout=30_000
        )  # this week's questions: the floor's and the PR-9 one (the directed one is no question to the map)
        manager.screenshot(path=str(screenshots / "manager_outcomes.png"), full_page=True)

        # The audit trail's export: behind the manager's login, nowhere else.
        manager.get_by_role("tab", name="Topics").click()
        manager.get_by_role("button", name="Export audit trail (CSV)").click()
        link = manager.locator("#download a").first
        link.wait_for(timeout=30_000)
        href = link.get_attribute("href") or ""
        assert "/manager/gradio_api/file=" in href and href.endswith(".csv"), href
        path = href[href.index("/manager/") :]
        assert manager.request.get(base + path).status == 200
        assert http_status(base + path) in (401, 403), "no export without the manager's login"
        assert http_status(base + path.removeprefix("/manager")) == 404, "the operator app serves no exports"

        # A manual's markup reaches the terminal as text: nothing rendered, nothing fetched.
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        page.get_by_role("button", name="New conversation").click()
        page.get_by_placeholder("Type your question…").fill("W9 fixture clamp pressure?")
        page.get_by_role("button", name="Ask", exact=True).click()
        page.locator("#sources label").or_(page.get_by_text("Not found in the manuals")).first.wait_for(timeout=180_000)
        if page.locator("#sources label").count():
            page.locator("#sources label").first.click()
            page.wait_for_timeout(1500)
        chat = page.locator("#chat").inner_text()
        assert "<img" in chat or "<img" in page.locator("body").inner_text(), "the markup is shown as text"
        assert page.locator("#chat img, #chat a[href*='127.0.0.1:9'], .prose img[src*='127.0.0.1']").count() == 0
        assert page.locator("a[href*='127.0.0.1:9']").count() == 0 and page.title() != "pwned"
        assert not [url for url in fetched if url.startswith(TRAP)], fetched
        browser.close()
    events = [e.action for e in Shopfloor(settings, use_llm=False).topic_history("T0001")]
    assert events == ["opened", "assign", "propose", "confirm"]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_two_terminals_asking_at_once_both_get_their_answer(server) -> None:
    from playwright.sync_api import sync_playwright

    base, settings = server
    asked = {
        "T-A": ("What torque for the ram guide bolts?", "95 Nm"),
        "T-B": ("How long is the spindle warm-up on the CL-400 lathe?", "10 minutes"),
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = {}
        for terminal, (question, _) in asked.items():
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{base}/?terminal={terminal}")
            page.get_by_placeholder("Type your question…").fill(question)
            pages[terminal] = page
        for page in pages.values():  # both asked before either answer arrives: one waits in the queue
            page.get_by_role("button", name="Ask", exact=True).click()
        for terminal, (_, expected) in asked.items():
            pages[terminal].get_by_text(expected).first.wait_for(timeout=240_000)
            pages[terminal].locator("#sources label").first.wait_for(timeout=60_000)  # the final answer
        browser.close()
    db = sqlite3.connect(settings.gaps_db)  # read the log file itself, as another tool would
    rows = db.execute("SELECT terminal, question, answered FROM questions WHERE terminal IN ('T-A', 'T-B')")
    assert sorted((r[0], r[1], r[2]) for r in rows) == [
        ("T-A", asked["T-A"][0], 1),
        ("T-B", asked["T-B"][0], 1),
    ]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_a_terminal_in_german_asks_in_german_and_reads_the_manuals_own_lines(server, screenshots) -> None:
    from playwright.sync_api import sync_playwright

    base, settings = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        spanish = browser.new_page(locale="es-ES")  # no ?lang=: the browser's language decides
        spanish.goto(f"{base}/?terminal=T-ES")
        spanish.get_by_role("button", name="Preguntar", exact=True).wait_for(timeout=60_000)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
        page.goto(f"{base}/?terminal=T-DE&lang=de")
        page.get_by_placeholder("Ihre Frage…").fill("Wie oft wird das Hydrauliköl der HP-200 gewechselt?")
        page.get_by_role("button", name="Fragen", exact=True).click()
        page.locator("#sources label").first.wait_for(timeout=240_000)
        chip = page.locator("#sources label").first.inner_text()
        assert "HP-200_Hydraulic_Press_SOP.pdf · Seite 4" in chip
        reply = page.locator("#chat .message").last.inner_text()
        assert "4000" in reply
        assert "Every 4000 hours" in reply, "the manual's line is shown as the manual writes it"
        page.screenshot(path=str(screenshots / "operator_view_de.png"), full_page=True)
        browser.close()
    [logged] = [q for q in GapLog(settings.gaps_db).questions() if q.terminal == "T-DE"]
    assert logged.language == "de"
    assert logged.question == "Wie oft wird das Hydrauliköl der HP-200 gewechselt?"
    assert logged.meaning != logged.question and "hydraulic oil" in logged.meaning.lower()


@pytest.fixture(scope="module")
def corpus_server(llm_settings, tmp_path_factory, embedder):
    """The real app over a real manual nobody here wrote (the LinuxCNC integrator manual)."""
    from indexes.store import IndexStore
    from ingest.pipeline import IngestRun
    from shopfloor.settings import load_settings
    from tests.conftest import CORPUS

    home = tmp_path_factory.mktemp("corpus-home")
    llm_settings.model_cache.mkdir(parents=True, exist_ok=True)  # the session's model, assembled and rewritten once
    (home / "models").symlink_to(llm_settings.model_cache, target_is_directory=True)
    settings = load_settings(home=home, index_dir=home / "index")
    IngestRun(settings, IndexStore(settings.index_path), embedder=embedder).run([CORPUS / "LinuxCNC_Integrator.pdf"])
    with _serving(settings) as base:
        yield base


# Questions of the project's own hard set (benchmarks/eval/linuxcnc.jsonl), as operators typed them.
CORPUS_QUESTIONS = {
    "lcnc-009": ("parker oem750 direction setup time", "200000", 11),
    "lcnc-016": (
        "vfd is throwing noise into everything, where should it be mounted and how do i run the motor cable",
        "separate enclosure",
        18,
    ),
}


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
@pytest.mark.skipif(not (ROOT.parent / "shared" / "corpus").is_dir(), reason="../shared/corpus is absent")
def test_on_a_real_manual_the_operator_sees_the_manuals_lines_before_the_answer(corpus_server, screenshots) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{corpus_server}/?terminal=T-REAL")
        for question, fact, gold_page in CORPUS_QUESTIONS.values():
            page.get_by_role("button", name="New conversation").click()
            page.get_by_placeholder("Type your question…").fill(question)
            asked = time.monotonic()
            page.get_by_role("button", name="Ask", exact=True).click()
            page.get_by_text("From the manual:").first.wait_for(timeout=60_000)
            evidence_after = time.monotonic() - asked
            chips = page.locator("#sources label")
            assert chips.count() == 0, "the manual's lines are on screen before the answer is final"
            quote = page.locator("#chat blockquote").first.inner_text()
            assert "LinuxCNC_Integrator.pdf" in quote and "page" in quote, "each line says where it stands"
            final_state = page.locator("#sources label").or_(page.get_by_text("Not found in the manuals."))
            final_state.first.wait_for(timeout=180_000)
            final = page.locator("#chat .message").last.inner_text()
            assert chips.count() > 0, f"answered with its sources: {final}"
            assert fact.lower() in final.lower(), final
            assert any(f"page {gold_page}" in chips.nth(i).inner_text() for i in range(chips.count()))
            assert evidence_after < 30, f"lines shown {evidence_after:.1f} s after Ask"
        page.screenshot(path=str(screenshots / "operator_view_real_manual.png"), full_page=True)
        browser.close()
