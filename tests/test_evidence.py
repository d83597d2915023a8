"""Evidence: the lines of the retrieved passages that answer, found with the real embedding model."""

from __future__ import annotations

from assistant.answering import renumber, user_prompt
from assistant.evidence import Evidence, EvidenceFinder, asked_kinds, split_lines
from assistant.retrieval import Passage
from indexes.embedding import Embedder
from tests.conftest import chunk_meta

GENERATOR = (
    "The alternator is fitted with two sealed ball bearings on the drive and\n"
    "non-drive ends. Bearings run hot when they are overgreased. The recommended check and change\n"
    "period for the lubricant (grease) is 4.000 hours. Some recommended lubricant (grease) types\n"
    "are Shell Alvania RL3 and Mobil Polyrex EM."
)
TROUBLES = (
    "Symptom | Probable cause | Remedy\n"
    "Pump runs but no pressure builds | Relief valve stuck open | Clean or replace relief valve RV-12\n"
    "Ram moves slowly | Return-line filter blocked | Replace filter element HF-2040\n"
    "HMI shows error E-14 | Light curtain beam interrupted | Clear the beam path; realign the receiver"
)
STEPS = (
    "Priming the fuel system\n"
    "1. Open the fuel valve.\n"
    "2. Loosen the bleed screw on the filter head and\n"
    "pump the hand primer until fuel flows without bubbles.\n"
    "3. Tighten the bleed screw to 8 Nm.\n"
    "WARNING: Diesel fuel is flammable. Keep sparks away."
)


def _passage(text: str, score: float, section: str, node_id: str) -> Passage:
    meta = chunk_meta(page=12, section=section, heading=f"Generator manual > {section}")
    return Passage(node_id, text, meta, score, score / 2, score * 5)


def _finder(embedder: Embedder) -> EvidenceFinder:
    rare = {"grease": 3, "alternator": 2, "bearings": 2, "regrease": 0, "filter": 4}
    return EvidenceFinder(embedder.embed_texts, lambda w: w.rstrip("s"), lambda w: rare.get(w, 20), 100)


def test_a_paragraph_is_read_as_sentences_a_table_as_rows_and_steps_whole() -> None:
    lines = split_lines(_passage(GENERATOR, 1.0, "4.5.2", "a"), 0)
    assert [line.kind for line in lines] == ["sentence"] * 4
    assert lines[2].text == "The recommended check and change period for the lubricant (grease) is 4.000 hours."
    rows = split_lines(_passage(TROUBLES, 1.0, "7", "b"), 0)
    assert [r.kind for r in rows] == ["row"] * 4
    assert rows[2].context == "Symptom | Probable cause | Remedy", "a row carries its header for the model"
    steps = split_lines(_passage(STEPS, 1.0, "5", "c"), 0)
    assert [s.kind for s in steps] == ["sentence", "step", "step", "step", "safety"]
    assert (
        steps[2].text
        == "2. Loosen the bleed screw on the filter head and pump the hand primer until fuel flows without bubbles."
    )


def test_the_kind_of_value_asked_for_is_recognised() -> None:
    assert asked_kinds("how often regrease alternator bearings") == {"interval"}
    assert asked_kinds("torque for the bleed screw?") == {"torque"}
    assert asked_kinds("which filter goes in the return line") == {"part"}
    assert asked_kinds("what does E-14 mean") == set()


def test_the_answering_sentence_is_found_though_the_question_shares_few_words_with_it(embedder: Embedder) -> None:
    """The measured failure: the answer sat mid-passage; the model saw 800 tokens and said NOT FOUND."""
    passages = [
        _passage(TROUBLES, 1.2, "7 Troubleshooting", "t"),
        _passage(GENERATOR, 1.0, "4.5.2 Alternator bearings", "g"),
        _passage(STEPS, 0.9, "5.1 Priming the fuel system", "s"),
    ]
    question = "how often regrease alternator bearings"
    finder = _finder(embedder)
    chosen = finder.select(question, finder.score(question, embedder.embed_query(question), passages))
    assert max(chosen, key=lambda e: e.score).text.endswith("is 4.000 hours.")
    assert any(e.text.startswith("Some recommended lubricant") for e in chosen), "the next line too: a short one"
    assert [e.number for e in chosen] == list(range(1, len(chosen) + 1))
    assert sum(len(e.for_model()) for e in chosen) <= finder.max_chars


def test_a_code_finds_its_table_row_and_a_how_to_its_steps_in_order(embedder: Embedder) -> None:
    passages = [_passage(STEPS, 1.0, "5.1 Priming the fuel system", "s"), _passage(TROUBLES, 0.9, "7", "t")]
    finder = _finder(embedder)
    question = "hmi says E-14 what now"
    best = finder.score(question, embedder.embed_query(question), passages)[0]
    assert best.text.startswith("HMI shows error E-14")
    question = "how do i prime the fuel system"
    chosen = finder.select(question, finder.score(question, embedder.embed_query(question), passages))
    steps = [e.text[:2] for e in chosen if e.kind == "step"]
    assert steps == sorted(steps) and len(steps) >= 2, "the steps that follow, in the manual's order"


