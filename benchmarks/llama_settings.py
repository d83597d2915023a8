"""Which llama.cpp settings read a prompt and write an answer fastest on this CPU.

Times the bundled model, loaded once per variant, on the same chat prompts (an answer prompt of the
size the assistant sends: the fixed system prompt, four evidence lines, a question), cold (nothing
cached) and warm (the system prompt already read, as for every question after the first), and
prints prompt-reading and writing tokens/s per variant:

    python benchmarks/llama_settings.py [--model qwen2.5-coder-1.5b] [--layout q4_0 --layout shipped] [--repeat 3]

Each weight layout (the file as shipped, or rewritten by llama.cpp: see assistant/bundled_model.py)
is timed under every variant.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from assistant.answering import SYSTEM_PROMPT
from assistant.bundled_model import LAYOUTS, bundled_model_path
from shopfloor.settings import load_settings

LINES = [
    "[1] (4.5.2 Alternator bearings) The recommended check and change period for the lubricant (grease) is "
    "4.000 hours.",
    "[2] (4.5.2 Alternator bearings) Some recommended lubricant (grease) types are Shell Alvania RL3 and "
    "Mobil Polyrex EM.",
    "[3] (Troubleshooting) Symptom | Probable cause | Remedy\nBearing noise | Lack of grease | Regrease the "
    "bearings, see 4.5.2",
    "[4] (4.5 Alternator) Check the alternator's air inlet and outlet for dirt every 250 hours or monthly.",
]
QUESTIONS = ["how often regrease alternator bearings", "which grease for the alternator", "bearing noise fix?"]
VARIANTS: dict[str, dict[str, Any]] = {
    "batch 512": {"n_batch": 512},
    "batch 512, flash attention": {"n_batch": 512, "flash_attn": True},
    "batch 128, flash attention": {"n_batch": 128, "n_ubatch": 128, "flash_attn": True},
    "batch 512, flash attention, q8_0 cache": {"n_batch": 512, "flash_attn": True, "type_k": 8, "type_v": 8},
}


def _messages(question: str, lines: list[str] = LINES) -> list[dict[str, str]]:
    user = "Lines from the manuals:\n" + "\n".join(lines) + f"\n\nQuestion: {question}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _time(llm: Any, messages: list[dict[str, str]]) -> tuple[float, float, int]:
    """(seconds to the first token, seconds after it, tokens written)."""
    started = time.perf_counter()
    first = None
    pieces = 0
    for chunk in llm.create_chat_completion(messages, temperature=0.0, max_tokens=80, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            first = first or time.perf_counter()
            pieces += 1
    end = time.perf_counter()
    return (first or end) - started, end - (first or end), pieces


def main() -> None:

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--layout", action="append", choices=["shipped", *LAYOUTS], help="default: both")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    settings = load_settings(llm_model=args.model)
    for layout in args.layout or ["shipped", *LAYOUTS]:
        path = bundled_model_path(args.model, settings.model_cache, None if layout == "shipped" else layout)
        print(f"model {path.name}, {settings.threads} threads")
        _time_variants(path, settings.threads, args.repeat)


def _time_variants(path: Path, threads: int, repeat: int) -> None:
    from llama_cpp import Llama

    for name, options in VARIANTS.items():
        llm = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, verbose=False, **options)
        prompt_tokens = len(llm.tokenize(str(_messages(QUESTIONS[0])).encode()))
        cold, warm, writing = [], [], []
        for _ in range(repeat):
            for question in QUESTIONS:
                llm.reset()
                first, after, written = _time(llm, _messages(question))
                cold.append(first)
                writing.append(written / after if after > 0 else 0.0)
                # The next question: other lines, the same system prompt (llama.cpp keeps it read).
                first, _, _ = _time(llm, _messages(question, LINES[::-1]))
                warm.append(first)
        print(
            f"{name:42s} first token cold {statistics.median(cold):5.2f} s "
            f"(~{prompt_tokens / statistics.median(cold):4.0f} prompt tok/s), "
            f"warm {statistics.median(warm):5.2f} s; writing {statistics.median(writing):4.1f} tok/s"
        )
        del llm


if __name__ == "__main__":
    main()
