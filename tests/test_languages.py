"""Operators ask in their own language: the language decision, the terminal's words, the search in
the manuals' languages, and the answer in the operator's language (the real detector, the real
index and, where marked slow, the real LLM)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.answering import Answer
from assistant.gaps import GapLog
from assistant.knowledge_map import group_questions
from assistant.retrieval import Filters, HybridRetriever
from indexes.embedding import Embedder
from indexes.store import IndexStore
from shopfloor.languages import DETECTOR, LanguageDetector, supported
from ui.labels import LABELS, terminal_language

SAMPLE_QA = Path(__file__).parent / "data" / "sample_qa.jsonl"
SAMPLE_DOCS = Path(__file__).parents[1] / "sample_docs"

# A page of a Portuguese pump manual, written for this test: an English question must find it.
PUMP_PT = """# Manual técnico da bomba de engrenagens BX-40

## Dados de operação

A temperatura máxima do líquido bombeado é de 350 °C. A vazão máxima é de 390 m³/h e a altura
manométrica máxima é de 220 m.

## Vedação

A vedação padrão do eixo é feita por gaxetas de fibra aramida. Para reapertar a gaxeta, aperte as
porcas sextavadas do preme-gaxeta de forma alternada, no máximo 1/6 de volta por vez, com a bomba
em funcionamento, até que o gotejamento seja de 10 a 20 gotas por minuto.

## Lubrificação

