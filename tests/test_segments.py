"""The segmented index: a change costs its own size, merged segments and inverted lists answer like
exact search, word weights are the library's, and a running assistant follows a new version."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.retrieval import Filters, HybridRetriever
from indexes.segments import VectorSearch
from indexes.store import SEGMENTS, IndexStore, SegmentPolicy
from ingest.pipeline import IngestRun
from shopfloor.settings import Settings, load_settings
from tests.conftest import SAMPLE_DOCS

MANUALS = ("AC-75_Air_Compressor_Maintenance.md", "W3_Welding_Cell_Quick_Guide.html", "FL-25_Forklift_Daily_Check.docx")
QUESTIONS = (
    "How often is the compressor oil changed?",
    "what shielding gas flow for the welding cell",
    "forklift tyre pressure check",
    "drain the air receiver condensate",
)


def _ingest(index: Path, embedder, policy: SegmentPolicy, *names: str, docs: Path = SAMPLE_DOCS) -> None:
    settings = load_settings(index_dir=index)
    IngestRun(settings, IndexStore(index, policy), embedder=embedder).run([docs / n for n in names])


def _top(index: Path, embedder, search: VectorSearch | None = None, filters: Filters | None = None) -> list[list]:
    retriever = HybridRetriever(IndexStore(index).load(), embedder, search=search)
    return [[(p.file, p.text[:40]) for p in retriever.retrieve(q, k=3, filters=filters)] for q in QUESTIONS]


def test_adding_a_manual_writes_one_segment_and_leaves_the_others_untouched(tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    _ingest(index, embedder, SegmentPolicy(), MANUALS[0])
    first = {p: p.stat().st_mtime_ns for p in (index / SEGMENTS).rglob("*") if p.is_file()}
    _ingest(index, embedder, SegmentPolicy(), MANUALS[1])
    manifest = IndexStore(index).read_manifest()
    assert manifest is not None
    segments = {r.doc_id: r.segment for r in manifest.documents.values()}
    assert len(set(segments.values())) == 2, "the second manual has a segment of its own"
    version = IndexStore(index).current_version
    assert version is not None and (version / "manifest.json").stat().st_size < 1000, "no document records in it"
    assert {p: p.stat().st_mtime_ns for p in first} == first, "the first segment was not rewritten"


def test_separate_ingests_rank_like_one_batch(tmp_path: Path, embedder) -> None:
    """Each segment's BM25 is reweighted by the library's word statistics: a manual ingested alone
    is not scored as if it were the whole library."""
    _ingest(tmp_path / "one", embedder, SegmentPolicy(), *MANUALS)
    for name in MANUALS:
        _ingest(tmp_path / "three", embedder, SegmentPolicy(), name)
    assert len(list((tmp_path / "three" / SEGMENTS).iterdir())) == 3
    assert _top(tmp_path / "three", embedder) == _top(tmp_path / "one", embedder)


def test_merged_segments_keep_every_live_passage_and_drop_replaced_ones(tmp_path: Path, embedder) -> None:
    index, docs = tmp_path / "index", tmp_path / "docs"
    docs.mkdir()
    policy = SegmentPolicy(merge_factor=2, least_live=0.6)
    manual = (SAMPLE_DOCS / MANUALS[0]).read_text()
    (docs / "A.md").write_text(manual + "\n## Relief valve\nThe relief valve opens at 150 bar.\n")
    (docs / "B.md").write_text(manual + "\n## Drain valve\nThe drain valve handle is blue.\n")
    _ingest(index, embedder, policy, "A.md", docs=docs)
    _ingest(index, embedder, policy, "B.md", docs=docs)
    merged = IndexStore(index).load()
    assert len(merged.segments) == 1, "two segments of one size are merged into one"
    assert {r.segment for r in merged.manifest.documents.values()} == set(merged.segments)
    (docs / "A.md").write_text(manual + "\n## Relief valve\nThe relief valve opens at 175 bar.\n")
    _ingest(index, embedder, policy, "A.md", docs=docs)  # half of the merged segment is now dead: rewritten
    snapshot = IndexStore(index).load()
    stored = [p.text for s in snapshot.segments.values() for p in s.passage_range(0, s.count)]
    assert any("175 bar" in t for t in stored) and any("handle is blue" in t for t in stored)
    assert not any("150 bar" in t for t in stored), "the replaced revision is gone from every segment"
    assert len(stored) == sum(r.chunks for r in snapshot.manifest.documents.values())
    retriever = HybridRetriever(snapshot, embedder)
    assert "175 bar" in retriever.retrieve("at what pressure does the relief valve open", k=1)[0].text


@pytest.mark.parametrize("exact_below", [0, 10**6], ids=["lists-with-selector", "exact-over-allowed"])
def test_approximate_segments_find_what_exact_search_finds(tmp_path: Path, embedder, exact_below: int) -> None:
    _ingest(tmp_path / "exact", embedder, SegmentPolicy(), *MANUALS)
    _ingest(tmp_path / "graph", embedder, SegmentPolicy(ann_from=1), *MANUALS)
    segment = next((tmp_path / "graph" / SEGMENTS).iterdir())
    assert '"ivf"' in (segment / "segment.json").read_text()
    search = VectorSearch(candidates=20, probes=2, exact_below=exact_below, lexical_candidates=5)
    assert _top(tmp_path / "graph", embedder, search) == _top(tmp_path / "exact", embedder)
    only = Filters(doc_ids={MANUALS[1]})
    filtered = _top(tmp_path / "graph", embedder, search, only)
    assert filtered == _top(tmp_path / "exact", embedder, filters=only)
    assert {file for hits in filtered for file, _ in hits} == {MANUALS[1]}


def test_a_running_assistant_follows_a_new_version_reusing_the_open_segments(
    settings: Settings, embedder, ingest
) -> None:
    from assistant.service import open_assistant

    ingest(SAMPLE_DOCS / MANUALS[0])
    assistant = open_assistant(settings, use_llm=False, embedder=embedder)
    before = assistant.retriever
    ingest(SAMPLE_DOCS / MANUALS[1])
    assistant.follow_index(wait_s=None)
    after = assistant.retriever
    assert after is not before and after.passage_count > before.passage_count
    kept = next(iter(before.snapshot.segments))
    assert after.snapshot.segments[kept] is before.snapshot.segments[kept], "the unchanged segment is not reopened"
    answer = assistant.ask("what shielding gas flow for the welding cell", use_llm=False)
    assert answer.contexts[0].file == MANUALS[1]


def test_the_scale_benchmark_shows_a_change_costing_its_own_size(sample_index: Path, tmp_path: Path) -> None:
    """`shopfloor bench scale` on replicas of the sample manuals: ten times the library (4,000
    documents), the same bytes to add and to replace a manual; the approximate segments keep the
    exact neighbours."""
    from ui.scale_benchmark import run_scale

    settings = load_settings(home=tmp_path, ann_from=4_000)
    questions = list(QUESTIONS) * 3
    small, large = run_scale(sample_index, [2_000, 20_000], questions, settings, tmp_path, batch=5_000)
    assert (small.segments, large.segments) == (1, 4)
    assert large.add_mb < 1.5 * small.add_mb and large.replace_mb < 1.5 * small.replace_mb
    assert large.disk_gb > 5 * small.disk_gb
    assert large.recall_at_10 >= 0.9 and small.recall_at_10 == 1.0
    assert min(large.tag_recall_at_10, large.manual_recall_at_10) >= 0.9, "filtered searches keep them too"
    assert 0 < large.p50_ms <= large.p95_ms


def test_a_narrow_filter_on_inverted_lists_looks_in_as_many_more_lists(tmp_path: Path) -> None:
    """A filter allowing 5 % of an approximate segment: probing only the usual lists would compare a
    handful of allowed passages and miss most of the best ones; it probes twenty times as many."""
    import numpy as np

    from indexes.segments import Segment, StoredPassage, write_segment

    rng = np.random.default_rng(3)
    centres = rng.standard_normal((40, 32)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, 6_000)] + 0.3 * rng.standard_normal((6_000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    passages = [StoredPassage(f"p{i}", f"passage {i}", {"heading": ""}) for i in range(len(vectors))]
    write_segment(tmp_path / "segment", passages, vectors, ann_from=1)
    segment = Segment(tmp_path / "segment")
    allowed = rng.random(len(vectors)) < 0.05
    search = VectorSearch(candidates=10, probes=2, exact_below=0, least_compared=0)
    found = recalled = 0
    for query in vectors[rng.choice(len(vectors), 20, replace=False)]:
        exact = np.where(allowed, vectors @ query, -np.inf)
        best = set(np.argsort(-exact)[:10].tolist())
        scores = segment.vector_scores(query, allowed, search)
        found += int(np.isfinite(scores).sum())
        recalled += len(best & set(np.argsort(-scores)[:10].tolist()))
    assert found == 20 * 10, "each search fills its candidates from allowed passages"
    assert recalled / 200 >= 0.9


def test_a_filter_to_other_topics_probes_the_lists_that_hold_its_passages(tmp_path: Path) -> None:
    """A filter to one machine's manuals and a question they barely cover: the lists nearest the
    question hold none of the allowed passages, so probing more of the nearest lists finds few of
    the best allowed ones; the nearest lists that hold allowed passages are probed instead."""
    import numpy as np

    from indexes.segments import Segment, StoredPassage, write_segment

    rng = np.random.default_rng(5)
    centres = rng.standard_normal((40, 32)).astype(np.float32)
    topic = rng.integers(0, 40, 6_000)
    vectors = centres[topic] + 0.3 * rng.standard_normal((6_000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    passages = [StoredPassage(f"p{i}", f"passage {i}", {"heading": ""}) for i in range(len(vectors))]
    write_segment(tmp_path / "segment", passages, vectors, ann_from=1)
    segment = Segment(tmp_path / "segment")
    allowed = topic < 4  # one machine's manuals: four topics of forty
    search = VectorSearch(candidates=10, probes=4, exact_below=0, least_compared=0)
    recalled = 0
    for query in vectors[rng.choice(np.flatnonzero(~allowed), 20, replace=False)]:
        best = set(np.argsort(-np.where(allowed, vectors @ query, -np.inf))[:10].tolist())
        scores = segment.vector_scores(query, allowed, search)
        assert np.isfinite(scores[~allowed]).sum() == 0, "only allowed passages are returned"
        recalled += len(best & set(np.argsort(-scores)[:10].tolist()))
    assert recalled / 200 >= 0.9
