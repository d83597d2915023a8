"""The `shopfloor` command as users run it: exit codes, messages, and the index it leaves behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexes.store import CRASH_AT_VARIABLE, STAGING_PREFIX, IndexStore
from tests.conftest import ROOT, SAMPLE_DOCS, copy_samples, search
from ui.cli import app

runner = CliRunner()


def shopfloor(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real console command in a fresh process (model load and all)."""
    return subprocess.run(
        [sys.executable, "-m", "ui", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _commands() -> list[list[str]]:
    return [
        ["ingest"],
        ["docs"],
        ["remove"],
        ["ask"],
        ["gaps"],
        ["gaps", "assign"],
        ["gaps", "close"],
        ["gaps", "wont-document"],
        ["gaps", "reopen"],
        ["gaps", "history"],
        ["gaps", "confirm"],
        ["gaps", "reject"],
        ["eval"],
        ["bench"],
        ["bench", "ingest"],
        ["bench", "ask"],
    ]


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_has_help_and_is_in_the_readme(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output) > 200
    readme = (ROOT / "README.md").read_text()
    assert f"shopfloor {' '.join(command)}" in readme


def test_bad_tag_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(SAMPLE_DOCS), "--tag", "no-equals-sign"])
    assert result.exit_code == 2
    assert "is not key=value" in result.output


@pytest.mark.slow
def test_batch_with_corrupt_and_encrypted_pdfs_ingests_the_rest_and_exits_1(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    docs = copy_samples(tmp_path / "docs", "HP-200_Hydraulic_Press_SOP.pdf", "AC-75_Air_Compressor_Maintenance.md")
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(3000))
    writer = PdfWriter(clone_from=str(SAMPLE_DOCS / "CL-400_CNC_Lathe_Operator_Manual.pdf"))
    writer.encrypt(user_password="secret", algorithm="AES-128")
    writer.write(str(docs / "encrypted.pdf"))
    index = tmp_path / "index"

    result = shopfloor("ingest", str(docs), "--index", str(index))

    assert result.returncode == 1
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == 2
    assert any("corrupt.pdf: not a readable PDF" in line for line in skipped)
    assert any("encrypted.pdf: encrypted PDF" in line for line in skipped)
    assert "Traceback" not in result.stderr
    assert re.search(r"│\s+2 │\s+0 │\s+0 │\s+0 │\s+2 │", result.stdout), result.stdout
    listed = shopfloor("docs", "--index", str(index), "--json")
    ids = sorted(json.loads(line)["doc_id"] for line in listed.stdout.splitlines() if line.startswith("{"))
    assert ids == ["AC-75_Air_Compressor_Maintenance.md", "HP-200_Hydraulic_Press_SOP.pdf"]


@pytest.mark.slow
def test_kill_9_mid_ingest_leaves_the_previous_index_intact(tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    first = copy_samples(tmp_path / "first", "AC-75_Air_Compressor_Maintenance.md")
    assert shopfloor("ingest", str(first), "--index", str(index)).returncode == 0
    store = IndexStore(index)
    live = store.current_version
    big = tmp_path / "big"
    copy_samples(big, *[p.name for p in SAMPLE_DOCS.iterdir() if p.is_file()])
    for i in range(30):  # enough work that the kill lands mid-run
        (big / f"extra_{i}.md").write_text(f"# Station {i}\n" + f"Check gauge {i} and log the value. " * 30)

    for moment in ("start-up", "embedding", "writing"):
        # While writing, the kill comes from within, at the store's crash point in the middle of the
        # new segment: on a fast machine the writing is over before a watcher sees it begin.
        crash = {CRASH_AT_VARIABLE: "segment"} if moment == "writing" else {}
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui", "--verbose", "ingest", str(big), "--index", str(index)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **crash},
        )
        if crash:
            assert proc.wait(timeout=600) == -signal.SIGKILL, "killed at the crash point while writing"
        else:
            _wait_for(moment, proc, index)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        assert store.current_version == live, f"killed during {moment}"
        snapshot = store.load()
        assert list(snapshot.manifest.documents) == ["AC-75_Air_Compressor_Maintenance.md"]
        hits = search(index, embedder, "oil filter change", k=2)
        assert hits and all(h.metadata["file"] == "AC-75_Air_Compressor_Maintenance.md" for h in hits)

    finished = shopfloor("ingest", str(big), "--index", str(index))
    assert finished.returncode == 0, finished.stderr
    assert not list(index.glob(f"{STAGING_PREFIX}*")), "the next writer sweeps what a killed one left"
    manifest = store.read_manifest()
    assert manifest is not None and len(manifest.documents) == len(list(big.iterdir()))


