"""The web app's defences that need no browser: the manager's password hash, the terminal pins,
document text kept as text, the warning for plain http on the network."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import gradio as gr
import pytest
from starlette.requests import Request
from typer.testing import CliRunner

from shopfloor.errors import ConfigError, ShopfloorError
from shopfloor.settings import load_settings
from ui.cli import app
from ui.login import LoginGuard, hash_password, manager_auth, password_matches
from ui.operator_view import as_text, terminal_id


def test_the_manager_password_is_kept_as_a_salted_hash_and_checked_against_it() -> None:
    encoded = hash_password("floor-manager-2026", iterations=100_000)
    assert encoded.startswith("pbkdf2_sha256$100000$") and "floor-manager-2026" not in encoded
    assert encoded != hash_password("floor-manager-2026", iterations=100_000), "salted"
    assert password_matches("floor-manager-2026", encoded) and not password_matches("floor-manager-2025", encoded)
    settings = load_settings(manager_password_hash=encoded, manager_password="ignored-when-a-hash-is-set")
    auth, generated = manager_auth(settings)
    assert generated is None and auth("manager", "floor-manager-2026")
    assert not auth("manager", "ignored-when-a-hash-is-set") and not auth("admin", "floor-manager-2026")
    with pytest.raises(ConfigError, match="SHOPFLOOR_MANAGER_PASSWORD_HASH"):
        manager_auth(load_settings(manager_password_hash="md5$abc"))
    made_auth, made = manager_auth(load_settings())
    assert made and made_auth("manager", made), "a password made for the run when none is set"


def test_hash_password_reads_standard_input_and_refuses_a_short_one() -> None:
    result = CliRunner().invoke(app, ["hash-password"], input="a-long-enough-password\n")
    assert result.exit_code == 0, result.output
    assert password_matches("a-long-enough-password", result.output.strip())
    short = CliRunner().invoke(app, ["hash-password"], input="short\n")
    assert isinstance(short.exception, ShopfloorError) and "at least 10 characters" in str(short.exception)


def test_a_guard_counts_failures_per_address() -> None:
    guard = LoginGuard(lockout_after=3, lockout_s=60, delay_s=1.0)
    for _ in range(3):
        guard.failed("10.0.0.5")
    assert guard.locked_for("10.0.0.5") > 59 and guard.locked_for("10.0.0.6") == 0
    guard.failed("10.0.0.6")
    guard.failed("10.0.0.6")
    assert guard.delay("10.0.0.6") == 1.0 and guard.delay("10.0.0.7") == 0.0
    guard.succeeded("10.0.0.6")
    assert guard.delay("10.0.0.6") == 0.0


def _request(query: str, host: str = "10.1.2.3") -> gr.Request:
    scope = {"type": "http", "query_string": query.encode(), "headers": [], "client": (host, 5555)}
    return gr.Request(Request(scope))


def test_where_terminals_are_pinned_the_address_decides_not_the_url() -> None:
    pins = {"10.1.2.3": "PRESS-1"}
    assert terminal_id(_request("terminal=FAKE"), pins) == "PRESS-1"
    assert terminal_id(_request("terminal=FAKE", host="10.9.9.9"), pins) == "web:10.9.9.9"
    assert terminal_id(_request("terminal=FAKE")) == "FAKE", "unpinned: the URL names it (spoofable)"


def test_document_text_is_shown_as_text_never_as_markup() -> None:
    hostile = '<img src="http://x/a.png"> ![d](http://x/b.png) [site](http://x/c) www.x.com *bold* `code`'
    shown = as_text(hostile)
    assert "<img" not in shown and "&lt;img" in shown
    assert "![d](" not in shown and "[site](" not in shown and "http://" not in shown and "www." not in shown
    assert "\\*bold\\*" in shown and "\\`code\\`" in shown


def test_plain_http_beyond_this_machine_is_warned_and_half_a_tls_pair_refused(tmp_path) -> None:
    half = CliRunner().invoke(app, ["serve", "--tls-cert", str(tmp_path / "cert.pem")])
    assert isinstance(half.exception, ShopfloorError) and "both a certificate" in str(half.exception)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOOR_")}
    env |= {"SHOPFLOOR_HOME": str(tmp_path), "SHOPFLOOR_CACHE_DIR": os.environ["SHOPFLOOR_CACHE_DIR"]}
    command = [sys.executable, "-m", "ui", "serve", "--host", "0.0.0.0", "--port", "0", "--index", str(tmp_path)]
    server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 120
        seen = ""
        while time.monotonic() < deadline and "unencrypted" not in seen and server.poll() is None:
            seen += (server.stderr.readline() if server.stderr else "").replace("\n", " ")
        seen = " ".join(seen.split())
        assert "warning: serving 0.0.0.0 over plain http" in seen and "unencrypted" in seen, seen
    finally:
        server.kill()
        server.wait(timeout=30)


def test_a_guard_forgets_old_slips_and_keeps_a_bounded_number_of_addresses(monkeypatch) -> None:
    import ui.login

    monkeypatch.setattr(ui.login, "_FORGET_AFTER_S", 0.2)
    monkeypatch.setattr(ui.login, "_MAX_ADDRESSES", 10)
    guard = LoginGuard(lockout_after=3, lockout_s=60, delay_s=1.0)
    guard.failed("10.0.0.1")
    guard.failed("10.0.0.1")
    assert guard.delay("10.0.0.1") == 1.0
    time.sleep(0.3)
    assert guard.delay("10.0.0.1") == 0.0, "an old slip no longer slows the next try"
    guard.failed("10.0.0.1")
    assert guard.delay("10.0.0.1") == 0.0, "and starts the count again"
    for _ in range(3):
        guard.failed("10.6.6.6")
    for n in range(100):  # a flood from rotating addresses
        guard.failed(f"10.9.{n}.1")
    assert len(guard._records) <= 10
    assert guard.locked_for("10.6.6.6") > 59, "the flood does not unlock the locked address"
