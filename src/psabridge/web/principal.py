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


def get_principal(request: Request, db: DbSession) -> Principal:
    """The caller, from its Bearer API token; 401 when the token is missing, unknown or revoked."""
    token = bearer_token(request)
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
