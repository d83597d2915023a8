"""The answering LLM: a local GGUF through llama.cpp, or an OpenAI-compatible server by URL."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from assistant.bundled_model import BUNDLED_MODELS, bundled_model_path
from shopfloor.errors import LlmUnavailableError, ShopfloorError
from shopfloor.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from llama_cpp import Llama
    from llama_index.core.llms import LLM

log = logging.getLogger(__name__)

# What the model is told to reply when no line answers (see answering.SYSTEM_PROMPT).
DECLINE = "NOT FOUND"


class Message(TypedDict):
    role: str  # system, user or assistant
    content: str


@dataclass
class FirstStep:
    """The model's first step of an answer. Its chance of starting to decline is a better signal
    than the declining itself: the 1.5B model declines greedily with the answer in its lines (a
    median chance of 0.11 where the lines held the answer, 0.64 where the manuals do not; see
    benchmarks/eval/). Below `insist_below` it is held to answer, and the check judges that answer."""

    insist_below: float = 0.0
    decline: float | None = None  # None: the backend does not say (a server)


class AnswerModel(Protocol):
    """What the assistant needs of an LLM: stream an answer to chat messages."""

    # Whether it answers several questions at once: a server queues or batches them itself; llama.cpp
    # in this process is not re-entrant and answers one at a time.
    concurrent: bool

    def stream(self, messages: Sequence[Message], first_step: FirstStep | None = None) -> Iterator[str]: ...

    def prompt_tokens(self, messages: Sequence[Message]) -> int: ...

    def text_tokens(self, text: str) -> int: ...

    def forget(self) -> None:
        """Drop what the model has read, so that the next prompt is read from its start."""


class LocalModel:
    """A GGUF model in this process, prompted in its own chat format (the template in the file)."""

    concurrent = False

    def __init__(self, llama: Llama, max_tokens: int) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._llama = llama
        self._max_tokens = max_tokens
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ShopfloorError(f"{llama.model_path}: the GGUF has no chat template (tokenizer.chat_template)")
        special = {
            name: self._token_text(token) for name, token in (("eos", llama.token_eos()), ("bos", llama.token_bos()))
        }
        self._format = Jinja2ChatFormatter(template, eos_token=special["eos"], bos_token=special["bos"])
        self._stop = [special["eos"]] if special["eos"] else []
        # The first tokens of the decline ("NOT FOUND" starts with the token NOT; N starts it too).
        self._decline_tokens = sorted({llama.tokenize(word.encode(), add_bos=False)[0] for word in (DECLINE, "N")})

    def _token_text(self, token: int) -> str:
        return self._llama.detokenize([token], special=True).decode("utf-8", "replace") if token >= 0 else ""

    def prompt(self, messages: Sequence[Message]) -> str:
        return self._format(messages=list(messages)).prompt  # type: ignore[arg-type]

    def stream(self, messages: Sequence[Message], first_step: FirstStep | None = None) -> Iterator[str]:
        from llama_cpp import LogitsProcessorList

        processors = LogitsProcessorList([self._first_step_processor(first_step)]) if first_step else None
        chunks = self._llama.create_completion(
            self.prompt(messages),
            max_tokens=self._max_tokens,
            temperature=0.0,
            stop=self._stop,
            stream=True,
            logits_processor=processors,
        )
        for chunk in chunks:
            text = chunk["choices"][0]["text"]  # type: ignore[index]
            if text:
                yield text

    def _first_step_processor(self, first_step: FirstStep) -> Any:
        """Reads the chance of declining at the first token; below the insist share, forbids it."""
        import numpy as np

        def process(_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]) -> npt.NDArray[np.single]:
            if first_step.decline is not None:
                return scores
            weights = np.exp(scores - scores.max())
            first_step.decline = float(weights[self._decline_tokens].sum() / weights.sum())
            if first_step.decline < first_step.insist_below:
                scores[self._decline_tokens] = -np.inf
            return scores

        return process

    def prompt_tokens(self, messages: Sequence[Message]) -> int:
        return self.text_tokens(self.prompt(messages))

    def text_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=True))

    def forget(self) -> None:
        self._llama.reset()


class ServerModel:
    """An OpenAI-compatible chat server. It does not say how likely it was to decline: its word
    stands."""

    concurrent = True

    def __init__(self, llm: LLM, url: str) -> None:
        self._llm = llm
        self._url = url

    def stream(self, messages: Sequence[Message], first_step: FirstStep | None = None) -> Iterator[str]:
        import openai
        from llama_index.core.llms import ChatMessage

        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        try:
            for chunk in self._llm.stream_chat(chat):
                if chunk.delta:
                    yield chunk.delta
        except (openai.APIConnectionError, openai.InternalServerError) as error:  # timeouts are connection errors
            raise LlmUnavailableError(f"{self._url}: the LLM server did not answer ({type(error).__name__})") from error

    def prompt_tokens(self, messages: Sequence[Message]) -> int:
        return 0

    def text_tokens(self, text: str) -> int:
        return 0

    def forget(self) -> None:
        """A server keeps its own cache."""


def model_path(settings: Settings) -> Path:
    """The GGUF to load: a bundled model (verified) or a configured path."""
    if settings.llm_model in BUNDLED_MODELS:
        layout = None if settings.llm_layout == "shipped" else settings.llm_layout
        return bundled_model_path(settings.llm_model, settings.model_cache, layout)
    path = Path(settings.llm_model)
    if not path.is_file():
        known = ", ".join(BUNDLED_MODELS)
        raise ShopfloorError(f"{path}: no such GGUF file (llm_model is a file path or one of: {known})")
    return path


def load_llm(settings: Settings, context: int | None = None) -> AnswerModel:
    """The configured LLM, ready to stream; no network unless llm_url names a server. `context`
    gives a local model a context of its own of that many tokens (the weights are mapped once and
    shared between contexts)."""
    started = time.perf_counter()
    model: AnswerModel
    if settings.llm_url:
        from llama_index.llms.openai_like import OpenAILike

        model = ServerModel(
            OpenAILike(
                model=settings.llm_api_model,
                api_base=settings.llm_url,
                api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else "none",
                is_chat_model=True,
                temperature=0.0,
                max_tokens=settings.llm_max_tokens,
                context_window=settings.llm_context,
                timeout=settings.llm_timeout,
                max_retries=1,  # a terminal waits for each retry: one, then the manual's lines alone
            ),
            settings.llm_url,
        )
    else:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ShopfloorError("the local LLM runtime is not installed; run: pip install -e '.[llm]'") from None
        llama = Llama(
            model_path=str(model_path(settings)),
            n_ctx=context or settings.llm_context,
            n_threads=settings.threads,
            n_batch=512,
            verbose=False,
        )
        model = LocalModel(llama, settings.llm_max_tokens)
    log.info("llm loaded model=%s secs=%.2f", settings.llm_url or settings.llm_model, time.perf_counter() - started)
    return model
