"""`shopfloor bench serve`: what one app server carries. Terminals ask at once, each its next
question as soon as its last is answered, through the same use case the web handlers call (answer
and log); per number of terminals: questions per minute and the latency operators wait, p50 and p95.

The LLM local (llama.cpp in the app server: questions take turns at it) or remote (`shopfloor
llm-server`, the multi-terminal set-up's; here on the same machine, so it shows the cost of the
hop and of the server's queue, not a GPU's speed).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ui.usecases import Shopfloor


@dataclass
class ServingFigures:
    """One load level: terminals asking at once, and what they got."""

    llm: str  # local or remote
    terminals: int
    questions: int
    answered: int
    wall_s: float
    p50_s: float
    p95_s: float

    @property
    def per_minute(self) -> float:
        return 60 * self.questions / self.wall_s if self.wall_s else 0.0


def serve_load(floor: Shopfloor, questions: list[str], terminals: int, per_terminal: int, llm: str) -> ServingFigures:
    """`terminals` threads, each asking `per_terminal` questions in turn (a terminal waits for its
    answer before asking again), the questions dealt round the set."""
    latencies: list[float] = []
    answered = 0
    lock = threading.Lock()

    def terminal(number: int) -> None:
        nonlocal answered
        for k in range(per_terminal):
            question = questions[(number * per_terminal + k) % len(questions)]
            started = time.perf_counter()
            logged = floor.ask(question, terminal=f"bench-{number:02d}")
            with lock:
                latencies.append(time.perf_counter() - started)
                answered += logged.answer.answered

    started = time.perf_counter()
    with ThreadPoolExecutor(terminals) as pool:
        list(pool.map(terminal, range(terminals)))
    wall = time.perf_counter() - started
    p50, p95 = np.percentile(latencies, [50, 95]) if latencies else (0.0, 0.0)
    return ServingFigures(llm, terminals, len(latencies), answered, wall, float(p50), float(p95))


def run_serving(
    floor: Shopfloor, questions: list[str], levels: list[int], per_terminal: int, llm: str
) -> list[ServingFigures]:
    """Each load level on one app server, warmed up by one question first (the model reads its
    fixed prompt once, as a served app does at start)."""
    floor.ask(questions[0], terminal="bench-warm-up")
    return [serve_load(floor, questions, n, per_terminal, llm) for n in levels]
