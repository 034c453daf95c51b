"""HTTP method plumbing the framework gets wrong: ``HEAD`` and the ``Allow`` header of a 405.

FastAPI routes declared for GET do not answer HEAD (405), and a 405 names only the methods of the first
route whose path matched (``GET`` for ``/api/v1/accounts``, which also takes ``POST``). HEAD is served as
the GET it mirrors, without the body; ``Allow`` lists the methods of every route on that path.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CANDIDATES = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app accepts at the request's path (HEAD wherever GET is).

    Asked of the routes themselves (a full match means path and method), so included routers and mounts
    answer for their own routes."""
    scope = dict(request.scope)
    methods = {
        method
        for method in CANDIDATES
        if any(
            route.matches({**scope, "method": method})[0] == Match.FULL for route in request.app.router.routes
        )
    }
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


class HeadAsGetMiddleware:
    """Answers ``HEAD`` like ``GET`` (same status and headers, no body) for every route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)
