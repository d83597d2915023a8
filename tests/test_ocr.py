"""Text the PDF text layer lacks, recovered in ingest: a real scanned page, a table we drew as
vector outlines (Ghostscript -dNoOutputFonts), tick images in a schedule grid; with real tesseract."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from assistant.service import open_retriever
from indexes.store import IndexStore
from ingest.ocr import OcrOptions
from ingest.pdf_survey import survey_pdf
from ingest.pipeline import IngestRun
from ingest.readers import read_document
from shopfloor.settings import load_settings
from tests.conftest import CORPUS, SAMPLE_DOCS, copy_samples, needs_corpus
from ui.cli import app


@pytest.fixture(autouse=True)
def _tesseract_is_installed() -> None:
    """The suite's setup installs tesseract: a missing one is a failure here, never a silent skip."""
    assert shutil.which("tesseract"), "tesseract is not installed; run scripts/setup test (apt install tesseract-ocr)"


DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # scripts/setup test installs it
needs_dejavu = pytest.mark.skipif(not Path(DEJAVU).exists(), reason="the DejaVu font is not installed")

SCAN = CORPUS / "scanned_LinnSequencer_brochure_p2.pdf"
GENERATOR = "GEN-5_Generator_Troubleshooting.pdf"
MIXER = "MX-30_Mixer_Maintenance_Schedule.pdf"
ALARM_CARD = "VM-600_Machining_Centre_Alarm_Codes.pdf"


def _chunks(index: Path, doc_id: str) -> list[dict]:
    snapshot = IndexStore(index).load()
    return [{**p.metadata, "text": p.text} for p in snapshot.passages_of(snapshot.manifest.documents[doc_id])]


def _retrieve(index: Path, embedder, question: str) -> list:
    """The passages the assistant itself would retrieve (hybrid BM25 + vectors), best first."""
    return open_retriever(load_settings(index_dir=index), embedder).retrieve(question, k=3)


def _words(text: str) -> Counter[str]:
    return Counter(re.findall(r"[a-z0-9]+", text.lower()))


def _sideways_scan(folder: Path) -> Path:
    """The shared scanned page as a scanner fed sideways would store it: turned a quarter."""
    import pypdfium2

    picture = pypdfium2.PdfDocument(str(SCAN))[0].render(scale=200 / 72, grayscale=True).to_pil()
    path = folder / SCAN.name
    picture.rotate(90, expand=True).save(path, "PDF", resolution=200)
    return path


