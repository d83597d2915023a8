"""Our encoders seen through llama-index's embedding interface (its index and retrievers ask it)."""

from __future__ import annotations

from llama_index.core.embeddings import BaseEmbedding
from pydantic import PrivateAttr

from indexes.encoders import Encoder


class EncoderEmbedding(BaseEmbedding):
    """A llama-index embedding backed by whichever encoder the backend setting chose."""

    _encoder: Encoder = PrivateAttr()

    @classmethod
    def wrap(cls, encoder: Encoder, name: str, batch_size: int) -> EncoderEmbedding:
        embedding = cls(model_name=name, embed_batch_size=batch_size)
        embedding._encoder = encoder
        return embedding

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._encoder.encode([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._encoder.encode([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encoder.encode(texts).tolist()
