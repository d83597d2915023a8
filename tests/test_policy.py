"""The manager's policy: where the assistant only quotes, where it sends the operator to a person."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.policy import Rule, load_policy
from shopfloor.errors import ConfigError
from shopfloor.settings import load_settings
from ui.cli import app
from ui.usecases import Shopfloor

POLICY = """
[[rule]]
name = "interlock bypass"
keywords = ["bypass interlock", "defeat guard"]
action = "refuse"
direct_to = "the shift supervisor"

[[rule]]
name = "press torques"
keywords = ["torque"]
equipment = ["HP-200"]
action = "quote"
"""


def test_a_rule_catches_its_phrases_in_any_order_and_its_equipment_named_or_chosen() -> None:
    rule = Rule(name="loto", keywords=("lockout", "tagout", "loto"), equipment=("line 3",), action="refuse",
                direct_to="the shift supervisor")  # fmt: skip
    assert rule.matches("LOTO procedure on line 3?")
    assert rule.matches("how do I do the lockout", equipment="Line 3")
    assert not rule.matches("lockout on line 2") and not rule.matches("line 3 speed")
    bypass = Rule(name="bypass", keywords=("bypass interlock",), action="refuse", direct_to="a supervisor")
    assert bypass.matches("how to bypass the door interlocks") and bypass.matches("Interlock bypass??")
    assert not bypass.matches("where is the interlock") and not bypass.matches("bypass valve setting")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[[rule]]\nname = 'x'\naction = 'refuse'\nkeywords = ['a']\n", "rule 1 ('x'): a refuse rule needs direct_to"),
        ("[[rule]]\nname = 'x'\naction = 'quote'\n", "rule 1 ('x'): give keywords, equipment or both"),
        ("[[rule]]\nname = 'x'\naction = 'paraphrase'\nkeywords = ['a']\n", "rule 1 ('x'): action: Input should be"),
        ("[[rule]]\nname = 'x'\naction = 'quote'\nkeyword = ['a']\n", "rule 1 ('x'): keyword: Extra inputs"),
        (
            "[[rule]]\nname = 'x'\naction = 'quote'\nkeywords = ['?!']\n",
            "rule 1 ('x'): keywords: an entry has no words",
        ),
        ("[[rule]]\nname = 'x'\naction = 'quote'\nkeywords = ['a']\n" * 2, "rule names must be unique; repeated: x"),
        ("[[rule]\nname = 'x'", "policy file is not valid TOML"),
        ("rules = 1", "rules: Extra inputs are not permitted"),
    ],
)
def test_a_malformed_policy_is_one_line_naming_the_file_the_rule_and_the_fault(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message


def test_a_malformed_policy_stops_every_command_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[[rule]]\nname = 'x'\naction = 'refuse'\nkeywords = ['bypass']\n")
    monkeypatch.setenv("SHOPFLOOR_POLICY_FILE", str(path))
    for command in (["ask", "how to bypass the interlock"], ["serve"], ["policy"]):
        result = CliRunner().invoke(app, command)
        assert isinstance(result.exception, ConfigError), command  # main() prints it as one line, exit 1
        assert f"{path}: policy file refused: rule 1 ('x'): a refuse rule needs direct_to" in str(result.exception)
    monkeypatch.setenv("SHOPFLOOR_POLICY_FILE", str(tmp_path / "missing.toml"))
    assert "missing.toml: policy file cannot be read" in str(CliRunner().invoke(app, ["policy"]).exception)


def test_rules_fire_logged_and_counted_and_a_directed_question_is_no_gap(
    sample_index: Path, embedder, tmp_path: Path
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    settings = load_settings(index_dir=sample_index, policy_file=path)
    shopfloor = Shopfloor(settings, use_llm=False, embedder=embedder)
    try:
        directed = shopfloor.ask("how can I bypass the door interlock on the press?").answer
        assert directed.mode == "directed" and not directed.answered and directed.rule == "interlock bypass"
        assert directed.answer == "The assistant does not answer this: ask the shift supervisor."
        assert directed.citations == [] and directed.contexts == []

        quoted = shopfloor.ask("what torque for the ram guide bolts of the HP-200?").answer
        assert quoted.rule == "press torques" and quoted.mode == "quoted" and quoted.answered
        assert "95 Nm" in quoted.answer
        # verbatim: every quoted piece is a line of the manual, as the citation holds it
        lines = [line for c in quoted.citations for line in c.lines]
        assert quoted.answer.startswith("The manual says: “") and all(f"“{line}”" in quoted.answer for line in lines)

        unruled = shopfloor.ask("what torque for the lathe chuck jaws?").answer
        assert unruled.rule is None  # the torque rule names the HP-200 only

        fired = {use.rule.name: use.fired for use in shopfloor.policy_rules()}
        assert fired == {"interlock bypass": 1, "press torques": 1}
        open_questions = [g.question for g in shopfloor.gap_log.open_gaps()]
        assert "how can I bypass the door interlock on the press?" not in open_questions
        rows = shopfloor.gap_log.query("SELECT mode, policy_rule FROM questions ORDER BY id")
        assert [tuple(r) for r in rows][:2] == [("directed", "interlock bypass"), ("quoted", "press torques")]
    finally:
        shopfloor.close()

    result = CliRunner().invoke(app, ["policy", "--index", str(sample_index)], env={"SHOPFLOOR_POLICY_FILE": str(path)})
    assert result.exit_code == 0, result.output
    assert "interlock bypass" in result.output and "the shift supervisor" in result.output