@needs_corpus
@pytest.mark.parametrize("fed", ["upright", "sideways"])
def test_a_scanned_page_becomes_searchable_and_citable(ingest, settings, embedder, tmp_path: Path, fed: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    if fed == "upright":
        shutil.copy(SCAN, docs / SCAN.name)
    else:
        _sideways_scan(docs)
    report = ingest(docs)
    assert (report.count("ingested"), report.ocr_pages) == (1, 1)
    chunks = _chunks(settings.index_path, SCAN.name)
    assert {c["text_source"] for c in chunks} == {"ocr"} and {c["page"] for c in chunks} == {1}
    reference = _words(SCAN.with_suffix(".reference_ocr.txt").read_text())
    found = _words("\n".join(c["text"] for c in chunks))
    recall = sum(min(n, found[w]) for w, n in reference.items()) / sum(reference.values())
    assert recall >= 0.95, f"word recall {recall:.3f} against the reference transcription"
    best = _retrieve(settings.index_path, embedder, "does the sequencer correct timing errors while recording?")[0]
    assert best.file == SCAN.name and "timing" in best.text.lower()


def test_a_table_drawn_as_outlines_is_recovered_row_by_row(sample_index: Path, embedder) -> None:
    pdf = PdfReader(SAMPLE_DOCS / GENERATOR)
    assert pdf.pages[1].extract_text().strip() == "", "the table page has no text layer to read"
    chunks = _chunks(sample_index, GENERATOR)
    table = "\n".join(c["text"] for c in chunks if c["text_source"] == "ocr-table")
    rows = [line for line in table.splitlines() if line.count(" | ") == 2]
    assert "Symptom | Possible cause | Remedy" in rows
    for row in (
        "Engine will not start | Fuel valve closed | Open the fuel valve",
        "Engine will not start | Low oil shutdown | Fill oil to the upper mark",
        "No output voltage | AVR fuse blown | Replace fuse F2 (5 A)",
        "Output voltage too low | Engine speed low | Set speed to 3000 rpm",
        "Spark plug fouled | Wrong plug gap | Set gap to 0.7 mm",
    ):
        assert row in rows
    assert len(rows) == 10, rows
    for chunk in chunks:  # every piece of the table repeats its header row
        if chunk["text_source"] == "ocr-table" and " | " in chunk["text"]:
            assert "Symptom | Possible cause | Remedy" in chunk["text"]
    assert {c["text_source"] for c in chunks if c["page"] == 1} == {"text-layer"}
    best = _retrieve(sample_index, embedder, "generator gives no output voltage, what is the remedy?")[0]
    assert best.metadata["text_source"] == "ocr-table" and best.page == 2


def test_tick_images_in_a_schedule_grid_map_to_their_intervals(sample_index: Path, embedder) -> None:
    chunks = _chunks(sample_index, MIXER)
    mapped = "\n".join(c["text"] for c in chunks if c["text_source"] == "tick-map")
    assert "Check the oil level in the gearbox → Daily, Start-up, 200 hours" in mapped
    assert "Inspect the mixing paddles for wear → Weekly, 1000 hours" in mapped
    assert "Replace the gearbox oil → 1000 hours" in mapped
    assert len([line for line in mapped.splitlines() if " → " in line]) == 7
    best = _retrieve(sample_index, embedder, "when is the mixer gearbox oil replaced?")[0]
    assert best.metadata["text_source"] == "tick-map"


def test_ordinary_text_pages_are_never_ocrd(sample_index: Path) -> None:
    manifest = IndexStore(sample_index).read_manifest()
    assert manifest is not None
    sources = Counter()
    for doc_id in manifest.documents:
        for chunk in _chunks(sample_index, doc_id):
            sources[(doc_id, chunk["text_source"])] += 1
    ocrd = {doc for (doc, source) in sources if source.startswith("ocr")}
    assert ocrd <= {GENERATOR, ALARM_CARD}, "only the outlined table page and the alarm table's picture need OCR"
    expected = {GENERATOR: [2], ALARM_CARD: [1]}
    for path in SAMPLE_DOCS.glob("*.pdf"):
        flagged = [s.index + 1 for s in survey_pdf(path) if s.kind is not None or s.pictures]
        assert flagged == expected.get(path.name, []), path.name


@needs_corpus
def test_text_pages_of_real_manuals_are_not_flagged_for_ocr() -> None:
    for path in [CORPUS / "LinuxCNC_Getting_Started.pdf", CORPUS / "FAA-H-8083-32B_AMT_Powerplant_Glossary.pdf"]:
        assert [s.index for s in survey_pdf(path) if s.kind is not None] == [], path.name


def test_without_tesseract_pages_are_reported_then_read_once_it_is_installed(
    settings, embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = copy_samples(tmp_path / "docs", GENERATOR, ALARM_CARD)
    store = IndexStore(settings.index_path)
    with monkeypatch.context() as hidden:
        hidden.setenv("PATH", str(tmp_path / "nothing"))
        first = IngestRun(settings, store, embedder=embedder).run([docs])
    assert first.count("ingested") == 2 and first.ocr_pages == 0
    assert first.notices == [
        f"{GENERATOR}: pages 2 need OCR (scanned, drawn as outlines or without a character map) but tesseract "
        "is not installed; not searchable until it is (apt install tesseract-ocr) and you ingest again"
    ]
    manifest = store.read_manifest()
    assert manifest is not None and manifest.documents[GENERATOR].ocr_pending == [2]
    assert manifest.documents[ALARM_CARD].pictures_pending == [1], "its paragraphs are indexed, its table not yet"
    listing = CliRunner().invoke(app, ["docs", "--index", str(settings.index_path)], env={"COLUMNS": "300"})
    assert "pages 2" in listing.output, "shopfloor docs says which pages are not searchable"
    second = IngestRun(settings, store, embedder=embedder).run([docs])
    assert (second.count("replaced"), second.ocr_pages) == (2, 2)
    third = IngestRun(settings, store, embedder=embedder).run([docs])
    assert (third.count("unchanged"), third.ocr_pages) == (2, 0), "an unchanged file is not OCR'd again"


@pytest.mark.slow
@needs_corpus
def test_ocr_never_skips_a_scanned_pdf_with_a_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ui", "ingest", str(SCAN), "--ocr", "never", "--index", str(tmp_path / "index")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert (
        f"skipped: {SCAN}: no readable text layer on any of its 1 pages (scanned, or fonts without a character map); "
        "OCR is off (--ocr never); nothing to index"
    ) in result.stderr


def _unmapped_pdf(folder: Path) -> Path:
    """A page whose font has no character map (ToUnicode removed, as in many old manuals): its
    text layer yields glyph numbers, not words."""
    from fpdf import FPDF
    from pypdf import PdfWriter

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.add_font("sans", "", DEJAVU)
    pdf.set_font("sans", "", 12)
    pdf.multi_cell(0, 7, "Replace the hydraulic filter cartridge after 500 operating hours. " * 3, new_x="LMARGIN")
    pdf.multi_cell(0, 7, "Bleed the accumulator to zero pressure before opening any fitting. " * 3)
    plain = folder / "plain.pdf"
    pdf.output(str(plain))
    writer = PdfWriter(clone_from=str(plain))
    for page in writer.pages:
        for font in page["/Resources"]["/Font"].values():
            del font.get_object()["/ToUnicode"]
    path = folder / "old-press-manual.pdf"
    writer.write(path)
    plain.unlink()
    return path


@needs_dejavu
def test_text_whose_font_has_no_character_map_is_read_by_ocr(embedder, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    path = _unmapped_pdf(docs)
    assert "hydraulic" not in PdfReader(path).pages[0].extract_text(), "the text layer holds glyph numbers"
    assert [s.kind for s in survey_pdf(path)] == ["unmapped"]
    settings = load_settings(index_dir=tmp_path / "index")
    report = IngestRun(settings, IndexStore(settings.index_path), embedder=embedder).run([docs])
    assert (report.count("ingested"), report.ocr_pages) == (1, 1)
    text = " ".join(c["text"] for c in _chunks(settings.index_path, path.name))
    assert "Replace the hydraulic filter cartridge after 500 operating hours" in text
    assert "Bleed the accumulator to zero pressure" in text
    never = load_settings(index_dir=tmp_path / "never", ocr="never")
    [skipped] = IngestRun(never, IndexStore(never.index_path), embedder=embedder).run([docs]).outcomes
    assert skipped.status == "skipped" and "fonts without a character map" in skipped.reason


def test_ocr_mode_always_keeps_text_layer_pages_as_they_are(embedder, tmp_path: Path) -> None:
    settings = load_settings(index_dir=tmp_path / "index", ocr="always")
    docs = copy_samples(tmp_path / "docs", "HP-200_Hydraulic_Press_SOP.pdf")
    report = IngestRun(settings, IndexStore(settings.index_path), embedder=embedder).run([docs])
    assert report.ocr_read == report.pages > 0, "every page was read by OCR"
    assert report.ocr_pages == 0, "OCR of a text page adds no words, so the text layer is kept"
    assert {c["text_source"] for c in _chunks(settings.index_path, "HP-200_Hydraulic_Press_SOP.pdf")} == {"text-layer"}


def test_a_ruled_table_of_the_text_layer_keeps_wrapped_cells_in_their_row(sample_index: Path) -> None:
    chunks = _chunks(sample_index, "HP-200_Hydraulic_Press_SOP.pdf")
    schedule = next(c for c in chunks if "Every 500 hours" in c["text"])
    assert schedule["text_source"] == "text-layer"
    lines = schedule["text"].splitlines()
    assert "Task | Interval | Responsible" in lines
    assert "Test light curtain with test rod LC-TR30 | Every shift | Operator" in lines
    assert "Replace return-line filter element HF-2040 | Every 500 hours | Maintenance" in lines


@needs_corpus
def test_ruled_tables_of_real_manuals_come_out_row_by_row() -> None:
    def table_lines(name: str, page: int) -> list[str]:
        survey = survey_pdf(CORPUS / name)[page - 1]
        return [line for table in survey.tables for line in table.text.splitlines()]

    particles = table_lines("DOE-HDBK-1019-1-93_Nuclear_Physics_Reactor_Theory_Vol1.pdf", 28)
    assert particles[:3] == [
        "TABLE 1 Properties of Subatomic Particles",
        "Particle | Location | Charge | Mass",
        "Neutron | Nucleus | none | 1.008665 amu",
    ]
    releases = table_lines("LinuxCNC_Getting_Started.pdf", 16)
    assert releases[0] == "Distribution | Architecture | Kernel | Package name | Typical use"
    assert "Debian Buster | amd64 & armhf | preemp-rt | linuxcnc-uspace | machine control & simulation" in releases
    drivers = table_lines("LinuxCNC_Integrator.pdf", 8)
    assert "| Step Time | Step Space |" in drivers[0], "a header whose cells wrap stays one row"
    assert drivers[1].startswith("Chinese Blue Boards | TB6560 CNC Stepper Motor Driver Controller Board | 150000")


def test_a_missing_language_pack_is_named_and_the_rest_ingested(embedder, tmp_path: Path) -> None:
    settings = load_settings(index_dir=tmp_path / "index", ocr_languages="klingon")
    docs = copy_samples(tmp_path / "docs", GENERATOR)
    report = IngestRun(settings, IndexStore(settings.index_path), embedder=embedder).run([docs])
    assert report.count("ingested") == 1 and report.ocr_pages == 0
    [notice] = report.notices
    assert notice.startswith(f"{GENERATOR}: OCR failed on pages 2 (") and "klingon" in notice
    manifest = IndexStore(settings.index_path).read_manifest()
    assert manifest is not None and manifest.documents[GENERATOR].ocr_pending == [2], "read again next time"


@needs_corpus
def test_the_text_of_a_scanned_picture_is_added_beside_a_real_text_layer(embedder, tmp_path: Path) -> None:
    import pypdfium2
    from fpdf import FPDF

    picture = tmp_path / "brochure.png"
    pypdfium2.PdfDocument(str(SCAN))[0].render(scale=150 / 72).to_pil().save(picture)
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "", 11)
    words = "Unpack the sequencer, check the power supply voltage and connect the MIDI cables before use. " * 4
    pdf.multi_cell(0, 6, words)
    pdf.image(str(picture), x=20, y=60, w=130)
    docs = tmp_path / "docs"
    docs.mkdir()
    pdf.output(str(docs / "leaflet.pdf"))

    settings = load_settings(index_dir=tmp_path / "index")
    assert IngestRun(settings, IndexStore(settings.index_path), embedder=embedder).run([docs]).ocr_pages == 1
    chunks = _chunks(settings.index_path, "leaflet.pdf")
    by_source = {s: " ".join(c["text"] for c in chunks if c["text_source"] == s) for s in ("text-layer", "ocr")}
    assert "connect the MIDI cables" in by_source["text-layer"], "the text layer is kept as it was"
    assert "TIMING CORRECTION" in by_source["ocr"], "and the picture's text is added beside it"


def _sideways_alarm_card(folder: Path) -> Path:
    """The sample alarm card's table picture set sideways on a page, as a wide table is turned
    to fit a portrait page."""
    from fpdf import FPDF

    picture = PdfReader(SAMPLE_DOCS / ALARM_CARD).pages[0].images[0].image
    assert picture is not None
    image = folder / "table.png"
    picture.rotate(90, expand=True).save(image)
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "Alarm codes of the VM-600 machining centre, shown on the control screen. " * 3)
    pdf.image(str(image), x=60, y=60, h=170)
    path = folder / "VM-600_Alarms_sideways.pdf"
    pdf.output(str(path))
    image.unlink()
    return path


