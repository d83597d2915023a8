"""`shopfloor serve`: one FastAPI app with the operator chat at / (no login) and the manager's
knowledge map at /manager/ (password). /manager is mounted first: mounted after /, the operator
app would swallow its routes, unauthenticated."""

from __future__ import annotations

import logging
import secrets
import threading
from typing import Any

from shopfloor.settings import Settings
from ui.usecases import Shopfloor

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

    from ui.manager_view import build_manager_view
    from ui.operator_view import CSS, build_operator_view

    shopfloor = Shopfloor(settings)
    # The fixed start of every prompt is read while the server starts, not at the first question.
    threading.Thread(target=shopfloor.assistant.warm_up, name="warm-up", daemon=True).start()

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/manager", include_in_schema=False)
    def manager_root() -> RedirectResponse:
        return RedirectResponse("/manager/")

    manager = build_manager_view(shopfloor)
    app = gr.mount_gradio_app(
        app, manager, path="/manager", auth=(settings.manager_user, manager_password), footer_links=[], css=CSS
    )
    operator = build_operator_view(shopfloor)
    _unknown_endpoints_are_404(app, {fn.api_name for fn in operator.fns.values() if fn.api_name})
    return gr.mount_gradio_app(app, operator, path="", footer_links=[], css=CSS)


def _unknown_endpoints_are_404(app: Any, known: set[str]) -> None:
    """Gradio answers a call to an endpoint the operator app does not have (a manager function,
    say) with a 500; answer a clean 404 instead."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    @app.middleware("http")
    async def refuse_unknown(request: Request, call_next: Any) -> Any:
        parts = [p for p in request.url.path.split("/") if p]
        if len(parts) >= 3 and parts[0] == "gradio_api" and parts[1] in ("run", "call"):
            name = parts[3] if parts[2] == "v2" and len(parts) > 3 else parts[2]
            if name not in known:
                return JSONResponse({"error": f"no endpoint named {name!r}"}, status_code=404)
        return await call_next(request)
