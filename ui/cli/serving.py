"""`shopfloor serve`: the web app for the floor terminals and the AI manager."""

from __future__ import annotations

import getpass
import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from shopfloor.errors import ShopfloorError
from shopfloor.settings import load_settings
from ui.cli.app import IndexOption, app, err, out


@app.command()
def serve(
    index: IndexOption = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; 0.0.0.0 serves the plant network (explicit).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 7860,
    certfile: Annotated[
        Path | None,
        typer.Option("--tls-cert", help="TLS certificate (PEM): serve https. Default $SHOPFLOOR_TLS_CERTFILE."),
    ] = None,
    keyfile: Annotated[Path | None, typer.Option("--tls-key", help="TLS private key (PEM) for --tls-cert.")] = None,
) -> None:
    """Start the web app: the operator chat at / and the AI manager's knowledge map at /manager/.

    Set SHOPFLOOR_MANAGER_PASSWORD_HASH (from `shopfloor hash-password`) for the manager's login;
    without it a random password is made for this run and printed once. Beyond this machine, serve
    https (--tls-cert/--tls-key, or behind a reverse proxy that does): the login crosses the network.

    Examples:
      shopfloor serve
      shopfloor serve --host 0.0.0.0 --port 8443 --tls-cert plant.pem --tls-key plant.key
    """
    import uvicorn

    from ui.login import manager_auth
    from ui.server import create_app

    settings = load_settings(index_dir=index, tls_certfile=certfile, tls_keyfile=keyfile)
    if (settings.tls_certfile is None) != (settings.tls_keyfile is None):
        raise ShopfloorError("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
    tls = settings.tls_certfile is not None
    if not tls and not ipaddress.ip_address(_resolved(host)).is_loopback:
        err.print(
            f"[bold yellow]warning:[/] serving {host} over plain http: the manager's password and the operators' "
            "questions cross the plant network unencrypted; use --tls-cert/--tls-key or a TLS reverse proxy"
        )
    auth, generated = manager_auth(settings)
    web_app = create_app(settings, auth)
    if generated:
        err.print(
            f"manager login for this run: {settings.manager_user} / {generated} "
            "(set SHOPFLOOR_MANAGER_PASSWORD_HASH from `shopfloor hash-password` to fix it)",
            markup=False,
        )
    scheme = "https" if tls else "http"
    err.print(f"operator chat: {scheme}://{host}:{port}/   manager: {scheme}://{host}:{port}/manager/", markup=False)
    uvicorn.run(
        web_app,
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=str(settings.tls_certfile) if tls else None,
        ssl_keyfile=str(settings.tls_keyfile) if tls else None,
    )


def _resolved(host: str) -> str:
    """The address a host name stands for (0.0.0.0 and :: are not loopback)."""
    try:
        return socket.gethostbyname(host)
    except OSError:
        return host


@app.command("hash-password")
def hash_password_command() -> None:
    """Make the salted hash of the manager's password, for SHOPFLOOR_MANAGER_PASSWORD_HASH (or
    manager_password_hash in shopfloor.toml): the password itself is never stored. Reads it twice
    from the terminal, or once from standard input.

    Example:
      shopfloor hash-password    # then: export SHOPFLOOR_MANAGER_PASSWORD_HASH='pbkdf2_sha256$...'
    """
    from ui.login import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("manager password: ")
        if getpass.getpass("again: ") != password:
            raise ShopfloorError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 10:
        raise ShopfloorError("a manager password needs at least 10 characters")
    out.print(hash_password(password), markup=False, highlight=False)


@app.command("llm-server")
def llm_server(
    host: Annotated[str, typer.Option("--host", help="Address to listen on; 0.0.0.0 for app servers elsewhere.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
) -> None:
    """Serve the answers' LLM to app servers over an OpenAI-compatible API (their llm_url is
    http://HOST:PORT/v1): the bundled model, assembled and checked against its SHA-256 (in
    llm_layout), or the GGUF file llm_model names, on llama.cpp's server with llm_context and threads.

    Questions from many terminals queue and take turns; one never cuts another's answer short.

    Examples:
      shopfloor llm-server
      shopfloor llm-server --host 0.0.0.0 --port 8000
    """
    from assistant.llm import model_path

    settings = load_settings()
    model = model_path(settings)
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", host, "--port", str(port)]
    command += ["--n_ctx", str(settings.llm_context), "--n_threads", str(settings.threads), "--n_batch", "512"]
    command += ["--interrupt_requests", "False", "--verbose", "False"]
    err.print(f"LLM server: http://{host}:{port}/v1 ({model.name})", markup=False)
    sys.stderr.flush()
    os.execv(sys.executable, command)  # the server in this process: a service manager's signals reach it
