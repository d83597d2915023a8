"""The operations the CLI and the web app share (ui/usecases.py), over a real index and gap log."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import gradio as gr
import pytest
from typer.testing import CliRunner

from shopfloor.errors import ShopfloorError
from shopfloor.settings import Settings
from tests.conftest import SAMPLE_DOCS, copy_samples
from ui.cli import app
from ui.usecases import Shopfloor, parse_since


def test_a_since_that_is_no_date_is_one_clear_error() -> None:
    assert parse_since(" 2026-11-01 ") == "2026-11-01" and parse_since("") is None
    with pytest.raises(ShopfloorError, match="since 'last week': not a date"):
        parse_since("last week")
    result = CliRunner().invoke(app, ["gaps", "--since", "yesterday"])
    assert isinstance(result.exception, ShopfloorError) and "not a date (YYYY-MM-DD)" in str(result.exception)


def test_documents_ingested_while_the_app_runs_reach_the_filters_and_page_pictures(
    ingest, settings: Settings, embedder
) -> None:
    """The web app builds its views once; what they offer is read from the live index each time."""
    ingest(SAMPLE_DOCS / "AC-75_Air_Compressor_Maintenance.md", tags={"equipment": "AC-75"})
    shopfloor = Shopfloor(settings, use_llm=False, embedder=embedder)
    before = shopfloor.filter_choices()
    assert before.documents == ["AC-75_Air_Compressor_Maintenance.md"] and before.tags == ["equipment=AC-75"]
    assert shopfloor.page_image("HP-200_Hydraulic_Press_SOP.pdf", 1, "").image is None
    ingest(SAMPLE_DOCS / "HP-200_Hydraulic_Press_SOP.pdf", tags={"equipment": "HP-200"})
    after = shopfloor.filter_choices()
    assert "HP-200_Hydraulic_Press_SOP.pdf" in after.documents and "equipment=HP-200" in after.tags
    picture = shopfloor.page_image("HP-200_Hydraulic_Press_SOP.pdf", 1, "").image
    assert picture is not None and picture.width > 500


def test_a_page_picture_is_never_drawn_from_another_file_than_the_one_indexed(
    ingest, settings: Settings, embedder, tmp_path: Path
) -> None:
    """Pictures came from the ingest-time path: a newer revision there showed another text."""
    docs = copy_samples(tmp_path / "docs", "HP-200_Hydraulic_Press_SOP.pdf")
    ingest(docs)
    shopfloor = Shopfloor(settings, use_llm=False, embedder=embedder)
    assert shopfloor.page_image("HP-200_Hydraulic_Press_SOP.pdf", 2, "").image is not None
    shutil.copy(SAMPLE_DOCS / "CL-400_CNC_Lathe_Operator_Manual.pdf", docs / "HP-200_Hydraulic_Press_SOP.pdf")
    changed = shopfloor.page_image("HP-200_Hydraulic_Press_SOP.pdf", 2, "")
    assert changed.image is None
    assert changed.note and "HP-200_Hydraulic_Press_SOP.pdf on this terminal is not the file that was indexed" in (
        changed.note
    )
    (docs / "HP-200_Hydraulic_Press_SOP.pdf").unlink()
    assert shopfloor.page_image("HP-200_Hydraulic_Press_SOP.pdf", 2, "").note == changed.note


def test_the_manager_export_is_made_on_request_as_one_private_file(settings: Settings, embedder) -> None:
    """Each refresh used to leave another CSV of the operators' questions in /tmp."""
    from assistant.answering import Answer
    from ui.manager_view import build_manager_view

    shopfloor = Shopfloor(settings, use_llm=False, embedder=embedder)
    shopfloor.gap_log.record(Answer("Where is the spare fuse?", False, "Not found", reason="none"), "T7")
    view = build_manager_view(shopfloor)
    handlers = {getattr(f.fn, "__name__", ""): f.fn for f in view.fns.values()}
    report = handlers["load"]("", "equipment", 1)[6]
    exports = {handlers["gaps_csv"](report)["value"] for _ in range(3)}
    [export] = exports
    assert "Where is the spare fuse?" in Path(export).read_text()
    assert os.listdir(Path(export).parent) == ["knowledge-gaps.csv"]
    assert stat.S_IMODE(os.stat(export).st_mode) == 0o600
    with pytest.raises(gr.Error, match="not a date"):
        handlers["load"]("last week", "equipment", 1)


