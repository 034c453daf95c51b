"""Compare our linked records with what Autotask holds: missing, inactive, re-typed, owned fields a
person (or the hub) changed, records found under their key but not linked, and hub records that should be
in Autotask and are not.

Who changed a field is told by the journal: Autotask no longer holding what PSA Bridge last wrote is a
person's change; Autotask still holding it while the hub moved on is the hub's change, which the next
push writes anyway (its fix is that push, never a second, competing write).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from psabridge.reconcile import findings as f
from psabridge.reconcile.inputs import Inputs
from psabridge.sync.reader import hub_record_ids
from psabridge.sync.records import RECORD_TYPES
from psabridge.sync.records.base import Operation, normal

#: entity -> (field, picklist key) of the type a record was created with
_TYPES: dict[str, list[tuple[str, str]]] = {
    "Companies": [("companyType", "company_types")],
    "Services": [("periodType", "period_types")],
    "Contracts": [("contractType", "contract_types"), ("contractPeriodType", "contract_period_types")],
}
#: fields that hold a picklist id, shown with their label
_PICKLIST_FIELDS = {("Contracts", "status"): "contract_statuses"}
_TAB = {"charges": "Changes"}
_KIND = {"Companies": "company", "Services": "service"}


def compare_records(inputs: Inputs) -> list[f.Found]:
    out: list[f.Found] = []
    for record_type, ids in sorted(hub_record_ids(inputs.hub.ctx.hub).items()):
        for hub_id in sorted(set(ids)):
            out.extend(_record(inputs, record_type, hub_id))
    return out


def _record(inputs: Inputs, record_type: str, hub_id: int) -> list[f.Found]:
    rt = RECORD_TYPES[record_type]
    linked_id = inputs.linked_id(record_type, hub_id)
    key = inputs.key(record_type, hub_id)
    by_key = inputs.autotask.by_key.get((rt.entity, key))
    if linked_id is None:
        return _unlinked(inputs, record_type, hub_id, by_key)
    row = inputs.autotask.record(rt.entity, linked_id)
    if row is None:
        return [_missing(inputs, record_type, hub_id, linked_id, by_key)]
    if rt.entity == "ContractServices":
        return []  # seats and prices: see ``seats``; Autotask lets nothing else of them change
    return [
        *_fields(inputs, record_type, hub_id, linked_id, row),
        *_activity(inputs, record_type, hub_id, row),
    ]


def _base(inputs: Inputs, category: str, record_type: str, hub_id: int, autotask_id: int | None) -> f.Found:
    return f.Found(
        category,
        inputs.label(record_type, hub_id),
        autotask_entity=RECORD_TYPES[record_type].entity,
        autotask_id=autotask_id,
        record_type=record_type,
        hub_id=hub_id,
        subscription_id=hub_id if record_type == "subscription" else None,
    )


def push_records(inputs: Inputs, record_type: str, hub_id: int) -> list[tuple[str, int]]:
    """The records a push of this one writes with it: an account's primary contact, a subscription's
    seat changes (a contract service without them would have no units)."""
    out = [(record_type, hub_id)]
    hub = inputs.hub.ctx
    if record_type == "account" and (account := hub.accounts.get(hub_id)) and account.primary_contact:
        out.append(("contact", account.primary_contact.id))
    if record_type == "subscription":
        out += [("subscription_start", hub_id), ("cancellation", hub_id)]
        for lg in hub.logs_by_sub.get(hub_id, []):
            out += [("license_change_log", lg.id), ("reversal", lg.id)]
    return out


def push_fix(inputs: Inputs, records: list[tuple[str, int]], what: str) -> f.FixSpec | None:
    """The sync's own operations for ``records``, applied through the sync (None when it plans none)."""
    ops: dict[str, Operation] = {}
    for key in records:
        for op in inputs.hub.ops.get(key, []):
            ops[op.op_id] = op
    if not ops:
        return None
    cost = sum(op.cost for op in ops.values())
    return f.FixSpec(
        f.PUSH,
        f"Push {what} now: the sync's {len(ops)} operation(s) for it, {cost} API call(s), journaled like "
        "every push",
        cost,
        params={"records": [list(r) for r in records], "operations": sorted(ops)},
    )


