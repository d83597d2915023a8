"""Render the sample PDFs from the Markdown sources beside this file, and the DOCX sample.

Run after editing a source (needs the `samples` extra: pip install -e '.[samples]', Ghostscript
for the generator's outlined table page, and the DejaVu fonts for the alarm table's picture):
    python sample_docs/.src/build.py
The folder is hidden so that `shopfloor ingest sample_docs/` does not ingest the sources twice.
"""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from pypdf.constants import PageLabelStyle

HERE = Path(__file__).resolve().parent
OUT = HERE.parent
SAFETY = re.compile(r"^(DANGER|WARNING|CAUTION):")


class ManualPDF(FPDF):
    def __init__(self, meta: dict[str, str], content_pages: int) -> None:
        super().__init__(format="A4")
        self.meta = meta
        self.content_pages = content_pages
        self.set_auto_page_break(auto=True, margin=22)
        self.set_margins(20, 22, 20)
        self.set_title(meta["title"])

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("Helvetica", "I", 8)
        self.cell(0, 6, self.meta["header"].replace("|", " - "), align="C")
        self.ln(10)

    def footer(self) -> None:
        if self.page_no() == 1:
            return
        self.set_y(-15)
        self.set_font("Helvetica", "I", 8)
        text = self.meta["footer"].format(page=self.page_no() - 1, pages=self.content_pages)
        self.cell(0, 8, text, align="C")


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    _, head, body = text.split("---\n", 2)
    meta = dict(line.split(": ", 1) for line in head.strip().splitlines())
    return meta, body


def render_pdf(source: Path) -> Path:
    meta, body = _front_matter(source.read_text(encoding="utf-8"))
    # Two passes: the footer's "Page N of M" needs the page count of the first.
    content_pages = _layout(meta, body, 0).pages_count - 1
    pdf = _layout(meta, body, content_pages)
    path = OUT / (source.stem + ".pdf")
    pdf.output(str(path))
    _label_pages(path)
    return path


def _layout(meta: dict[str, str], body: str, content_pages: int) -> FPDF:
    pdf = ManualPDF(meta, content_pages)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 22)
    pdf.ln(50)
    pdf.multi_cell(0, 11, meta["title"], align="C")
    pdf.ln(12)
    pdf.set_font("Helvetica", "", 12)
    for line in meta["cover"].split("|"):
        pdf.cell(0, 8, line, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    table: list[list[str]] = []
    for line in [*body.splitlines(), ""]:
        if line.startswith("|"):
            if not set(line) <= set("|- "):
                table.append([c.strip() for c in line.strip("|").split("|")])
            continue
        if table:
            _table(pdf, table)
            table = []
        _line(pdf, line)
    return pdf


def _line(pdf: FPDF, line: str) -> None:
    if line.startswith("# "):
        pdf.ln(4)
        pdf.set_font("Helvetica", "B", 15)
        pdf.multi_cell(0, 9, line[2:], new_x="LMARGIN", new_y="NEXT")
    elif line.startswith("## "):
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 12)
        pdf.multi_cell(0, 8, line[3:], new_x="LMARGIN", new_y="NEXT")
    elif SAFETY.match(line):
        pdf.set_font("Helvetica", "B", 11)
        pdf.set_fill_color(255, 235, 160)
        pdf.multi_cell(0, 7, line, border=1, fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    elif line.strip():
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)


def _table(pdf: FPDF, rows: list[list[str]]) -> None:
    pdf.set_font("Helvetica", "", 10)
    with pdf.table(first_row_as_headings=True, line_height=6.5) as table:
        for row in rows:
            table.row(row)
    pdf.ln(3)


def _label_pages(path: Path) -> None:
    """Cover page labelled 'i', content pages '1', '2', ... as printed in their footers."""
    writer = PdfWriter(clone_from=PdfReader(path))
    writer.set_page_label(0, 0, style=PageLabelStyle.LOWERCASE_ROMAN)
    writer.set_page_label(1, len(writer.pages) - 1, style=PageLabelStyle.DECIMAL)
    with open(path, "wb") as f:
        writer.write(f)


