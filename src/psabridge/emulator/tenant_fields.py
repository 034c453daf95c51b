"""Request bodies to stored values, and the field checks every create and update passes.

Autotask answers a bad field with a 500 and an ``errors`` list; which fields may be sent, how values are
converted, and which checks apply to a whole record (required fields, picklist values, references,
string lengths) are the same for every entity, so they are kept apart from the per-entity business
rules (:mod:`psabridge.emulator.business_rules`) and from the writes that call both.
"""

from __future__ import annotations

from typing import Any

from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.query import lower_keys, unknown_field
from psabridge.emulator.schema import EntityDef
from psabridge.emulator.tenant_state import TenantState
from psabridge.emulator.values import coerce


class TenantFields(TenantState):
    """Body conversion and field validation of an emulated tenant (called under its lock)."""

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
