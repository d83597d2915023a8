"""The check an answer passes before an operator sees it (assistant/grounding.py), on answers the
1.5B model really gave: right ones it must let through, wrong ones it must stop."""

from __future__ import annotations

from assistant.grounding import numbers_in, uncited_sources, unsupported_reason
from assistant.retrieval import Passage
from tests.conftest import chunk_meta

TITLES = ["HP-200 Hydraulic Press SOP", "CL-400 CNC Lathe Operator Manual", "TV picture issues"]

RESET = (
    "You can restore all TV settings to the factory defaults. Select Reset. The security PIN entry window "
    "appears. Enter the security PIN, and then select Yes. All settings are then reset. The TV turns off and "
    "on again automatically and displays the Start Setup screen."
)
PRESS_OIL = "Change hydraulic oil (ISO VG 46, 180 litres) | Every 4000 hours or yearly | Maintenance"


def _passage(text: str, heading: str = "") -> Passage:
    return Passage("n", text, chunk_meta(page=3, heading=heading), 1.0, 0.5, 5.0)


def test_the_numbers_of_numbered_steps_are_not_values() -> None:
    answer = "To do a factory reset:\n1. Select Reset.\n2. Enter the security PIN.\n3. Select Yes. [1]"
    assert numbers_in(answer) == set()
    assert unsupported_reason("How do I do a factory reset?", answer, [_passage(RESET)], TITLES) is None
    assert numbers_in("1. Set the pressure to 180 bar.") == {"180"}, "a value inside a step still counts"


def test_a_value_the_passages_lack_is_stopped() -> None:
    answer = "1. Select Reset.\n2. Hold the button for 15 seconds. [1]"
    assert unsupported_reason("How do I do a factory reset?", answer, [_passage(RESET)], TITLES) == (
        "values not in the cited passages: 15"
    )


def test_an_everyday_word_of_a_title_is_not_taken_for_equipment() -> None:
    flicker = "If your TV is flickering or dimming, you may need to disable some of the energy efficiency features."
    answer = "Disable some of the energy efficiency features. [1]"
    question = "How can I fix the flickering and dimming issues?"
    assert unsupported_reason(question, answer, [_passage(flicker)], TITLES) is None


def test_a_question_word_is_not_mistaken_for_a_title_word_once_its_s_is_dropped() -> None:
    """Measured: "what does BSFC mean" was refused as "not about doe" beside the DOE handbook."""
    glossary = "Brake specific fuel consumption (BSFC). The pounds of fuel burned per hour per brake horsepower."
    answer = "Brake specific fuel consumption: the pounds of fuel burned per hour per brake horsepower [1]."
    titles = [*TITLES, "DOE Fundamentals Handbook Nuclear Physics"]
    assert unsupported_reason("what does BSFC mean", answer, [_passage(glossary)], titles) is None


def test_the_lathe_asked_about_and_the_press_cited_is_stopped() -> None:
    answer = "The lathe uses ISO VG 46 hydraulic oil. [1]"
    reason = unsupported_reason("What oil type does the CNC lathe use?", answer, [_passage(PRESS_OIL)], TITLES)
    assert reason == "the cited passages are not about cnc, lathe"


def test_wording_from_a_passage_given_but_not_cited_counts_as_read() -> None:
    options = _passage("Digital Caption Options: change the font color, background color and size.", "Captions")
    shown = _passage("Set Caption to watch programs with the captions displayed, where programs support them.")
    answer = "Digital Caption shows captions on programs that support them. [1]"
    question = "What is the function of Digital Caption?"
    assert unsupported_reason(question, answer, [options], TITLES) is not None, "the cited passage alone"
    assert unsupported_reason(question, answer, [options], TITLES, given=[options, shown]) is None
    assert uncited_sources(answer, [options], [options, shown]) == [shown], "and it is cited too"


def test_another_machines_row_does_not_ride_along_as_a_citation() -> None:
    card = _passage("WARNING: Never bridge the door interlock to clear ALM-2217.", "VM-600 alarm codes")
    table = _passage("ALM-2217 | Door interlock open | Close the guard door fully")
    lathe = _passage("AL-310 | Door interlock open | Close the guard door; check the door switch")
    answer = "ALM-2217 means the door interlock is open: close the guard door fully. [1]"
    assert uncited_sources(answer, [card], [card, table, lathe]) == [table]
