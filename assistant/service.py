"""Build the assistant from settings: the index, the embedding model, the retriever, the LLM.
The CLI and the Gradio app both start here, so they answer alike."""

from __future__ import annotations

from assistant.answering import Assistant, Decision
from assistant.llm import AnswerModel
from assistant.policy import Policy
from assistant.retrieval import HybridRetriever
from assistant.translation import Translator
from indexes.embedding import Embedder
from indexes.segments import VectorSearch
from indexes.store import IndexStore
from shopfloor.errors import IndexMissingError
from shopfloor.settings import Settings


def open_retriever(
    settings: Settings, embedder: Embedder | None = None, mode: str | None = None, store: IndexStore | None = None
) -> HybridRetriever:
    """The live index, refused if another embedding model built it. A `store` kept between calls
    reuses the segments it has open: following a new version opens only what it added."""
    embedder = embedder or Embedder.from_settings(settings)
    store = store or IndexStore.from_settings(settings)
    manifest = store.read_manifest()
    if manifest is None:
        raise IndexMissingError(f"{settings.index_path}: no index here yet; run `shopfloor ingest PATH` first")
    store.check_compatible(manifest, embedder.space, embedder.backend)
    search = VectorSearch(settings.vector_candidates, settings.vector_probes, settings.exact_below)
    return HybridRetriever(store.load(), embedder, mode or settings.retrieval_mode, search=search)


def open_assistant(
    settings: Settings,
    *,
    use_llm: bool = True,
    embedder: Embedder | None = None,
    policy: Policy | None = None,
    llm: AnswerModel | None = None,
    translator: Translator | None = None,
) -> Assistant:
    """Everything loaded once; `use_llm=False` answers with the manual's best lines alone. The
    manager's policy rules apply where one is given (the app's, not an evaluation's); `llm` reuses a
    model already loaded (a benchmark over many indexes), `translator` likewise."""
    from assistant.llm import load_llm

    store = IndexStore.from_settings(settings)
    retriever = open_retriever(settings, embedder, store=store)

    def newer_retriever(current: HybridRetriever) -> HybridRetriever | None:
        live = store.current_version
        if live is None or live == current.snapshot.version:
            return None
        return open_retriever(settings, current.embedder, current.mode, store)

    return Assistant(
        retriever,
        (llm or load_llm(settings)) if use_llm else None,
        retrieve_k=settings.retrieve_k,
        evidence_lines=settings.evidence_lines,
        decision=Decision.from_settings(settings),
        min_vector_score=settings.min_vector_score,
        min_bm25_score=settings.min_bm25_score,
        newer_retriever=newer_retriever,
        policy=policy,
        translator=(translator or open_translator(settings)) if use_llm and settings.translate else None,
        translate_below=settings.translate_below,
        translate_evidence_below=settings.translate_evidence_below,
        other_language_margin=settings.other_language_margin,
    )


def open_translator(settings: Settings) -> Translator:
    """The LLM in a small context of its own, for questions and answers in other languages."""
    from assistant.llm import load_llm

    return Translator(load_llm(settings, context=settings.translation_context))
