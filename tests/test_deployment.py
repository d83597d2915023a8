"""The multi-terminal deployment, for real: two app servers (`shopfloor serve`) reading one index
folder that an ingest writes while they serve, answering through one OpenAI-compatible LLM server
(llama.cpp's) and logging to one PostgreSQL gap log, with 20 browsers asking at once."""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from assistant.gaps import GapLog
from assistant.llm import model_path
from tests.conftest import ROOT, copy_samples
from ui.labels import LABELS
from ui.processes import (
    CHROMIUM,
    ask_in_browsers,
    environment,
    free_port,
    http_status,
    llm_server,
    served,
    shopfloor_command,
    terminal_page,
)

NGINX = Path("/usr/sbin/nginx")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
    pytest.mark.skipif(not NGINX.exists(), reason="Debian nginx is not installed (scripts/setup test installs it)"),
]

MODEL_UNREACHABLE = LABELS["en"].model_unreachable
FIXTURE_NOTES = "# W9 welding fixture notes\n\nThe W9 fixture clamp pressure is 6 bar.\n"


@contextmanager
def _reverse_proxy(work: Path, upstreams: list[str]) -> Iterator[str]:
    """nginx with the recipe's own site (deploy/nginx/shopfloor.conf), its app servers replaced by
    `upstreams` and plain http on a loopback port instead of the plant's certificate."""
    port = free_port()
    site = (ROOT / "deploy" / "nginx" / "shopfloor.conf").read_text(encoding="utf-8")
    site = re.sub(r"\n\s*server \d+\.\d+\.\d+\.\d+:\d+;", "", site)
    site = site.replace("ip_hash;", "ip_hash;\n" + "".join(f"    server {u};\n" for u in upstreams))
    site = re.sub(r"listen 443 ssl;", f"listen 127.0.0.1:{port};", site)
    site = re.sub(r"\n\s*ssl_certificate\S* [^;]+;", "", site)
    work.mkdir(parents=True)
    (work / "site.conf").write_text(site, encoding="utf-8")
    (work / "nginx.conf").write_text(
        f"pid {work}/nginx.pid;\nerror_log {work}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {work};\n  include {work}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    proxy = subprocess.Popen([str(NGINX), "-c", str(work / "nginx.conf"), "-g", "daemon off;"])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while http_status(base + "/") != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        yield base
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)


def _ingest(docs: Path, index: Path, home: Path) -> None:
    command = shopfloor_command("ingest", str(docs), "--index", str(index), "--no-recheck")
    done = subprocess.run(command, env=environment(home), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-500:]


def test_two_app_servers_one_index_one_llm_server_one_postgresql_log(
    tmp_path: Path, postgres_gap_log: str, llm_settings
) -> None:
    docs = copy_samples(
        tmp_path / "docs", "AC-75_Air_Compressor_Maintenance.md", "CL-400_CNC_Lathe_Operator_Manual.pdf"
    )
    index, writer = tmp_path / "shared-index", tmp_path / "writer-home"
    _ingest(docs, index, writer)
    log = GapLog(postgres_gap_log)

    def logged() -> Counter[str]:
        return Counter(q.terminal for q in log.questions())

    with ExitStack() as llm:
        model = str(model_path(llm_settings))
        llm_url = llm.enter_context(llm_server(tmp_path / "llm-home", SHOPFLOOR_LLM_MODEL=model))
        settings = {"SHOPFLOOR_GAP_LOG_URL": postgres_gap_log, "SHOPFLOOR_LLM_URL": llm_url}
        with (
            served(index, tmp_path / "app-a", **settings) as a,
            served(index, tmp_path / "app-b", **settings) as b,
        ):
            # The one writer adds a manual while both serve; each follows the index's new version, and
            # each answers through the one LLM server.
            (docs / "W9_fixture_notes.md").write_text(FIXTURE_NOTES, encoding="utf-8")
            _ingest(docs, index, writer)
            # A third terminal through the recipe's reverse proxy: the page, its session and the
            # streamed answer pass through nginx.
            with _reverse_proxy(tmp_path / "nginx", [a.removeprefix("http://"), b.removeprefix("http://")]) as proxy:
                first = [
                    (terminal_page(url, t), "W9 clamp pressure?") for url, t in ((a, "A1"), (b, "B1"), (proxy, "P1"))
                ]
                pages = ask_in_browsers(first, lambda: len(logged()) == 3, timeout_s=300)
            for page in pages:
                assert "6 bar" in page and MODEL_UNREACHABLE not in page
            # The LLM server goes down: twenty terminals at once still read the manual's lines, under
            # the notice, and every question is logged once.
            llm.close()
            questions = ["W9 clamp pressure?", "how often change compressor oil", "coolant concentration CL-400?"]
            terminals = [f"T{i:02d}" for i in range(20)]
            asks = [
                (terminal_page(a if i % 2 == 0 else b, t), questions[i % len(questions)])
                for i, t in enumerate(terminals)
            ]
            pages = ask_in_browsers(asks, lambda: len(logged()) == 23, timeout_s=600)
    assert logged() == Counter(["A1", "B1", "P1", *terminals]), "every question logged once, none lost"
    by_terminal = {q.terminal: q for q in log.questions()}
    for terminal in ("A1", "B1", "P1"):
        assert by_terminal[terminal].answered and by_terminal[terminal].first_cited == "W9_fixture_notes.md"
    for i, page in enumerate(pages):
        assert MODEL_UNREACHABLE in page, f"{terminals[i]}: no notice"
        if i % len(questions) == 0:
            assert "6 bar" in page, f"{terminals[i]}: the manual's line is not shown"
