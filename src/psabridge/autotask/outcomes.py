"""One table of what an Autotask error means for the request that raised it.

Both the client's retry decision and the sync's journal read it, so "may this be sent again?" and "did
it happen?" are decided in one place:

* ``not_sent``: Autotask never executed the request (thread limit, connection never established, our own
  budget cap, a call the description does not offer): nothing happened; some of these may be retried.
* ``refused``: Autotask answered that it did not do it (validation, permission, not found, credentials):
  nothing to retry blindly; the user sees Autotask's message.
* ``unknown``: it may or may not have been applied (a lost answer, a 5xx while writing): the journal
  reconciles it by reading Autotask before anything is sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from psabridge.autotask.errors import (
    AuthenticationError,
    AutotaskConnectionError,
    AutotaskPermissionError,
    AutotaskServerError,
    AutotaskValidationError,
    BudgetExhaustedError,
    InvalidQueryError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    UnsupportedOperationError,
    ZoneDiscoveryError,
)
from psabridge.autotask.http_errors import NotSentConnectionError


class Outcome(StrEnum):
    NOT_SENT = "not_sent"
    REFUSED = "refused"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ErrorRule:
    """What one kind of error means: whether the request happened, and whether it may be sent again."""

    error: type[BaseException]
    outcome: Outcome
    retry_reads: bool
    retry_writes: bool


#: First matching row wins (subclasses before their bases).
TABLE: tuple[ErrorRule, ...] = (
    ErrorRule(BudgetExhaustedError, Outcome.NOT_SENT, retry_reads=False, retry_writes=False),  # pause
    ErrorRule(UnsupportedOperationError, Outcome.NOT_SENT, retry_reads=False, retry_writes=False),
    ErrorRule(InvalidQueryError, Outcome.NOT_SENT, retry_reads=False, retry_writes=False),
    ErrorRule(ZoneDiscoveryError, Outcome.NOT_SENT, retry_reads=False, retry_writes=False),
    ErrorRule(RateLimitError, Outcome.NOT_SENT, retry_reads=True, retry_writes=True),  # before execution
    ErrorRule(NotSentConnectionError, Outcome.NOT_SENT, retry_reads=True, retry_writes=True),
    ErrorRule(OutcomeUnknownError, Outcome.UNKNOWN, retry_reads=False, retry_writes=False),
    ErrorRule(AuthenticationError, Outcome.REFUSED, retry_reads=False, retry_writes=False),
    ErrorRule(AutotaskPermissionError, Outcome.REFUSED, retry_reads=False, retry_writes=False),
    ErrorRule(AutotaskValidationError, Outcome.REFUSED, retry_reads=False, retry_writes=False),
    ErrorRule(NotFoundError, Outcome.REFUSED, retry_reads=False, retry_writes=False),
    # a read that failed on the server or in transit: nothing changed, read again
    ErrorRule(AutotaskServerError, Outcome.UNKNOWN, retry_reads=True, retry_writes=False),
    ErrorRule(AutotaskConnectionError, Outcome.UNKNOWN, retry_reads=True, retry_writes=False),
)
_OTHER = ErrorRule(BaseException, Outcome.UNKNOWN, retry_reads=False, retry_writes=False)


def rule_for(exc: BaseException) -> ErrorRule:
    """The row of ``TABLE`` for ``exc`` (anything else — a bug, the database — counts as unknown)."""
    return next((row for row in TABLE if isinstance(exc, row.error)), _OTHER)


def retryable(exc: BaseException, *, write: bool) -> bool:
    """May the request that raised ``exc`` be sent again as it is?"""
    row = rule_for(exc)
    return row.retry_writes if write else row.retry_reads


__all__ = ["TABLE", "ErrorRule", "Outcome", "retryable", "rule_for"]
