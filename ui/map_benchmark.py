"""`shopfloor bench map`: the knowledge map and the manager's view over a long generated gap log.

The log is made from the project's own evaluation questions (benchmarks/eval/), retyped the way
operators retype them (case, shorthand, a slipped key, a line named), asked with a long-tailed
frequency over twelve weeks from forty terminals; questions the manuals cannot answer come back
unanswered, a few answers get a thumbs down."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

from assistant.gaps import GapLog
from shopfloor.errors import ShopfloorError
from ui.usecases import Shopfloor

EVAL_SETS = Path(__file__).resolve().parent.parent / "benchmarks" / "eval"
_PREFIXES = ["", "", "", "pls ", "quick q ", "hey ", "need to know ", "what about "]
_SUFFIXES = ["", "", "", "?", " asap", " on line 2", " on line 3", " again", " for the night shift"]


@dataclass
class MapTimings:
    """Seconds, each the median of `repeats` runs but the first map (it embeds every distinct question)."""

    questions: int
    distinct: int
    topics: int
    work_topics: int
    write_log_s: float
    first_map_s: float
    map_s: float
    view_load_s: float
    weekly_report_s: float


def _seed_questions() -> list[tuple[str, bool]]:
    """(question, answerable) from the evaluation sets."""
    found = []
    for path in sorted(EVAL_SETS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                found.append((str(item["question"]), bool(item.get("file"))))
    if not found:
        raise ShopfloorError(f"{EVAL_SETS}: no evaluation questions to build the log from")
    return found


def _retyped(question: str, rng: random.Random) -> str:
    text = rng.choice(_PREFIXES) + question.rstrip("?") + rng.choice(_SUFFIXES)
    if rng.random() < 0.3:
        text = text.lower()
    if rng.random() < 0.2 and len(text) > 6:  # a slipped key: two letters swapped
        i = rng.randrange(1, len(text) - 2)
        text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text


def write_synthetic_log(path: Path, questions: int, distinct: int, seed: int = 7) -> int:
    """`questions` rows in one transaction, over about `distinct` phrasings; returns the phrasings."""
    rng = random.Random(seed)
    seeds = _seed_questions()
    phrasings: dict[str, bool] = {}
    while len(phrasings) < distinct:
        question, answerable = rng.choice(seeds)
        phrasings.setdefault(_retyped(question, rng), answerable)
    texts = list(phrasings)
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(texts))]  # a long tail, as real logs have
    now = datetime.now(UTC)
    rows = []
    for question in rng.choices(texts, weights=weights, k=questions):
        answered = (phrasings[question] and rng.random() < 0.85) or rng.random() < 0.05
        asked = now - timedelta(seconds=rng.randrange(12 * 7 * 86400))
        feedback = "down" if answered and rng.random() < 0.04 else ("up" if rng.random() < 0.2 else None)
        reason = None if answered else "the manual's lines do not answer it"
        rows.append(
            (asked.isoformat(timespec="seconds"), f"T{rng.randrange(40):02d}", question,
             "x" if answered else "Not found", int(answered), reason, "[]", rng.uniform(2, 6), None, "[]",
             "composed" if answered else "refused", feedback)
        )  # fmt: skip
    log = GapLog(path)
    try:
        with log.transaction() as db:
            db.executemany(
                "INSERT INTO questions (asked_at, terminal, question, answer, answered, reason, sources, latency_s,"
                " equipment, cited, mode, feedback) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    finally:
        log.close()
    return len(texts)


def measure_map(shopfloor: Shopfloor, questions: int, distinct: int, repeats: int = 3) -> MapTimings:
    """Write the log into the shopfloor's (empty) gap log, then time the map and the manager's view."""
    from ui.manager_view import build_manager_view
    from ui.report import render_report

    if shopfloor.gap_log.count():
        raise ShopfloorError(f"{shopfloor.settings.gaps_db}: not empty; the benchmark writes its own log")
    started = time.perf_counter()
    distinct = write_synthetic_log(shopfloor.settings.gaps_db, questions, distinct)
    write_s = time.perf_counter() - started

    def timed(run: Callable[[], object]) -> float:
        begin = time.perf_counter()
        run()
        return time.perf_counter() - begin

    first_s = timed(shopfloor.gap_report)
    map_s = median(timed(shopfloor.gap_report) for _ in range(repeats))
    view = build_manager_view(shopfloor)
    handlers: dict[str, Callable[..., object]] = {f.fn.__name__: f.fn for f in view.fns.values() if f.fn is not None}
    load = handlers["load"]
    view_s = median(timed(lambda: load("", "equipment", 1)) for _ in range(repeats))
    week_s = median(timed(lambda: render_report(shopfloor.weekly_report())) for _ in range(repeats))
    report = shopfloor.gap_report()
    return MapTimings(
        questions, distinct, len(report.topics), len(report.work), write_s, first_s, map_s, view_s, week_s
    )
