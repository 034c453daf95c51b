"""Browser-facing protections applied to every route: security headers and CSRF.

CSRF is enforced here, as middleware, rather than per form, so a route added later cannot forget it.
Any request with an unsafe method (POST, PUT, PATCH, DELETE) that could be authenticated by a cookie must

1. come from our own origin when the browser says where it comes from (``Origin``, else ``Referer``);
2. carry the synchroniser token: the ``csrf_token`` form field or the ``X-CSRF-Token`` header, equal to
   the token of the signed-in session, or, before login, to the ``psab_csrf`` cookie the login page set
   (double submit; a foreign site can neither read nor set that cookie).

Only requests that carry *no session cookie* are exempt, and only when they are authenticated by an API
token (``Authorization: Bearer ...``) or are API calls (which then answer 401 themselves): a cookie is what
a foreign page rides on. Any other ``Authorization`` header is no exemption: a reverse proxy that forwards
Basic auth, or a browser that remembers it, attaches one to cross-site requests too.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from anyio import to_thread
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from psabridge.auth.sessions import SESSION_COOKIE, load_session

PRELOGIN_CSRF_COOKIE = "psab_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM_BYTES = 5 * 1024 * 1024

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP response (and ``no-store`` to pages of signed-in users)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = str(scope.get("path", "")).startswith(("/static/", "/docs-assets/"))
        is_https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if not is_static and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                if is_https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def same_origin(headers: Headers) -> bool:
    """False when the browser states an origin (Origin, else Referer) that is not this host."""
    host = headers.get("host", "")
    origin = headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc == host
    referer = headers.get("referer")
    if referer:
        return urlsplit(referer).netloc == host
    return True  # no claim either way (some privacy settings strip both): the token decides


Refuse = Callable[[Scope, Receive, Send, str], Awaitable[None]]


class CSRFMiddleware:
    """Refuses cookie-authenticated unsafe requests without our origin and token (see module doc)."""

    def __init__(self, app: ASGIApp, refuse: Refuse) -> None:
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request = Request(scope)
        if SESSION_COOKIE not in request.cookies and (
            _is_bearer(headers) or str(scope.get("path", "")).startswith("/api/")
        ):
            # Not cookie-authenticated: the API answers 401/403 by itself.
            await self.app(scope, receive, send)
            return
        if not same_origin(headers):
            await self.refuse(scope, receive, send, "This form was sent from another site.")
            return

        expected = await self._expected_token(scope, request.cookies)
        provided = headers.get(CSRF_HEADER)
        replay_receive = receive
        if provided is None and _is_form(headers):
            body, too_big = await _read_body(receive)
            if too_big:
                await self.refuse(scope, receive, send, "The form is too large.")
                return
            replay_receive = _replay(body, receive)
            form = await Request(scope, _replay(body, receive)).form()
            value = form.get(CSRF_FIELD)
            provided = value if isinstance(value, str) else None
        if not expected or not provided or not hmac.compare_digest(expected, provided):
            await self.refuse(
                scope, receive, send, "The form's security token is missing or out of date. Reload and retry."
            )
            return
        scope.setdefault("state", {})["csrf_verified"] = True
        await self.app(scope, replay_receive, send)

    async def _expected_token(self, scope: Scope, cookies: dict[str, str]) -> str | None:
        token = cookies.get(SESSION_COOKIE)
        if token:
            app = scope.get("app")
            factory = getattr(getattr(app, "state", None), "sessionmaker", None)
            if factory is not None:

                def lookup() -> str | None:
                    with factory() as db:
                        record = load_session(db, token)
                        return record.csrf_token if record is not None else None

                found = await to_thread.run_sync(lookup)
                if found:
                    return found
        return cookies.get(PRELOGIN_CSRF_COOKIE) or None


def _is_bearer(headers: Headers) -> bool:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _is_form(headers: Headers) -> bool:
    content_type = headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the already-read body once, then defers to the real one."""
    sent = False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
