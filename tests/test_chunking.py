"""Chunk boundaries follow how manuals are written, and every chunk fits the model's window."""

from __future__ import annotations

import pytest

from indexes.embedding import TokenCounter
from ingest.chunking import chunk_document, chunk_pages
from ingest.documents import Chunk, Page
from ingest.readers import read_document
from shopfloor.settings import load_settings
from tests.conftest import CORPUS, SAMPLE_DOCS, chunk_meta, needs_corpus


@pytest.fixture(scope="module")
def count():
    return TokenCounter(load_settings().embed_model).count


def _chunks(name: str, count, budget: int = 200) -> list[Chunk]:
    return chunk_document(read_document(SAMPLE_DOCS / name), budget, count)


def _holding(chunks: list[Chunk], text: str) -> Chunk:
    found = [c for c in chunks if text in c.text]
    assert len(found) == 1, f"{text!r} in {len(found)} chunks"
    return found[0]


def test_warning_stays_with_the_step_it_guards(count) -> None:
    chunks = _chunks("HP-200_Hydraulic_Press_SOP.pdf", count)
    warning = _holding(chunks, "WARNING: Hydraulic oil under pressure")
    assert "5. Set the system pressure with the pressure regulator to 180 bar" in warning.text
    accumulator = _holding(chunks, "WARNING: The accumulator stays charged")
    assert "5. Try to start the pump" in accumulator.text


def test_chunks_keep_section_and_physical_page(count) -> None:
    chunks = _chunks("HP-200_Hydraulic_Press_SOP.pdf", count)
    stroke = _holding(chunks, "Set the stroke length")
    assert stroke.section == "4 Operating the Press > 4.1 Setting the Stroke"
    assert (stroke.page, stroke.page_label) == (3, "2")
    bladder = _holding(chunks, "Replace accumulator bladder")
    assert bladder.page_end == 4
    cover = _holding(chunks, "Document No. SOP-HP200-01")
    assert (cover.page, cover.page_label) == (1, "i")


def test_running_header_and_footer_never_reach_a_chunk(count) -> None:
    for chunk in _chunks("HP-200_Hydraulic_Press_SOP.pdf", count):
        assert "Page 1 of 3" not in chunk.text and "Page 2 of 3" not in chunk.text
        assert "SOP-HP200-01 - Hydraulic Press HP-200 - Standard" not in chunk.text


def test_a_chunk_never_crosses_a_heading(count) -> None:
    chunks = _chunks("AC-75_Air_Compressor_Maintenance.md", count)
    oil_filter = _holding(chunks, "Unscrew the old filter OF-7510")
    assert oil_filter.section.endswith("5 Changing the Oil Filter")
    assert "Fault Finding" not in oil_filter.text and "Every 500 hours" not in oil_filter.text
    # the caution between steps 3 and 4 belongs to the procedure, not to a chunk of its own
    assert "CAUTION: The oil can still be hot" in oil_filter.text


def test_long_table_is_cut_between_rows_with_the_header_repeated(count) -> None:
    rows = [f"| E-{i:03d} | Sensor {i} fault on axis {i % 3} | Check cable and connector X{i} |" for i in range(80)]
    text = "# Alarm list\n| Code | Meaning | Remedy |\n|---|---|---|\n" + "\n".join(rows)
    chunks = chunk_pages([Page(None, text)], 120, count)
    assert len(chunks) > 3
    seen = []
    for chunk in chunks:
        lines = chunk.text.split("\n")
        assert lines[0] == "| Code | Meaning | Remedy |"
        assert max(count([chunk.text])) <= 120 + len(lines)
        seen += lines[1:]
    assert seen == rows  # every row once, whole, in order


def test_numbered_steps_are_not_split_mid_step(count) -> None:
    steps = "\n".join(f"{i}. Step {i}: " + "turn the handle and verify the gauge reading. " * 3 for i in range(1, 20))
    chunks = chunk_pages([Page(1, "# Procedure\n" + steps)], 100, count)
    for chunk in chunks:
        assert chunk.text.split("\n")[0].split(".")[0].isdigit()


@needs_corpus
@pytest.mark.parametrize(
    "name",
    ["LinuxCNC_Getting_Started.pdf", "DOE-HDBK-1019-1-93_Nuclear_Physics_Reactor_Theory_Vol1.pdf"],
)
def test_every_chunk_of_a_real_manual_fits_the_window(name: str, count) -> None:
    doc = read_document(CORPUS / name)
    chunks = chunk_document(doc, 200, count)
    tokens = count([c.text for c in chunks])
    assert max(tokens) <= 200 + 20  # line joins add at most a token each
    # nothing is lost but headings (kept as each chunk's section) and running headers/footers
    assert sum(len(c.text) for c in chunks) > 0.85 * sum(len(p.text) for p in doc.pages)
    assert all(c.page is not None for c in chunks)


def test_a_run_on_paragraph_without_sentence_ends_is_cut_between_words(count) -> None:
    """Found on the TV manual: one 'sentence' of hundreds of multi-token words."""
    words = " ".join(f"Settings>General>Expert-Option{i}" for i in range(300))
    chunks = chunk_pages([Page(None, "# Menu paths\n" + words)], 100, count)
    assert len(chunks) > 5
    assert all(t <= 100 for t in count([c.text for c in chunks]))
    assert " ".join(" ".join(c.text.split()) for c in chunks) == words


def test_a_line_past_a_page_turn_cites_the_page_it_stands_on(count) -> None:
    """A passage running from page 51 onto 52 used to cite 51 for a line printed on 52."""
    from assistant.evidence import split_lines
    from assistant.retrieval import Passage

    pages = [
        Page(51, "Installation of the ground rod\nDrive the ground rod into the earth with a hammer."),
        Page(52, "The rod must be driven eight feet or deeper.\nConnect the ground cable to the rod."),
    ]
    [chunk] = chunk_pages(pages, 200, count)
    assert (chunk.page, chunk.page_end) == (51, 52)
    metadata = chunk_meta(page=chunk.page, page_label="4-3", page_turns=[list(t) for t in chunk.page_turns])
    passage = Passage("n", chunk.text, metadata, 1.0, 0.5, 5.0)
    lines = split_lines(passage, 0)

    def page_of(words: str) -> tuple[int | None, str | None]:
        [line] = [line for line in lines if words in line.text]
        return passage.page_of_line(line.row)

    assert page_of("Drive the ground rod") == (51, "4-3")
    assert page_of("eight feet or deeper") == (52, None)
    assert page_of("Connect the ground cable") == (52, None)
