"""Errors of the REST API as RFC 9457 ``application/problem+json``, each naming the offending field.

Installed once on the app: domain errors of the billing hub, request validation errors, authentication
failures and database constraint violations (a race the service checks missed) all become problems with
``errors: [{field, message}]``; a constraint violation is a 409, never a 500. Routes outside ``/api``
(the Admin Hub pages) keep their own handlers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError

from psabridge.hub.errors import ConflictError, HubError, ImportFailed, InvalidRecord, RecordNotFound
from psabridge.web.principal import NotAllowed, NotAuthenticated

PROBLEM_JSON = "application/problem+json"

_STATUS: list[tuple[type[HubError], int]] = [
    (RecordNotFound, 404),
    (ConflictError, 409),
    (ImportFailed, 422),
    (InvalidRecord, 422),
]


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response; ``errors`` lists ``{field, message[, line]}``."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_of(loc: tuple[Any, ...]) -> str:
    """``("body", "phone")`` -> ``"phone"``; ``("query", "limit")`` -> ``"limit"``; list rows keep indexes."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "form"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        message = str(err.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        out.append({"field": _field_of(tuple(err.get("loc", ()))), "message": message})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on ``app``."""

    async def hub_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HubError)
        status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
        return problem(status, exc.title, exc.detail, errors=[e.as_dict() for e in exc.errors])

    async def request_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, exc)
        errors = validation_errors(exc)
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem(422, "Invalid input", f"Invalid value for: {fields}.", errors=errors)

    async def unauthenticated(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NotAuthenticated)
        return problem(
            401,
            "Not authenticated",
            exc.detail,
            errors=[{"field": "Authorization", "message": exc.detail}],
            headers={"WWW-Authenticate": "Bearer"},
        )

    async def forbidden(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NotAllowed)
        return problem(403, "Not allowed", exc.detail, errors=[{"field": "role", "message": exc.detail}])

    async def integrity(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, IntegrityError)
        text = str(exc.orig).lower()
        field = "external_id" if "external_id" in text else "body"
        message = (
            "already used by another record of this type"
            if "unique" in text or "duplicate" in text
            else "violates a database constraint"
        )
        return problem(409, "Conflict", f"{field}: {message}", errors=[{"field": field, "message": message}])

    app.add_exception_handler(HubError, hub_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(NotAuthenticated, unauthenticated)
    app.add_exception_handler(NotAllowed, forbidden)
    app.add_exception_handler(IntegrityError, integrity)
