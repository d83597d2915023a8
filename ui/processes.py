"""Real processes for the benchmarks and their tests: the `shopfloor` commands, served app servers,
an OpenAI-compatible LLM server (llama.cpp's, as the multi-terminal set-up uses), and browsers at
operator terminals."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling out of a closed network.
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def environment(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a child command: this one's, with its own home and no config file."""
    keep = {"SHOPFLOOR_CACHE_DIR", "SHOPFLOOR_LLM_MODEL", "SHOPFLOOR_THREADS", "SHOPFLOOR_EMBED_BACKEND"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOOR_") or k in keep}
    return env | {"SHOPFLOOR_HOME": str(home), "SHOPFLOOR_CONFIG": str(home / "none.toml"), **extra}


def shopfloor_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ui", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_status(url: str, method: str = "GET") -> int:
    """The status a route answers (0 when nothing answers); a POST sends an empty JSON body."""
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


@contextmanager
def _running(command: list[str], env: dict[str, str], ready_url: str, what: str) -> Iterator[None]:
    """A child process, until the block ends; ready when `ready_url` answers 200 (five minutes at most).
    Its output goes to a file, not a pipe: a chatty server would fill the pipe and stall."""
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and process.poll() is None:
                if http_status(ready_url) == 200:
                    break
                time.sleep(0.5)
            else:
                process.kill()
                output.seek(0)
                raise RuntimeError(f"{what} did not start: {output.read()[-300:]}")
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def served(index: Path, home: Path, **settings: str) -> Iterator[str]:
    """`shopfloor serve` in its own process, with SHOPFLOOR_* settings; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = shopfloor_command("serve", "--index", str(index), "--port", str(port))
    with _running(command, environment(home, **settings), base + "/", "shopfloor serve"):
        yield base


@contextmanager
def llm_server(home: Path, **settings: str) -> Iterator[str]:
    """`shopfloor llm-server` in its own process; yields its /v1 URL, the value of the llm_url setting."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    command = shopfloor_command("llm-server", "--port", str(port))
    with _running(command, environment(home, **settings), url + "/models", "the LLM server"):
        yield url


def ask_in_browsers(asks: list[tuple[str, str]], finished: Callable[[], bool], timeout_s: float) -> list[str]:
    """Each (operator page URL, question) in its own browser page, all asked at once; waits until
    `finished()` or the timeout, and returns the pages' HTML."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        pages = []
        for url, question in asks:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.get_by_placeholder("Type your question…").fill(question)
            pages.append(page)
        for page in pages:
            page.get_by_role("button", name="Ask", exact=True).click()
        deadline = time.monotonic() + timeout_s
        while not finished() and time.monotonic() < deadline:
            time.sleep(1.0)
        time.sleep(3.0)  # a duplicate would be written right after the first row
        texts = [page.content() for page in pages]
        browser.close()
    return texts


def terminal_page(base: str, terminal: str) -> str:
    return f"{base}/?terminal={urllib.parse.quote(terminal)}"
