"""Sections that are true: from the PDF's bookmarks where it has them, from type (size, weight)
where it does not; never a running header, a repeated label, a callout or a sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexes.embedding import TokenCounter
from ingest.chunking import chunk_document, chunk_pages
from ingest.documents import Chunk, Page
from ingest.pdf_fonts import line_key
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


def _army_manual(folder: Path) -> Path:
    """Pages set like the Army forklift and compressor manuals: front matter whose heading is set
    larger than any chapter's, chapter titles wrapped over lines, a figure's callouts in a heading
    type, numbered paragraph titles in body type (continued on the next page), a figure caption,
    and a bold line that is the wrapped end of the body line above it."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)

    def line(text: str, style: str = "", size: int = 10) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")

    pdf.add_page()
    line("FORKLIFT, ROUGH TERRAIN, 6000 LB", "B", 22)
    pdf.add_page()
    line("HOW TO USE THIS MANUAL", "B", 18)
    line("This manual is written in chapters and numbered paragraphs.")
    parts = ("filter element", "drain valve", "gasket", "clamp", "hose", "cover", "bracket", "sensor")
    for chapter, title, wrapped, paragraphs in (
        (1, "INTRODUCTORY INFORMATION WITH", "THEORY OF OPERATION", ("1-1. Fuel System.", "1-2. Cooling System.")),
        (2, "OPERATOR MAINTENANCE", "INSTRUCTIONS", ("2-1. Engine Air Cleaner Assembly.", "2-2. Crankcase Oil.")),
        (3, "SUPPORTING", "INFORMATION", ("3-1. Lubrication Chart.", "3-2. Tools and Parts.")),
    ):
        pdf.add_page()
        line(f"CHAPTER {chapter}", "B", 14)
        line(title, "B", 14)
        line(wrapped, "B", 14)
        for paragraph in paragraphs:
            if paragraph is paragraphs[1]:
                pdf.add_page()
            line(paragraph)
            for step, part in enumerate(parts):
                line(f"({step + 1}) In {paragraph[:4]} inspect the {part} of the {paragraph[5:-1].lower()}.")
        if chapter == 2:
            for callout in ("PRIMARY", "FUEL FILTER", "SECONDARY", "TRANSFER PUMP", "INJECTOR"):
                line(callout, "B", 12)
            line("Figure 2-4. Crankcase Oil Fill", "B")
            line("f. Replace the breather line from the intercooler to the")
            line("Separator Line", "B")
            line("g. Replace the line (from the final separator to the")
            line("Purifier)", "B")
            pdf.add_page()
            line("2-2. Crankcase Oil (Cont).")
            line("Torque the cover bolts to 25 lb-ft and check the oil level again.")
    path = folder / "army.pdf"
    pdf.output(str(path))
    return path


def test_an_army_manual_gets_chapters_and_paragraphs_not_front_matter_callouts_or_captions(
    tmp_path: Path, count
) -> None:
    chunks = _chunks(_army_manual(tmp_path), count)
    sections = {c.section for c in chunks}
    assert not any("HOW TO USE" in s for s in sections), "front matter set large heads no chapter"
    assert _section_of(chunks, "Torque the cover bolts") == (
        "CHAPTER 2 OPERATOR MAINTENANCE INSTRUCTIONS > 2-2. Crankcase Oil"
    ), "a wrapped chapter title is one title; a continued paragraph keeps its section"
    assert _section_of(chunks, "inspect the hose of the cooling system") == (
        "CHAPTER 1 INTRODUCTORY INFORMATION WITH THEORY OF OPERATION > 1-2. Cooling System"
    )
    for junk in ("PRIMARY", "INJECTOR", "Figure 2-4", "Separator Line", "Purifier"):
        assert not any(junk in s for s in sections), f"{junk!r} is a callout, a caption or wrapped text"
        assert any(junk in c.text for c in chunks), f"{junk!r} stays text"


@needs_corpus
def test_contents_lines_and_a_line_over_the_whole_manual_are_no_sections(count) -> None:
    chunks = _chunks(CORPUS / "FBBombas_FBE_gear_pump_manual_tecnico_PT.pdf", count)
    sections = {c.section for c in chunks}
    assert not any(" ... " in s for s in sections), "a contents entry is no section"
    assert not any(s.startswith("Série: FBE") for s in sections), "a line above every page is no section"
    assert _section_of(chunks, "Medidas em milímetros").endswith("6. Dimensional"), "numbered titles stay"


def test_a_last_chapter_holding_most_of_a_manual_stays_a_section(count) -> None:
    """Only a heading whose peers hold little (front matter) is dropped for covering the manual:
    chapters of 5, 15, 10 and 60 % keep their titles, and "ON" ending a line is no wrapped text."""
    chapters = {1: "CHAPTER 1 GENERAL", 2: "CHAPTER 2 OPERATION", 4: "CHAPTER 3 STORAGE", 5: "CHAPTER 4 MAINTENANCE"}
    pages = []
    for n in range(1, 11):
        lines = [f"Step {n}: set the ignition switch to ON"] if n == 4 else []
        if n in chapters:
            lines.append(chapters[n])
        lines += [f"Inspect item {n}-{i} and record the reading in the log book." for i in range(6)]
        styled = {line_key(chapters[n]): 1} if n in chapters else {}
        pages.append(Page(n, "\n".join(lines), styled=styled))
    chunks = chunk_pages(pages, 200, count)
    assert _section_of(chunks, "item 9-3") == "CHAPTER 4 MAINTENANCE"
    assert _section_of(chunks, "item 2-3") == "CHAPTER 2 OPERATION"
    assert _section_of(chunks, "item 4-3") == "CHAPTER 3 STORAGE", "a heading after a line ending in ON"


