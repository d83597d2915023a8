"""Shared fixtures: real embedding model (loaded once), real FAISS, data redirected to tmp."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

# Offline before any Hugging Face library is imported, exactly as the CLI entry point does.
os.environ.update(
    HF_HUB_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    HF_HUB_DISABLE_PROGRESS_BARS="1",
    TRANSFORMERS_VERBOSITY="error",
    TOKENIZERS_PARALLELISM="false",
    GRADIO_ANALYTICS_ENABLED="False",
)

from indexes.chunk_metadata import ChunkMetadata
from indexes.embedding import Embedder
from indexes.store import IndexStore
from ingest.pipeline import IngestReport, IngestRun
from shopfloor.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = ROOT / "sample_docs"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")


@pytest.fixture(scope="session", autouse=True)
def _session_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Set before any session fixture reads settings: no SHOPFLOOR_* setting from the developer's
    shell, and the machine cache (embedding calibration, OpenVINO export) under tmp, not in
    ~/.cache/shopfloor. The calibration then runs once per test session, for real."""
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("SHOPFLOOR_"):
                patch.delenv(key)
        patch.setenv("SHOPFLOOR_HOME", str(tmp_path_factory.mktemp("session-home")))
        patch.setenv("SHOPFLOOR_CACHE_DIR", str(tmp_path_factory.mktemp("machine-cache")))
        patch.setenv("SHOPFLOOR_CONFIG", str(tmp_path_factory.mktemp("no-config") / "shopfloor.toml"))
        yield


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """All data of a test under its tmp; no stray shopfloor.toml or env setting from the developer's shell."""
    home = tmp_path / "home"
    monkeypatch.setenv("SHOPFLOOR_HOME", str(home))
    for key in list(os.environ):
        if key.startswith("SHOPFLOOR_") and key not in ("SHOPFLOOR_HOME", "SHOPFLOOR_CACHE_DIR", "SHOPFLOOR_CONFIG"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    model = Embedder.from_settings(load_settings())
    model.encoder  # noqa: B018 - load once for the whole session
    return model


@pytest.fixture
def ingest(settings: Settings, embedder: Embedder):
    """Run an ingest into this test's index with the session's model."""

    def run(*paths: Path, tags: dict[str, str] | None = None, remove: tuple[str, ...] = ()) -> IngestReport:
        return IngestRun(settings, IndexStore(settings.index_path), embedder=embedder).run(
            list(paths), tags=tags, remove=remove
        )

    return run


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """sample_docs/ ingested once, read-only for the tests that use it."""
    index = tmp_path_factory.mktemp("sample") / "index"
    settings = load_settings(index_dir=index)
    IngestRun(settings, IndexStore(index), embedder=embedder).run([SAMPLE_DOCS], tags={"site": "plant1"})
    return index


def search(index: Path, embedder: Embedder, query: str, k: int = 3) -> list:
    """Vector retrieval over a stored index: the passages, best first."""
    from assistant.retrieval import HybridRetriever

    return HybridRetriever(IndexStore(index).load(), embedder, mode="vector").retrieve(query, k=k, correct=False)


def chunk_meta(**fields: Any) -> ChunkMetadata:
    """Metadata of a passage as ingest writes it, with the given fields changed."""
    meta = ChunkMetadata(
        doc_id="manual.pdf", file="manual.pdf", title="Manual", revision=None, section="", page=1, page_end=1,
        page_label=None, text_source="text-layer", tags={}, heading="Manual",
    )  # fmt: skip
    return cast(ChunkMetadata, {**meta, **fields})


def copy_samples(dest: Path, *names: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(SAMPLE_DOCS / name, dest / name)
    return dest


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A real PostgreSQL server for the session (Debian's package); the URL of its `postgres` database."""
    from tests.postgres import postgres_server, server_programs

    if server_programs() is None:
        pytest.skip("no PostgreSQL server programs: scripts/setup test installs Debian's postgresql")
    with postgres_server() as server:
        yield server.url


@pytest.fixture
def postgres_gap_log(postgres: str, request: pytest.FixtureRequest) -> str:
    """The URL of a new empty database on the session's server, for one test's gap log."""
    import hashlib

    from tests.postgres import fresh_database

    return fresh_database(postgres, "t_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:16])


@pytest.fixture(scope="session")
def llm_settings(tmp_path_factory: pytest.TempPathFactory, sample_index: Path) -> Settings:
    """The default bundled LLM, assembled once per test session into its own model cache."""
    home = tmp_path_factory.mktemp("llm-home")
    return load_settings(home=home, index_dir=sample_index)


@pytest.fixture(scope="session")
def assistant(llm_settings: Settings, embedder: Embedder):
    from assistant.service import open_assistant

    return open_assistant(llm_settings, embedder=embedder)