def test_the_prompt_holds_only_the_numbered_lines_and_answers_cite_passages() -> None:
    passage = _passage(GENERATOR, 1.0, "4.5.2 Alternator bearings", "g")
    other = _passage(TROUBLES, 0.8, "7 Troubleshooting", "t")
    evidence = [
        Evidence(
            1,
            "The recommended check and change period for the lubricant (grease) is 4.000 hours.",
            "sentence",
            passage,
            0.8,
        ),
        Evidence(
            2,
            "Ram moves slowly | Return-line filter blocked | Replace filter element HF-2040",
            "row",
            other,
            0.5,
            context="Symptom | Probable cause | Remedy",
        ),
        Evidence(
            3,
            "Some recommended lubricant (grease) types are Shell Alvania RL3 and Mobil Polyrex EM.",
            "sentence",
            passage,
            0.7,
        ),
    ]
    prompt = user_prompt("how often regrease", evidence, [])
    assert "[1] (4.5.2 Alternator bearings) The recommended" in prompt
    assert "[2] (7 Troubleshooting) Symptom | Probable cause | Remedy\nRam moves slowly" in prompt
    assert "sealed ball bearings" not in prompt, "the rest of the passage stays out of the prompt"
    assert renumber("Every 4.000 hours [1], with Shell Alvania RL3 [3].", [evidence[0], evidence[2]]) == (
        "Every 4.000 hours [1], with Shell Alvania RL3 [1]."
    )


def test_a_rare_code_marks_its_line_and_the_machines_own_name_does_not(embedder: Embedder) -> None:
    rows = _passage(
        "Code | Meaning | Remedy\nAL-205 | Chuck pressure low | Check the hydraulic unit\n"
        "AL-310 | Door open | Close the door\nMEP-802A | 60 Hz set | none",
        1.0,
        "5 Alarm codes",
        "r",
    )
    counts = {"al-205": 1, "mep-802a": 10}
    finder = EvidenceFinder(embedder.embed_texts, lambda w: w, lambda w: counts.get(w, 20), 100)
    question = "alarm AL-205"
    best = finder.score(question, embedder.embed_query(question), [rows])[0]
    assert best.text.startswith("AL-205") and best.scores["kind"] == 1.0
    question = "fan belt deflection on the MEP-802A"
    scored = finder.score(question, embedder.embed_query(question), [rows])
    assert all(e.scores["kind"] == 0.0 for e in scored), "a code found in ten passages is the machine's name"


def test_the_best_line_comes_with_the_sentences_around_it(embedder: Embedder) -> None:
    """Measured on real manuals: the value was often stated in the sentence before or after the one that
    matched the question best (the rule before its example, the setting after its symptom)."""
    supply = _passage(
        "The maximum voltage is given in the driver's datasheet. Choose the supply with about 10% of headroom\n"
        "under that maximum. If, for example, a driver is rated 80 VDC, limit the supply to 72 VDC. Mount\n"
        "the supply away from the drives. Keep its cables short.",
        1.0,
        "3.2 Power supplies",
        "p",
    )
    finder = _finder(embedder)
    question = "driver label says 80v max, what supply voltage should i use"
    chosen = finder.select(question, finder.score(question, embedder.embed_query(question), [supply]))
    texts = [e.text for e in chosen]
    best = max(chosen, key=lambda e: e.score)
    assert best.text.startswith("If, for example")
    assert any("10% of headroom" in t for t in texts), "the rule stated just before the best line"
    positions = [e.position for e in chosen]
    assert positions == sorted(positions) and positions.index(best.position) > 0, "in the manual's order"
    assert "Keep its cables short." not in texts, "not the whole passage"


def test_a_contents_entry_answers_only_where_to_read(embedder: Embedder) -> None:
    contents = _passage("4.5 Alternator bearings ........ 42\n4.6 Fan belt ........ 44\n", 1.0, "Contents", "c")
    bearings = _passage(GENERATOR, 0.9, "4.5.2 Alternator bearings", "g")
    finder = _finder(embedder)
    question = "alternator bearings grease"
    best = finder.score(question, embedder.embed_query(question), [contents, bearings])[0]
    assert best.passage is bearings, "the manual's own sentence, not the contents entry naming it"
    question = "which page covers the alternator bearings"
    best = finder.score(question, embedder.embed_query(question), [contents, bearings])[0]
    assert best.text.startswith("4.5 Alternator bearings")


def test_a_parenthesised_number_starts_a_list_item() -> None:
    causes = _passage(
        "MOTOR RUNS BUT BAND DOES NOT MOVE:\n(1) Broken drive belts.\n(2) Over-oiling of the variable pulley.",
        1.0,
        "Troubleshooting",
        "t",
    )
    assert [line.kind for line in split_lines(causes, 0)] == ["sentence", "step", "step"]


def test_a_value_typed_with_a_thousands_separator_finds_its_row(embedder: Embedder) -> None:
    """Manuals and operators write "4,000 hours" and "4000 hrs" both ways: the question's words
    are weighted as the lines' are read, one term per value."""
    schedule = _passage(
        "Task | Interval\nClean the intake filter mat | Every 500 hours\nChange the compressor oil | Every 4000 hours",
        1.0,
        "6 Maintenance schedule",
        "s",
    )
    question = "what gets done at 4,000 hrs"
    scored = _finder(embedder).score(question, embedder.embed_query(question), [schedule])
    row, other = (next(e for e in scored if value in e.text) for value in ("4000", "500 hours"))
    assert row.scores["words"] > other.scores["words"], "4,000 is the row's 4000, not 4 and 000"
