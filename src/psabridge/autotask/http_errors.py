"""Turning Autotask HTTP answers and transport failures into :mod:`psabridge.autotask.errors`.

Why separate: the mapping is the subtle part of talking to Autotask (most failures are HTTP 500 with
an ``errors`` list, whose wording decides between "you sent something wrong", "you may not" and
"the server broke"), and whether a failed *write* may have been applied. Kept pure so it is testable.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from psabridge.autotask.errors import (
    AuthenticationError,
    AutotaskConnectionError,
    AutotaskError,
    AutotaskPermissionError,
    AutotaskServerError,
    AutotaskValidationError,
    BudgetExhaustedError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ReferenceNotFoundError,
    UnsupportedOperationError,
)

THREAD_LIMIT_CODE = "itgenatr005"
#: Autotask's answer to more than 3 concurrent requests per integration code and endpoint: "Thread
#: Threshold Exceeded" with code Itgenatr005, not always with status 429 (also 500). It was rejected
#: before execution, so even a write may be retried; recognised by its wording at any status, and before
#: the hourly-threshold wording (which also says "threshold").
_THREAD_LIMIT_HINTS = (
    THREAD_LIMIT_CODE,
    "thread threshold",
    "thread limit",
    "concurrent request",
    "too many requests",
)
#: Wording of the answer when the whole database is over its hourly threshold (not a thread limit):
#: retrying within seconds is pointless, the caller must pause.
_BLOCKED_HINTS = ("request threshold", "requests per hour", "threshold has been exceeded")
_PERMISSION_HINTS = (
    "permission",
    "not authorized",
    "not authorised",
    "access denied",
    "security level",
    "not allowed to",
    "does not have access",
)
_AUTH_HINTS = ("authenticat", "invalid credentials", "invalid user", "user is not valid", "secret")
_SERVER_HINTS = (
    "internal server error",
    "unexpected error",
    "an error has occurred",
    "object reference not set",
    "service unavailable",
    "timeout expired",
)

#: Transport failures raised before any byte of the request reached Autotask: safe to retry, even writes.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class NotSentConnectionError(AutotaskConnectionError):
    """The connection could not be established: Autotask never saw the request (retryable for writes)."""


def error_messages(response: httpx.Response) -> list[str]:
    """The ``errors`` list of an Autotask error body (also ``Message``/``message`` of ASP.NET errors)."""
    try:
        data: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = response.text.strip()
        return [text[:500]] if text else []
    out: list[str] = []
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list):
            out.extend(str(e) for e in errors if e not in (None, ""))
        elif isinstance(errors, str) and errors:
            out.append(errors)
        for key in ("Message", "message", "title"):
            if not out and isinstance(data.get(key), str):
                out.append(data[key])
    return out


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (only the delta-seconds form Autotask uses)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _has(messages: list[str], hints: tuple[str, ...]) -> bool:
    lowered = " ".join(messages).lower()
    return any(h in lowered for h in hints)


def error_for_response(
    response: httpx.Response,
    *,
    entity: str,
    verb: str,
    write: bool,
    body: dict[str, Any] | None = None,
    parent_id: int | None = None,
) -> AutotaskError:
    """The error an unsuccessful (non-2xx) Autotask answer stands for."""
    status = response.status_code
    messages = error_messages(response)
    detail = "; ".join(messages) or response.reason_phrase or "no details"
    common: dict[str, Any] = {"status_code": status, "entity": entity, "verb": verb, "messages": messages}
    if _has(messages, _THREAD_LIMIT_HINTS):
        return RateLimitError(
            f"Autotask thread limit: {detail}", retry_after=retry_after_seconds(response), **common
        )
    if status == 429 and _has(messages, _BLOCKED_HINTS):
        wait = retry_after_seconds(response) or 60.0
        return BudgetExhaustedError(
            f"the tenant's hourly API threshold is exceeded: {detail}",
            resume_at=datetime.now(UTC) + timedelta(seconds=wait),
            **common,
        )
    if status == 429:
        return RateLimitError(
            f"Autotask rate/thread limit: {detail}", retry_after=retry_after_seconds(response), **common
        )
    if status == 401:
        return AuthenticationError(f"Autotask refused the credentials: {detail}", **common)
    if status == 403:
        return AutotaskPermissionError(f"the API user may not do this: {detail}", **common)
    if status == 404:
        return NotFoundError(f"not found: {detail}", **common)
    if status == 405:
        return UnsupportedOperationError(f"Autotask does not allow this verb here: {detail}", **common)
    if status == 500 and messages and not _has(messages, _SERVER_HINTS):
        if _has(messages, _PERMISSION_HINTS):
            return AutotaskPermissionError(f"the API user may not do this: {detail}", **common)
        if _has(messages, _AUTH_HINTS) and not write:
            return AuthenticationError(f"Autotask refused the credentials: {detail}", **common)
        if "unable to find" in detail.lower():
            return ReferenceNotFoundError(
                f"Autotask could not find a referenced record or field: {detail}", **common
            )
        return AutotaskValidationError(f"Autotask rejected the request: {detail}", **common)
    if 400 <= status < 500:
        return AutotaskValidationError(f"Autotask rejected the request: {detail}", **common)
    # A server failure (5xx other than a validation 500): a write may or may not have been applied.
    if write:
        return OutcomeUnknownError(
            f"Autotask failed while processing the write ({detail}); it may or may not have been applied",
            body=body,
            parent_id=parent_id,
            **common,
        )
    return AutotaskServerError(f"Autotask server error: {detail}", **common)


def error_for_transport(
    exc: httpx.TransportError,
    *,
    entity: str,
    verb: str,
    write: bool,
    body: dict[str, Any] | None = None,
    parent_id: int | None = None,
) -> AutotaskError:
    """The error a transport failure stands for (never including the request headers)."""
    kind = type(exc).__name__
    if isinstance(exc, NOT_SENT_ERRORS):
        return NotSentConnectionError(f"could not reach Autotask ({kind})", entity=entity, verb=verb)
    if write:
        return OutcomeUnknownError(
            f"the answer to the write was not received ({kind}); it may or may not have been applied",
            entity=entity,
            verb=verb,
            body=body,
            parent_id=parent_id,
        )
    return AutotaskConnectionError(f"the request to Autotask failed ({kind})", entity=entity, verb=verb)


__all__ = [
    "NOT_SENT_ERRORS",
    "NotSentConnectionError",
    "error_for_response",
    "error_for_transport",
    "error_messages",
    "retry_after_seconds",
]
