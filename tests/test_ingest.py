"""Ingest into a real FAISS index with the real model: incremental, revision-safe, lock, bad batches."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from filelock import FileLock

from indexes.store import SEGMENTS, VERSIONS, IndexStore
from ingest.pipeline import IngestRun
from shopfloor.errors import IncompatibleIndexError, IndexLockedError, UnknownDocumentError
from tests.conftest import SAMPLE_DOCS, copy_samples, search


def test_sample_docs_are_indexed_with_provenance(sample_index: Path, embedder) -> None:
    manifest = IndexStore(sample_index).read_manifest()
    assert manifest is not None
    assert sorted(manifest.documents) == sorted(p.name for p in SAMPLE_DOCS.iterdir() if p.is_file())
    press = manifest.documents["HP-200_Hydraulic_Press_SOP.pdf"]
    assert (press.pages, press.revision, press.tags) == (4, "Rev C, 2026-03-14", {"site": "plant1"})
    hits = search(sample_index, embedder, "maintenance schedule: torque of the ram guide bolts", k=3)
    hit = next(h for h in hits if "Torque ram guide bolts to 95 Nm" in h.text)
    meta = hit.metadata
    assert (meta["file"], meta["page"], meta["page_label"]) == ("HP-200_Hydraulic_Press_SOP.pdf", 3, "2")
    assert meta["section"] == "6 Maintenance Schedule"
    assert meta["title"] == "Hydraulic Press HP-200 - Standard Operating Procedure"


def test_unchanged_reingest_embeds_nothing_and_writes_nothing(ingest, settings, tmp_path: Path) -> None:
    docs = copy_samples(tmp_path / "docs", "HP-200_Hydraulic_Press_SOP.pdf", "AC-75_Air_Compressor_Maintenance.md")
    first = ingest(docs)
    assert first.count("ingested") == 2 and first.embedded_chunks > 0
    store = IndexStore(settings.index_path)
    version = store.current_version
    again = ingest(docs)
    assert again.count("unchanged") == 2 and again.embedded_chunks == 0
    assert store.current_version == version


def test_new_revision_replaces_every_old_chunk(ingest, settings, embedder, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    sop = docs / "SOP-17_Bandsaw.md"
    sop.write_text("# Bandsaw BS-9\n## Blade tension\nSet the blade tension to 150 bar on the gauge.\n")
    ingest(docs)
    sop.write_text("# Bandsaw BS-9\n## Blade tension\nSet the blade tension to 175 bar on the gauge.\n")
    report = ingest(docs)
    assert report.count("replaced") == 1
    snapshot = IndexStore(settings.index_path).load()
    texts = [p.text for p in snapshot.passages()]
    assert any("175 bar" in t for t in texts)
    assert not any("150 bar" in t for t in texts)
    record = snapshot.manifest.documents["SOP-17_Bandsaw.md"]
    assert len(snapshot.vectors_of(record)) == record.chunks == len(texts)
    for hit in search(settings.index_path, embedder, "blade tension 150 bar", k=5):
        assert "150 bar" not in hit.text


def test_unchanged_passages_keep_their_vectors_when_a_revision_changes_one(ingest, tmp_path: Path) -> None:
    docs = copy_samples(tmp_path / "docs", "AC-75_Air_Compressor_Maintenance.md")
    ingest(docs)
    manual = docs / "AC-75_Air_Compressor_Maintenance.md"
    manual.write_text(manual.read_text().replace("Every 500 hours", "Every 400 hours"))
    report = ingest(docs)
    assert report.count("replaced") == 1
    assert report.embedded_chunks == 1 and report.reused_chunks >= 5


def test_renamed_revision_supersedes_the_old_file(ingest, settings, tmp_path: Path) -> None:
    old = tmp_path / "SOP-12_revC.md"
    old.write_text("# Guillotine\nBlade gap 0.1 mm.\n")
    new = tmp_path / "SOP-12_revD.md"
    new.write_text("# Guillotine\nBlade gap 0.08 mm.\n")
    ingest(old)
    ingest(new, remove=("SOP-12_revC.md",))
    manifest = IndexStore(settings.index_path).read_manifest()
    assert manifest is not None and sorted(manifest.documents) == ["SOP-12_revD.md"]


def test_remove_takes_a_document_out(ingest, settings, embedder, tmp_path: Path) -> None:
    docs = copy_samples(tmp_path / "docs", "HP-200_Hydraulic_Press_SOP.pdf", "CL-400_CNC_Lathe_Operator_Manual.pdf")
    ingest(docs)
    report = ingest(remove=("HP-200_Hydraulic_Press_SOP.pdf",))
    assert report.count("removed") == 1
    for hit in search(settings.index_path, embedder, "hydraulic press ram pressure", k=10):
        assert hit.metadata["file"] == "CL-400_CNC_Lathe_Operator_Manual.pdf"
    with pytest.raises(UnknownDocumentError, match=r"not in the index: nothing\.pdf"):
        ingest(remove=("nothing.pdf",))


def test_tags_are_kept_on_reingest_unless_given_again(ingest, settings, tmp_path: Path) -> None:
    docs = copy_samples(tmp_path / "docs", "AC-75_Air_Compressor_Maintenance.md")
    ingest(docs, tags={"equipment": "AC-75", "line": "utility"})
    assert ingest(docs).count("unchanged") == 1
    ingest(docs, tags={"equipment": "AC-75B"})
    snapshot = IndexStore(settings.index_path).load()
    assert snapshot.manifest.documents["AC-75_Air_Compressor_Maintenance.md"].tags == {"equipment": "AC-75B"}
    assert {p.metadata["tags"]["equipment"] for p in snapshot.passages()} == {"AC-75B"}


def test_second_writer_is_refused_while_the_lock_is_held(ingest, settings, tmp_path: Path) -> None:
    settings.index_path.mkdir(parents=True)
    with (
        FileLock(str(settings.index_path / ".lock")),
        pytest.raises(IndexLockedError, match="another ingest"),
    ):
        ingest(SAMPLE_DOCS / "AC-75_Air_Compressor_Maintenance.md")


def test_bad_files_are_skipped_and_the_rest_ingested(ingest, settings, tmp_path: Path) -> None:
    docs = copy_samples(tmp_path / "docs", "AC-75_Air_Compressor_Maintenance.md", "W3_Welding_Cell_Quick_Guide.html")
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.7\n garbage " * 40)
    (docs / "zero.pdf").write_bytes(b"")
    report = ingest(docs)
    assert report.count("ingested") == 2
    assert sorted(o.doc_id for o in report.skipped) == ["corrupt.pdf", "zero.pdf"]
    manifest = IndexStore(settings.index_path).read_manifest()
    assert manifest is not None and len(manifest.documents) == 2


def test_a_batch_of_only_bad_files_leaves_the_index_untouched(ingest, settings, tmp_path: Path) -> None:
    ingest(SAMPLE_DOCS / "AC-75_Air_Compressor_Maintenance.md")
    store = IndexStore(settings.index_path)
    version = store.current_version
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"nope")
    report = ingest(bad, SAMPLE_DOCS / "AC-75_Air_Compressor_Maintenance.md")
    assert (report.count("skipped"), report.count("unchanged")) == (1, 1)
    assert store.current_version == version
    assert report.timings["load"] == 0, "neither the index nor the model is loaded for a skipped file"


def test_manifest_is_plain_json_naming_the_segments_that_hold_the_passages(sample_index: Path) -> None:
    version = IndexStore(sample_index).current_version
    assert version is not None
    raw = json.loads((version / "manifest.json").read_text())
    assert raw["embedding_model"] == "all-MiniLM-L6-v2" and raw["embedding_dim"] == 384
    assert len(raw["segments"]) == 1 and not next(iter(raw["segments"].values())), "one ingest, one segment"
    segment = sample_index / "segments" / next(iter(raw["segments"]))
    assert {"passages.sqlite", "vectors.faiss", "bm25", "words.json", "segment.json", "documents.json"} <= {
        p.name for p in segment.iterdir()
    }
    records = json.loads((segment / "documents.json").read_text())
    assert sorted(r["doc_id"] for r in records) == sorted(p.name for p in SAMPLE_DOCS.iterdir() if p.is_file())


def test_folder_ids_are_relative_paths_and_hidden_files_are_ignored(ingest, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    copy_samples(docs / "press", "HP-200_Hydraulic_Press_SOP.pdf")
    (docs / ".cache").mkdir()
    (docs / ".cache" / "junk.md").write_text("# junk\n")
    shutil.copy(SAMPLE_DOCS / "AC-75_Air_Compressor_Maintenance.md", docs / ".hidden.md")
    report = ingest(docs)
    assert [o.doc_id for o in report.outcomes] == ["press/HP-200_Hydraulic_Press_SOP.pdf"]


def test_an_index_built_by_another_model_is_refused(ingest, settings, tmp_path: Path) -> None:
    ingest(SAMPLE_DOCS / "AC-75_Air_Compressor_Maintenance.md")
    other = tmp_path / "other-model"
    other.mkdir()
    for file in Path(settings.embed_model).iterdir():
        (other / file.name).symlink_to(file)
    (other / "config.json").unlink()
    (other / "config.json").write_text((Path(settings.embed_model) / "config.json").read_text().replace("384", "385"))
    changed = settings.model_copy(update={"embed_model": str(other)})
    with pytest.raises(IncompatibleIndexError, match="built with embedding model all-MiniLM-L6-v2"):
        IngestRun(changed, IndexStore(settings.index_path)).run([SAMPLE_DOCS / "W3_Welding_Cell_Quick_Guide.html"])


def test_a_running_assistant_answers_from_a_newly_ingested_revision(ingest, settings, embedder, tmp_path: Path) -> None:
    from assistant.service import open_assistant

    sop = tmp_path / "SOP-17_Bandsaw.md"
    sop.write_text("# Bandsaw BS-9\n## Blade tension\nSet the blade tension to 150 bar on the gauge.\n")
    ingest(sop)
    assistant = open_assistant(settings, use_llm=False, embedder=embedder)
    assert "150 bar" in assistant.ask("bandsaw blade tension").answer
    sop.write_text("# Bandsaw BS-9\n## Blade tension\nSet the blade tension to 175 bar on the gauge.\n")
    ingest(sop)
    answer = assistant.ask("bandsaw blade tension")
    assert "175 bar" in answer.answer and "150 bar" not in answer.answer


def test_two_files_with_the_same_id_are_not_silently_merged(ingest, settings, tmp_path: Path) -> None:
    first = copy_samples(tmp_path / "press", "AC-75_Air_Compressor_Maintenance.md")
    second = tmp_path / "other" / "AC-75_Air_Compressor_Maintenance.md"
    second.parent.mkdir()
    second.write_text("# Another compressor\nWorking pressure 6 bar.\n")
    report = ingest(first / "AC-75_Air_Compressor_Maintenance.md", second)
    assert report.count("ingested") == 1
    assert [o.reason for o in report.skipped] == [
        f"{second}: same document id 'AC-75_Air_Compressor_Maintenance.md' as "
        f"{first / 'AC-75_Air_Compressor_Maintenance.md'}; ingest their common folder so each keeps its own id"
    ]


def test_a_reader_failing_in_an_unexpected_way_costs_that_file_not_the_batch(
    ingest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only DocumentError used to be caught per document: any other exception aborted the batch."""
    from ingest.reading_process import ReadingProcess

    docs = copy_samples(tmp_path / "docs", "AC-75_Air_Compressor_Maintenance.md", "FL-25_Forklift_Daily_Check.docx")
    real_read = ReadingProcess.read

    def read(self: ReadingProcess, path: Path, *args, **kwargs):
        if path.suffix == ".docx":
            raise RecursionError("maximum recursion depth exceeded")  # as a hostile nested document can
        return real_read(self, path, *args, **kwargs)

    monkeypatch.setattr(ReadingProcess, "read", read)
    report = ingest(docs)
    assert report.count("ingested") == 1
    [skipped] = report.skipped
    assert skipped.reason.endswith(
        "FL-25_Forklift_Daily_Check.docx: could not be read (RecursionError: maximum recursion depth exceeded)"
    )


def test_a_version_renamed_in_but_never_made_live_is_removed_and_the_previous_kept(
    ingest, settings, tmp_path: Path
) -> None:
    """A writer killed between renaming its version in and switching CURRENT leaves a version that no
    reader ever saw; the next commit removes it, and keeps the live one and the one before it."""
    docs = copy_samples(tmp_path / "docs", "AC-75_Air_Compressor_Maintenance.md")
    ingest(docs)
    store = IndexStore(settings.index_path)
    first = store.current_version
    assert first is not None
    orphan = first.parent / "v99990101T000000000000Z"  # sorts after every real version
    shutil.copytree(first, orphan)
    segments = settings.index_path / SEGMENTS
    stray = segments / "s99990101T000000000000Z"  # a segment written by a writer killed before its version
    shutil.copytree(next(segments.iterdir()), stray)
    (docs / "AC-75_Air_Compressor_Maintenance.md").write_text("# AC-75\nDrain the tank daily.\n")
    ingest(docs)
    live = store.current_version
    assert live is not None
    kept = sorted(p.name for p in (settings.index_path / VERSIONS).iterdir())
    assert kept == sorted([first.name, live.name]), kept
    assert not stray.exists(), "a segment no kept version uses is removed"
