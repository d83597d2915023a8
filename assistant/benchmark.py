"""`shopfloor bench ask`: what an operator waits for (the manual's lines, the first word of the
answer, the whole answer) against bare llama.cpp generation for the same prompt."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from assistant.answering import Assistant, prompt_prefix, user_prompt
from assistant.llm import Message

DEFAULT_QUESTIONS = (
    "How often must the hydraulic oil of the HP-200 press be changed?",
    "What torque for the ram guide bolts?",
    "How long is the spindle warm-up on the CL-400 lathe?",
    "What shielding gas flow does the welding cell need?",
    "What is the working pressure of the AC-75 compressor?",
)
_VECTOR_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "fma", "f16c")


@dataclass
class AskTiming:
    """One question: our pipeline and the bare model on the same prompt, in seconds and tokens."""

    question: str
    first_evidence_s: float | None
    first_token_s: float
    total_s: float
    bare_first_token_s: float
    bare_total_s: float
    prompt_tokens: int
    read_tokens: int  # of those, what the model had to read: not the fixed prefix it kept
    answer_tokens: int
    answered: bool


def cpu_vector_extensions() -> str:
    """The CPU's vector extensions that llama.cpp and the embedding model can use."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split("flags")[1].split("\n")[0].split())
    except (OSError, IndexError):
        return "unknown"
    return " ".join(f for f in _VECTOR_FLAGS if f in flags) or "none of " + " ".join(_VECTOR_FLAGS)


def time_question(assistant: Assistant, question: str, cold: bool = False) -> AskTiming:
    """Time one question through the assistant, then the bare model on the prompt it built.
    Warm (the default) is how a terminal runs: llama.cpp keeps the fixed system prompt read."""
    llm = assistant.llm
    if llm is None:
        raise ValueError("bench ask times the LLM: the assistant has none")
    first: list[float] = []
    if cold:  # llama.cpp reuses the longest prompt prefix it has read
        llm.forget()
    started = time.perf_counter()
    answer = assistant.ask(question, on_token=lambda _: first.append(time.perf_counter()) if not first else None)
    total = time.perf_counter() - started
    corrected = assistant.retriever.correct_typos(question)
    messages = [*prompt_prefix(), Message(role="user", content=user_prompt(corrected, answer.evidence, []))]
    pieces: list[float] = []
    written = ""
    if cold:
        llm.forget()
    else:  # the same state as the assistant met: the fixed prefix read, the lines not
        assistant.warm_up()
    bare_started = time.perf_counter()
    for piece in llm.stream(messages):
        pieces.append(time.perf_counter())
        written += piece
    bare_total = time.perf_counter() - bare_started
    prompt_tokens = llm.prompt_tokens(messages)
    return AskTiming(
        question=question,
        first_evidence_s=answer.first_evidence_s,
        first_token_s=(first[0] - started) if first else total,
        total_s=total,
        bare_first_token_s=(pieces[0] - bare_started) if pieces else bare_total,
        bare_total_s=bare_total,
        prompt_tokens=prompt_tokens,
        read_tokens=prompt_tokens - (0 if cold else llm.prompt_tokens(messages[:-1])),
        answer_tokens=llm.text_tokens(written),
        answered=answer.answered,
    )


def summarize(timings: list[AskTiming]) -> dict[str, float]:
    ours = median(t.total_s for t in timings)
    bare = median(t.bare_total_s for t in timings)
    evidence = [t.first_evidence_s for t in timings if t.first_evidence_s is not None]
    reading = [t.read_tokens / t.bare_first_token_s for t in timings if t.bare_first_token_s > 0 and t.read_tokens]
    writing = [
        (t.answer_tokens - 1) / (t.bare_total_s - t.bare_first_token_s)
        for t in timings
        if t.answer_tokens > 1 and t.bare_total_s > t.bare_first_token_s
    ]
    return {
        "first_evidence_s": median(evidence) if evidence else 0.0,
        "first_token_s": median(t.first_token_s for t in timings),
        "total_s": ours,
        "bare_first_token_s": median(t.bare_first_token_s for t in timings),
        "bare_total_s": bare,
        "overhead": ours / bare - 1 if bare else 0.0,
        "prompt_tokens": median(t.prompt_tokens for t in timings),
        "reading_tok_s": median(reading) if reading else 0.0,
        "writing_tok_s": median(writing) if writing else 0.0,
        "answered": sum(t.answered for t in timings) / len(timings),
    }