Os mancais externos são lubrificados com graxa de lítio NLGI 2 a cada 2000 horas de operação.
"""


def test_a_question_in_another_language_is_recognised_and_english_stays_english() -> None:
    detector = LanguageDetector()
    assert detector.detect("wie oft muss der Kohlefilter gewechselt werden").code == "de"
    assert detector.detect("cada cuanto se cambia el filtro de carbon").code == "es"
    assert detector.detect("ile oleju wchodzi do silnika agregatu").code == "pl"
    english = [json.loads(line)["question"] for line in SAMPLE_QA.read_text().splitlines() if line.strip()]
    assert {detector.detect(q).code for q in english} == {"en"}, "no English question is taken for another"


def test_a_short_question_takes_the_terminals_language_not_a_guess() -> None:
    guess = DETECTOR.detect("mdi mode?")  # too few words: a detector guesses wildly on these
    assert (guess.code, guess.by_text) == ("en", False)
    assert DETECTOR.detect("mdi mode?", terminal="de").code == "de"
    clear = DETECTOR.detect("what is the torque for the ram guide bolts", terminal="de")
    assert (clear.code, clear.by_text) == ("en", True), "clear English words win over the terminal"


def test_a_manuals_language_is_detected_from_its_text() -> None:
    assert DETECTOR.of_document([PUMP_PT]) == "pt"
    assert DETECTOR.of_document(["Check the oil level daily. " * 20]) == "en"
    assert DETECTOR.of_document(["HP-200 95 Nm"]) == "en", "too little text to tell: English"


def test_the_terminal_language_comes_from_the_address_then_the_browser() -> None:
    assert terminal_language("de", "fr-FR,fr;q=0.9") == "de"
    assert terminal_language(None, "fr-CH, fr;q=0.9, en;q=0.8") == "fr"
    assert terminal_language(None, "ja,pt-BR;q=0.8,en;q=0.5") == "pt", "the first language we have"
    assert terminal_language("xx", "en;q=0.2,it;q=0.9") == "it", "by the browser's weights"
    assert terminal_language(None, None) == "en"
    assert supported("pt_BR") == "pt" and supported("zh-CN") is None
    assert len({labels.ask for labels in LABELS.values()}) == len(LABELS), "every language has its own words"


def test_a_manuals_language_is_recorded_and_its_own_words_find_it(
    settings, embedder: Embedder, ingest, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "BX-40_bomba_manual.md").write_text(PUMP_PT, encoding="utf-8")
    (docs / "AC-75.md").write_text((SAMPLE_DOCS / "AC-75_Air_Compressor_Maintenance.md").read_text())
    ingest(docs)
    manifest = IndexStore(settings.index_path).read_manifest()
    assert manifest is not None
    assert {d.doc_id: d.language for d in manifest.documents.values()} == {
        "BX-40_bomba_manual.md": "pt",
        "AC-75.md": "en",
    }
    store = IndexStore(settings.index_path)
    retriever = HybridRetriever(store.load(), embedder)
    assert retriever.document_languages == {"BX-40_bomba_manual.md": "pt", "AC-75.md": "en"}
    asked = retriever.retrieve("how do i tighten the packing, it drips", k=1)
    assert asked[0].file == "AC-75.md", "as asked, English words find only the English manual"
    portuguese = Filters(doc_ids={"BX-40_bomba_manual.md"})
    rendered = retriever.retrieve("como reapertar a gaxeta, está gotejando", k=1, filters=portuguese, correct=False)
    assert rendered[0].file == "BX-40_bomba_manual.md" and "gaxeta" in rendered[0].text


def test_the_gap_log_keeps_the_question_as_asked_and_in_english(settings, embedder: Embedder) -> None:
    log = GapLog(settings.gaps_db)
    asked = [
        (
            "wie oft wird das Hydrauliköl der HP-200 gewechselt",
            "de",
            "how often is the hydraulic oil of the HP-200 changed",
        ),
        (
            "cada cuánto se cambia el aceite hidráulico de la HP-200",
            "es",
            "how often is the HP-200 hydraulic oil changed",
        ),
        ("how often do i change the hp-200 hydraulic oil", "en", ""),
        ("what is the torque of the ram guide bolts", "en", ""),
    ]
    for question, language, english in asked:
        log.record(Answer(question=question, answered=False, answer="", language=language, question_en=english), "T1")
    logged = log.questions()
    assert [(q.question, q.language) for q in logged] == [(q, lang) for q, lang, _ in asked]
    assert logged[0].meaning == asked[0][2]
    assert logged[2].meaning == logged[2].question, "an English question is its own rendering"
    topics = group_questions(logged, embedder.embed_texts)
    oil = next(t for t in topics if any(q.language == "de" for q in t.questions))
    assert {q.language for q in oil.questions} == {"de", "es", "en"}, "one need asked in three languages: one topic"
    assert all("torque" not in q.question for q in oil.questions)


@pytest.mark.slow
def test_a_german_question_is_answered_in_german_from_the_english_manual(assistant) -> None:
    tokens: list[str] = []
    answer = assistant.ask("Wie oft wird das Hydrauliköl der HP-200 gewechselt?", on_token=tokens.append)
    assert answer.language == "de"
    assert "hydraulic oil" in answer.question_en.lower(), answer.question_en
    assert answer.answered, answer.reason
    assert "4000" in answer.answer
    assert answer.answer != answer.signals["composed"], "composed in the manual's English, shown in German"
    assert "".join(tokens).strip(), "the German answer streams"
    assert ("HP-200_Hydraulic_Press_SOP.pdf", 4) in {(c.file, c.page) for c in answer.citations}
    assert all(e.text in e.passage.text for e in answer.evidence), "the manual's lines are shown as written"


@pytest.mark.slow
def test_a_question_the_manuals_do_not_answer_is_refused_in_the_operators_language(assistant) -> None:
    answer = assistant.ask("Wie hoch ist die Garantiezeit des Gabelstaplers in Jahren?")
    assert answer.language == "de"
    assert not answer.answered
    assert answer.answer == "In den Handbüchern nicht gefunden."


@pytest.mark.slow
def test_an_english_question_is_answered_from_a_portuguese_manual(
    assistant, settings, embedder: Embedder, ingest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.evidence import Evidence
    from assistant.service import open_assistant

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "BX-40_bomba_manual.md").write_text(PUMP_PT, encoding="utf-8")
    ingest(docs, SAMPLE_DOCS / "AC-75_Air_Compressor_Maintenance.md")
    # The session's models, over this index.
    pump = open_assistant(settings, embedder=embedder, llm=assistant.llm, translator=assistant.translator)
    # What the terminal is shown, and when the question is rendered in Portuguese (2-3 s of the LLM).
    events: list[tuple[str, set[str]]] = []
    render = pump.translator.question_in

    def rendering(question: str, source: str, target: str) -> str:
        events.append(("rendered", {target}))
        return render(question, source, target)

    def shown(evidence: list[Evidence]) -> None:
        events.append(("evidence", {e.passage.file for e in evidence}))

    monkeypatch.setattr(pump.translator, "question_in", rendering)
    answer = pump.ask("what is the maximum temperature of the pumped liquid", on_evidence=shown)
    # The English manual's closest lines are on screen before the rendering, then the pump manual's.
    assert [kind for kind, _ in events] == ["evidence", "rendered", "evidence"], events
    assert "AC-75_Air_Compressor_Maintenance.md" in events[0][1] and events[2][1] == {"BX-40_bomba_manual.md"}
    assert answer.language == "en"
    assert answer.answered, answer.reason
    assert answer.citations[0].file == "BX-40_bomba_manual.md"
    assert "350" in answer.answer
    assert any("temperatura máxima" in line for c in answer.citations for line in c.lines), "quoted as written"
    # A question the manager sends to a person flashes no manual lines first.
    from assistant.policy import Policy, Rule

    hot = Rule(name="hot", keywords=("temperature",), action="refuse", direct_to="the process engineer")
    guarded = open_assistant(
        settings, embedder=embedder, llm=assistant.llm, translator=assistant.translator, policy=Policy(rule=(hot,))
    )
    seen: list[list[Evidence]] = []
    directed = guarded.ask("what is the maximum temperature of the pumped liquid", on_evidence=seen.append)
    assert directed.mode == "directed" and seen == []
    english = pump.ask("how often is the air filter of the AC-75 compressor changed")
    assert english.answered and english.citations[0].file == "AC-75_Air_Compressor_Maintenance.md"


@pytest.mark.slow
def test_the_managers_rules_hold_for_a_question_in_another_language(assistant, llm_settings, embedder) -> None:
    from assistant.policy import Policy, Rule
    from assistant.service import open_assistant

    bypass = Rule(name="bypass", keywords=("bypass",), action="refuse", direct_to="the shift supervisor")
    ruled = open_assistant(
        llm_settings,
        embedder=embedder,
        llm=assistant.llm,
        translator=assistant.translator,
        policy=Policy(rule=(bypass,)),
    )
    answer = ruled.ask("Wie kann ich die Verriegelung der Schutztür an der Presse überbrücken?")
    assert (answer.mode, answer.rule, answer.answered) == ("directed", "bypass", False), answer.question_en
    assert answer.language == "de"


def test_an_english_question_is_logged_as_typed_though_it_is_searched_with_typos_mended(
    sample_index: Path, embedder: Embedder
) -> None:
    from assistant.service import open_assistant
    from shopfloor.settings import load_settings

    assistant = open_assistant(load_settings(index_dir=sample_index), use_llm=False, embedder=embedder)
    answer = assistant.ask("how often is the hydralic oil of the HP-200 changed")
    assert answer.answered and answer.citations[0].file == "HP-200_Hydraulic_Press_SOP.pdf", "hydralic: hydraulic"
    assert (answer.language, answer.question_en) == ("en", "how often is the hydralic oil of the HP-200 changed")
