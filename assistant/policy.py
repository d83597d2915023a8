"""What the assistant may decide alone: the manager's policy file.

A rule names topics by keywords and/or equipment. `quote`: the answer is only the manual's own
lines, verbatim, never the model's paraphrase. `refuse`: no answer at all; the operator is directed
to a named role ("bypass an interlock → ask the shift supervisor"). The file is TOML:

    [[rule]]
    name = "LOTO on line 3"
    keywords = ["lockout", "tagout", "loto"]   # any of these phrases
    equipment = ["line 3"]                     # and (when given) this equipment
    action = "refuse"
    direct_to = "the shift supervisor"

A malformed file is refused when the app starts, in one line naming the file, the rule and the fault.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shopfloor.errors import ConfigError

_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


class Rule(BaseModel):
    """One decision the manager keeps for people."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    action: Literal["quote", "refuse"]
    keywords: tuple[str, ...] = ()
    equipment: tuple[str, ...] = ()
    direct_to: str | None = None  # the role a refused question is sent to

    @field_validator("keywords", "equipment")
    @classmethod
    def _not_blank(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if any(not _words(v) for v in values):
            raise ValueError("an entry has no words")
        return values

    @model_validator(mode="after")
    def _complete(self) -> Rule:
        if not self.keywords and not self.equipment:
            raise ValueError("give keywords, equipment or both: a rule that names nothing would catch every question")
        if self.action == "refuse" and not (self.direct_to or "").strip():
            raise ValueError("a refuse rule needs direct_to: the role operators are sent to")
        return self

    def matches(self, question: str, equipment: str | None = None) -> bool:
        """Any keyword phrase in the question (each of its words starting a word of the question, in
        any order: "interlock" catches "interlocks"), and the equipment, when the rule names some,
        chosen as the question's filter or named in it."""
        words = _words(question)
        if self.keywords and not any(_phrase_in(_words(k), words) for k in self.keywords):
            return False
        if self.equipment:
            chosen = _words(equipment or "")
            return any(_words(e) == chosen or _sequence_in(_words(e), words) for e in self.equipment)
        return True

    @property
    def refusal(self) -> str:
        return f"The assistant does not answer this: ask {self.direct_to}."


class Policy(BaseModel):
    """The rules in file order: the first that matches decides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: tuple[Rule, ...] = ()

    @field_validator("rule")
    @classmethod
    def _unique_names(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        names = [r.name for r in rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(repeated)}")
        return rules

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.rule

    def match(self, question: str, equipment: str | None = None) -> Rule | None:
        return next((r for r in self.rule if r.matches(question, equipment)), None)


def load_policy(path: Path | None) -> Policy:
    """The policy file's rules, or no rules when none is configured."""
    if path is None:
        return Policy()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: policy file cannot be read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: policy file is not valid TOML ({exc})") from None
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: policy file refused: {_first_problem(exc, data)}") from None


def _first_problem(exc: ValidationError, data: dict[str, object]) -> str:
    error = exc.errors()[0]
    loc = list(error["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "rule" and isinstance(loc[1], int):
        rules = data.get("rule")
        name = rules[loc[1]].get("name") if isinstance(rules, list) and isinstance(rules[loc[1]], dict) else None
        where = f"rule {loc[1] + 1}" + (f" ({name!r})" if name else "")
        loc = loc[2:]
    field = ".".join(str(part) for part in loc)
    message = str(error["msg"]).removeprefix("Value error, ")
    return ": ".join(part for part in (where, field, message) if part)


def _phrase_in(phrase: list[str], words: list[str]) -> bool:
    return all(any(w.startswith(p) for w in words) for p in phrase)


def _sequence_in(sequence: list[str], words: list[str]) -> bool:
    n = len(sequence)
    return any(words[i : i + n] == sequence for i in range(len(words) - n + 1))
