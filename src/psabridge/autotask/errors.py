"""One documented error hierarchy for everything the Autotask client can raise.

Why one hierarchy: the sync engine must tell apart "Autotask said no" (validation, permission — never
retry, report to the user), "Autotask did not take it" (rate/thread limit — safe to retry later) and
"we do not know whether Autotask took it" (:class:`OutcomeUnknownError` — reconcile by reading before
any retry). Messages never contain the API secret: no request headers are ever copied into an error.

::

    AutotaskError
    ├── AuthenticationError          401 (or a 500 saying the credentials are wrong), after zone re-discovery
    ├── AutotaskPermissionError      403, or a 500 whose messages say the user may not do this
    ├── NotFoundError                404 (unknown route or record)
    ├── AutotaskValidationError      500 with an ``errors`` list: Autotask rejected the request (``.messages``)
    │   └── ReferenceNotFoundError   ... and the message is "Unable to find ..." (also a NotFoundError)
    ├── InvalidQueryError            a filter we refuse to send (bad operator, two UDF conditions, > 500 ORs)
    ├── UnsupportedOperationError    405, or the registry says the entity lacks the verb (raised before sending)
    ├── RateLimitError               429 or ``Itgenatr005`` thread limit (rejected before execution)
    ├── BudgetExhaustedError         our own hourly API budget cap is reached (pause, resume at ``resume_at``)
    ├── AutotaskServerError          other 5xx for a read, or a 5xx for a write known not to have been applied
    ├── OutcomeUnknownError          a write whose result was not received (carries entity, verb, body)
    ├── ZoneDiscoveryError           zoneInformation failed
    └── AutotaskConnectionError      transport failure of a read (or a write that never left the machine)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class AutotaskError(Exception):
    """Base class of every error raised by :mod:`psabridge.autotask`."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        entity: str | None = None,
        verb: str | None = None,
        messages: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.entity = entity
        self.verb = verb
        self.messages: list[str] = list(messages or [])

    def __str__(self) -> str:
        where = f"{self.verb} {self.entity}: " if self.entity and self.verb else ""
        status = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        return f"{where}{self.message}{status}"


class AuthenticationError(AutotaskError):
    """The username, secret or integration code were refused (after one zone re-discovery)."""


class AutotaskPermissionError(AutotaskError):
    """The API user's security level does not allow this entity or verb."""


class NotFoundError(AutotaskError):
    """The route or the record does not exist (or is not visible to the API user)."""


class AutotaskValidationError(AutotaskError):
    """Autotask rejected the request with HTTP 500 and an ``errors`` list (see :attr:`messages`)."""


class ReferenceNotFoundError(AutotaskValidationError, NotFoundError):
    """A 500 "Unable to find ..." — a referenced record or a queried field does not exist.

    It is both a validation error (the request was wrong) and a not-found error, so callers catching
    either see it.
    """


class InvalidQueryError(AutotaskError, ValueError):
    """A filter the client refuses to send because Autotask would silently misread or reject it."""


class UnsupportedOperationError(AutotaskError):
    """The entity does not offer this verb (registry refusal before sending, or HTTP 405)."""


class RateLimitError(AutotaskError):
    """HTTP 429 or the ``Itgenatr005`` thread-limit error: the request was not executed."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class BudgetExhaustedError(AutotaskError):
    """Our configured share of the tenant's hourly API budget is used up.

    The sync engine catches it to pause and resume after :attr:`resume_at` (UTC). Nothing was sent.
    """

    def __init__(self, message: str, *, resume_at: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.resume_at = resume_at


BudgetExhausted = BudgetExhaustedError


class AutotaskServerError(AutotaskError):
    """An Autotask server failure (5xx) of a read, or of a write known not to have been applied."""


class OutcomeUnknownError(AutotaskError):
    """A write (create/update/replace/delete) was sent but its result was not received.

    Autotask may or may not have applied it. The caller must reconcile by reading Autotask before any
    retry; :attr:`entity`, :attr:`verb`, :attr:`body` (and :attr:`parent_id`) say what was attempted.
    """

    def __init__(
        self,
        message: str,
        *,
        body: dict[str, Any] | None = None,
        parent_id: int | None = None,
        record_id: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.body = body
        self.parent_id = parent_id
        self.record_id = record_id


class ZoneDiscoveryError(AutotaskError):
    """``zoneInformation`` did not yield a usable API address for the username."""


class AutotaskConnectionError(AutotaskError):
    """The request could not be completed at the transport level (and was safe to report as failed)."""


__all__ = [
    "AuthenticationError",
    "AutotaskConnectionError",
    "AutotaskError",
    "AutotaskPermissionError",
    "AutotaskServerError",
    "AutotaskValidationError",
    "BudgetExhausted",
    "BudgetExhaustedError",
    "InvalidQueryError",
    "NotFoundError",
    "OutcomeUnknownError",
    "RateLimitError",
    "ReferenceNotFoundError",
    "UnsupportedOperationError",
    "ZoneDiscoveryError",
]
