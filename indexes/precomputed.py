"""A stand-in embed model for llama-index calls that must never embed.

Ingest embeds with its own batching and progress, and loading an index for `docs` or `remove`
needs no model; llama-index still wants an embed model object, and its default would reach
for OpenAI. This one fails loudly instead of embedding anything.
"""

from typing import Any

from llama_index.core.embeddings import BaseEmbedding


class PrecomputedOnly(BaseEmbedding):
    """Embed model that refuses to embed: every vector must come precomputed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(model_name="precomputed", **kwargs)

    def _refuse(self, *_: Any) -> list[float]:
        raise RuntimeError("this index was loaded without an embedding model; vectors come precomputed")

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._refuse()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._refuse()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._refuse()
