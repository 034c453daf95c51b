"""The state of one emulated tenant: its records, lock, persistence, API users and metadata.

All state lives in memory behind one lock (the ASGI app calls in from the event loop, tests from
threads). With a state file, every committed change is appended to a journal beside a snapshot before
the API answers (see :mod:`psabridge.emulator.store`), so a killed sync process, or the emulator
itself, can restart against the same tenant. Every write notes the rows it sets or deletes with
:meth:`TenantState._touch` and ends with :meth:`TenantState._commit`.

The base of :class:`psabridge.emulator.tenant.EmulatorTenant`: reads, field checks, business rules and
writes build on what is kept here, so that "what the tenant holds and how it survives a restart" is
one module and "what a request may do with it" the others.
"""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path
from typing import Any

from psabridge.emulator import seed
from psabridge.emulator.api_users import ApiUser, AuthResult, authenticate
from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.rules import RuleSwitches
from psabridge.emulator.schema import entity_defs
from psabridge.emulator.store import DEFAULT_COMPACT_BYTES, StateStore


def _fresh_state() -> dict[str, Any]:
    udfs = seed.seed_udfs()
    records = seed.seed_records(udfs)
    return {
        "records": records,
        "next_id": {name: max([*rows, 1000]) + 1 for name, rows in records.items()}
        | {"ContractServiceAdjustments": 1},
        "picklists": seed.seed_picklists(),
        "udfs": udfs,
        "adjustments": {},
        "unit_events": {},
        "denied": [],
    }


