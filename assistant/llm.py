"""The answering LLM: a local GGUF through llama.cpp, or an OpenAI-compatible server by URL."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.bundled_model import BUNDLED_MODELS, bundled_model_path
from indexes.errors import ShopfloorError
from indexes.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.llms import LLM, ChatMessage

log = logging.getLogger(__name__)

# Qwen is a ChatML model: without the template and this stop string it rambles past its answer.
STOP = "<|im_end|>"


def chatml(messages: Sequence[ChatMessage]) -> str:
    prompt = "".join(f"<|im_start|>{m.role.value}\n{m.content}{STOP}\n" for m in messages)
    return prompt + "<|im_start|>assistant\n"


def model_path(settings: Settings) -> Path:
    """The GGUF to load: a bundled model (verified) or a configured path."""
    if settings.llm_model in BUNDLED_MODELS:
        return bundled_model_path(settings.llm_model, settings.model_cache)
    path = Path(settings.llm_model)
    if not path.is_file():
        known = ", ".join(BUNDLED_MODELS)
        raise ShopfloorError(f"{path}: no such GGUF file (llm_model is a file path or one of: {known})")
    return path


def load_llm(settings: Settings) -> LLM:
    """The configured LLM, ready to stream; no network unless llm_url names a server."""
    started = time.perf_counter()
    if settings.llm_url:
        from llama_index.llms.openai_like import OpenAILike

        llm: LLM = OpenAILike(
            model=settings.llm_api_model,
            api_base=settings.llm_url,
            api_key=os.environ.get("SHOPFLOOR_LLM_API_KEY", "none"),
            is_chat_model=True,
            temperature=0.0,
            max_tokens=settings.llm_max_tokens,
            context_window=settings.llm_context,
        )
    else:
        try:
            from llama_index.llms.llama_cpp import LlamaCPP
        except ImportError:
            raise ShopfloorError("the local LLM runtime is not installed; run: pip install -e '.[llm]'") from None
        llm = LlamaCPP(
            model_path=str(model_path(settings)),
            temperature=0.0,
            max_new_tokens=settings.llm_max_tokens,
            context_window=settings.llm_context,
            generate_kwargs={"stop": [STOP]},
            model_kwargs={"n_threads": settings.threads, "n_batch": 512},
            messages_to_prompt=chatml,
            verbose=False,
        )
    log.info("llm loaded model=%s secs=%.2f", settings.llm_url or settings.llm_model, time.perf_counter() - started)
    return llm


def stream_chat(llm: LLM, messages: Sequence[ChatMessage]) -> Iterator[str]:
    """The answer's text pieces as the model produces them."""
    for chunk in llm.stream_chat(list(messages)):
        if chunk.delta:
            yield chunk.delta
