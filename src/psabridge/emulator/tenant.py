"""One emulated Autotask database: records, metadata, validation and business rules.

All state lives in memory behind one lock (the ASGI app calls in from the event loop, tests from
threads). With a state file, every committed change is appended to a journal beside a snapshot before
the API answers (see :mod:`psabridge.emulator.store`), so a killed sync process, or the emulator
itself, can restart against the same tenant. Every write notes the rows it sets or deletes with
:meth:`EmulatorTenant._touch` and ends with :meth:`EmulatorTenant._commit`.

Rules whose public evidence is missing are switchable (:class:`psabridge.emulator.rules.RuleSwitches`,
``tenant.rules``); the evidence for every rule is in docs/autotask-fidelity.md.
"""

from __future__ import annotations

import copy
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from psabridge.emulator import seed
from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.ledger import ServiceLedger
from psabridge.emulator.query import compile_filter, index_hint, lower_keys, never, unknown_field
from psabridge.emulator.rules import RuleSwitches
from psabridge.emulator.schema import EntityDef, entity_defs
from psabridge.emulator.store import DEFAULT_COMPACT_BYTES, StateStore
from psabridge.emulator.values import coerce, now_stamp, parse_datetime

RECURRING_SERVICE_LABEL = "Recurring Service"
MATERIAL_LABEL = "Material"
RECURRING_CODE_LABEL = "Recurring Contract Service"


@dataclass(frozen=True)
class ApiUser:
    """An API-only resource of the tenant and the tracking identifier it must present."""

    username: str
    secret: str
    integration_code: str
    resource_id: int = 29682889


@dataclass(frozen=True)
class AuthResult:
    """Who the headers identify, or why not: ``no_user``/``bad_secret`` answer 401 (empty body),
    ``unknown_user``/``bad_code`` answer 500 with an ``errors`` message (apigrate/autotask-restapi#19)."""

    user: ApiUser | None
    failure: Literal["no_user", "unknown_user", "bad_secret", "bad_code"] | None = None


#: Wording of the 500 for an unknown API user / a wrong integration code (invented: not captured publicly).
UNKNOWN_USER_MESSAGE = "Unable to authenticate: the UserName is not an API user of this Autotask database."
BAD_CODE_MESSAGE = "Unable to authenticate: the ApiIntegrationCode is not valid for this API user."
#: Invented wordings (the rules have evidence, the messages do not): see docs/autotask-fidelity.md.
CONTRACT_SERVICE_UPDATE_MESSAGE = (
    "Only unitPrice and invoiceDescription of a ContractService can be updated; {field} cannot be changed."
)
DUPLICATE_SERVICE_MESSAGE = (
    "Service {service} is already on contract {contract}; add units with a ContractServiceAdjustment "
    "(allowRepeatService adds a repeat of the service)."
)


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


