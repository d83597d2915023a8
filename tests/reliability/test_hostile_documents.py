"""Documents that never end, bombs, broken encodings and names: each costs its own file one line
naming it and the limit, and the rest of the batch is ingested. Through the real `shopfloor ingest`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from indexes.store import IndexStore
from tests.conftest import SAMPLE_DOCS
from ui.faults_benchmark import GOOD, HOSTILE_SECONDS, hostile_batch

pytestmark = pytest.mark.slow


def _ingest(folder: Path, index: Path, home: Path, **limits: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOOR_") or k == "SHOPFLOOR_CACHE_DIR"}
    env |= {"SHOPFLOOR_HOME": str(home), "SHOPFLOOR_CONFIG": str(home / "none.toml"), **limits}
    command = [sys.executable, "-m", "ui", "ingest", str(folder), "--index", str(index), "--no-recheck"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def test_a_batch_of_hostile_files_costs_each_its_own_line_and_the_good_ones_are_ingested(tmp_path: Path) -> None:
    folder = hostile_batch(tmp_path)
    index = tmp_path / "index"
    result = _ingest(folder, index, tmp_path / "home", SHOPFLOOR_MAX_SECONDS_PER_DOCUMENT=str(HOSTILE_SECONDS))
    assert result.returncode == 1, result.stderr  # some files were skipped
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    skipped = [line for line in lines if line.startswith("skipped:")]

    def line_for(name: str) -> str:
        found = [line for line in skipped if name in line]
        assert len(found) == 1, f"{name}: {skipped}"
        return found[0]

    assert "zip bomb" in line_for("bomb.docx")
    assert "still reading after 10 s (setting max_seconds_per_document); stopped" in line_for("page_bomb.pdf")
    assert "over the limit of 10,000,000 (setting max_characters)" in line_for("one_line.txt")
    assert "nest 100,000 deep" in line_for("deep.html")
    assert "symbolic link loop" in line_for("loop") or "link to a folder" in line_for("loop")
    assert "broken symbolic link" in line_for("broken.md")
    notes = [line for line in lines if line.startswith("note:")]
    assert any("latin1.md: not UTF-8" in n for n in notes), notes
    assert any("damaged.pdf: damaged or unusual PDF, read anyway: invalid pdf header" in n for n in notes), notes
    assert not [line for line in lines if "pdf header" in line and "damaged.pdf" not in line], "each names its file"

    manifest = IndexStore(index).read_manifest()
    assert manifest is not None
    assert {GOOD, "latin1.md", "name\nwith newline.md", "damaged.pdf"} <= set(manifest.documents)
    assert manifest.documents["latin1.md"].title == "Ölwechsel", "decoded, not garbled"
    docs = subprocess.run(
        [sys.executable, "-m", "ui", "docs", "--index", str(index)],
        env={**os.environ, "SHOPFLOOR_HOME": str(tmp_path / "home"), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "name\\nwith newline.md" in docs.stdout, docs.stdout


def test_limits_come_from_settings_and_a_refused_batch_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(SAMPLE_DOCS / GOOD, folder / GOOD)
    index, home = tmp_path / "index", tmp_path / "home"
    assert _ingest(folder, index, home).returncode == 0
    before = IndexStore(index).current_version
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    shutil.copy(SAMPLE_DOCS / "HP-200_Hydraulic_Press_SOP.pdf", pdfs / "press.pdf")
    shutil.copy(SAMPLE_DOCS / "CL-400_CNC_Lathe_Operator_Manual.pdf", pdfs / "lathe.pdf")
    pages = _ingest(pdfs, index, home, SHOPFLOOR_MAX_PAGES="1")
    assert pages.returncode == 1 and pages.stderr.count("(setting max_pages)") == 2, pages.stderr
    slow = _ingest(pdfs, index, home, SHOPFLOOR_MAX_SECONDS_PER_DOCUMENT="0.000001")
    assert slow.stderr.count("(setting max_seconds_per_document)") == 2, slow.stderr
    big = _ingest(pdfs, index, home, SHOPFLOOR_MAX_FILE_MB="0.001")
    assert big.stderr.count("(setting max_file_mb)") == 2, big.stderr
    assert IndexStore(index).current_version == before, "nothing written for a batch that was all refused"


def test_a_document_that_needs_more_memory_than_the_reader_may_have_costs_one_line(tmp_path: Path) -> None:
    """The reading process's address space is capped: 200 MB of text, read with the characters limit
    lifted, needs more than 700 MB and is refused; the ingest itself is untouched."""
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(SAMPLE_DOCS / GOOD, folder / GOOD)
    with (folder / "huge.txt").open("w") as f:
        for _ in range(200):
            f.write("oil pump valve check\n" * 50_000)
    limits = {"SHOPFLOOR_MAX_READER_MEMORY_MB": "700", "SHOPFLOOR_MAX_CHARACTERS": "1000000000"}
    result = _ingest(folder, tmp_path / "index", tmp_path / "home", **limits)
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == 1 and "huge.txt: needs more than 700 MB to read (setting max_reader_memory_mb)" in skipped[0]
    manifest = IndexStore(tmp_path / "index").read_manifest()
    assert manifest is not None and list(manifest.documents) == [GOOD]