def _photographed_manual() -> list[Page]:
    """Pages set like the Army forklift manual: each task under a heading, a photograph at the end
    of the page whose callouts the text layer holds last, in a type larger than the headings'; a
    chapter title alone on its page; a heading at the foot of a page, its text on the next."""
    chapter, callout, heading = 1, 2, 3
    names = ("ELECTRIC", "INSTRUMENT", "THUMBSCREW", "WING NUT", "LIFTING EYE", "OIL FILL", "DIPSTICK")
    pages = [
        Page(1, "CHAPTER 2 OPERATING INSTRUCTIONS", styled={line_key("CHAPTER 2 OPERATING INSTRUCTIONS"): chapter})
    ]
    for n in range(2, 13):
        title, labels = f"OPERATE TASK {chr(63 + n)}", (f"{names[n % 7]} {n}", f"PANEL {n}")
        lines = [title, *(f"Task {n} step {i}: move the lever and check the gauge reading." for i in range(5))]
        if n == 5:  # a label set beside the text, not after it
            lines[3:3] = ["HOIST CYLINDER"]
        lines += [f"409-0{n:02d}", *labels]
        styled = {line_key(title): heading, **{line_key(label): callout for label in [*labels, "HOIST CYLINDER"]}}
        pages.append(Page(n, "\n".join(lines), styled=styled))
    maintenance, foot = "CHAPTER 3 MAINTENANCE", "SERVICE THE BRAKES"
    lines = [maintenance, "Park the forklift on level ground and chock the wheels.", foot]
    pages.append(Page(13, "\n".join(lines), styled={line_key(maintenance): chapter, line_key(foot): heading}))
    lines = [f"Bleed the brake line {i} until the fluid runs clear of air." for i in range(12)]
    pages.append(Page(14, "\n".join(lines), styled={}))
    return pages


def test_a_photographs_callouts_are_text_and_head_no_section(count) -> None:
    """The forklift's callouts ("PUSH AND HOLD MODE SELECT BUTTON", "INSTRUMENT" / "PANEL") were
    headings above the next page's tasks: 94 of its 141 headings of their type ended their page."""
    chunks = chunk_pages(_photographed_manual(), 200, count)
    for n in range(2, 13):
        assert (
            _section_of(chunks, f"Task {n} step 4") == f"CHAPTER 2 OPERATING INSTRUCTIONS > OPERATE TASK {chr(63 + n)}"
        )
    sections = " ".join(c.section for c in chunks)
    for label in ("PANEL", "ELECTRIC", "HOIST CYLINDER"):
        assert label not in sections, f"{label!r} labels a photograph"
        assert any(label in c.text for c in chunks), f"{label!r} stays text"
    assert _section_of(chunks, "Bleed the brake line 3") == "CHAPTER 3 MAINTENANCE > SERVICE THE BRAKES", (
        "a heading at the foot of a page heads the text opening the next"
    )


def test_a_page_read_by_ocr_heads_no_section_in_a_typed_manual(count) -> None:
    """A lubrication chart printed as a picture, read by OCR, has rows shaped like numbered
    headings ("7 Transmission"): in a manual whose pages tell their type they had headed the
    rest of the forklift manual. OCR tells no type (styled None), so its lines stay text."""
    operation, maintenance = "CHAPTER 3 OPERATION", "CHAPTER 4 OPERATOR MAINTENANCE"
    steps = "\n".join(f"Step {i}: move the boom lever and watch the load." for i in range(4))
    pages = [
        Page(1, f"{operation}\n{steps}", styled={line_key(operation): 1}),
        Page(2, maintenance + "\nLubricate the forklift as the chart shows.", styled={line_key(maintenance): 1}),
        Page(3, "LUBRICATION CHART\n7 Transmission\nCheck the oil level every 10 hours.", styled=None),
        Page(4, "\n".join(f"Grease fitting {i} of the boom pivot gets two shots." for i in range(4)), styled={}),
    ]
    chunks = chunk_pages(pages, 200, count)
    assert _section_of(chunks, "Grease fitting 3") == maintenance
    assert _section_of(chunks, "every 10 hours") == maintenance
    assert any("7 Transmission" in c.text for c in chunks), "the chart's rows stay text"
    text = "3 Transmission\nCheck the oil level every 10 hours.\n4 Brakes\nPump the brake pedal three times."
    untyped = [Page(1, text, styled=None)]
    assert _section_of(chunk_pages(untyped, 200, count), "every 10 hours") == "3 Transmission", (
        "a document no page of which tells its type keeps the headings its lines' shape gives"
    )