def _unlinked(inputs: Inputs, record_type: str, hub_id: int, by_key: dict[str, Any] | None) -> list[f.Found]:
    rt = RECORD_TYPES[record_type]
    if by_key is not None:
        found = _base(inputs, f.UNLINKED, record_type, hub_id, int(by_key["id"]))
        found.autotask_value = by_key.get(rt.key_field or "")
        found.detail = (
            f"Autotask {rt.entity} #{by_key['id']} carries this record's key; PSA Bridge has no link"
        )
        found.evidence = {"autotask": by_key}
        found.fixes = [_relink(inputs, record_type, hub_id, by_key)]
        return [found]
    status = inputs.hub.statuses.get((record_type, hub_id))
    if status is None:
        return []  # the sync does not push it (archived, not sold at this frequency)
    link = inputs.links.get((record_type, hub_id))
    state, reason = status.status, status.reason
    if link is not None and link.status == "needs_link" and link.decision == "auto":
        state, reason = "needs_link", link.reason  # the name lookup is the tab's, not the reconcile's
    found = _base(inputs, f.NOT_IN_AUTOTASK, record_type, hub_id, None)
    found.hub_value = state
    found.detail = (
        "Not pushed yet"
        if state == "pending" and not reason
        else f"{state.replace('_', ' ').capitalize()}" + (f": {reason}" if reason else "")
    )
    found.evidence = {"hub": {"status": state, "reason": reason}}
    tab = _TAB.get(rt.phase, rt.phase.capitalize())
    push = (
        push_fix(inputs, push_records(inputs, record_type, hub_id), "it")
        if state in ("pending", "error")
        else None
    )
    if push is not None:
        found.fixes = [push]
    elif state == "needs_link":
        found.fixes = [
            f.FixSpec(f.GUIDE, f"Link it to an existing Autotask record or choose Add New on the {tab} tab")
        ]
    else:
        found.fixes = [f.FixSpec(f.GUIDE, f"{reason or state} (see the {tab} tab)")]
    return [found]


def _relink(inputs: Inputs, record_type: str, hub_id: int, row: dict[str, Any]) -> f.FixSpec:
    rt = RECORD_TYPES[record_type]
    wanted = inputs.hub.wanted.get((record_type, hub_id))
    same = wanted is not None and all(
        normal(row.get(k)) == normal(v) for k, v in wanted.owned.items() if k in row
    )
    then = "" if same else "; the next push writes the hub's fields into it"
    if record_type == "subscription":
        then += (
            "; seat changes PSA Bridge has no record of pushing are pushed by the next push: check its trace "
            "first"
        )
    return f.FixSpec(
        f.RELINK,
        f"Link it to {rt.entity} #{row['id']}, found by its key (no API call){then}",
        0,
        params={
            "record_type": record_type,
            "hub_id": hub_id,
            "autotask_id": int(row["id"]),
            "key": inputs.key(record_type, hub_id),
            "fingerprint": wanted.fingerprint if (same and wanted is not None) else "",
        },
    )


