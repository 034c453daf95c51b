"""Errors the connector layer shows to a billing administrator, and the translation of Autotask failures.

The Autotask client raises precise, technical exceptions; a person setting up a connector needs to know
which field to fix or whom to ask. This module is the single place where one becomes the other, so the
web pages and the REST API say the same thing for the same failure.
"""

from __future__ import annotations

from psabridge.autotask.errors import (
    AuthenticationError,
    AutotaskConnectionError,
    AutotaskError,
    AutotaskPermissionError,
    AutotaskServerError,
    AutotaskValidationError,
    NotFoundError,
    RateLimitError,
    ZoneDiscoveryError,
)


class ConnectorError(Exception):
    """A problem the user can act on. ``field`` names the form field to fix, when there is one.

    ``upstream`` is True when Autotask (not the user's input) failed: the REST API answers 502 then.
    """

    def __init__(self, message: str, *, field: str | None = None, upstream: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.upstream = upstream


class SettingsValidationError(ConnectorError):
    """Settings refused by the server-side checks; ``errors`` maps each setting to its reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        summary = "; ".join(f"{name}: {reason}" for name, reason in errors.items())
        super().__init__(f"The settings were not saved: {summary}")
        self.errors = errors


def _autotask_messages(exc: AutotaskError) -> str:
    messages = getattr(exc, "messages", None)
    if messages:
        return "; ".join(str(m) for m in messages)
    return str(exc)


def explain_zone_error(exc: AutotaskError, username: str, zone_url: str) -> ConnectorError:
    """A zone-discovery failure in plain words (the username is the only input involved).

    Autotask answers an unknown username with an HTTP 500 ("zone information could not be determined")
    or without an API address; no answer at all means the address cannot be reached.
    """
    status = exc.status_code
    no_answer = isinstance(exc, AutotaskConnectionError) or (
        isinstance(exc, ZoneDiscoveryError) and status is None and "no API address" not in exc.message
    )
    if no_answer:
        return ConnectorError(
            f"Autotask could not be reached to look up the user's environment ({zone_url}): no answer or "
            "timed out. Check the network connection of the PSA Bridge server and try again.",
            field="username",
            upstream=True,
        )
    if status is not None and status in (429, 502, 503, 504):
        return ConnectorError(
            f"Autotask's zone lookup is unavailable right now (HTTP {status}). Try again in a few minutes.",
            field="username",
            upstream=True,
        )
    return ConnectorError(
        f"Autotask does not know the user '{username}'. Enter the username of the Autotask API user "
        "exactly as shown in Autotask (usually an email address).",
        field="username",
    )


def explain_api_error(exc: AutotaskError, *, action: str) -> ConnectorError:
    """An authenticated call's failure in plain words. ``action`` says what we were doing."""
    if isinstance(exc, AuthenticationError):
        return ConnectorError(
            "Autotask refused the Password (API secret) or the Integration Code. Check both: the secret "
            "is the API user's password, the integration code is its API tracking identifier.",
            field="secret",
        )
    if isinstance(exc, AutotaskPermissionError):
        return ConnectorError(
            f"The API user is not allowed to {action}: {_autotask_messages(exc)}. Its security level is "
            "missing a permission; use Check permissions to see which one.",
        )
    if isinstance(exc, RateLimitError):
        return ConnectorError(
            "Autotask's API limit for this tenant is reached right now (too many requests). Wait a few "
            "minutes and try again.",
            upstream=True,
        )
    if isinstance(exc, AutotaskConnectionError):
        return ConnectorError(
            f"Autotask could not be reached while trying to {action} (no answer or timed out). Check the "
            "network and try again.",
            upstream=True,
        )
    if isinstance(exc, (AutotaskValidationError, AutotaskServerError)):
        return ConnectorError(
            f"Autotask answered with an error while trying to {action}: {_autotask_messages(exc)}. "
            "If this mentions permissions, use Check permissions; otherwise try again later.",
            upstream=True,
        )
    if isinstance(exc, NotFoundError):
        return ConnectorError(f"Autotask did not find what was needed to {action}.", upstream=True)
    return ConnectorError(f"Autotask failed while trying to {action}: {exc}.", upstream=True)
