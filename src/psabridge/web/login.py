"""Login, logout and the Admin Hub home page."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from psabridge.auth.models import User
from psabridge.auth.sessions import SESSION_COOKIE, authenticate, end_session, start_session
from psabridge.auth.throttle import LoginThrottle
from psabridge.hub.models import Account, BillingContract
from psabridge.hub.validation import text_problem
from psabridge.web.auth import CurrentUser, optional_user
from psabridge.web.deps import AppSettings, DbSession
from psabridge.web.security import PRELOGIN_CSRF_COOKIE
from psabridge.web.templating import templates

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

LOGIN_FAILED = "Wrong e-mail or password."


def safe_next(target: str | None) -> str:
    """Only local paths: a login link must not bounce the user to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_form(request: Request, *, next_url: str, email: str = "", error: str | None = None) -> Response:
    csrf = request.cookies.get(PRELOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    request.state.csrf_token = csrf
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"next_url": next_url, "email": email, "error": error},
        status_code=400 if error else 200,
    )
    response.set_cookie(
        PRELOGIN_CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        # Not a credential (only pairs the form with this browser), so plain http may carry it.
        secure=request.url.scheme == "https",
        max_age=3600,
    )
    return response


def login_throttle(request: Request) -> LoginThrottle:
    """The process's password-guessing throttle (shared by sign-in and "Change password")."""
    throttle: LoginThrottle | None = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        throttle = request.app.state.login_throttle = LoginThrottle()
    return throttle


def set_session_cookie(request: Request, response: Response, token: str, ttl_minutes: int) -> None:
    """The session cookie: unreadable by scripts, not sent on cross-site POSTs, https-only if configured."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        max_age=ttl_minutes * 60,
        path="/",
    )


def _secure(request: Request) -> bool:
    settings = request.app.state.settings
    return bool(settings.secure_cookies) or request.url.scheme == "https"


@router.get("/login")
def login_page(request: Request, db: DbSession, next: str | None = None) -> Response:
    if optional_user(request, db) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, next_url=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    if text_problem(email) is not None:
        # Never reaches the database: PostgreSQL refuses NUL in text, and no address holds one.
        return _login_form(
            request,
            next_url=safe_next(next),
            error="The e-mail address contains characters no e-mail address has (control characters).",
        )
    address = email.strip().lower()[:254]
    client_ip = request.client.host if request.client else "unknown"
    throttle = login_throttle(request)
    wait = throttle.retry_after(address, client_ip)
    if wait:
        log.warning("sign-in for %s from %s refused: too many failures", address, client_ip)
        minutes = -(-wait // 60)
        response = _login_form(
            request,
            next_url=safe_next(next),
            email=email,
            error=f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
        )
        response.status_code = 429
        response.headers["Retry-After"] = str(wait)
        return response
    user = authenticate(db, email, password)
    if user is None:
        throttle.failed(address, client_ip)
        log.info("failed sign-in for %s from %s", address, client_ip)
        db.commit()
        return _login_form(request, next_url=safe_next(next), email=email, error=LOGIN_FAILED)
    throttle.succeeded(address)
    # Any previous session of this browser is dropped: a fresh token after login prevents fixation.
    end_session(db, request.cookies.get(SESSION_COOKIE))
    new = start_session(db, user, timedelta(minutes=settings.session_ttl_minutes))
    db.commit()
    log.info("user %s signed in", user.email)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, new.token, settings.session_ttl_minutes)
    response.delete_cookie(PRELOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, db: DbSession) -> Response:
    end_session(db, request.cookies.get(SESSION_COOKIE))
    db.commit()
    response = RedirectResponse("/login?logged_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
def home(request: Request, db: DbSession, user: CurrentUser) -> Response:
    org_id = user.organization_id
    counts = {
        "accounts": db.scalar(select(func.count(Account.id)).where(Account.organization_id == org_id)) or 0,
        "contracts": db.scalar(
            select(func.count(BillingContract.id)).where(BillingContract.organization_id == org_id)
        )
        or 0,
        "users": db.scalar(select(func.count(User.id)).where(User.organization_id == org_id)) or 0,
    }
    return templates.TemplateResponse(request, "home.html", {"counts": counts, "active_tab": ""})