def _missing(
    inputs: Inputs, record_type: str, hub_id: int, linked_id: int, by_key: dict[str, Any] | None
) -> f.Found:
    rt = RECORD_TYPES[record_type]
    found = _base(inputs, f.MISSING, record_type, hub_id, linked_id)
    found.hub_value = inputs.key(record_type, hub_id)
    found.evidence = {"link": {"autotask_id": linked_id}, "autotask": by_key}
    if by_key is not None and int(by_key["id"]) != linked_id:
        found.detail = f"{rt.entity} #{linked_id} is gone; #{by_key['id']} carries its key"
        found.fixes = [_relink(inputs, record_type, hub_id, by_key)]
        return found
    found.detail = f"{rt.entity} #{linked_id} is not in Autotask (deleted, or not visible to the API user)"
    writes = len(push_records(inputs, record_type, hub_id)) if record_type == "subscription" else 1
    found.fixes = [
        f.FixSpec(
            f.RECREATE,
            "Create it again: forget the link (no API call now); the next push creates it"
            + (" with all its seats" if record_type == "subscription" else "")
            + f" (about {writes} write(s))",
            0,
            params={"records": [list(r) for r in push_records(inputs, record_type, hub_id)]},
        ),
        f.accept("that it is gone (the link stays; a later push of a change to it will fail)"),
    ]
    return found


def _fields(
    inputs: Inputs, record_type: str, hub_id: int, linked_id: int, row: dict[str, Any]
) -> list[f.Found]:
    """Owned fields that differ, each with who changed it."""
    rt = RECORD_TYPES[record_type]
    wanted = inputs.hub.wanted.get((record_type, hub_id))
    if wanted is None:
        return []  # blocked in the hub now: the sync writes nothing to it, nothing to compare
    written = inputs.written.fields.get((rt.entity, linked_id), {})
    pending_update = any(op.verb == "update" for op in inputs.hub.ops.get((record_type, hub_id), []))
    out = []
    for name, hub_value in sorted(wanted.owned.items()):
        if name not in row or normal(row.get(name)) == normal(hub_value):
            continue
        last = written.get(name)
        who = f.changed_by(row.get(name), hub_value, last, known=name in written)
        found = _base(
            inputs,
            _field_category(inputs, rt.entity, name, row.get(name), hub_value),
            record_type,
            hub_id,
            linked_id,
        )
        picklist = _PICKLIST_FIELDS.get((rt.entity, name), "")
        found.field = name
        found.autotask_value = inputs.shown(picklist, row.get(name)) if picklist else row.get(name)
        found.hub_value = inputs.shown(picklist, hub_value) if picklist else hub_value
        found.last_written = last
        found.changed_by = who
        found.detail = (
            f"PSA Bridge last wrote {last!r}" if name in written else "PSA Bridge has no record of writing it"
        ) + f"; Autotask holds {row.get(name)!r}, the hub wants {hub_value!r}"
        if who in (f.PERSON, f.BOTH) and pending_update:
            found.detail += "; the next push overwrites it (it sends every owned field of a changed record)"
        found.evidence = {
            "autotask": row,
            "hub": {"record": found.label, "owned": wanted.owned},
            "last_written": {"fields": written, "at": inputs.written.when.get((rt.entity, linked_id))},
        }
        found.fixes = _field_fixes(
            inputs, record_type, hub_id, linked_id, name, hub_value, row.get(name), who
        )
        out.append(found)
    _warn_pushes(out)
    return out


def _warn_pushes(found: list[f.Found]) -> None:
    """A push of a record sends every owned field: say so on its push when a person changed another."""
    by_person = [d.field for d in found if d.changed_by in (f.PERSON, f.BOTH) and d.field]
    if not by_person:
        return
    for d in found:
        for i, fix in enumerate(d.fixes):
            if fix.kind == f.PUSH:
                d.fixes[i] = replace(
                    fix,
                    summary=f"{fix.summary} — also writes the hub's {', '.join(by_person)} over a change "
                    "made in Autotask",
                    overwrites_person=True,
                )


def _field_category(inputs: Inputs, entity: str, name: str, autotask: Any, hub: Any) -> str:
    if name == "isActive" and not autotask and hub:
        return f.INACTIVE
    active, inactive = inputs.status_ids()
    if (entity, name) == ("Contracts", "status") and autotask == inactive and hub == active:
        return f.INACTIVE
    return f.OWNED_FIELD