class EmulatorTenant:
    """A seeded Autotask tenant with one (or more) API users."""

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
        self.ledger = ServiceLedger(self)
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
        """The API user these headers identify, or the reason they do not (see :class:`AuthResult`).

        Checked in the order apigrate/autotask-restapi#19 reports Autotask's answers: the user name
        (unknown: 500), the secret (wrong: 401), the integration code (wrong: 500)."""
        if not username:
            return AuthResult(None, "no_user")
        user = next((u for u in self.users if u.username.lower() == username.lower()), None)
        if user is None:
            return AuthResult(None, "unknown_user")
        if secret != user.secret:
            return AuthResult(None, "bad_secret")
        if code != user.integration_code:
            return AuthResult(None, "bad_code")
        return AuthResult(user)

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

    def get(self, entity: str, item_id: int, parent_id: int | None = None) -> dict[str, Any] | None:
        """One record, or None when missing, invisible (permissions) or under another parent."""
        with self.lock:
            if self.is_denied(entity):
                return None
            record = self._rows(entity).get(item_id)
            if record is None or not self._under_parent(entity, record, parent_id):
                return None
            return dict(record)

    def _under_parent(self, entity: str, record: dict[str, Any], parent_id: int | None) -> bool:
        if parent_id is None:
            return True
        pfield = self.defs[entity].parent_field
        return pfield is not None and record.get(pfield) == parent_id

    def query(self, entity: str, query: Any, parent_id: int | None = None) -> list[dict[str, Any]]:
        """All matching records ordered by id (pagination is the app's job)."""
        edef = self.defs[entity]
        with self.lock:
            predicate = compile_filter(edef, query, self.udf_names(entity))
            if self.is_denied(entity) or predicate is never:
                return []
            rows = self._rows(entity)
            hint = index_hint(edef, query)
            if hint is not None:
                index = self._index(entity, hint[0])
                ids = sorted({i for value in hint[1] for i in index.get(value, ())})
                return [
                    rows[k]
                    for k in ids
                    if k in rows and self._under_parent(entity, rows[k], parent_id) and predicate(rows[k])
                ]
            if parent_id is None:
                return [rows[k] for k in sorted(rows) if predicate(rows[k])]
            return [
                rows[k]
                for k in sorted(rows)
                if self._under_parent(entity, rows[k], parent_id) and predicate(rows[k])
            ]

    def _index(self, entity: str, field: str) -> dict[Any, list[int]]:
        """value (lower-cased text) -> ids, rebuilt lazily after any change."""
        version = (self._version, self._entity_versions.get(entity, 0))
        cached = self._indexes.get((entity, field))
        if cached is not None and cached[0] == version:
            return cached[1]
        index: dict[Any, list[int]] = {}
        for key, record in self._rows(entity).items():
            value = record.get(field)
            if isinstance(value, str):
                value = value.lower()
            index.setdefault(value, []).append(key)
        self._indexes[(entity, field)] = (version, index)
        return index

    def children(self, entity: str, parent_id: int) -> list[dict[str, Any]]:
        """Every record under a parent (``GET /Contracts/{parentId}/Services``)."""
        with self.lock:
            if self.is_denied(entity):
                return []
            pfield = self.defs[entity].parent_field
            if pfield is None:
                return []
            rows = self._rows(entity)
            return [rows[k] for k in sorted(self._index(entity, pfield).get(parent_id, ())) if k in rows]

    # ----- derived indexes of contract services ------------------------------------------------
    def services_of_contract(self, contract_id: int) -> list[dict[str, Any]]:
        """The contract services of a contract, by id (an index, not a scan)."""
        if self._services_of_contract is None:
            index: dict[int, list[int]] = {}
            for key, cs in sorted(self._rows("ContractServices").items()):
                index.setdefault(cs["contractID"], []).append(key)
            self._services_of_contract = index
        rows = self._rows("ContractServices")
        return [rows[k] for k in self._services_of_contract.get(contract_id, ()) if k in rows]

    def add_contract_service(self, cs: dict[str, Any]) -> None:
        """Store a new contract service (from a create or an adjustment) and index it."""
        self._rows("ContractServices")[cs["id"]] = cs
        self._touch("records", cs["id"], "ContractServices")
        if self._services_of_contract is not None:
            self._services_of_contract.setdefault(cs["contractID"], []).append(cs["id"])

    def unit_row_ids(self, cs_id: int) -> list[int]:
        """Ids of the ContractServiceUnits rows of a contract service (an index, not a scan)."""
        if self._units_of_service is None:
            index: dict[int, list[int]] = {}
            for key, row in self._rows("ContractServiceUnits").items():
                index.setdefault(row["contractServiceID"], []).append(key)
            self._units_of_service = index
        return self._units_of_service.setdefault(cs_id, [])

    # ----- writes ------------------------------------------------------------------------------
    def _body(self, entity: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise EmulatorError(500, [f"The request body must be a {self.defs[entity].singular} object."])
        return body

    def _writable(
        self, edef: EntityDef, body: dict[str, Any], *, current: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Body values converted to stored types (``current`` is the record an update changes).

        ``id`` is never a value (Autotask's own examples send ``"id": 0`` on create). Switchable strict
        readings (``self.rules``): unknown fields refused (else ignored); read-only fields refused on
        create and when changed on update (else ignored); null values refused on create."""
        rules = self.rules
        creating = current is None
        errors: list[str] = []
        values: dict[str, Any] = {}
        for key, raw in body.items():
            fdef = edef.find(str(key))
            if fdef is None:
                if rules.refuse_unknown_fields:
                    errors.append(unknown_field(str(key), edef))
                continue
            if fdef.name == "id":
                continue
            if creating and raw is None and rules.refuse_null_on_create:
                errors.append(f"A null value was sent for {fdef.name}: leave the field out instead.")
                continue
            if fdef.read_only:
                unchanged = current is not None and self._stored(edef, fdef.name, raw) == current.get(
                    fdef.name
                )
                if rules.refuse_read_only_fields and not unchanged:
                    errors.append(f"{fdef.name} is read-only and cannot be set on a {edef.singular}.")
                continue
            if fdef.kind == "udf":
                values[fdef.name] = self._udfs_from_body(edef, raw)
                continue
            values[fdef.name] = coerce(edef.name, fdef, raw)
        if errors:
            raise EmulatorError(500, errors)
        return values

    def _stored(self, edef: EntityDef, name: str, raw: Any) -> Any:
        """``raw`` converted like a stored value (to compare a read-only field sent back unchanged)."""
        fdef = edef.fields[name]
        if fdef.kind == "udf":
            return self._udfs_from_body(edef, raw)
        try:
            return coerce(edef.name, fdef, raw)
        except EmulatorError:
            return raw

    def _udfs_from_body(self, edef: EntityDef, raw: Any) -> list[dict[str, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise EmulatorError(500, ["userDefinedFields must be an array of {name, value} objects."])
        known = {n.lower(): n for n in self.udf_names(edef.name)}
        out = []
        for item in raw:
            if not isinstance(item, dict):
                raise EmulatorError(500, ["userDefinedFields must be an array of {name, value} objects."])
            item = lower_keys(item)
            name = known.get(str(item.get("name", "")).lower())
            if name is None:
                raise EmulatorError(
                    500,
                    [f"Unable to find user-defined field {item.get('name')} in the {edef.singular} Entity."],
                )
            value = item.get("value")
            out.append({"name": name, "value": None if value is None else str(value)})
        return out

    @staticmethod
    def _merge_udfs(current: list[dict[str, Any]], changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_name = {u["name"]: u["value"] for u in changes}
        return [{"name": u["name"], "value": by_name.get(u["name"], u["value"])} for u in current]

    def _validate(
        self, edef: EntityDef, record: dict[str, Any], changed: set[str], *, creating: bool
    ) -> None:
        errors: list[str] = []
        for fdef in edef.fields.values():
            value = record.get(fdef.name)
            if fdef.required and (value is None or value == ""):
                errors.append(f"Missing Required Field: {fdef.name}")
                continue
            if value is None or fdef.name not in changed:
                continue
            if fdef.picklist:
                active = {int(v["value"]) for v in self.picklist(edef.name, fdef.name) if v["isActive"]}
                if value not in active:
                    errors.append(f"Value {value} is not a valid value for picklist field {fdef.name}.")
            if fdef.reference:
                target = self._rows(fdef.reference).get(value)
                if target is None:
                    errors.append(
                        f"Reference value on field: {fdef.name} of type: {self.defs[fdef.reference].singular} does not exist or is invalid."
                    )
        if errors:
            raise EmulatorError(500, errors)
        self._check_lengths(edef, record, creating=creating)

    @staticmethod
    def _check_lengths(edef: EntityDef, record: dict[str, Any], *, creating: bool) -> None:
        """Every string field of the whole record (an update re-validates stored values too, as in
        n8n-nodes-autotask#48), with Autotask's message and record trailer."""
        errors = [
            f"String value exceeds maximum length (field:{name}). "
            for name, length in edef.string_fields
            if isinstance(value := record.get(name), str) and len(value) > length
        ]
        if errors:
            verb = "creating" if creating else "updating"
            raise EmulatorError(500, [*errors, f"Error {verb} entity for record number [1]."])

    def create(
        self,
        entity: str,
        body: Any,
        *,
        parent_id: int | None = None,
        actor: ApiUser | None = None,
        impersonate: int | None = None,
    ) -> int:
        """Create a record and return its id (Autotask's ``{"itemId": n}``)."""
        edef = self.defs[entity]
        with self.lock:
            self._require_permission(entity, "create")
            body = self._body(entity, body)
            if entity == "ContractServiceAdjustments":
                return self.ledger.adjust(edef, body, parent_id)
            values = self._writable(edef, body)
            self._apply_parent(edef, values, parent_id)
            record = seed.blank(entity)
            if edef.has_udfs:
                record["userDefinedFields"] = [
                    {"name": n["name"], "value": None} for n in self.udf_definitions(entity)
                ]
            changes_udfs = values.pop("userDefinedFields", None)
            record.update(values)
            if changes_udfs:
                record["userDefinedFields"] = self._merge_udfs(record["userDefinedFields"], changes_udfs)
            self._defaults(entity, record)
            self._validate(edef, record, set(edef.fields), creating=True)
            self._create_rules(entity, record)
            new_id = self._next_id(entity)
            record["id"] = new_id
            self._stamp_create(entity, record, actor, impersonate)
            if entity == "ContractServices":
                # 0 units and no ContractServiceUnits rows until an adjustment adds units
                self.add_contract_service(record)
            else:
                self._rows(entity)[new_id] = record
                self._touch("records", new_id, entity)
            self._commit()
            return new_id

    def _next_id(self, entity: str) -> int:
        new_id = int(self.state["next_id"][entity])
        self.state["next_id"][entity] = new_id + 1
        return new_id

    def _apply_parent(self, edef: EntityDef, values: dict[str, Any], parent_id: int | None) -> None:
        if parent_id is None or edef.parent_field is None:
            return
        given = values.get(edef.parent_field)
        if given is not None and given != parent_id:
            raise EmulatorError(
                500,
                [
                    f"The {edef.parent_field} {given} in the body does not match the parent id {parent_id} in the URL."
                ],
            )
        values[edef.parent_field] = parent_id
        if parent_id not in self._rows(edef.parent_entity or ""):
            raise EmulatorError(
                500, [f"Parent {self.defs[edef.parent_entity or ''].singular} {parent_id} does not exist."]
            )

    def _defaults(self, entity: str, record: dict[str, Any]) -> None:
        """Values Autotask fills in when a create leaves them out."""
        if entity in ("Companies", "Services") and record.get("isActive") is None:
            record["isActive"] = True
        if entity == "ContractServices" and record.get("unitPrice") is None:
            service = self._rows("Services").get(record.get("serviceID") or 0) or {}
            record["unitPrice"] = service.get("unitPrice")
        if entity == "ContractCharges":
            if record.get("status") is None:
                record["status"] = next(
                    (int(v["value"]) for v in self.picklist(entity, "status") if v["isDefaultValue"]), None
                )
            if record.get("isBilled") is None:
                record["isBilled"] = False
            if record.get("isBillableToCompany") is None:
                record["isBillableToCompany"] = True

    def _stamp_create(
        self, entity: str, record: dict[str, Any], actor: ApiUser | None, impersonate: int | None
    ) -> None:
        stamp = now_stamp()
        creator = impersonate or (actor.resource_id if actor else None)
        for name in (
            "createDate",
            "createdTime",
            "lastModifiedDate",
            "lastModifiedDateTime",
            "lastTrackedModifiedDateTime",
            "lastActivityDate",
        ):
            if name in record:
                record[name] = stamp
        for name in ("createdByResourceID", "creatorResourceID", "updateResourceID"):
            if name in record:
                record[name] = creator
        if impersonate and "impersonatorCreatorResourceID" in record:
            record["impersonatorCreatorResourceID"] = actor.resource_id if actor else None
        if entity == "Contracts":
            record["isCompliant"] = True
            record["internalCurrencySetupFee"] = record.get("setupFee")
        self._derive(entity, record)

    @staticmethod
    def _derive(entity: str, record: dict[str, Any]) -> None:
        """Fields Autotask computes (internal-currency copies, billable amounts)."""
        if entity == "ContractServices":
            record["internalCurrencyUnitPrice"] = record.get("unitPrice")
            record["internalCurrencyAdjustedPrice"] = record.get("unitPrice")
        if entity == "ContractCharges":
            qty = record.get("unitQuantity") or 0.0
            price = record.get("unitPrice") or 0.0
            cost = record.get("unitCost") or 0.0
            record["billableAmount"] = round(qty * price, 2)
            record["internalCurrencyBillableAmount"] = record["billableAmount"]
            record["internalCurrencyUnitPrice"] = record.get("unitPrice")
            record["extendedCost"] = round(qty * cost, 2)
        if entity == "Contracts":
            record["internalCurrencySetupFee"] = record.get("setupFee")

    def _contract(self, contract_id: int) -> dict[str, Any]:
        contract = self._rows("Contracts").get(contract_id)
        if contract is None:
            raise EmulatorError(
                500, ["Reference value on field: contractID of type: Contract does not exist or is invalid."]
            )
        return contract

    def recurring_type(self) -> int | None:
        """The tenant's contractType value of "Recurring Service" (7 in Autotask)."""
        return self.picklist_id("Contracts", "contractType", RECURRING_SERVICE_LABEL)

    def _require_recurring(self, contract: dict[str, Any]) -> None:
        if contract.get("contractType") != self.recurring_type():
            raise EmulatorError(
                500, ["Contract services can only be added to contracts of type Recurring Service."]
            )

    def _create_rules(self, entity: str, record: dict[str, Any]) -> None:
        """Entity business rules on create (after field validation)."""
        self._common_rules(entity, record)
        if entity == "Contracts":
            recurring = self.recurring_type()
            if record.get("contractType") == recurring and record.get("contractPeriodType") is None:
                # ecitsolutions/Autotask#39 (a real tenant's answer)
                raise EmulatorError(
                    500, [f"Contracts of type {recurring} (Recurring Services) require a ContractPeriodType."]
                )
        if entity == "ContractServices":
            contract = self._contract(record["contractID"])
            self._require_recurring(contract)
            if self.rules.refuse_duplicate_contract_service and any(
                other["serviceID"] == record["serviceID"]
                for other in self.services_of_contract(contract["id"])
            ):
                raise EmulatorError(
                    500,
                    [DUPLICATE_SERVICE_MESSAGE.format(service=record["serviceID"], contract=contract["id"])],
                )

    def _common_rules(self, entity: str, record: dict[str, Any]) -> None:
        if entity == "Contracts":
            if parse_datetime(record["endDate"]) < parse_datetime(record["startDate"]):
                raise EmulatorError(500, ["The contract end date must be on or after its start date."])
            if record.get("setupFee") and not record.get("setupFeeBillingCodeID"):
                raise EmulatorError(500, ["setupFeeBillingCodeID is required when a setup fee is entered."])
        if entity == "Services":
            code = self._rows("BillingCodes").get(record["billingCodeID"]) or {}
            wanted = self.picklist_id("BillingCodes", "useType", RECURRING_CODE_LABEL)
            if code.get("useType") != wanted or not code.get("isActive"):
                raise EmulatorError(
                    500, ["billingCodeID must be an active Recurring Contract Service billing code."]
                )
        if entity == "Products":
            code = self._rows("BillingCodes").get(record["productBillingCodeID"]) or {}
            wanted = self.picklist_id("BillingCodes", "useType", MATERIAL_LABEL)
            if code.get("useType") != wanted or not code.get("isActive"):
                raise EmulatorError(500, ["productBillingCodeID must be an active Material billing code."])
        if entity == "Companies":
            owner = self._rows("Resources").get(record["ownerResourceID"]) or {}
            if not owner.get("isActive"):
                raise EmulatorError(500, ["ownerResourceID must be an active resource."])
        if entity == "ContractCharges":
            contract = self._contract(record["contractID"])
            if record.get("productID") is None and record.get("billingCodeID") is None:
                # ContractChargesEntity page: a charge needs a product or a billing code
                raise EmulatorError(500, ["A contract charge requires a productID or a billingCodeID."])
            cs_id = record.get("contractServiceID")
            if cs_id is not None:
                cs = self._rows("ContractServices").get(cs_id)
                if cs is None or cs["contractID"] != contract["id"]:
                    raise EmulatorError(500, ["contractServiceID does not belong to this contract."])
        if entity == "ProductVendors" and record.get("isDefault"):
            for other in self._rows("ProductVendors").values():
                if other["productID"] == record["productID"] and other.get("id") != record.get("id"):
                    other["isDefault"] = False
                    self._touch("records", other["id"], "ProductVendors")

    def update(
        self,
        entity: str,
        body: Any,
        *,
        parent_id: int | None = None,
        replace: bool = False,
        actor: ApiUser | None = None,
    ) -> int:
        """PATCH (only the fields sent change) or PUT (omitted writable fields become null)."""
        edef = self.defs[entity]
        with self.lock:
            self._require_permission(entity, "update")
            body = self._body(entity, body)
            lowered = lower_keys(body)
            raw_id = lowered.get("id")
            fdef_id = edef.fields["id"]
            item_id = coerce(entity, fdef_id, raw_id) if raw_id is not None else None
            if item_id is None:
                raise EmulatorError(
                    500, [f"The id of the {edef.singular} to update is required in the body."]
                )
            current = self._rows(entity).get(item_id)
            if current is None or not self._under_parent(entity, current, parent_id):
                raise EmulatorError(500, [f"{edef.singular} with id {item_id} was not found."])
            if entity == "ContractCharges" and current.get("isBilled"):
                raise EmulatorError(500, ["A contract charge that has been billed cannot be updated."])
            values = self._writable(edef, body, current=current)
            if (
                parent_id is not None
                and edef.parent_field
                and values.get(edef.parent_field) is None
                and not replace
            ):
                values.pop(edef.parent_field, None)
            limited = bool(edef.updatable) and self.rules.contract_service_update_limited
            merged = dict(current)
            if replace:
                for fdef in edef.fields.values():
                    if not fdef.read_only and fdef.kind != "udf" and fdef.name not in values:
                        if fdef.immutable or fdef.name == edef.parent_field:
                            continue  # cannot be cleared; Autotask keeps it
                        if limited and fdef.name not in edef.updatable:
                            continue  # not updatable at all: kept
                        merged[fdef.name] = None
            new_udfs = values.pop("userDefinedFields", None)
            for name, value in values.items():
                if value == current.get(name):
                    continue  # sending the stored value is harmless
                fdef = edef.fields[name]
                if fdef.immutable:
                    raise EmulatorError(
                        500, [f"The field {name} cannot be changed after the {edef.singular} is created."]
                    )
                if limited and name not in edef.updatable:
                    raise EmulatorError(500, [CONTRACT_SERVICE_UPDATE_MESSAGE.format(field=name)])
            merged.update(values)
            if new_udfs is not None:
                merged["userDefinedFields"] = (
                    new_udfs
                    if replace
                    else self._merge_udfs(current.get("userDefinedFields") or [], new_udfs)
                )
            changed = {n for n in values if values[n] != current.get(n)}
            self._validate(edef, merged, changed, creating=False)
            self._common_rules(entity, merged)
            stamp = now_stamp()
            for name in ("lastModifiedDate", "lastModifiedDateTime", "lastTrackedModifiedDateTime"):
                if name in merged:
                    merged[name] = stamp
            if "updateResourceID" in merged and actor:
                merged["updateResourceID"] = actor.resource_id
            self._derive(entity, merged)
            self._rows(entity)[item_id] = merged
            self._touch("records", item_id, entity)
            if entity == "Contracts" and (
                merged["startDate"] != current.get("startDate") or merged["endDate"] != current.get("endDate")
            ):
                for cs in self.services_of_contract(item_id):
                    self.ledger.rebuild_units(cs, merged)  # billing periods follow the contract dates
            self._commit()
            return int(item_id)

    def delete(self, entity: str, item_id: int, *, parent_id: int | None = None) -> int:
        """Delete (only routed for entities Autotask lets you delete)."""
        edef = self.defs[entity]
        with self.lock:
            self._require_permission(entity, "delete")
            current = self._rows(entity).get(item_id)
            if current is None or not self._under_parent(entity, current, parent_id):
                raise EmulatorError(500, [f"{edef.singular} with id {item_id} was not found."])
            if entity == "ContractCharges" and current.get("isBilled"):
                raise EmulatorError(500, ["A contract charge that has been billed cannot be deleted."])
            if entity == "Contacts":
                for contract in self._rows("Contracts").values():
                    if contract.get("contactID") == item_id:
                        raise EmulatorError(
                            500, ["The contact is referenced by a contract and cannot be deleted."]
                        )
            del self._rows(entity)[item_id]
            self._touch("records", item_id, entity)
            self._commit()
            return item_id
