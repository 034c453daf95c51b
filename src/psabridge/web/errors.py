"""Friendly error pages (HTML for the Admin Hub, JSON under /api) for refusals raised anywhere."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from psabridge.web.templating import templates


class LoginRequired(Exception):
    """Raised by ``current_user`` when no live session: pages redirect to the login form."""


class AdminRequired(Exception):
    """Raised by ``require_admin_user`` when a viewer tries an admin action."""


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_page(request: Request, status_code: int, title: str, message: str) -> Response:
    """An error in the Admin Hub layout (JSON ``{"detail": message}`` for API paths)."""
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status_code)
    return templates.TemplateResponse(
        request, "error.html", {"title": title, "message": message}, status_code=status_code
    )


async def refuse_csrf(scope: Scope, receive: Receive, send: Send, reason: str) -> None:
    """How ``CSRFMiddleware`` answers a cross-site or tokenless unsafe request: 403."""
    request = Request(scope, receive)
    response = error_page(request, 403, "Request refused", reason)
    await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    async def login_required(request: Request, _exc: Exception) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "Not signed in"}, status_code=401)
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        response = RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
        if request.headers.get("hx-request"):
            response.headers["HX-Redirect"] = "/login"
        return response

    async def admin_required(request: Request, _exc: Exception) -> Response:
        return error_page(
            request,
            403,
            "Admins only",
            "Your role is viewer: you can look at everything in your organization, but only an admin "
            "can make this change. Ask one of your organization's admins.",
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if _wants_json(request) or exc.status_code < 400:
            return await http_exception_handler(request, exc)
        titles = {403: "Not allowed", 404: "Not found", 405: "Not allowed"}
        message = exc.detail if isinstance(exc.detail, str) else "The request could not be served."
        response = error_page(request, exc.status_code, titles.get(exc.status_code, "Error"), message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(AdminRequired, admin_required)
    app.add_exception_handler(StarletteHTTPException, http_error)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
