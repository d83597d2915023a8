"""The faults battery of `shopfloor bench faults`, short: kill -9 at each crash point of the version
switch and at random, browsers and CLI processes asking at once, hostile documents, web probes."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.llm import model_path
from ui.faults_benchmark import CRASH_POINTS, run_faults

pytestmark = pytest.mark.slow


def test_the_short_battery_holds_in_every_class(tmp_path: Path, llm_settings) -> None:
    """Each class holds: among the kills, one after the new version was renamed in and before CURRENT
    switched (the old version stays live; the next ingest removes the one never made live)."""
    classes = run_faults(tmp_path, model_path(llm_settings), kill=2 * len(CRASH_POINTS), web=4, cli=2)
    names = [fault.name for fault in classes]
    assert len(names) >= 14 and all(fault.trials for fault in classes), names
    assert {fault.name: fault.failures for fault in classes if fault.failures} == {}