def test_a_table_picture_set_sideways_is_turned_upright_and_read_row_by_row(embedder, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    path = _sideways_alarm_card(docs)
    settings = load_settings(index_dir=tmp_path / "index")
    report = IngestRun(settings, IndexStore(settings.index_path), embedder=embedder).run([docs])
    assert report.ocr_pages == 1
    chunks = _chunks(settings.index_path, path.name)
    assert any("Alarm codes of the VM-600" in c["text"] for c in chunks if c["text_source"] == "text-layer")
    table = "\n".join(c["text"] for c in chunks if c["text_source"] == "ocr-table").splitlines()
    assert "Code | Meaning | Action" in table
    assert "ALM-2217 | Door interlock open | Close the guard door fully" in table
    assert "ALM-3305 | Air pressure below 5.5 bar | Check the shop air supply and regulator" in table


def test_text_printed_over_a_background_picture_is_not_sent_to_ocr(tmp_path: Path) -> None:
    from fpdf import FPDF
    from PIL import Image

    background = tmp_path / "background.png"
    Image.new("L", (800, 1100), 235).save(background)
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.image(str(background), x=0, y=0, w=210, h=297)  # a letterhead template behind the page
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "Lock out the main isolator and verify zero energy before opening the guard. " * 8)
    pdf.output(str(tmp_path / "letterhead.pdf"))
    [survey] = survey_pdf(tmp_path / "letterhead.pdf")
    assert survey.kind is None and survey.pictures == []


