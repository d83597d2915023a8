"""Sections that are true: from the PDF's bookmarks where it has them, from type (size, weight)
where it does not; never a running header, a repeated label, a callout or a sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexes.embedding import TokenCounter
from ingest.chunking import chunk_document, chunk_pages
from ingest.documents import Chunk, Page
from ingest.readers import read_document
from shopfloor.settings import load_settings
from tests.conftest import CORPUS, needs_corpus


@pytest.fixture(scope="module")
def count():
    return TokenCounter(load_settings().embed_model).count


def _chunks(path: Path, count) -> list[Chunk]:
    return chunk_document(read_document(path), 200, count)


def _section_of(chunks: list[Chunk], text: str) -> str:
    found = [c.section for c in chunks if text in c.text]
    assert found, f"{text!r} in no chunk"
    return found[0]


def _generator_manual(folder: Path) -> Path:
    """Three pages set like the Army generator manual: bold headings and bold labels in body size,
    a figure's numbered callouts in body type, and a running header on each page."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    for page, (heading, symptom, remedy) in enumerate(
        [
            ("OPERATOR TROUBLESHOOTING", "Engine cranks but fails to start.", "Turn MASTER SWITCH to PREHEAT."),
            ("Service of Air Cleaner", "Black exhaust smoke.", "Service the air cleaner assembly."),
            ("Service of Batteries", "Battery charge ammeter shows no charge.", "Check the battery cables."),
        ]
    ):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(0, 6, "TM 9-6115-641-10", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "B", 14)
        pdf.cell(0, 10, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 6, "The generator set is started from the control panel. " * 3, new_x="LMARGIN")
        pdf.cell(0, 6, f"{21 + page} DC CONTROL POWER circuit breaker", new_x="LMARGIN", new_y="NEXT")
        for label, text in (
            ("SYMPTOM", symptom),
            ("MALFUNCTION", "Cold ambient temperature."),
            ("CORRECTIVE ACTION", remedy),
        ):
            pdf.set_font("Helvetica", "B", 10)
            pdf.cell(0, 6, label, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 10)
            pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, "Notify the next higher maintenance level if the fault remains. " * 2, new_x="LMARGIN")
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(0, 6, f"0009-{page + 2}", new_x="LMARGIN", new_y="NEXT")
    path = folder / "generator.pdf"
    pdf.output(str(path))
    return path


def test_headings_come_from_type_and_labels_callouts_and_codes_do_not(tmp_path: Path, count) -> None:
    chunks = _chunks(_generator_manual(tmp_path), count)
    assert {c.section for c in chunks} == {"OPERATOR TROUBLESHOOTING", "Service of Air Cleaner", "Service of Batteries"}
    first = next(c for c in chunks if "Engine cranks but fails to start." in c.text)
    assert "SYMPTOM" in first.text and "Turn MASTER SWITCH to PREHEAT." in first.text, (
        "a repeated bold label is text: the symptom and its remedy stay in one passage"
    )
    assert "21 DC CONTROL POWER circuit breaker" in first.text, "a callout in body type is text"


def test_the_text_layer_tells_which_lines_are_set_apart(tmp_path: Path) -> None:
    doc = read_document(_generator_manual(tmp_path))
    styled = doc.pages[0].styled
    assert styled is not None
    assert "operatortroubleshooting" in styled and "symptom" in styled
    assert "21dccontrolpowercircuitbreaker" not in styled
    assert styled["operatortroubleshooting"] < styled["symptom"], "larger type is a higher level"


def test_a_line_found_three_times_is_never_a_heading(count) -> None:
    pages = [Page(n, f"EVERLASTING COMPANY\nAlternator bearings need grease on page {n}.", None) for n in (1, 2, 3)]
    pages += [Page(4, "4.5 BATTERY CHARGER\nThe charger keeps the battery at 27.6 V.", None)]
    chunks = chunk_pages(pages, 200, count)
    assert {c.section for c in chunks} == {"", "4.5 BATTERY CHARGER"}


@needs_corpus
def test_bookmarks_give_the_sections_of_a_pdf_that_has_them(count) -> None:
    chunks = _chunks(CORPUS / "LinuxCNC_Integrator.pdf", count)
    assert _section_of(chunks, "resonance") == "Stepper Information > 1.3 Resonance"
    shielded = _section_of(chunks, "Braided Shielded Wire")
    assert shielded == "Best Wiring Practices > 3.3 Wire Selection and Use > 3.3.2 Shielded Wire"
    assert not any("velocity of the axis" in c.section for c in chunks), "a sentence is no section"


@needs_corpus
def test_glossary_entries_bookmarked_one_by_one_stay_text(count) -> None:
    chunks = _chunks(CORPUS / "FAA-H-8083-32B_AMT_Powerplant_Glossary.pdf", count)
    assert _section_of(chunks, "Absolute pressure controller") == "Glossary > A"
    assert all(len(c.section) < 40 for c in chunks)
