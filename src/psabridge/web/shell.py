"""Installs the Admin Hub shell on the application: static files, security middleware, error pages,
and the login, home, Billing Hub and Users pages."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from psabridge.auth.throttle import LoginThrottle
from psabridge.web.errors import install_error_handlers, refuse_csrf
from psabridge.web.http_methods import HeadAsGetMiddleware
from psabridge.web.security import CSRFMiddleware, SecurityHeadersMiddleware
from psabridge.web.templating import STATIC_DIR


def install_web_shell(app: FastAPI) -> None:
    """Call once from ``create_app``; routers of other areas may be included before or after."""
    from psabridge.web.billing_pages import router as billing_router
    from psabridge.web.login import router as login_router
    from psabridge.web.users_pages import account_router
    from psabridge.web.users_pages import router as users_router

    app.state.login_throttle = LoginThrottle()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Middleware added last runs first: headers wrap everything, including CSRF refusals.
    app.add_middleware(CSRFMiddleware, refuse=refuse_csrf)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(HeadAsGetMiddleware)
    install_error_handlers(app)
    app.include_router(login_router)
    app.include_router(billing_router)
    app.include_router(users_router)
    app.include_router(account_router)
