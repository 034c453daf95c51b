"""Who is calling the REST API: a :class:`Principal` (organization + role), from a Bearer API token.

Every API route depends on ``get_principal`` (read) or ``require_admin`` (change), and every query it
makes is scoped by ``principal.organization_id``: tenancy is decided here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from psabridge.hub.orgs import authenticate_token
from psabridge.web.deps import DbSession


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the organization it acts for, its role, and the user (None for tokens)."""

    organization_id: int
    role: str
    user_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class NotAuthenticated(Exception):
    """No valid credentials: answered with 401 and ``WWW-Authenticate: Bearer`` (see ``web.problems``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotAllowed(Exception):
    """Authenticated but the role may not do this: answered with 403."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _session_principal(request: Request, db: DbSession) -> Principal | None:
    """The signed-in Admin Hub user of this browser (session cookie), if any.

    Unsafe methods are only accepted when ``CSRFMiddleware`` verified the request's origin and token:
    otherwise any site could make a signed-in browser call the API.
    """
    from psabridge.auth.sessions import SESSION_COOKIE, load_session

    record = load_session(db, request.cookies.get(SESSION_COOKIE))
    if record is None:
        return None
    if request.method not in ("GET", "HEAD", "OPTIONS") and not getattr(
        request.state, "csrf_verified", False
    ):
        raise NotAllowed("Cookie-authenticated changes need the X-CSRF-Token header of the session.")
    return Principal(
        organization_id=record.user.organization_id, role=record.user.role, user_id=record.user_id
    )


def get_principal(request: Request, db: DbSession) -> Principal:
    """The caller, from its Bearer API token or (browser) the Admin Hub session cookie; 401 otherwise.

    A request with an Authorization header is judged by that header only, never by the cookie.
    """
    token = bearer_token(request)
    if token is None and not request.headers.get("authorization"):
        session_principal = _session_principal(request, db)
        if session_principal is not None:
            request.state.principal = session_principal
            return session_principal
    if token is None:
        if request.headers.get("authorization"):
            raise NotAuthenticated("The Authorization header must be 'Bearer <API token>'.")
        raise NotAuthenticated("Authentication required: send 'Authorization: Bearer <API token>'.")
    record = authenticate_token(db, token)
    if record is None:
        raise NotAuthenticated("The API token is not valid (unknown or revoked).")
    principal = Principal(organization_id=record.organization_id, role=record.role)
    request.state.principal = principal
    return principal


def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """The caller if it has the admin role; viewers get 403."""
    if not principal.is_admin:
        raise NotAllowed("This needs an admin token; the token used has the viewer role.")
    return principal


Reader = Annotated[Principal, Depends(get_principal)]
Admin = Annotated[Principal, Depends(require_admin)]
