"""`shopfloor serve`: one FastAPI app with the operator chat at / (no login) and the manager's
knowledge map at /manager/ (password). /manager is mounted first: mounted after /, the operator
app would swallow its routes, unauthenticated."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from shopfloor.settings import Settings
from ui.usecases import Shopfloor

log = logging.getLogger(__name__)


def create_app(settings: Settings, manager_auth: Callable[[str, str], bool]) -> Any:
    """The whole web app; nothing in it calls out of the machine."""
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.responses import RedirectResponse

    from ui.login import LoginGuard
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
    app = gr.mount_gradio_app(app, manager, path="/manager", auth=manager_auth, footer_links=[], css=CSS)
    operator = build_operator_view(shopfloor)
    _operator_routes_only(app, {fn.api_name for fn in operator.fns.values() if fn.api_name})
    guard = LoginGuard(settings.login_lockout_after, settings.login_lockout_s, settings.login_delay_s)
    _guard_logins(app, guard)
    return gr.mount_gradio_app(app, operator, path="", footer_links=[], css=CSS)


def _guard_logins(app: Any, guard: Any) -> None:
    """Each manager login attempt from an address with failures waits longer; a locked-out address
    is answered 429 without its password being checked."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    @app.middleware("http")
    async def throttle(request: Request, call_next: Any) -> Any:
        if request.method != "POST" or request.url.path.rstrip("/") != "/manager/login":
            return await call_next(request)
        address = request.client.host if request.client else "?"
        locked = guard.locked_for(address)
        if locked:
            minutes = max(1, round(locked / 60))
            return JSONResponse(
                {"detail": f"Too many failed logins from this address; try again in {minutes} min."},
                status_code=429,
                headers={"Retry-After": str(int(locked) + 1)},
            )
        await asyncio.sleep(guard.delay(address))
        response = await call_next(request)
        if response.status_code >= 400:
            guard.failed(address)
        else:
            guard.succeeded(address)
        return response


# What the operator page needs from the server, and nothing more: the page, its assets, the queue
# its events run through. No uploads, no file serving (page pictures travel inside the page), no API
# description, no monitoring.
_OPERATOR_PATHS = frozenset(
    {"/", "/config", "/config/", "/theme.css", "/favicon.ico", "/robots.txt", "/manifest.json"}
    | {"/gradio_api/queue/join", "/gradio_api/queue/data", "/gradio_api/startup-events", "/gradio_api/cancel"}
)
_OPERATOR_PREFIXES = ("/assets/", "/static/", "/svelte/", "/gradio_api/heartbeat/", "/pwa_icon")
# Neither view takes files from a browser.
_NEVER = ("/gradio_api/upload", "/manager/gradio_api/upload")


def _operator_routes_only(app: Any, known: set[str]) -> None:
    """Answer 404 for every route of the operator app its page does not use (Gradio serves uploads,
    files and its API description by default), and for a call to an endpoint it does not have (a
    manager function, say), which Gradio would answer with a 500. The manager's routes sit behind
    its login; only uploads are refused there too."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    @app.middleware("http")
    async def refuse_unused(request: Request, call_next: Any) -> Any:
        path = request.url.path
        if path.startswith(_NEVER) or not (
            path == "/manager" or path.startswith("/manager/") or _operator_needs(path, known)
        ):
            log.warning(
                "refused %s %s from %s", request.method, path[:200], request.client.host if request.client else "?"
            )
            return JSONResponse({"error": "not found"}, status_code=404)
        return await call_next(request)


def _operator_needs(path: str, known: set[str]) -> bool:
    if path in _OPERATOR_PATHS or path.startswith(_OPERATOR_PREFIXES):
        return True
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "gradio_api" and parts[1] in ("run", "call"):
        name = parts[3] if parts[2] == "v2" and len(parts) > 3 else parts[2]
        return name in known
    return False