def test_the_sample_alarm_table_pasted_as_a_picture_is_searchable_row_by_row(sample_index: Path, embedder) -> None:
    chunks = _chunks(sample_index, ALARM_CARD)
    table = "\n".join(c["text"] for c in chunks if c["text_source"] == "ocr-table").splitlines()
    assert "Code | Meaning | Action" in table
    assert "ALM-2217 | Door interlock open | Close the guard door fully" in table
    assert "ALM-3305 | Air pressure below 5.5 bar | Check the shop air supply and regulator" in table
    best = _retrieve(sample_index, embedder, "VM-600 shows ALM-1114, what do I do?")[0]
    assert best.metadata["text_source"] == "ocr-table" and "Top up coolant to the MAX mark" in best.text


@needs_corpus
def test_pictures_in_real_manuals_tables_are_read_and_charts_left_out() -> None:
    pump = read_document(CORPUS / "FBBombas_FBE_gear_pump_manual_tecnico_PT.pdf", OcrOptions())
    # Page 4's tables are pictures inside form XObjects, the text layer holds only their captions.
    [table] = [p.text for p in pump.pages if p.number == 4 and p.source == "ocr-table"]
    assert "30 A 250 | 1750 | DIRETA" in table
    charts = read_document(CORPUS / "LinuxCNC_Integrator.pdf", OcrOptions())
    assert charts.ocr_read == 2 and charts.ocr_pages == 0, "timing charts add no passage"


