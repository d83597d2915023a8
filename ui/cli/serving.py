"""`shopfloor serve`: the web app for the floor terminals and the AI manager."""

from __future__ import annotations

from typing import Annotated

import typer

from shopfloor.settings import load_settings
from ui.cli.app import IndexOption, app, err


@app.command()
def serve(
    index: IndexOption = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; 0.0.0.0 serves the plant network (explicit).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 7860,
) -> None:
    """Start the web app: the operator chat at / and the AI manager's knowledge map at /manager/.

    Set SHOPFLOOR_MANAGER_PASSWORD for the manager's login; without it a random one is printed.

    Examples:
      shopfloor serve
      SHOPFLOOR_MANAGER_PASSWORD=... shopfloor serve --host 0.0.0.0 --port 8080
    """
    import uvicorn

    from ui.server import create_app, manager_credentials

    settings = load_settings(index_dir=index)
    user, password, generated = manager_credentials(settings)
    web_app = create_app(settings, password)
    if generated:
        err.print(f"manager login for this run: {user} / {password} (set SHOPFLOOR_MANAGER_PASSWORD to fix it)")
    err.print(f"operator chat: http://{host}:{port}/   manager: http://{host}:{port}/manager/")
    uvicorn.run(web_app, host=host, port=port, log_level="warning")
