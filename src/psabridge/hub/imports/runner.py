"""Applying a checked import with bulk statements (executemany INSERT / UPDATE by primary key, never a
per-row ORM flush), in dependency order, inside the caller's transaction.

Seat rules on import (documented in docs/import.md):
- a new subscription without logs in the file gets its initial 0 -> N log, as through the API;
- an existing subscription whose quantity changes, without logs in the file, gets an old -> new log;
- a subscription listed with its logs is taken as stated (the mismatch report shows disagreements);
- logs for subscriptions not in the file are seat changes: their deltas move the subscription's
  quantity, and archiving a log takes its delta back out.
Unchanged rows are not touched (not even ``updated_at``), so re-importing a file changes nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from psabridge.db import utcnow
from psabridge.hub.calendar import organization_today
from psabridge.hub.imports.checks import CheckedImport, Checker
from psabridge.hub.imports.formats import Upload
from psabridge.hub.imports.staging import RowView, ValidRow
from psabridge.hub.imports.types import RECORD_TYPES, RecordType
from psabridge.hub.models import Account, LicenseChangeLog, Subscription
from psabridge.hub.quantities import initial_log_external_id

_CHUNK = 5000


@dataclass
class ImportResult:
    record_type: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    logs_created: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: ``session.info`` key of the organizations whose hub records the session changed outside the ORM
CHANGED_ORGS_KEY = "psabridge_changed_orgs"


def run_import(session: Session, organization_id: int, upload: Upload) -> list[ImportResult]:
    """Check then write ``upload`` for the organization; raises ``ImportFailed`` (nothing written) on any
    bad row. The caller commits (or rolls back)."""
    checked = Checker(session, organization_id, upload).check()
    try:
        return _Writer(session, organization_id, checked).write()
    finally:
        checked.close()


def _copy_rows(
    connection: Connection, table: str, columns: tuple[str, ...], rows: list[dict[str, Any]]
) -> None:
    """PostgreSQL: stream rows with COPY on the session's own connection (same transaction); several
    times faster than executemany INSERT for tens of thousands of rows."""
    driver = connection.connection.driver_connection
    assert driver is not None
    column_list = ", ".join(f'"{c}"' for c in columns)
    with driver.cursor() as cursor, cursor.copy(f'COPY "{table}" ({column_list}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + _CHUNK] for i in range(0, len(rows), _CHUNK)]


class _Writer:
    def __init__(self, session: Session, organization_id: int, checked: CheckedImport) -> None:
        self.session = session
        self.organization_id = organization_id
        self.checked = checked
        self.now = utcnow()
        self.today = organization_today(session, organization_id)
        self._ids: dict[str, dict[str, int]] = {
            name: {ext: int(rec["id"]) for ext, rec in snap.items()}
            for name, snap in checked.existing.items()
        }
        #: types inserted since their ids were read: re-read only when a later step needs them (a file of
        #: a million accounts must not pull a million ids into memory for nothing)
        self._stale: set[str] = set()
        self.new_logs: list[dict[str, Any]] = []
        self.new_log_count = 0
        self.quantity_delta: dict[int, int] = defaultdict(int)
        self._products: dict[str, dict[str, Any]] | None = None

    def ids(self, type_name: str) -> dict[str, int]:
        """External id -> database id of the organization's records of ``type_name``."""
        if type_name in self._stale or type_name not in self._ids:
            table = RECORD_TYPES[type_name].model.__table__
            self._ids[type_name] = {
                ext: rid
                for ext, rid in self.session.execute(
                    select(table.c.external_id, table.c.id).where(
                        table.c.organization_id == self.organization_id
                    )
                )
            }
            self._stale.discard(type_name)
        return self._ids[type_name]

    def _add_log(self, log: dict[str, Any]) -> None:
        """Queue a license change log the import creates; written in chunks."""
        self.new_logs.append(log)
        self.new_log_count += 1
        if len(self.new_logs) >= _CHUNK:
            self._insert(LicenseChangeLog.__table__, self.new_logs)
            self.new_logs = []

    def write(self) -> list[ImportResult]:
        results = []
        for name, record_type in RECORD_TYPES.items():
            rows = self.checked.rows.get(name)
            if not rows:
                continue
            result = ImportResult(name)
            self._upsert(record_type, rows, result)
            results.append(result)
        self._set_primary_contacts()
        self._insert(LicenseChangeLog.__table__, self.new_logs)
        self._apply_quantity_deltas()
        self.session.flush()
        self.session.expire_all()  # Core statements bypassed the identity map
        return results

    # --- generic upsert -----------------------------------------------------------------------------
    def _values(self, record_type: RecordType, row: ValidRow) -> dict[str, Any]:
        values = {
            k: v
            for k, v in row.values.items()
            if k not in record_type.refs and k not in record_type.virtual and k != "external_id"
        }
        for field_name, (target, column) in record_type.refs.items():
            values[column] = self.ids(target)[row.values[field_name]]
        if record_type.name == "subscription":
            product = self._product(row.values["product_external_id"])
            if values["unit_price"] is None:
                values["unit_price"] = product["unit_price"]
            if values["unit_cost"] is None:
                values["unit_cost"] = product["unit_cost"]
        return values

    def _product(self, ext: str) -> dict[str, Any]:
        if self._products is None:
            self._products = {**self.checked.existing.get("product", {})}
            self._products.update({r.external_id: r.values for r in self.checked.rows.get("product", [])})
        return self._products[ext]

    def _upsert(self, record_type: RecordType, rows: RowView, result: ImportResult) -> None:
        existing = self.checked.existing[record_type.name]
        model = record_type.model
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for row in rows:
            if len(inserts) >= _CHUNK:  # written as they come: memory stays bounded
                self._insert(model.__table__, inserts)
                result.created += len(inserts)
                inserts = []
            if len(updates) >= _CHUNK:
                self._update(model.__table__, updates)
                result.updated += len(updates)
                updates = []
            values = self._values(record_type, row)
            old = existing.get(row.external_id)
            if old is None:
                inserts.append(
                    {
                        "organization_id": self.organization_id,
                        "external_id": row.external_id,
                        "created_at": self.now,
                        "updated_at": self.now,
                        **values,
                    }
                )
                continue
            changed = {k: v for k, v in values.items() if old.get(k) != v}
            if record_type.name == "license_change_log":
                changed = {k: v for k, v in changed.items() if k == "status"}
            if not changed:
                result.unchanged += 1
                continue
            updates.append({"id": old["id"], "updated_at": self.now, **changed})
            self._on_update(record_type, row, old, changed)
        self._insert(model.__table__, inserts)
        self._update(model.__table__, updates)
        result.created += len(inserts)
        result.updated += len(updates)
        if result.created and record_type.name != "license_change_log":
            self._stale.add(record_type.name)
        if record_type.name == "subscription":
            self._initial_logs(rows, existing)
            result.logs_created = self.new_log_count
        elif record_type.name == "license_change_log":
            self._log_deltas(rows, existing)

    def _mark_changed(self, rows: list[dict[str, Any]]) -> None:
        """Tell whoever watches this session's commits (change-driven sync) that the organization's hub
        records changed: these bulk statements bypass the ORM's unit of work."""
        if rows:
            self.session.info.setdefault(CHANGED_ORGS_KEY, set()).add(self.organization_id)

    def _insert(self, table: Any, rows: list[dict[str, Any]]) -> None:
        """Core executemany INSERT (no ORM unit of work): rows are grouped by their set of columns."""
        self._mark_changed(rows)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            groups[tuple(sorted(row))].append(row)
        connection = self.session.connection()
        for columns, group in groups.items():
            if connection.dialect.name == "postgresql":
                _copy_rows(connection, table.name, columns, group)
                continue
            for chunk in _chunks(group):
                connection.execute(insert(table), chunk)

    def _update(self, table: Any, rows: list[dict[str, Any]]) -> None:
        """Core executemany UPDATE by primary key, grouped by the set of columns that change."""
        self._mark_changed(rows)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            groups[tuple(sorted(k for k in row if k != "id"))].append(row)
        connection = self.session.connection()
        for columns, group in groups.items():
            stmt = (
                update(table)
                .where(table.c.id == bindparam("_id"))
                .values({c: bindparam(f"_v_{c}") for c in columns})
            )
            params = [{"_id": r["id"], **{f"_v_{c}": r[c] for c in columns}} for r in group]
            for chunk in _chunks(params):
                connection.execute(stmt, chunk)

    # --- type-specific effects ----------------------------------------------------------------------
    def _on_update(
        self, record_type: RecordType, row: ValidRow, old: dict[str, Any], changed: dict[str, Any]
    ) -> None:
        if record_type.name != "subscription" or "quantity" not in changed:
            return
        if row.external_id in self.checked.subscriptions_with_logs:
            return
        self._add_log(
            {
                "organization_id": self.organization_id,
                "external_id": f"{row.external_id}:{uuid.uuid4().hex[:12]}"[-100:],
                "subscription_id": old["id"],
                "effective_date": self.today,
                "quantity_before": old["quantity"],
                "quantity_after": changed["quantity"],
                "unit_price": changed.get("unit_price"),
                "reason": f"Quantity changed by import of {self.checked.name}"[:500],
                "status": "active",
                "is_refund": False,
                "refund_amount": None,
                "created_at": self.now,
                "updated_at": self.now,
            }
        )

    def _initial_logs(self, rows: RowView, existing: dict[str, Any]) -> None:
        sub_ids = self.ids("subscription")
        for row in rows:
            ext = row.external_id
            if ext in existing or ext in self.checked.subscriptions_with_logs or row.values["quantity"] <= 0:
                continue
            values = self._values(RECORD_TYPES["subscription"], row)
            self._add_log(
                {
                    "organization_id": self.organization_id,
                    "external_id": initial_log_external_id(ext),
                    "subscription_id": sub_ids[ext],
                    "effective_date": row.values["start_date"],
                    "quantity_before": 0,
                    "quantity_after": row.values["quantity"],
                    "unit_price": values["unit_price"],
                    "reason": "Initial quantity",
                    "status": "active",
                    "is_refund": False,
                    "refund_amount": None,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
            )

    def _log_deltas(self, rows: RowView, existing: dict[str, Any]) -> None:
        subs_in_file = {r.external_id for r in self.checked.rows.get("subscription", [])}
        archived = []
        for ext in self.checked.replaced_initial_logs:
            placeholder = existing[ext]
            archived.append({"id": placeholder["id"], "status": "archived", "updated_at": self.now})
            delta = placeholder["quantity_after"] - placeholder["quantity_before"]
            self.quantity_delta[placeholder["subscription_id"]] -= delta
        self._update(LicenseChangeLog.__table__, archived)
        for row in rows:
            sub_ext = row.values["subscription_external_id"]
            if sub_ext in subs_in_file:
                continue
            sub_id = self.ids("subscription")[sub_ext]
            old = existing.get(row.external_id)
            if old is None and row.values["status"] == "active":
                self.quantity_delta[sub_id] += row.values["quantity_after"] - row.values["quantity_before"]
            elif old is not None and old["status"] == "active" and row.values["status"] == "archived":
                self.quantity_delta[sub_id] -= old["quantity_after"] - old["quantity_before"]

    def _apply_quantity_deltas(self) -> None:
        deltas = {sid: d for sid, d in self.quantity_delta.items() if d}
        if not deltas:
            return
        current = {
            sid: quantity
            for sid, quantity in self.session.execute(
                select(Subscription.id, Subscription.quantity).where(
                    Subscription.organization_id == self.organization_id
                )
            )
        }
        rows = [
            {"id": sid, "quantity": current[sid] + d, "updated_at": self.now} for sid, d in deltas.items()
        ]
        self._update(Subscription.__table__, rows)

    def _set_primary_contacts(self) -> None:
        """Contacts marked ``is_primary`` and accounts naming ``primary_contact_external_id``."""
        wanted: dict[str, str] = {}
        for row in self.checked.rows.get("account", []):
            contact_ext = row.values.get("primary_contact_external_id")
            if contact_ext:
                wanted[row.external_id] = contact_ext
        for row in self.checked.rows.get("contact", []):
            if row.values.get("is_primary"):
                wanted[row.values["account_external_id"]] = row.external_id
        self._apply_primary(wanted)

    def _apply_primary(self, wanted: dict[str, str]) -> None:
        if not wanted:
            return
        current = {
            ext: contact_id
            for ext, contact_id in self.session.execute(
                select(Account.external_id, Account.primary_contact_id).where(
                    Account.organization_id == self.organization_id
                )
            )
        }
        updates = []
        for account_ext, contact_ext in wanted.items():
            contact_id = self.ids("contact")[contact_ext]
            if current.get(account_ext) != contact_id:
                updates.append(
                    {
                        "id": self.ids("account")[account_ext],
                        "primary_contact_id": contact_id,
                        "updated_at": self.now,
                    }
                )
        self._update(Account.__table__, updates)
