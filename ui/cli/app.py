"""The `shopfloor` command: the Typer app, its shared options and output, the entry point.

Results go to stdout, diagnostics to stderr. An expected failure (ShopfloorError) is one
`Error: ...` line and exit code 1; `--verbose` adds the traceback. Each command group lives in a
module of its own, thin over ui/usecases.py.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shopfloor.errors import ShopfloorError
from shopfloor.settings import load_settings

# Piped output is read by scripts and grep: tables are not squeezed into 80 columns there.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)
app = typer.Typer(
    help="Shop-floor document assistant: ingest manuals and SOPs, search them, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks that print their figures.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

IndexOption = Annotated[
    Path | None,
    typer.Option("--index", help="Index folder (default: $SHOPFLOOR_INDEX_DIR or <SHOPFLOOR_HOME>/index)."),
]
TagOption = Annotated[
    list[str] | None, typer.Option("--tag", help="Only passages of documents tagged key=value; repeatable.")
]
_verbose = False


@app.callback()
def _global(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details and tracebacks.")] = False,
) -> None:
    global _verbose
    _verbose = verbose
    level = logging.INFO if verbose else getattr(logging, load_settings().log_level.upper(), logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)


def parse_tags(tags: list[str], option: str = "--tag") -> dict[str, str] | None:
    """key=value options as a dict; None when there are none."""
    if not tags:
        return None
    parsed = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise typer.BadParameter(f"'{tag}' is not key=value", param_hint=option)
        parsed[key.strip()] = value.strip()
    return parsed


def question_lines(path: Path) -> list[str]:
    """The non-blank lines of a questions file; a JSONL question set gives its `question` fields."""
    import json

    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise ShopfloorError(f"{path}: {exc.strerror}") from None
    try:
        return [json.loads(line)["question"] if line.startswith("{") else line for line in lines]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ShopfloorError(f"{path}: a JSON line without a question") from None


def who_am_i() -> str:
    """Who the audit trail names for a change made from this command line."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _offline_environment() -> None:
    """No model hub, no analytics, no download: set before any HF/Gradio library is imported."""
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "TOKENIZERS_PARALLELISM": "false",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }.items():
        os.environ.setdefault(key, value)


def main() -> None:
    """Console entry point: one line per expected error, exit 1."""
    _offline_environment()
    try:
        app()
    except ShopfloorError as exc:
        if _verbose:
            raise
        err.print(f"Error: {exc}", markup=False, highlight=False)
        sys.exit(1)