def test_a_browser_without_a_terminal_id_is_named_by_its_address_and_a_hostile_id_is_cleaned() -> None:
    from starlette.requests import Request

    from ui.operator_view import terminal_id

    def request(query: str) -> gr.Request:
        scope = {"type": "http", "query_string": query.encode(), "headers": [], "client": ("10.1.2.3", 5555)}
        return gr.Request(Request(scope))

    assert terminal_id(request("terminal=T7")) == "T7"
    assert terminal_id(request("")) == "web:10.1.2.3", "not the CLI's default id"
    assert terminal_id(request("terminal=%3Cscript%3ET7" + "x" * 100)) == "scriptT7" + "x" * 32


def test_each_document_says_how_often_it_is_cited_and_never_cited_ones_are_listed(
    ingest, settings: Settings, embedder
) -> None:
    from assistant.answering import Answer, Citation

    ingest(SAMPLE_DOCS / "AC-75_Air_Compressor_Maintenance.md", SAMPLE_DOCS / "HP-200_Hydraulic_Press_SOP.pdf")
    shopfloor = Shopfloor(settings, use_llm=False, embedder=embedder)
    press = Citation(1, "HP-200_Hydraulic_Press_SOP.pdf", 2, "2", "", "", "HP-200_Hydraulic_Press_SOP.pdf")
    for helpful in (True, False):
        answer = Answer("press oil?", True, "ISO VG 46 [1].", citations=[press])
        shopfloor.feedback(shopfloor.gap_log.record(answer, "T1"), helpful=helpful)
    shopfloor.gap_log.record(Answer("canteen?", False, "Not found"), "T1")
    usage = {u.doc_id: u for u in shopfloor.document_usage()}
    assert (usage["HP-200_Hydraulic_Press_SOP.pdf"].cited, usage["HP-200_Hydraulic_Press_SOP.pdf"].thumbs_down) == (
        2,
        1,
    )
    assert usage["AC-75_Air_Compressor_Maintenance.md"].cited == 0, "a never-cited document is listed"
    assert shopfloor.document_usage()[0].doc_id == "AC-75_Air_Compressor_Maintenance.md", "least cited first"
    assert shopfloor.document_usage("2999-01-01")[1].cited == 0
    listing = CliRunner().invoke(app, ["docs", "--usage"], env={"COLUMNS": "300"})
    assert listing.exit_code == 0 and "never" in listing.output


def test_an_llm_server_that_is_down_leaves_the_manual_lines_and_the_logged_question(
    settings: Settings, sample_index: Path, embedder
) -> None:
    """Terminals sharing an LLM server keep working when it is down: the operator reads the manual's
    own lines under a plain notice, and the question is logged like any other."""
    import socket

    from ui.operator_view import answer_markdown

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = settings.model_copy(
        update={"index_dir": sample_index, "llm_url": f"http://127.0.0.1:{port}/v1", "llm_timeout": 5.0}
    )
    shopfloor = Shopfloor(down, embedder=embedder)
    shopfloor.assistant.warm_up()  # a server down at start-up is logged, not raised
    logged = shopfloor.ask("What torque for the ram guide bolts?", terminal="T3")
    answer = logged.answer
    assert answer.model_unreachable and answer.answered and answer.mode == "quoted"
    assert "95 Nm" in answer.answer and answer.citations[0].file == "HP-200_Hydraulic_Press_SOP.pdf"
    assert answer_markdown(answer).startswith("*The answer model cannot be reached just now")
    german = shopfloor.ask("Wie oft muss das Öl im Kompressor gewechselt werden?", terminal="T3").answer
    assert german.model_unreachable or not german.answered, "no rendering: searched as asked"
    assert [q.question for q in shopfloor.gap_log.questions()][-2:] == [
        "What torque for the ram guide bolts?",
        "Wie oft muss das Öl im Kompressor gewechselt werden?",
    ]


def test_the_serving_benchmark_counts_every_terminals_questions(sample_index: Path, settings: Settings, embedder):
    """`shopfloor bench serve`'s load: terminals asking at once through the web handlers' use case,
    every question answered and logged, the figures from what was measured."""
    from ui.serving_benchmark import serve_load

    floor = Shopfloor(settings.model_copy(update={"index_dir": sample_index}), use_llm=False, embedder=embedder)
    questions = ["What torque for the ram guide bolts?", "How often change the compressor oil?", "canteen hours?"]
    figures = serve_load(floor, questions, terminals=3, per_terminal=2, llm="none")
    assert (figures.terminals, figures.questions, figures.answered) == (3, 6, 4), "the canteen is in no manual"
    assert 0 < figures.p50_s <= figures.p95_s <= figures.wall_s and figures.per_minute == 6 * 60 / figures.wall_s
    logged = floor.gap_log.questions()
    assert sorted(q.terminal for q in logged) == [f"bench-0{n}" for n in (0, 0, 1, 1, 2, 2)]
