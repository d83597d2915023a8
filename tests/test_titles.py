"""Document titles (ingest/titles.py) from real covers: the equipment a manual is about, never a
document code, boilerplate or the kind of document alone. The cover lines are as pypdf reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.readers import read_document
from ingest.titles import document_title

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

# US Army TM 10-3930-660-10, TM 5-4310-387-14 and TM 9-6115-641-10 (public release), page 1.
FORKLIFT_COVER = """TM 10-3930-660-10
TECHNICAL MANUAL
OPERATOR’S MANUAL
FOR
TRUCK, FORKLIFT; 6,000 LB
VARIABLE REACH, ROUGH TERRAIN
NSN 3930-01-158-0849
SUPERSEDURE NOTICE - This manual supersedes TM 10-3930-660-10, dated 30 March 1993.
HEADQUARTERS, DEPARTMENT OF THE ARMY"""
COMPRESSOR_COVER = """*TM 5-4310-387-14
TECHNICAL MANUAL
OPERATOR, UNIT, DIRECT SUPPORT, AND GENERAL
SUPPORT MAINTENANCE MANUAL
AIR COMPRESSOR, 5.1 CFM DIESEL
ENGINE DRIVEN
MODEL KA7-DA
(NSN 4310-01-220-7262)
DISTRIBUTION STATEMENT A: Approved for public release; distribution is unlimited."""
GENERATOR_COVER = """TECHNICAL MANUAL
OPERATOR'S MANUAL
FOR
GENERATOR SET, SKID MOUNTED, TACTICAL QUIET,
5 kW, 60 Hz, MEP-802A
(NSN: 6115-01-274-7387) (EIC: VG2)
*ARMY TM 9-6115-641-10
AIR FORCE TO 35C2-3-456-11"""


@pytest.mark.parametrize(
    ("cover", "title"),
    [
        (FORKLIFT_COVER, "TRUCK, FORKLIFT; 6,000 LB VARIABLE REACH, ROUGH TERRAIN"),
        (COMPRESSOR_COVER, "AIR COMPRESSOR, 5.1 CFM DIESEL ENGINE DRIVEN MODEL KA7-DA"),
        (GENERATOR_COVER, "GENERATOR SET, SKID MOUNTED, TACTICAL QUIET, 5 kW, 60 Hz, MEP-802A"),
        # The Voron 0 guide's cover: the maker's name, then the document.
        ("Voron Design\nSKR Mini E3 Setup Guide\nV0.0", "SKR Mini E3 Setup Guide"),
    ],
)
def test_a_cover_gives_the_equipment_not_its_codes_or_boilerplate(cover: str, title: str) -> None:
    assert document_title(cover) == title


def test_metadata_that_names_nothing_is_passed_over_for_the_cover() -> None:
    for junk in ("Untitled", "TM 10-3930-660-10", "Technical Manual", "manual.docx", "Document1"):
        assert document_title(FORKLIFT_COVER, junk) == "TRUCK, FORKLIFT; 6,000 LB VARIABLE REACH, ROUGH TERRAIN"
    assert document_title(FORKLIFT_COVER, "Forklift RT 6K - Operator") == "Forklift RT 6K - Operator"


def test_a_long_subject_is_cut_at_a_comma_and_a_cover_of_codes_gives_none() -> None:
    saw = "SAW, BAND, METAL CUTTING, FLOOR\nMOUNTING, 16 INCH THROAT DEPTH, SAW\nBLADE OR FILE BAND, 24 X 24 TABLE\n"
    saw += "ANGLE ADJUSTING, 208-VOLT, 60-CYCLE\n3-PHASE (DO ALL COMPANY MODEL 1612-OM)"
    cut = "SAW, BAND, METAL CUTTING, FLOOR MOUNTING, 16 INCH THROAT DEPTH, SAW BLADE OR FILE BAND"
    assert document_title(saw) == cut
    assert document_title("TM 9-3419-227-10\nTECHNICAL MANUAL\n(3419-294-9591)\nJANUARY 1966") is None


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")
def test_the_shared_manuals_keep_titles_that_name_them() -> None:
    pump = read_document(CORPUS / "FBBombas_FBE_gear_pump_manual_tecnico_PT.pdf")
    assert pump.title == "BOMBA DE ENGRENAGENS EXTERNAS FBE"  # not "MANUAL TÉCNICO" beside it
    handbook = read_document(CORPUS / "DOE-HDBK-1019-1-93_Nuclear_Physics_Reactor_Theory_Vol1.pdf")
    assert "Nuclear Physics and Reactor Theory" in handbook.title
