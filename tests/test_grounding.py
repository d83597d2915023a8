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


def test_what_was_asked_is_found_in_any_form_of_its_words() -> None:
    """Measured on a band saw manual: "motor is running but the blade isn't moving" was refused over the
    line "MOTOR RUNS BUT BAND DOES NOT MOVE: (1) Broken drive belts", as if it spoke of something else."""
    line = _passage("MOTOR RUNS BUT BAND DOES NOT MOVE: (1) Broken drive belts or belts off pulleys.")
    answer = "Check for broken drive belts or belts off the pulleys [1]."
    assert unsupported_reason("saw keeps running but nothing moving", answer, [line], TITLES) is None
    assert unsupported_reason("saw coolant mix ratio", answer, [line], TITLES) is not None


def test_a_cited_definition_is_read_with_the_term_given_just_before_it(embedder) -> None:
    from assistant.answering import line_passage
    from assistant.evidence import EvidenceFinder

    glossary = _passage("BSFC.\nBrake specific fuel consumption.\nBtu.\nBritish thermal unit.")
    finder = EvidenceFinder(embedder.embed_texts, lambda w: w, lambda w: 1, 100)
    question = "what does BSFC mean"
    chosen = finder.select(question, finder.score(question, embedder.embed_query(question), [glossary]))
    definition = next(e for e in chosen if e.text.startswith("Brake specific"))
    answer = "Brake specific fuel consumption [2]."
    assert unsupported_reason(question, answer, [line_passage(definition)], TITLES) is not None, "alone"
    assert unsupported_reason(question, answer, [line_passage(definition, chosen)], TITLES) is None


def test_a_title_word_is_equipment_only_as_written() -> None:
    """Stemmed, "Getting Started" in a title made "start" a machine, and refused this right answer."""
    line = _passage("Ice bridging. A spark plug failure when an engine is cranked in extremely cold weather.")
    question = "plugs wont fire on a cold start, ice on the electrodes, what is that called"
    assert unsupported_reason(question, "Ice bridging [1].", [line], ["LinuxCNC Getting Started"]) is None


def test_an_answer_worded_from_the_line_beside_the_one_it_cites_is_checked_with_that_line() -> None:
    """Measured (FAA glossary, the lines the model was given): asked what BSFC means, it cited the
    definition and wrote the next line's words. That line is cited too, and the answer then
    stands; a line of another passage the answer also echoes is not taken for a neighbour."""
    from assistant.answering import _cited, _worded_beside, line_passage
    from assistant.evidence import Evidence

    glossary = _passage(
        "BSFC. Brake specific fuel consumption. A measure of the amount of fuel used for a given amount of power "
        "produced by a heat engine. BSFC is expressed in pounds of fuel burned per hour for each brake "
        "horse-power the engine is producing. Buckets."
    )
    other = Passage("m", "Fuel burned per hour is logged for each engine run.", chunk_meta(page=9), 0.9, 0.4, 3.0)
    given_lines = [
        ("A measure of the amount of fuel used for a given amount of power produced by a heat engine.", glossary, 2),
        (
            "BSFC is expressed in pounds of fuel burned per hour for each brake horse-power the engine is producing.",
            glossary,
            3,
        ),
        ("Fuel burned per hour is logged for each engine run.", other, 0),
    ]
    evidence = [
        Evidence(number, text, "sentence", passage, 0.5, position=position)
        for number, (text, passage, position) in enumerate(given_lines, start=1)
    ]
    question = "what does BSFC mean"
    answer = (
        "BSFC is expressed in pounds of fuel burned per hour for each brake horse-power the engine is producing [1]."
    )
    cited = _cited(answer, evidence)
    lines = [line_passage(e, evidence) for e in cited]
    given = [line_passage(e) for e in evidence]
    assert unsupported_reason(question, answer, lines, TITLES, given=given) is not None, "as the model cited it"
    beside = _worded_beside(answer, cited, evidence, lines, given)
    assert beside == [evidence[1]], "the neighbour it was worded from, not the other passage's line"
    lines = [line_passage(e, evidence) for e in [*cited, *beside]]
    assert unsupported_reason(question, answer, lines, TITLES, given=given) is None


def test_an_everyday_word_of_another_manuals_title_is_not_taken_for_equipment() -> None:
    """With the Army compressor's cover for its title ("... DIESEL ENGINE DRIVEN ..."), "engine" in a
    question over the generator's lines would refuse every answer whose line does not repeat it."""
    preheat = _passage("Set PREHEAT switch to ON and hold for 30 seconds before cranking.", "Starting")
    titles = [*TITLES, "AIR COMPRESSOR, 5.1 CFM DIESEL ENGINE DRIVEN MODEL KA7-DA"]
    question, answer = "cold morning, engine cranks but wont fire", "Hold PREHEAT for 30 seconds, then crank [1]."
    assert unsupported_reason(question, answer, [preheat], titles) == "the cited passages are not about engine"
    everyday = {"engine", "diesel"}.__contains__
    assert unsupported_reason(question, answer, [preheat], titles, everyday=everyday) is None
    # A model code stays equipment, however often the library writes it.
    asked = "cold morning, the ka7-da engine cranks but wont fire"
    assert unsupported_reason(asked, answer, [preheat], titles, everyday=lambda _: True) is not None


def test_an_answer_that_says_the_question_back_is_no_answer() -> None:
    """The 1.5B model's own replies (E-Manual, hard sets): said back, the question answers nothing,
    and the manual's lines stand instead; a value, a new word, a path or a choice made is an answer."""
    from assistant.grounding import restates_question

    assert restates_question(
        "How to pair the TV with the Samsung Smart Remote?", "Pair the TV with the Samsung Smart Remote [1]."
    )
    assert restates_question("What is access notification?", "Access notification [4].")
    assert restates_question("batts are dead, how do i jump it off another vehicle", "JUMP [2].")
    assert restates_question(
        "ok to tin/solder the wire ends before i crimp the ferrules on?",
        "Yes, tin/solder the wire ends before crimping the ferrules on [2].",
    ), "yes adds nothing the question did not say"
    assert not restates_question("how deep of water can the 6k go thru", "30 in. (762 mm) deep [1].")
    assert not restates_question("whats hydrogen-3 called", "Tritium [2].")
    assert not restates_question("where does linuxcnc keep my configs in my home folder", "~/linuxcnc/configs [4].")
    assert not restates_question(
        "foil or braided shield cable, which one is better for noise", "Braided shield cable is better for noise [3]."
    )