class TenantState:
    """A seeded Autotask tenant's data with one (or more) API users; the operations are its subclasses'."""

    def __init__(
        self,
        *,
        username: str = seed.DEMO_USERNAME,
        secret: str = seed.DEMO_SECRET,
        integration_code: str = seed.DEMO_INTEGRATION_CODE,
        state_file: str | os.PathLike[str] | None = None,
        zone_name: str = "Emulator Zone (psabridge)",
        fsync: bool = False,
        compact_bytes: int = DEFAULT_COMPACT_BYTES,
        rules: RuleSwitches | None = None,
    ) -> None:
        self.users = [ApiUser(username, secret, integration_code)]
        self.zone_name = zone_name
        self.lock = threading.RLock()
        self.state_file = Path(state_file) if state_file else None
        self.defs = entity_defs()
        self.initial_rules = (rules or RuleSwitches()).copy()
        self.rules = self.initial_rules.copy()
        # Hash indexes are stale once their entity changed: a version per entity (bumped for the records a
        # change touched, the same rows it journals) and one for the whole tenant (reset, load). A write of
        # adjustments then leaves the Companies index alone: with one version for everything, every query
        # after any write rebuilt its index by a scan, and a sync slowed down as the tenant grew.
        self._version = 0
        self._entity_versions: dict[str, int] = {}
        self._indexes: dict[tuple[str, str], tuple[tuple[int, int], dict[Any, list[int]]]] = {}
        # contract id -> its contract service ids; contract service id -> its ContractServiceUnits ids.
        # Kept up to date by every write (contract services are never deleted, contractID is immutable),
        # built lazily from the records after a load or reset.
        self._services_of_contract: dict[int, list[int]] | None = None
        self._units_of_service: dict[int, list[int]] | None = None
        self._touched: set[tuple[str, str, int]] = set()
        self.store = (
            StateStore(self.state_file, fsync=fsync, compact_bytes=compact_bytes) if self.state_file else None
        )
        loaded = self._load(self.store) if self.store else None
        if loaded is not None:
            self.state = loaded
        else:
            self.state = _fresh_state()
            if self.store:
                self.store.compact(self.state)

    # ----- persistence -------------------------------------------------------------------------
    def _load(self, store: StateStore) -> dict[str, Any] | None:
        raw = store.load()
        if raw is None:
            return None
        fresh = _fresh_state()
        for name in fresh["records"]:
            raw["records"].setdefault(name, {})
            raw["next_id"].setdefault(name, fresh["next_id"][name])
        return raw

    def _touch(self, section: str, key: int, entity: str = "") -> None:
        """Note a row this change sets or deletes; :meth:`_commit` journals its value as of commit time.

        ``section`` is ``records`` (with ``entity``), ``adjustments`` or ``unit_events``.
        """
        self._touched.add((section, entity, key))

    def _commit(self) -> None:
        """End of a change: stale indexes out, and with a state file one journal line flushed to disk.

        Runs before the API answers, so an acknowledged write is in the journal. Rows touched by a
        change that later failed validation stay noted and go out with the next commit, exactly as the
        whole-file rewrite used to persist them.
        """
        for section, entity, _key in self._touched:
            name = entity if section == "records" else f"{section}:"
            self._entity_versions[name] = self._entity_versions.get(name, 0) + 1
        if self.store is None:
            self._touched.clear()
            return
        changes: list[list[Any]] = []
        for section, entity, key in sorted(self._touched):
            table = self.state["records"][entity] if section == "records" else self.state[section]
            changes.append([section, entity, key, table.get(key)])
        self.store.append(
            {"changes": changes, "next_id": self.state["next_id"], "denied": self.state["denied"]}
        )
        self._touched.clear()
        if self.store.wants_compaction():
            self.store.compact(self.state)

    def close(self) -> None:
        """Clean shutdown: fold the journal into a fresh snapshot (no-op without a state file)."""
        with self.lock:
            if self.store is not None:
                self.store.close(self.state)

    def reset(self) -> None:
        """Back to the seeded tenant and the initial rule switches (API users are kept)."""
        with self.lock:
            self.state = _fresh_state()
            self.rules = self.initial_rules.copy()
            self._touched.clear()
            self._services_of_contract = None
            self._units_of_service = None
            self._version += 1
            if self.store:
                self.store.compact(self.state)  # a new tenant: snapshot it whole, drop the journal

    def snapshot(self) -> dict[str, Any]:
        """Every record per entity, including adjustments, for the control API."""
        with self.lock:
            entities = {name: [rows[k] for k in sorted(rows)] for name, rows in self.state["records"].items()}
            entities["ContractServiceAdjustments"] = [
                self.state["adjustments"][k] for k in sorted(self.state["adjustments"])
            ]
            return copy.deepcopy({"entities": entities, "denied": self.state["denied"]})

    # ----- auth & permissions ------------------------------------------------------------------
    def authenticate(self, username: str | None, secret: str | None, code: str | None) -> AuthResult:
        """The API user these headers identify, or the reason they do not (:func:`api_users.authenticate`)."""
        return authenticate(self.users, username, secret, code)

    def knows_user(self, username: str) -> bool:
        return any(u.username.lower() == username.lower() for u in self.users)

    def set_denied(self, entity: str, denied: bool) -> None:
        with self.lock:
            names = set(self.state["denied"])
            if denied:
                names.add(entity)
            else:
                names.discard(entity)
            self.state["denied"] = sorted(names)
            self._commit()

    def is_denied(self, entity: str) -> bool:
        return entity in self.state["denied"]

    def _require_permission(self, entity: str, action: str) -> None:
        if self.is_denied(entity):
            raise EmulatorError(
                500,
                [
                    f"The logged in Resource does not have the adequate permissions to {action} this entity type: {self.defs[entity].singular}."
                ],
            )

    # ----- metadata ----------------------------------------------------------------------------
    def picklist(self, entity: str, field: str) -> list[dict[str, Any]]:
        values: list[dict[str, Any]] = self.state["picklists"].get(entity, {}).get(field, [])
        return values

    def picklist_id(self, entity: str, field: str, label: str) -> int | None:
        for value in self.picklist(entity, field):
            if value["label"] == label:
                return int(value["value"])
        return None

    def udf_names(self, entity: str) -> set[str]:
        return {u["name"] for u in self.state["udfs"].get(entity, [])}

    def udf_definitions(self, entity: str) -> list[dict[str, Any]]:
        defs: list[dict[str, Any]] = self.state["udfs"].get(entity, [])
        return defs

    # ----- reads -------------------------------------------------------------------------------
    def _rows(self, entity: str) -> dict[int, dict[str, Any]]:
        rows: dict[int, dict[str, Any]] = self.state["records"][entity]
        return rows

    def _next_id(self, entity: str) -> int:
        new_id = int(self.state["next_id"][entity])
        self.state["next_id"][entity] = new_id + 1
        return new_id
