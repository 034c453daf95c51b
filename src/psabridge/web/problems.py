"""Errors of the REST API as RFC 9457 ``application/problem+json``, each naming the offending field.

One table (:data:`HANDLERS`) answers every error an ``/api`` route can raise: domain errors of the billing
hub and of the sync engine, request validation, authentication, database constraint and range errors
(409/422, never a 500), Autotask failures (502, or 503 with ``Retry-After`` when its API limit is
reached, always saying what to check), HTTP errors of the framework (404, 405 with the right ``Allow``,
413) and, last, anything unexpected (a 500 problem without internals). Routes outside ``/api`` (the Admin
Hub pages) keep their own HTML handlers (``psabridge.web.errors``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from psabridge.autotask.errors import AutotaskError, BudgetExhaustedError, RateLimitError
from psabridge.connectors.errors import ConnectorError, SettingsValidationError, explain_api_error
from psabridge.hub.errors import ConflictError, HubError, ImportFailed, InvalidRecord, RecordNotFound
from psabridge.web.principal import NotAllowed, NotAuthenticated

log = logging.getLogger(__name__)

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


# --- one function per kind of error -------------------------------------------------------------------
def _hub_error(exc: HubError) -> JSONResponse:
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
    errors = [e.as_dict() for e in exc.errors]
    if isinstance(exc, ImportFailed):
        return problem(status, exc.title, exc.detail, errors=errors, total_errors=exc.total)
    return problem(status, exc.title, exc.detail, errors=errors)


def _unauthenticated(exc: NotAuthenticated) -> JSONResponse:
    return problem(
        401,
        "Not authenticated",
        exc.detail,
        errors=[{"field": "Authorization", "message": exc.detail}],
        headers={"WWW-Authenticate": "Bearer"},
    )


def _forbidden(exc: NotAllowed) -> JSONResponse:
    return problem(403, "Not allowed", exc.detail, errors=[{"field": "role", "message": exc.detail}])


def _integrity(exc: IntegrityError) -> JSONResponse:
    text = str(exc.orig).lower()
    field = "external_id" if "external_id" in text else "body"
    message = (
        "already used by another record of this type"
        if "unique" in text or "duplicate" in text
        else "violates a database constraint"
    )
    return problem(409, "Conflict", f"{field}: {message}", errors=[{"field": field, "message": message}])


def _out_of_range(_exc: Exception) -> JSONResponse:
    """A value the database cannot hold (a number past its integer range, NUL in text on PostgreSQL)
    that a field rule missed: the request is refused, nothing is written."""
    message = "a value is out of range or contains characters the database cannot store"
    return problem(422, "Invalid input", message, errors=[{"field": "body", "message": message}])


def _sync_error(exc: Exception) -> JSONResponse:
    from psabridge.sync.service import HubRecordMissing, LinkRefused

    detail = str(exc)
    kind = getattr(exc, "kind", None)  # a followed job's failure (psabridge.jobs.service.JobError)
    if kind == "broker":
        return problem(503, "Service Unavailable", detail, errors=[{"field": "broker", "message": detail}])
    if kind == "autotask":
        return problem(502, "Bad Gateway", detail, errors=[{"field": "autotask", "message": detail}])
    if isinstance(exc, HubRecordMissing):
        return problem(404, "Not found", detail, errors=[{"field": "hub_id", "message": detail}])
    field = "autotask_id" if isinstance(exc, LinkRefused) else "sync"
    return problem(409, "Conflict", detail, errors=[{"field": field, "message": detail}])


def _autotask_error(exc: AutotaskError) -> JSONResponse:
    """Autotask failed: 503 with ``Retry-After`` when its API limit (or our budget cap) is reached, else
    502; the detail says what to check, never the raw exception text."""
    if isinstance(exc, BudgetExhaustedError):
        resume = getattr(exc, "resume_at", None)
        wait = max(1, int((resume - datetime.now(UTC)).total_seconds())) if resume else 60
        detail = (
            "The hourly Autotask API budget cap of this server is reached; nothing more was sent. "
            "Retry after the time in Retry-After, or raise PSABRIDGE_AUTOTASK_HOURLY_BUDGET_CAP."
        )
        return _autotask_problem(503, detail, {"Retry-After": str(wait)})
    explained = explain_api_error(exc, action="answer this request").message
    if isinstance(exc, RateLimitError):
        wait = int(getattr(exc, "retry_after", None) or 60)
        return _autotask_problem(503, explained, {"Retry-After": str(max(1, wait))})
    return _autotask_problem(
        502, explained + " Check the connector's credentials and Autotask's status page (Integrations).", None
    )


def _autotask_problem(status: int, detail: str, headers: dict[str, str] | None) -> JSONResponse:
    return problem(
        status,
        "Autotask failed" if status == 502 else "Autotask unavailable",
        detail,
        errors=[{"field": "autotask", "message": detail}],
        headers=headers,
    )


def connector_problem(exc: ConnectorError) -> JSONResponse:
    if isinstance(exc, SettingsValidationError):
        errors = [{"field": name, "message": reason} for name, reason in exc.errors.items()]
    else:
        errors = [{"field": exc.field or "autotask", "message": exc.message}]
    if exc.upstream:
        return problem(502, "Autotask failed", exc.message, errors=errors)
    return problem(422, "Refused", exc.message, errors=errors)


def _body_unreadable(exc: BaseException | None) -> str:
    """Why FastAPI could not parse a JSON body, in words (it only says 'error parsing the body')."""
    if isinstance(exc, RecursionError):
        return "the JSON body is nested too deeply"
    if isinstance(exc, ValueError) and "digits" in str(exc):
        return "the JSON body holds a number with too many digits"
    return "the body could not be read as JSON"


def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Framework HTTP errors as problems: unknown address 404, wrong method 405 (``Allow`` lists every
    method the address has), unreadable body 400, too large 413."""
    from psabridge.web.http_methods import allowed_methods

    status = exc.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    headers = dict(exc.headers or {})
    field = "body"
    if status == 404 and detail == phrase:
        detail, field = f"There is no API address {request.url.path}.", "path"
    elif status == 405:
        methods = allowed_methods(request)
        headers["Allow"] = ", ".join(methods)
        detail, field = f"{request.method} is not allowed here; use {' or '.join(methods)}.", "method"
    elif status == 400 and detail == "There was an error parsing the body":
        detail = _body_unreadable(exc.__cause__)
    elif status == 413:
        detail = detail if detail != phrase else "The request body is too large."
    return problem(status, phrase, detail, errors=[{"field": field, "message": detail}], headers=headers)