def _wait_for(moment: str, proc: subprocess.Popen[str], index: Path) -> None:
    """Block until the ingest process reaches `moment`; fail if it finishes first."""
    if moment == "start-up":
        time.sleep(0.3)
    else:
        assert proc.stderr is not None
        for line in proc.stderr:  # --verbose logs one line per document once it is embedded
            if "doc=" in line:
                break
    if proc.poll() is not None:
        pytest.fail(f"ingest finished before it could be killed during {moment}; give it more work")


@pytest.mark.slow
def test_two_ingests_at_once_one_is_turned_away_and_the_index_stays_whole(tmp_path: Path) -> None:
    index = tmp_path / "index"
    docs = copy_samples(tmp_path / "docs", *[p.name for p in SAMPLE_DOCS.iterdir() if p.is_file()])
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ui", "ingest", str(docs), "--index", str(index)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _ in results)
    refused = [err for code, err in results if code == 1]
    if codes == [0, 0]:
        pytest.skip("the two runs did not overlap on this machine")
    assert codes == [0, 1]
    assert "another ingest or remove is writing this index" in refused[0]
    assert refused[0].strip().count("\n") == 0, "one line, no traceback"
    manifest = IndexStore(index).read_manifest()
    assert manifest is not None and len(manifest.documents) == len(list(docs.iterdir()))


def test_docs_and_remove_through_the_cli(sample_index: Path, tmp_path: Path) -> None:
    listed = runner.invoke(app, ["docs", "--index", str(sample_index)])
    assert listed.exit_code == 0
    assert "HP-200_Hydraulic_Press_SOP.pdf" in listed.output and "Rev C, 2026-03-14" in listed.output
    empty = runner.invoke(app, ["docs", "--index", str(tmp_path / "none")])
    assert "No documents" in empty.output


@pytest.mark.slow
def test_remove_of_an_unknown_document_is_one_error_line(sample_index: Path) -> None:
    result = shopfloor("remove", "no-such-doc.pdf", "--index", str(sample_index))
    assert result.returncode == 1
    assert result.stderr.strip() == ("Error: not in the index: no-such-doc.pdf (see `shopfloor docs`)")


@pytest.mark.slow
def test_an_invalid_setting_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPFLOOR_EMBED_BACKEND", "fast")
    result = shopfloor("docs")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: invalid setting embed_backend (SHOPFLOOR_EMBED_BACKEND): Input should be 'auto', 'torch-fp32', "
        "'torch-bf16', 'openvino-fp32' or 'openvino-bf16'"
    ]


@pytest.mark.slow
def test_bench_ingest_reports_a_failed_rerun_instead_of_timing_it(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-run that fails at once used to read as a very fast unchanged re-run."""
    from ingest import benchmark
    from shopfloor.errors import ShopfloorError

    monkeypatch.setattr(benchmark.sys, "executable", "/bin/false")
    with pytest.raises(ShopfloorError, match=r"the unchanged re-run failed \(exit 1\)"):
        benchmark.run_ingest_benchmark([SAMPLE_DOCS / "AC-75_Air_Compressor_Maintenance.md"], settings)