def build_docx() -> Path:
    """A daily checklist as Word files usually are: heading styles, a list, a table."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Forklift FL-25 - Daily Pre-Shift Check"
    document.add_heading("Forklift FL-25 - Daily Pre-Shift Check", level=0)
    document.add_paragraph(
        "Checklist CL-FL25-01, revision 4, 2026-02-02. Every driver completes it before the first shift use."
    )
    document.add_heading("1 Before Starting", level=1)
    for item in (
        "Walk around the truck and look for damage, leaks and loose parts.",
        "Check the tyres for cuts and the wheel nuts for tightness.",
        "Check that the forks are not bent or cracked and the fork locking pins are in place.",
    ):
        document.add_paragraph(item, style="List Number")
    document.add_paragraph(
        "WARNING: Do not use a truck with a defect that affects safety. Remove the key, tag the truck "
        "OUT OF SERVICE and report it to the shift leader."
    )
    document.add_heading("2 Function Checks", level=1)
    table = document.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ("Check", "Pass criterion", "If it fails"), strict=True):
        cell.text = text
    for row in (
        ("Service brake", "Truck stops within 1.5 m from walking speed", "Out of service"),
        ("Parking brake", "Holds the loaded truck on the ramp", "Out of service"),
        ("Horn and lights", "Working", "Report to shift leader"),
        ("Hydraulic oil level", "Between MIN and MAX on the dipstick", "Top up with HLP 32"),
        ("Battery charge", "At least 30 % on the display", "Charge before use"),
    ):
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text
    document.add_heading("3 Load Capacity", level=1)
    document.add_paragraph(
        "The rated capacity is 2500 kg at a load centre of 500 mm. Read the capacity plate: the capacity "
        "falls with higher lift heights and with attachments."
    )
    path = OUT / "FL-25_Forklift_Daily_Check.docx"
    document.save(str(path))
    return path


# The generator's troubleshooting table, the way some vendors ship it: drawn as vector outlines, so the
# PDF's text layer is empty there and only OCR can read it.
GEN5_TROUBLES = [
    ("Symptom", "Possible cause", "Remedy"),
    ("Engine will not start", "Fuel valve closed", "Open the fuel valve"),
    ("Engine will not start", "Low oil shutdown", "Fill oil to the upper mark"),
    ("Engine starts then stops", "Choke left open", "Close the choke after 30 s"),
    ("No output voltage", "Breaker tripped", "Reset breaker CB1"),
    ("No output voltage", "AVR fuse blown", "Replace fuse F2 (5 A)"),
    ("Output voltage too low", "Engine speed low", "Set speed to 3000 rpm"),
    ("Black exhaust smoke", "Air filter clogged", "Clean the air filter"),
    ("Engine overheats", "Cooling fins blocked", "Clean fins, check airflow"),
    ("Spark plug fouled", "Wrong plug gap", "Set gap to 0.7 mm"),
]


def _titled_pdf(title: str) -> FPDF:
    """A one-column A4 document whose first page starts with its title, body font set."""
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    return pdf


def build_generator() -> Path:
    """Page 1 ordinary text; page 2 the troubleshooting table converted to outlines by Ghostscript."""
    intro = _titled_pdf("Portable Generator GEN-5 - Troubleshooting Guide")
    for paragraph in (
        "Guide TG-GEN5, revision 2, 2026-05-11. Use the table on the next page to find the cause of a fault. "
        "Work through the causes of a symptom in the order listed.",
        "WARNING: Stop the engine and let it cool before you touch the spark plug, the muffler or the fuel "
        "system. Exhaust gas contains carbon monoxide: never run the generator indoors.",
        "If a fault remains after the remedy, tag the generator OUT OF SERVICE and call maintenance on extension 4410.",
    ):
        intro.multi_cell(0, 7, paragraph, new_x="LMARGIN", new_y="NEXT")
        intro.ln(3)
    table = FPDF(format="A4")
    table.add_page()
    table.set_font("Helvetica", "B", 14)
    table.cell(0, 10, "Troubleshooting table", new_x="LMARGIN", new_y="NEXT")
    table.set_font("Helvetica", "", 11)
    with table.table(first_row_as_headings=True, line_height=8, col_widths=(60, 55, 55)) as grid:
        for row in GEN5_TROUBLES:
            grid.row(row)
    with tempfile.TemporaryDirectory() as scratch:
        plain, outlined = Path(scratch) / "plain.pdf", Path(scratch) / "outlined.pdf"
        table.output(str(plain))
        subprocess.run(
            ["gs", "-q", "-dBATCH", "-dNOPAUSE", "-dNoOutputFonts", "-sDEVICE=pdfwrite", f"-sOutputFile={outlined}",
             str(plain)],
            check=True,
        )  # fmt: skip
        writer = PdfWriter()
        writer.append(PdfReader(io.BytesIO(bytes(intro.output()))))
        writer.append(PdfReader(outlined))
        writer.add_metadata({"/Title": "Portable Generator GEN-5 - Troubleshooting Guide"})
        path = OUT / "GEN-5_Generator_Troubleshooting.pdf"
        with open(path, "wb") as f:
            writer.write(f)
    return path


# A maintenance schedule grid whose ticks are small images, as scanned-in office templates often are.
MX30_INTERVALS = ("Daily", "Weekly", "Start-up", "200 hours", "1000 hours")
MX30_TASKS = [
    ("Check the oil level in the gearbox", ("Daily", "Start-up", "200 hours")),
    ("Grease the paddle shaft bearings", ("Weekly",)),
    ("Inspect the mixing paddles for wear", ("Weekly", "1000 hours")),
    ("Test the lid interlock switch", ("Daily", "Start-up")),
    ("Replace the gearbox oil", ("1000 hours",)),
    ("Tighten the motor mounting bolts", ("200 hours",)),
    ("Clean the discharge valve seal", ("Daily",)),
]


def _tick_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(image).line([(10, 34), (26, 50), (54, 14)], fill="black", width=8)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def build_mixer() -> Path:
    pdf = _titled_pdf("Mixer MX-30 - Maintenance Schedule")
    pdf.multi_cell(
        0, 7,
        "Schedule MS-MX30, revision 1, 2026-04-20. A tick marks when each task is due. Lock out the mixer "
        "at the main isolator before any task that opens the lid. Oil grade: ISO VG 220 gear oil.",
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip
    pdf.ln(6)
    tick = io.BytesIO(_tick_png())
    label_w, col_w, row_h = 70, 22, 10
    left, top = pdf.l_margin, pdf.get_y()
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(label_w, row_h, "Task", border=1)
    for interval in MX30_INTERVALS:
        pdf.cell(col_w, row_h, interval, border=1, align="C")
    pdf.set_font("Helvetica", "", 10)
    for r, (task, due) in enumerate(MX30_TASKS, start=1):
        y = top + r * row_h
        pdf.set_xy(left, y)
        pdf.cell(label_w, row_h, task, border=1)
        for c, interval in enumerate(MX30_INTERVALS):
            x = left + label_w + c * col_w
            pdf.rect(x, y, col_w, row_h)
            if interval in due:
                pdf.image(tick, x=x + col_w / 2 - 3, y=y + 2, w=6, h=6)
    path = OUT / "MX-30_Mixer_Maintenance_Schedule.pdf"
    pdf.output(str(path))
    return path


# An alarm table pasted into the document as a picture (a screenshot of the control's help page),
# as many real manuals have it: the text layer holds the paragraphs around it, not its rows.
VM600_ALARMS = [
    ("Code", "Meaning", "Action"),
    ("ALM-1101", "Spindle drive overload", "Reduce the depth of cut, then press RESET"),
    ("ALM-1114", "Coolant level low", "Top up coolant to the MAX mark"),
    ("ALM-2203", "Tool changer arm not home", "Jog the arm home in MANUAL mode"),
    ("ALM-2217", "Door interlock open", "Close the guard door fully"),
    ("ALM-3305", "Air pressure below 5.5 bar", "Check the shop air supply and regulator"),
    ("ALM-4412", "X axis following error", "Stop the program, call maintenance (ext. 4410)"),
]


def _alarm_table_png() -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 26)
    bold = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 26)
    columns, row_h = (0, 175, 585, 1225), 54
    image = Image.new("RGB", (columns[-1] + 2, row_h * len(VM600_ALARMS) + 2), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, columns[-1], row_h), fill=(215, 225, 240))
    for r, row in enumerate(VM600_ALARMS):
        for c, cell in enumerate(row):
            draw.text((columns[c] + 14, r * row_h + 13), cell, font=bold if r == 0 else font, fill="black")
        draw.line((0, r * row_h, columns[-1], r * row_h), fill="black", width=2)
    draw.line((0, len(VM600_ALARMS) * row_h, columns[-1], len(VM600_ALARMS) * row_h), fill="black", width=2)
    for x in columns:
        draw.line((x, 0, x, row_h * len(VM600_ALARMS)), fill="black", width=2)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def build_alarms() -> Path:
    pdf = _titled_pdf("Machining Centre VM-600 - Alarm Codes")
    pdf.multi_cell(
        0, 7,
        "Reference card RC-VM600-02, revision 3, 2026-06-02. The control shows an alarm code in red on the "
        "status line and stops the feed. Read the code, find it in the table below, do the action, then "
        "press RESET. Log every alarm in the machine book with the time and the part number.",
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip
    pdf.ln(4)
    pdf.image(io.BytesIO(_alarm_table_png()), x=pdf.l_margin, w=170)
    pdf.ln(4)
    pdf.multi_cell(
        0, 7,
        "WARNING: Never bridge the door interlock to clear ALM-2217. If an alarm returns after RESET, tag the "
        "machine OUT OF SERVICE and call maintenance on extension 4410.",
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip
    path = OUT / "VM-600_Machining_Centre_Alarm_Codes.pdf"
    pdf.output(str(path))
    return path


if __name__ == "__main__":
    for source in sorted(HERE.glob("*.md")):
        print(render_pdf(source))
    print(build_docx())
    print(build_generator())
    print(build_mixer())
    print(build_alarms())