def _as_page(request: Request, response: JSONResponse) -> Response:
    """The same problem for a person on an Admin Hub page: the error page in the site's layout."""
    import json

    from psabridge.web.errors import error_page

    body = json.loads(bytes(response.body))
    page = error_page(request, response.status_code, str(body["title"]), str(body["detail"]))
    for name in ("retry-after", "allow"):
        if name in response.headers:
            page.headers[name] = response.headers[name]
    return page


Handler = Callable[[Any], JSONResponse]

#: Every error an API route can raise, most specific first (``isinstance`` order matters).
HANDLERS: list[tuple[type[Exception], Handler]] = [
    (HubError, _hub_error),
    (NotAuthenticated, _unauthenticated),
    (NotAllowed, _forbidden),
    (IntegrityError, _integrity),
    (DataError, _out_of_range),
    (OverflowError, _out_of_range),
    (ConnectorError, connector_problem),
    (AutotaskError, _autotask_error),
]


def install_problem_handlers(app: FastAPI) -> None:
    """Register the table on ``app`` (the sync engine's errors too, imported lazily: it sits above)."""
    from psabridge.sync.service import SyncError

    def wrap(handler: Handler) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handle(request: Request, exc: Exception) -> Response:
            if isinstance(exc, (DataError, OverflowError)):
                log.info("refused a value the database cannot hold on %s: %s", request.url.path, type(exc))
            response = handler(exc)
            if request.url.path.startswith("/api/"):
                return response
            return _as_page(request, response)

        return handle

    table: list[tuple[type[Exception], Handler]] = [*HANDLERS, (SyncError, _sync_error)]
    for exc_type, handler in table:
        app.add_exception_handler(exc_type, wrap(handler))

    async def request_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc)
        fields = ", ".join(sorted({e["field"] for e in errors}))
        if not request.url.path.startswith("/api/"):
            if request.method in ("GET", "HEAD"):  # a page's address (?page=-1): an error page
                from psabridge.web.errors import error_page

                message = f"Invalid value for: {fields} (a page number from 1, a page size up to 200)."
                return error_page(request, 422, "Invalid address", message)
            return await request_validation_exception_handler(request, exc)
        return problem(422, "Invalid input", f"Invalid value for: {fields}.", errors=errors)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        detail = "The server failed to answer this request; the error was logged. Try again later."
        response = problem(
            500, "Internal Server Error", detail, errors=[{"field": "server", "message": detail}]
        )
        return response if request.url.path.startswith("/api/") else _as_page(request, response)

    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(Exception, unexpected)
