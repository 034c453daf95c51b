"""One emulated Autotask database: the creates, updates and deletes the API routes call.

:class:`EmulatorTenant` puts together the tenant's state and persistence
(:mod:`psabridge.emulator.tenant_state`), its reads (:mod:`psabridge.emulator.tenant_reads`), the
field checks (:mod:`psabridge.emulator.tenant_fields`), the entity rules
(:mod:`psabridge.emulator.business_rules`) and the contract service unit ledger
(:mod:`psabridge.emulator.ledger`); the writes here run them in Autotask's order. Every write notes
the rows it sets or deletes with ``_touch`` and ends with ``_commit``.

Rules whose public evidence is missing are switchable (:class:`psabridge.emulator.rules.RuleSwitches`,
``tenant.rules``); the evidence for every rule is in docs/autotask-fidelity.md.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from psabridge.emulator import seed
from psabridge.emulator.api_users import ApiUser
from psabridge.emulator.business_rules import BusinessRules
from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.ledger import ServiceLedger
from psabridge.emulator.query import lower_keys
from psabridge.emulator.tenant_fields import TenantFields
from psabridge.emulator.values import coerce, now_stamp

#: Invented wordings (the rules have evidence, the messages do not): see docs/autotask-fidelity.md.
CONTRACT_SERVICE_UPDATE_MESSAGE = (
    "Only unitPrice and invoiceDescription of a ContractService can be updated; {field} cannot be changed."
)


class EmulatorTenant(BusinessRules, TenantFields):
    """A seeded Autotask tenant with one (or more) API users."""

    @cached_property
    def ledger(self) -> ServiceLedger:
        """The unit history of the tenant's contract services (holds no state of its own)."""
        return ServiceLedger(self)

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
