"""Friendly error pages (HTML for the Admin Hub, JSON under /api) for refusals raised anywhere."""

from __future__ import annotations

import contextlib
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
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
        from psabridge.web.problems import problem

        return problem(status_code, title, message)
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
            from psabridge.web.problems import problem

            return problem(401, "Not authenticated", "Not signed in", headers={"WWW-Authenticate": "Bearer"})
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
        if exc.status_code < 400:
            return await http_exception_handler(request, exc)
        if _wants_json(request):
            from psabridge.web.problems import http_problem

            return http_problem(request, exc)
        titles = {403: "Not allowed", 404: "Not found", 405: "Not allowed"}
        message = exc.detail if isinstance(exc.detail, str) else "The request could not be served."
        if message == HTTPStatus(exc.status_code).phrase:  # Starlette's bare default ("Not Found")
            message = _PLAIN.get(exc.status_code, "The request could not be served.")
        if getattr(request.state, "signed_in", None) is None:
            _load_signed_in(request)  # an unknown address ran no dependency: keep the tabs and user menu
        response = error_page(request, exc.status_code, titles.get(exc.status_code, "Error"), message)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            from psabridge.web.http_methods import allowed_methods

            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(AdminRequired, admin_required)
    app.add_exception_handler(StarletteHTTPException, http_error)


def _load_signed_in(request: Request) -> None:
    """Recognise the browser's session for an error page no route dependency has seen (a 404 of an
    unknown address), so a signed-in user keeps the Admin Hub tabs instead of an anonymous page."""
    from psabridge.web.auth import session_from_request

    factory = getattr(request.app.state, "sessionmaker", None)
    if factory is None:
        return
    with contextlib.suppress(Exception), factory() as db:
        session_from_request(request, db)


#: What the bare HTTP reasons mean to someone who followed a link (repeating "Not Found" under the
#: title "Not found" tells them nothing).
_PLAIN = {
    404: "There is no page at this address: the link may be wrong or out of date. "
    "Use the tabs, or go back to the Admin Hub.",
    405: "This address cannot be used that way (for example, a form sent to a page that only shows "
    "information). Go back and use the page's own buttons.",
}


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
