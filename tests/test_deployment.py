"""The multi-terminal deployment, for real: two app servers (`shopfloor serve`) reading one index
folder that an ingest writes while they serve, answering through one OpenAI-compatible LLM server
(llama.cpp's) and logging to one PostgreSQL gap log, with 20 browsers asking at once."""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pytest

from assistant.gaps import GapLog
from assistant.llm import model_path
from tests.conftest import copy_samples
from ui.labels import LABELS
from ui.processes import CHROMIUM, ask_in_browsers, environment, llm_server, served, shopfloor_command, terminal_page

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]

MODEL_UNREACHABLE = LABELS["en"].model_unreachable
FIXTURE_NOTES = "# W9 welding fixture notes\n\nThe W9 fixture clamp pressure is 6 bar.\n"


def _ingest(docs: Path, index: Path, home: Path) -> None:
    import subprocess

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
            first = [(terminal_page(a, "A1"), "W9 clamp pressure?"), (terminal_page(b, "B1"), "W9 clamp pressure?")]
            pages = ask_in_browsers(first, lambda: len(logged()) == 2, timeout_s=300)
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
            pages = ask_in_browsers(asks, lambda: len(logged()) == 22, timeout_s=600)
    assert logged() == Counter(["A1", "B1", *terminals]), "every question logged once, none lost"
    by_terminal = {q.terminal: q for q in log.questions()}
    assert by_terminal["A1"].answered and by_terminal["B1"].answered
    assert by_terminal["A1"].first_cited == by_terminal["B1"].first_cited == "W9_fixture_notes.md"
    for i, page in enumerate(pages):
        assert MODEL_UNREACHABLE in page, f"{terminals[i]}: no notice"
        if i % len(questions) == 0:
            assert "6 bar" in page, f"{terminals[i]}: the manual's line is not shown"
