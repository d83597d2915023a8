"""`shopfloor serve`: one FastAPI app with the operator chat at / (no login) and the manager's
knowledge map at /manager/ (password). /manager is mounted first: mounted after /, the operator
app would swallow its routes, unauthenticated."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from indexes.embedding import Embedder
from indexes.settings import Settings
from indexes.store import IndexStore

log = logging.getLogger(__name__)


def manager_credentials(settings: Settings) -> tuple[str, str, bool]:
    """(user, password, generated): a random password when none is configured."""
    if settings.manager_password is not None and settings.manager_password.get_secret_value():
        return settings.manager_user, settings.manager_password.get_secret_value(), False
    return settings.manager_user, secrets.token_urlsafe(12), True


def create_app(settings: Settings, manager_password: str) -> Any:
    """The whole web app; nothing in it calls out of the machine."""
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.responses import RedirectResponse

    from assistant.gaps import GapLog
    from assistant.service import open_assistant
    from ui.manager_view import build_manager_view
    from ui.operator_view import CSS, build_operator_view

    embedder = Embedder(settings.embed_model, settings.embed_batch_size, settings.threads)
    assistant = open_assistant(settings, embedder=embedder)
    gap_log = GapLog(settings.gaps_db)

    def recheck(gaps: list[Any]) -> list[int]:
        return [g.id for g in gaps if assistant.ask(g.question).answered]

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/manager", include_in_schema=False)
    def manager_root() -> RedirectResponse:
        return RedirectResponse("/manager/")

    manager = build_manager_view(gap_log, embedder, IndexStore(settings.index_path), recheck)
    app = gr.mount_gradio_app(
        app, manager, path="/manager", auth=(settings.manager_user, manager_password), footer_links=[], css=CSS
    )
    operator = build_operator_view(assistant, gap_log, settings.terminal_id)
    return gr.mount_gradio_app(app, operator, path="", footer_links=[], css=CSS)
