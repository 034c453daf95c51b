"""Domain errors of the billing hub.

They carry the offending field so every surface (REST problem+json, CLI, import report) can tell the user
exactly what to fix. The web layer maps them to HTTP statuses; nothing here knows about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one field (``field`` may be dotted, e.g. ``body.phone``); ``line`` for imports."""

    field: str
    message: str
    line: int | None = None

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"field": self.field, "message": self.message}
        if self.line is not None:
            data["line"] = self.line
        return data


class HubError(Exception):
    """Base of the billing hub's domain errors."""

    title = "Billing hub error"

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class RecordNotFound(HubError):
    """The record does not exist in the caller's organization (other tenants' records count as missing)."""

    title = "Not found"


class InvalidRecord(HubError):
    """Input breaks a field rule or a domain rule; nothing was written."""

    title = "Invalid input"

    @classmethod
    def on(cls, field: str, message: str) -> InvalidRecord:
        return cls(f"{field}: {message}", [FieldError(field, message)])


class ConflictError(HubError):
    """Input clashes with existing data (duplicate external id, editing history that is immutable)."""

    title = "Conflict"

    @classmethod
    def on(cls, field: str, message: str) -> ConflictError:
        return cls(f"{field}: {message}", [FieldError(field, message)])


class ImportFailed(HubError):
    """An import file had bad rows and nothing was written; ``errors`` lists the first ones by line and
    ``total`` counts them all."""

    title = "Import failed"

    def __init__(
        self, detail: str, errors: list[FieldError] | None = None, *, total: int | None = None
    ) -> None:
        super().__init__(detail, errors)
        self.total = total if total is not None else len(self.errors)