def test_progress_counts_ocr_pages_as_they_are_read(settings, embedder, tmp_path: Path) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.ocr_pages = self.pages = 0

        def start(self, documents: int) -> None:
            pass

        def advance(self, *, documents: int = 0, pages: int = 0, chunks: int = 0, ocr_pages: int = 0) -> None:
            self.pages += pages
            self.ocr_pages += ocr_pages

    recorder = Recorder()
    docs = copy_samples(tmp_path / "docs", GENERATOR, "HP-200_Hydraulic_Press_SOP.pdf")
    IngestRun(settings, IndexStore(settings.index_path), progress=recorder, embedder=embedder).run([docs])
    assert (recorder.pages, recorder.ocr_pages) == (6, 1)


def test_a_pdf_pdfium_cannot_open_keeps_its_text_layer_with_a_note(embedder, tmp_path: Path) -> None:
    """A damaged header: pypdf reads the text layer, PDFium refuses the file. One line for the file."""
    settings = load_settings(index_dir=tmp_path / "index")
    docs = tmp_path / "docs"
    docs.mkdir()
    pdf = (SAMPLE_DOCS / "HP-200_Hydraulic_Press_SOP.pdf").read_bytes()
    (docs / "press.pdf").write_bytes(b"JUNK" + pdf[1:])
    report = IngestRun(settings, IndexStore(settings.index_path), embedder=embedder).run([docs])
    assert report.count("ingested") == 1
    [notice] = report.notices
    assert notice.startswith("press.pdf: damaged or unusual PDF, read anyway: invalid pdf header"), notice
    assert "; PDFium cannot read it (Failed to load document (PDFium: Data format error).); no OCR" in notice
    manifest = IndexStore(settings.index_path).read_manifest()
    assert manifest is not None and manifest.documents["press.pdf"].pages == 4, "its text layer is indexed"


@needs_dejavu
def test_a_manual_is_ocrd_with_the_language_pack_of_its_own_text(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    from ingest.ocr import installed_packs, ocr_text, with_document_language

    assert "por" in installed_packs(), "scripts/setup installs the packs of the languages manuals come in"
    text_layer = "A vedação padrão do eixo é feita por gaxetas. Os mancais externos são lubrificados com graxa. " * 4
    languages = with_document_language("eng", [text_layer])
    assert languages == "por+eng"
    assert with_document_language("eng", ["Check the hydraulic oil level before every shift. " * 6]) == "eng"
    font = ImageFont.truetype(DEJAVU, 40)
    scan = Image.new("L", (1700, 300), 255)
    draw = ImageDraw.Draw(scan)
    draw.text((40, 40), "Inspeção da vedação: substituição das gaxetas", font=font, fill=0)
    draw.text((40, 140), "Lubrificação dos mancais a cada 2000 horas", font=font, fill=0)
    assert "vedação" not in ocr_text(scan, "eng"), "English alone loses the accented words"
    read = ocr_text(scan, languages)
    assert "vedação" in read and "Lubrificação" in read