def _field_fixes(
    inputs: Inputs,
    record_type: str,
    hub_id: int,
    linked_id: int,
    name: str,
    value: Any,
    observed: Any,
    who: str,
) -> list[f.FixSpec]:
    if who == f.HUB:
        push = push_fix(inputs, [(record_type, hub_id)], "the hub's values")
        if push is not None:
            return [push]
    shown = inputs.shown(_PICKLIST_FIELDS.get((RECORD_TYPES[record_type].entity, name), ""), value)
    return [
        write_back(
            inputs,
            record_type,
            hub_id,
            linked_id,
            name,
            value,
            observed,
            f"Write {name} back: {shown!r}",
            who != f.HUB,
        ),
        f.accept(),
    ]


def write_back(
    inputs: Inputs,
    record_type: str,
    hub_id: int,
    linked_id: int,
    name: str,
    value: Any,
    observed: Any,
    summary: str,
    overwrites: bool,
) -> f.FixSpec:
    rt = RECORD_TYPES[record_type]
    link = inputs.links.get((record_type, hub_id))
    parent = (
        link.parent_autotask_id if link is not None and rt.entity in ("Contacts", "ContractCharges") else None
    )
    warning = " — overwrites a change made in Autotask" if overwrites else ""
    return f.FixSpec(
        f.WRITE_BACK,
        f"{summary} (PATCH {rt.entity} #{linked_id}, 1 API call){warning}",
        1,
        overwrites,
        params={
            "entity": rt.entity,
            "autotask_id": linked_id,
            "parent_id": parent,
            "field": name,
            "value": value,
            "observed": observed,
        },
    )


def _activity(inputs: Inputs, record_type: str, hub_id: int, row: dict[str, Any]) -> list[f.Found]:
    """Not owned but decisive: a company or service set inactive, a record re-typed since created."""
    rt = RECORD_TYPES[record_type]
    linked_id = int(row["id"])
    out: list[f.Found] = []
    account = inputs.hub.ctx.accounts.get(hub_id) if record_type == "account" else None
    hub_active = rt.entity == "Services" or (account is not None and account.status == "active")
    if rt.entity in ("Companies", "Services") and row.get("isActive") is False and hub_active:
        found = _base(inputs, f.INACTIVE, record_type, hub_id, linked_id)
        found.field, found.autotask_value, found.hub_value = "isActive", False, True
        found.changed_by = f.PERSON
        found.detail = f"The {_KIND[rt.entity]} is inactive in Autotask"
        found.evidence = {"autotask": row}
        found.fixes = [
            write_back(
                inputs, record_type, hub_id, linked_id, "isActive", True, False, "Reactivate it", True
            ),
            f.accept("that it is inactive"),
        ]
        out.append(found)
    created = inputs.written.created.get((rt.entity, linked_id), {})
    link = inputs.links.get((record_type, hub_id))
    created_with = (link.created_with if link is not None else None) or {}
    for name, picklist in _TYPES.get(rt.entity, []):
        was = created_with.get(name, created.get(name))
        if was is None or name not in row or normal(row.get(name)) == normal(was):
            continue
        found = _base(inputs, f.RETYPED, record_type, hub_id, linked_id)
        found.field = name
        found.autotask_value = inputs.shown(picklist, row.get(name))
        found.hub_value = inputs.shown(picklist, was)
        found.last_written = was
        found.changed_by = f.PERSON
        found.detail = f"{name} is not what PSA Bridge created it with"
        found.evidence = {"autotask": row, "created_with": {name: was}}
        if rt.entity == "Contracts":
            found.fixes = [f.accept("the new type (Autotask does not let a contract's type change)")]
        else:
            found.fixes = [
                write_back(
                    inputs,
                    record_type,
                    hub_id,
                    linked_id,
                    name,
                    was,
                    row.get(name),
                    f"Set {name} back to {inputs.shown(picklist, was)!r}",
                    True,
                ),
                f.accept("the new type"),
            ]
        out.append(found)
    return out
