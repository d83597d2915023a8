"""Embedding backends: auto picks a faster one only when it keeps the stock model's neighbours,
the calibration is remembered, and vectors from a backend beyond tolerance are never mixed in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.service import open_retriever
from indexes import calibration as calibration_module
from indexes.calibration import (
    MIN_AGREEMENT,
    Calibration,
    CalibrationCache,
    Trial,
    machine_key,
    neighbour_agreement,
)
from indexes.embedding import Embedder
from indexes.encoders import BACKENDS, STOCK, open_encoder
from indexes.store import IndexStore
from ingest.pipeline import IngestRun, passage_embed_text
from shopfloor.errors import BackendUnavailableError, IncompatibleIndexError
from shopfloor.settings import load_settings
from tests.conftest import copy_samples


def test_auto_backend_keeps_the_stock_neighbours_on_real_chunks(embedder: Embedder, sample_index: Path) -> None:
    assert embedder.requested_backend == "auto" and embedder.backend in BACKENDS
    assert embedder.calibration.trials[embedder.backend].keeps_vectors
    texts = [passage_embed_text(p) for p in IndexStore(sample_index).load().passages()]
    stock = open_encoder(STOCK, embedder.model_path, embedder.spec.max_tokens, 2, 32, embedder.cache_dir)
    assert neighbour_agreement(stock.encode(texts), embedder.embed_texts(texts)) >= MIN_AGREEMENT
    manifest = IndexStore(sample_index).read_manifest()
    assert manifest is not None
    assert (manifest.embedding_backend, manifest.embedding_fingerprint) == (embedder.backend, embedder.spec.fingerprint)


def test_calibration_is_measured_once_per_machine_and_model(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder.calibration  # noqa: B018 - the session's embedder has calibrated (or found the cache)
    cached = json.loads((embedder.cache_dir / "calibration.json").read_text())
    entry = cached[f"{machine_key(embedder.threads)}|{embedder.spec.fingerprint}"]
    assert set(entry) == set(BACKENDS)
    assert all(t["chunks_per_s"] > 0 for t in entry.values() if t["error"] is None)

    def no_second_calibration(*args: object) -> None:
        raise AssertionError("calibrated again although the cache holds this machine and model")

    monkeypatch.setattr(calibration_module, "run_trials", no_second_calibration)
    fresh = Embedder.from_settings(load_settings())
    assert fresh.backend == embedder.backend
    if fresh.backend.startswith("openvino"):
        assert list((embedder.cache_dir / "openvino").glob("*/model.xml")), "the export is kept in the cache"


def test_fastest_backend_wins_only_if_it_keeps_the_vectors() -> None:
    trials = {
        "torch-fp32": Trial("torch-fp32", 30, 1.0, 1.0),
        "torch-bf16": Trial("torch-bf16", 90, 0.99, 0.998),
        "openvino-fp32": Trial("openvino-fp32", 40, error="BackendUnavailableError: no openvino"),
        "openvino-bf16": Trial("openvino-bf16", 200, 0.90, 0.98),  # fastest, but neighbours change
    }
    assert Calibration("m", "x", trials).chosen == "torch-bf16"
    trials["openvino-bf16"] = Trial("openvino-bf16", 85, 0.996, 0.9999)  # a near tie: OpenVINO preferred
    assert Calibration("m", "x", trials).chosen == "openvino-bf16"
    assert Calibration("m", "x", {}).chosen == STOCK


def test_a_model_layout_openvino_cannot_mirror_stays_on_torch(tmp_path: Path, embedder: Embedder) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "x.Transformer"},
                {"idx": 1, "name": "1", "path": "1", "type": "x.Dense"},
            ]
        )
    )
    with pytest.raises(BackendUnavailableError, match="Transformer\\+Pooling"):
        open_encoder("openvino-bf16", model, 256, 1, 8, tmp_path / "cache")


def _cache_with_a_lossy_backend(embedder: Embedder, cache_dir: Path) -> Embedder:
    """A calibration saying openvino-fp32 moves the neighbours on this machine; that backend named."""
    lossy = Trial("openvino-fp32", chunks_per_s=99, agreement=0.6, min_cosine=0.9)
    CalibrationCache(cache_dir).put(
        Calibration(
            machine_key(embedder.threads),
            embedder.spec.fingerprint,
            {STOCK: Trial(STOCK, 30, 1, 1), "openvino-fp32": lossy},
        )
    )
    return Embedder(embedder.model_path, backend="openvino-fp32", cache_dir=cache_dir)


def test_a_backend_beyond_tolerance_is_refused_by_an_index_built_otherwise(
    embedder: Embedder, sample_index: Path, tmp_path: Path
) -> None:
    lossy = _cache_with_a_lossy_backend(embedder, tmp_path / "cache")
    assert lossy.space != embedder.space
    with pytest.raises(IncompatibleIndexError, match="SHOPFLOOR_EMBED_BACKEND=") as refused:
        open_retriever(load_settings(index_dir=sample_index), lossy)
    assert len(str(refused.value).splitlines()) == 1


def test_ingest_never_mixes_vectors_of_two_spaces(embedder: Embedder, tmp_path: Path) -> None:
    settings = load_settings(index_dir=tmp_path / "index")
    store = IndexStore(settings.index_path)
    docs = copy_samples(tmp_path / "docs", "AC-75_Air_Compressor_Maintenance.md")
    IngestRun(settings, store, embedder=embedder).run([docs])
    version = store.current_version
    lossy = _cache_with_a_lossy_backend(embedder, tmp_path / "cache")
    copy_samples(docs, "W3_Welding_Cell_Quick_Guide.html")
    with pytest.raises(IncompatibleIndexError, match="embedding backend"):
        IngestRun(settings, store, embedder=lossy).run([docs])
    assert store.current_version == version, "nothing written"

    own = load_settings(index_dir=tmp_path / "own")
    IngestRun(own, IndexStore(own.index_path), embedder=lossy).run([docs])
    manifest = IndexStore(own.index_path).read_manifest()
    assert manifest is not None and manifest.embedding_fingerprint.endswith("+openvino-fp32")
    with pytest.raises(IncompatibleIndexError):
        open_retriever(own, embedder)
    assert open_retriever(own, lossy).retrieve("air compressor oil")


def test_an_export_left_by_a_killed_process_is_cleared_and_a_live_one_kept(tmp_path: Path) -> None:
    import os
    import time

    from indexes.encoders import _remove_stale_exports

    stale, live = tmp_path / ".export-killed", tmp_path / ".export-running"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "model.bin").write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    _remove_stale_exports(tmp_path)
    assert not stale.exists() and live.exists()
