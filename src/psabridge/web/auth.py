"""FastAPI dependencies for the Admin Hub: who is signed in, and may they change things.

``current_user`` (any active user of an organization) and ``require_admin_user`` (admins only; viewers
get a friendly 403 page). Both put the user and session on ``request.state`` so the layout can show the
organization, the user menu and the CSRF token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from psabridge.auth.models import User, WebSession
from psabridge.auth.sessions import SESSION_COOKIE, load_session
from psabridge.web.deps import DbSession
from psabridge.web.errors import AdminRequired, LoginRequired
from psabridge.web.templating import OrganizationView, SignedIn


def session_from_request(request: Request, db: DbSession) -> WebSession | None:
    """The live session of this browser (or None), remembered on ``request.state``."""
    cached: WebSession | None = getattr(request.state, "web_session", None)
    if cached is not None:
        return cached
    record = load_session(db, request.cookies.get(SESSION_COOKIE))
    if record is not None:
        request.state.web_session = record
        user = record.user
        org = user.organization
        request.state.signed_in = SignedIn(
            id=user.id,
            email=user.email,
            role=user.role,
            organization=OrganizationView(id=org.id, name=org.name, slug=org.slug),
            csrf_token=record.csrf_token,
        )
    return record


def optional_user(request: Request, db: DbSession) -> User | None:
    """The signed-in user, or None (for pages such as the login form)."""
    record = session_from_request(request, db)
    return record.user if record is not None else None


def current_user(request: Request, db: DbSession) -> User:
    """The signed-in user; otherwise the browser is sent to the login page (401 under /api)."""
    user = optional_user(request, db)
    if user is None:
        raise LoginRequired()
    return user


def require_admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    """The signed-in user if an admin; viewers get the 403 'Admins only' page."""
    if not user.is_admin:
        raise AdminRequired()
    return user


CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(require_admin_user)]
