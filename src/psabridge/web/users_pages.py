"""Users tab: admins add users to their own organization, change roles and (de)activate them.

Viewers may see who has access but every change is admin-only. A user id from another organization
is answered 404, the same as an unknown id.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from psabridge.auth.models import USER_ROLES, User
from psabridge.auth.sessions import start_session
from psabridge.auth.users import (
    UserError,
    change_role,
    create_user,
    get_org_user,
    list_users,
    set_active,
    set_password,
)
from psabridge.security.crypto import verify_password
from psabridge.web.auth import AdminUser, CurrentUser
from psabridge.web.deps import AppSettings, DbSession, PathId
from psabridge.web.login import login_throttle, set_session_cookie
from psabridge.web.templating import templates

log = logging.getLogger(__name__)
router = APIRouter(prefix="/users", include_in_schema=False)


def _render(
    request: Request,
    db: DbSession,
    user: User,
    *,
    error: UserError | None = None,
    form: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    return templates.TemplateResponse(
        request,
        "users/list.html",
        {
            "active_tab": "users",
            "users": list_users(db, user.organization_id),
            "roles": USER_ROLES,
            "error": error,
            "error_text": _error_text(error) if error else None,
            "form": form or {"email": "", "role": "viewer"},
            "notice": notice,
        },
        status_code=400 if error else 200,
    )


#: How the form's fields are called on the page (an error never shows a raw field name).
FIELD_LABELS = {"email": "E-mail", "password": "Initial password", "role": "Role", "is_active": "Status"}


def _error_text(error: UserError) -> str:
    """``password: must have ...`` as the page says it: "Initial password: must have ...", the message
    itself untouched (capitalising it would lower-case e-mail addresses and names)."""
    label = FIELD_LABELS.get(error.field, "This change")
    message = error.message.rstrip(".")
    return f"{label}: {message}."


@router.get("")
def users_page(request: Request, db: DbSession, user: CurrentUser, notice: str | None = None) -> Response:
    return _render(request, db, user, notice=notice)


def _target(db: DbSession, admin: User, user_id: int) -> User:
    target = get_org_user(db, admin.organization_id, user_id)
    if target is None:
        raise HTTPException(status_code=404, detail="No such user")
    return target


def _done(notice: str) -> Response:
    from urllib.parse import quote

    return RedirectResponse(f"/users?notice={quote(notice)}", status_code=303)


@router.post("")
def add_user(
    request: Request,
    db: DbSession,
    admin: AdminUser,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    role: Annotated[str, Form(max_length=20)] = "viewer",
) -> Response:
    try:
        created = create_user(db, admin.organization_id, email=email, password=password, role=role)
    except UserError as exc:
        db.rollback()
        return _render(request, db, admin, error=exc, form={"email": email, "role": role})
    db.commit()
    log.info("%s added user %s (%s)", admin.email, created.email, created.role)
    return _done(f"Added {created.email} as {created.role}.")


@router.post("/{user_id}/role")
def set_role(
    request: Request,
    user_id: PathId,
    db: DbSession,
    admin: AdminUser,
    role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    target = _target(db, admin, user_id)
    try:
        change_role(db, target, role)
    except UserError as exc:
        db.rollback()
        return _render(request, db, admin, error=exc)
    db.commit()
    log.info("%s set role of %s to %s", admin.email, target.email, role)
    return _done(f"{target.email} is now {role}.")


@router.post("/{user_id}/deactivate")
def deactivate(
    request: Request,
    user_id: PathId,
    db: DbSession,
    admin: AdminUser,
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Deactivation signs the user out everywhere: the row's button first asks for confirmation (a
    page, since the CSP allows no inline script), and only ``confirm=yes`` from that page acts."""
    target = _target(db, admin, user_id)
    try:
        set_active(db, target, False)
    except UserError as exc:
        db.rollback()
        return _render(request, db, admin, error=exc)
    if confirm != "yes":
        db.rollback()  # only checked that it may be done
        return templates.TemplateResponse(
            request, "users/confirm_deactivate.html", {"active_tab": "users", "target": target}
        )
    db.commit()
    log.info("%s deactivated %s", admin.email, target.email)
    return _done(f"{target.email} is deactivated and signed out.")


@router.post("/{user_id}/activate")
def activate(user_id: PathId, db: DbSession, admin: AdminUser) -> Response:
    target = _target(db, admin, user_id)
    set_active(db, target, True)
    db.commit()
    log.info("%s reactivated %s", admin.email, target.email)
    return _done(f"{target.email} can sign in again.")


# --- the signed-in user's own password ---------------------------------------------------------------
account_router = APIRouter(prefix="/me", include_in_schema=False)


def _password_form(request: Request, *, error: str | None = None, done: bool = False) -> Response:
    return templates.TemplateResponse(
        request,
        "users/password.html",
        {"active_tab": "", "error": error, "done": done},
        status_code=400 if error else 200,
    )


@account_router.get("/password")
def password_page(request: Request, user: CurrentUser, done: bool = False) -> Response:
    return _password_form(request, done=done)


@account_router.post("/password")
def change_password(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    user: CurrentUser,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    confirm_password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Change one's own password: every other signed-in browser of this user is signed out.

    Guessing the current password here is throttled like sign-in (same counters): a stolen session
    must not become a way to try passwords at network speed."""
    throttle = login_throttle(request)
    client_ip = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(user.email, client_ip)
    if wait:
        minutes = -(-wait // 60)
        response = _password_form(
            request,
            error=f"Too many wrong passwords. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
        )
        response.status_code = 429
        response.headers["Retry-After"] = str(wait)
        return response
    if not verify_password(user.password_hash, current_password):
        throttle.failed(user.email, client_ip)
        log.info("wrong current password for %s from %s", user.email, client_ip)
        return _password_form(request, error="The current password is wrong.")
    throttle.succeeded(user.email)
    if new_password != confirm_password:
        return _password_form(request, error="The new password and its confirmation differ.")
    try:
        set_password(db, user, new_password)
    except UserError as exc:
        db.rollback()
        return _password_form(request, error=f"New password {exc.message}.")
    fresh = start_session(db, user, timedelta(minutes=settings.session_ttl_minutes))
    db.commit()
    log.info("%s changed their password", user.email)
    response = RedirectResponse("/me/password?done=true", status_code=303)
    set_session_cookie(request, response, fresh.token, settings.session_ttl_minutes)
    return response
