"""Checking an import before anything is written: every row against its schema, every reference by
external id (to the database or to the file itself), and the domain rules. All problems are collected,
each with its line, so the user fixes the file once instead of one error per attempt.

Rows are validated as they are read and staged on disk (``staging``), so memory stays bounded however
large the file; the errors kept are the first ``MAX_ERRORS`` by line, with the total count (an all-bad
100 MB file once answered with a 73 MB error list)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.hub import rules
from psabridge.hub.errors import FieldError, ImportFailed
from psabridge.hub.imports.formats import Upload
from psabridge.hub.imports.staging import RowView, Staging, ValidRow
from psabridge.hub.imports.types import RECORD_TYPES, RecordType
from psabridge.hub.quantities import initial_log_external_id
from psabridge.hub.records import label

#: Existing records of one type: external id -> column values (including ``id``).
Snapshot = dict[str, dict[str, Any]]


#: How many problems an import failure lists (the total is counted and reported too).
MAX_ERRORS = 100

__all__ = ["MAX_ERRORS", "CheckedImport", "Checker", "ValidRow"]


class ErrorList:
    """The first ``limit`` problems by line (and field), and how many there were, in bounded memory."""

    def __init__(self, limit: int = MAX_ERRORS) -> None:
        self.limit = limit
        self.total = 0
        self._kept: list[FieldError] = []

    def append(self, error: FieldError) -> None:
        self.total += 1
        self._kept.append(error)
        if len(self._kept) > 10 * self.limit:
            self._kept = self.first()

    def extend(self, errors: list[FieldError]) -> None:
        for error in errors:
            self.append(error)

    def first(self) -> list[FieldError]:
        return sorted(self._kept, key=lambda e: (e.line or 0, e.field))[: self.limit]

    def __bool__(self) -> bool:
        return self.total > 0


@dataclass
class CheckedImport:
    """A file that passed every check: valid rows per type (staged on disk; ``close`` when written) and
    the database state they were checked on."""

    name: str
    rows: dict[str, RowView]
    existing: dict[str, Snapshot]
    #: subscription external ids that have license change logs in this file
    subscriptions_with_logs: set[str] = field(default_factory=set)
    #: automatic initial logs (``<sub>:initial``) superseded by a history starting at 0 in this file
    replaced_initial_logs: set[str] = field(default_factory=set)
    staging: Staging | None = None

    def close(self) -> None:
        if self.staging is not None:
            self.staging.close()


def load_snapshot(session: Session, organization_id: int, record_type: RecordType) -> Snapshot:
    table = record_type.model.__table__
    result = session.execute(select(table).where(table.c.organization_id == organization_id)).mappings()
    return {row["external_id"]: dict(row) for row in result}


def _schema_errors(exc: ValidationError, line: int) -> list[FieldError]:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "row"
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            message = "unknown column"
        errors.append(FieldError(loc, message, line))
    return errors


class Checker:
    def __init__(self, session: Session, organization_id: int, upload: Upload) -> None:
        self.session = session
        self.organization_id = organization_id
        self.upload = upload
        self.errors = ErrorList()
        self.staging = Staging()
        self.rows: dict[str, RowView] = {}
        self.existing: dict[str, Snapshot] = {}
        self.replaced_initial: set[str] = set()

    def error(self, line: int, field_name: str, message: str) -> None:
        self.errors.append(FieldError(field_name, message, line))

    def check(self) -> CheckedImport:
        """Check everything; the caller closes the returned import (its staged rows) when done."""
        try:
            return self._check()
        except BaseException:
            self.staging.close()
            raise

    def _check(self) -> CheckedImport:
        seen_types = self._validate_rows()
        present = [name for name in RECORD_TYPES if name in seen_types]
        if not present and not self.errors:
            raise ImportFailed(
                f"{self.upload.name}: no records to import", [FieldError("file", "no records to import")]
            )
        needed = set(present) | {ref[0] for name in present for ref in RECORD_TYPES[name].refs.values()}
        if "account" in present:
            needed.add("contact")
        if "subscription" in present:
            needed.add("product")
        for name in RECORD_TYPES:
            if name in needed:
                self.existing[name] = load_snapshot(self.session, self.organization_id, RECORD_TYPES[name])
        for name in present:
            self._check_references(RECORD_TYPES[name])
        self._check_rules()
        if self.errors:
            total = self.errors.total
            shown = self.errors.first()
            more = f" The first {len(shown)} are listed." if total > len(shown) else ""
            raise ImportFailed(
                f"{self.upload.name}: {total} problem(s); nothing was imported.{more}", shown, total=total
            )
        logs = self._view("license_change_log")
        return CheckedImport(
            self.upload.name,
            self.rows,
            self.existing,
            {str(r.values["subscription_external_id"]) for r in logs},
            self.replaced_initial,
            self.staging,
        )

    # --- per row ------------------------------------------------------------------------------------
    def _validate_rows(self) -> set[str]:
        """Validate every row as it is read and stage the valid ones; returns the record types seen."""
        seen: set[str] = set()
        unknown: set[str] = set()
        for type_name, raw in self.upload.rows():
            record_type = RECORD_TYPES.get(type_name)
            if record_type is None:
                if type_name not in unknown:
                    unknown.add(type_name)
                    self.error(raw.line, "type", f"unknown record type {type_name!r}")
                continue
            seen.add(type_name)
            try:
                row = record_type.row_schema.model_validate(raw.data)
            except ValidationError as exc:
                self.errors.extend(_schema_errors(exc, raw.line))
                ext = raw.data.get("external_id")
                if isinstance(ext, str):
                    self.staging.add(f"!{type_name}", ext, raw.line, None)
                continue
            values = row.model_dump()
            self.staging.add(type_name, str(values["external_id"]), raw.line, values)
        self.staging.finish()
        for type_name in RECORD_TYPES:
            if type_name not in seen:
                continue
            repeats = list(self.staging.duplicates(type_name))
            for _row_id, ext, line, first in repeats:
                self.error(line, "external_id", f"{ext!r} appears twice in the file (first on line {first})")
            self.staging.delete([row_id for row_id, *_ in repeats])
            self.rows[type_name] = self.staging.view(type_name)
        return seen

    def _view(self, type_name: str) -> RowView:
        """The file's valid rows of a type (empty when the file has none)."""
        return self.rows.get(type_name) or self.staging.view(type_name)

    def _failed(self, type_name: str, ext: str) -> bool:
        """Whether a row of ``type_name`` with ``ext`` failed its schema (its errors are listed already)."""
        return self.staging.view(f"!{type_name}").has_key(ext)

    def _check_references(self, record_type: RecordType) -> None:
        for row in self.rows[record_type.name]:
            for field_name, (target, _column) in record_type.refs.items():
                ext = row.values[field_name]
                if ext in self._view(target) or ext in self.existing[target]:
                    continue
                if self._failed(target, ext):
                    continue  # that row's own errors are reported already
                self.error(
                    row.line,
                    field_name,
                    f"no {label(RECORD_TYPES[target].model)} with external id {ext!r} "
                    "in this organization or this file",
                )

    # --- domain rules -------------------------------------------------------------------------------
    def attrs(self, type_name: str, ext: str) -> dict[str, Any] | None:
        """A record's values as they will be after the import (file row, else database)."""
        row = self._view(type_name).get(ext)
        if row is not None:
            return row.values
        return self.existing.get(type_name, {}).get(ext)

    def _existing_id(self, type_name: str, ext: str) -> int | None:
        record = self.existing.get(type_name, {}).get(ext)
        return None if record is None else int(record["id"])

    def _check_rules(self) -> None:
        self._check_fixed_columns()
        self._check_accounts()
        self._check_contacts()
        self._check_subscriptions()
        self._check_logs()

    def _check_fixed_columns(self) -> None:
        for name, rows in self.rows.items():
            record_type = RECORD_TYPES[name]
            for row in rows:
                old = self.existing[name].get(row.external_id)
                if old is None:
                    continue
                for field_name, (target, column) in record_type.refs.items():
                    if (
                        column in record_type.fixed
                        and self._existing_id(target, row.values[field_name]) != old[column]
                    ):
                        self.error(
                            row.line, field_name, f"cannot change for an existing {label(record_type.model)}"
                        )
                for column in record_type.fixed - {c for _t, c in record_type.refs.values()}:
                    if row.values[column] != old[column]:
                        self.error(
                            row.line, column, f"cannot change for an existing {label(record_type.model)}"
                        )

    def _check_accounts(self) -> None:
        for row in self._view("account"):
            contact_ext = row.values.get("primary_contact_external_id")
            if contact_ext is None:
                continue
            contact = self.attrs("contact", contact_ext)
            if contact is None:
                self.error(
                    row.line, "primary_contact_external_id", f"no contact with external id {contact_ext!r}"
                )
                continue
            owner = contact.get("account_external_id")
            if owner is None:  # a database contact: compare ids
                account_id = self._existing_id("account", row.external_id)
                if account_id is None or contact["account_id"] != account_id:
                    owner = "another account"
                else:
                    owner = row.external_id
            if owner != row.external_id:
                self.error(row.line, "primary_contact_external_id", "must be a contact of this account")

    def _check_contacts(self) -> None:
        primary: dict[str, int] = {}
        for row in self._view("contact"):
            if not row.values.get("is_primary"):
                continue
            account = row.values["account_external_id"]
            if account in primary:
                self.error(
                    row.line,
                    "is_primary",
                    f"account {account!r} already has a primary contact on line {primary[account]}",
                )
            primary[account] = row.line

    def _check_subscriptions(self) -> None:
        for row in self._view("subscription"):
            contract = self.attrs("billing_contract", row.values["billing_contract_external_id"])
            if contract is None:
                continue
            for err in rules.subscription_dates(
                row.values["start_date"], row.values["end_date"], contract["start_date"], contract["end_date"]
            ):
                self.error(row.line, err.field, err.message)
        for row in self._view("billing_contract"):
            old = self.existing["billing_contract"].get(row.external_id)
            if old is None or row.values["start_date"] <= old["start_date"]:
                continue
            starts: list[date] = [
                s["start_date"]
                for ext, s in self.existing.get("subscription", {}).items()
                if s["billing_contract_id"] == old["id"] and ext not in self._view("subscription")
            ]
            starts += [
                s.values["start_date"]
                for s in self._view("subscription")
                if s.values["billing_contract_external_id"] == row.external_id
            ]
            for err in rules.contract_start_change(row.values["start_date"], min(starts, default=None)):
                self.error(row.line, err.field, err.message)

    def _check_logs(self) -> None:
        rows = self._view("license_change_log")
        if not rows:
            return
        existing_logs = self.existing["license_change_log"]
        subs_in_file = self._view("subscription")
        delta: dict[str, int] = defaultdict(int)
        for row in rows:
            sub_ext = row.values["subscription_external_id"]
            placeholder = existing_logs.get(initial_log_external_id(sub_ext))
            if (
                sub_ext not in subs_in_file
                and row.external_id not in existing_logs
                and row.values["quantity_before"] == 0
                and row.values["status"] == "active"
                and placeholder is not None
                and placeholder["status"] == "active"
                and placeholder["external_id"] not in self._view("license_change_log")
                and placeholder["external_id"] not in self.replaced_initial
            ):
                # The file brings the real history: it replaces the automatic 0 -> N log.
                self.replaced_initial.add(placeholder["external_id"])
                delta[sub_ext] -= placeholder["quantity_after"] - placeholder["quantity_before"]
            sub = self.attrs("subscription", sub_ext)
            if sub is not None:
                for err in rules.log_date(row.values["effective_date"], sub["start_date"]):
                    self.error(row.line, err.field, err.message)
            old = existing_logs.get(row.external_id)
            if old is None:
                if row.values["status"] == "active":
                    delta[sub_ext] += row.values["quantity_after"] - row.values["quantity_before"]
                continue
            sub_id = self._existing_id("subscription", sub_ext)
            if old["subscription_id"] != sub_id:
                self.error(
                    row.line, "subscription_external_id", "cannot change for an existing license change log"
                )
            for column in (
                "effective_date",
                "quantity_before",
                "quantity_after",
                "unit_price",
                "reason",
                "is_refund",
                "refund_amount",
            ):
                if row.values[column] != old[column]:
                    self.error(
                        row.line,
                        column,
                        "license change logs are never edited: archive this one and add a new one",
                    )
            if old["status"] == "archived" and row.values["status"] == "active":
                self.error(row.line, "status", "an archived license change log cannot be made active again")
            elif old["status"] == "active" and row.values["status"] == "archived":
                delta[sub_ext] -= old["quantity_after"] - old["quantity_before"]
        for sub_ext, change in delta.items():
            if sub_ext in subs_in_file:
                continue  # the file states the subscription's quantity itself
            sub = self.existing["subscription"].get(sub_ext)
            if sub is not None and sub["quantity"] + change < 0:
                line = next(r.line for r in rows if r.values["subscription_external_id"] == sub_ext)
                self.error(
                    line,
                    "quantity_after",
                    f"these logs would take subscription {sub_ext!r} below 0 seats ({sub['quantity']} {change:+d})",
                )
