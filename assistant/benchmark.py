"""`shopfloor bench ask`: answer latency against bare llama.cpp generation for the same prompt."""

from __future__ import annotations

import time
from dataclasses import dataclass
from statistics import median
from typing import Any

from assistant.answering import SYSTEM_PROMPT, Assistant, user_prompt
from assistant.llm import stream_chat

DEFAULT_QUESTIONS = (
    "How often must the hydraulic oil of the HP-200 press be changed?",
    "What torque for the ram guide bolts?",
    "How long is the spindle warm-up on the CL-400 lathe?",
    "What shielding gas flow does the welding cell need?",
    "What is the working pressure of the AC-75 compressor?",
)


@dataclass
class AskTiming:
    """One question: our pipeline and the bare model on the same prompt, in seconds."""

    question: str
    first_token_s: float
    total_s: float
    bare_first_token_s: float
    bare_total_s: float


def _forget_prompt_cache(llm: Any) -> None:
    """llama.cpp reuses the longest shared prompt prefix: reset it so both timings start cold."""
    model = getattr(llm, "_model", None)
    if model is not None and hasattr(model, "reset"):
        model.reset()


def time_question(assistant: Assistant, question: str) -> AskTiming:
    from llama_index.core.llms import ChatMessage

    first: list[float] = []
    _forget_prompt_cache(assistant.llm)
    started = time.perf_counter()
    answer = assistant.ask(question, on_token=lambda _: first.append(time.perf_counter()) if not first else None)
    total = time.perf_counter() - started
    corrected = assistant.retriever.correct_typos(question)
    messages = [
        ChatMessage(role="system", content=SYSTEM_PROMPT),
        ChatMessage(role="user", content=user_prompt(corrected, answer.contexts[: assistant.context_k], [])),
    ]
    bare_first: list[float] = []
    _forget_prompt_cache(assistant.llm)
    bare_started = time.perf_counter()
    for _ in stream_chat(assistant.llm, messages):  # type: ignore[arg-type]
        if not bare_first:
            bare_first.append(time.perf_counter())
    bare_total = time.perf_counter() - bare_started
    return AskTiming(
        question=question,
        first_token_s=(first[0] - started) if first else total,
        total_s=total,
        bare_first_token_s=(bare_first[0] - bare_started) if bare_first else bare_total,
        bare_total_s=bare_total,
    )


def summarize(timings: list[AskTiming]) -> dict[str, float]:
    ours = median(t.total_s for t in timings)
    bare = median(t.bare_total_s for t in timings)
    return {
        "first_token_s": median(t.first_token_s for t in timings),
        "total_s": ours,
        "bare_first_token_s": median(t.bare_first_token_s for t in timings),
        "bare_total_s": bare,
        "overhead": ours / bare - 1 if bare else 0.0,
    }
