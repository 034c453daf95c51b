"""Names of the Autotask records the PSA Integration screen links to, without asking Autotask.

A row's "PSA System …" column used to say only "Company #1003": a person cannot tell from an id whether
the right record is linked. Asking Autotask for every row's name would spend the tenant's shared API
budget on page views, so the names come from what PSA Bridge already knows:

the sync journal. Every create or update PSA Bridge wrote carries the body it sent, and the hub owns the
name fields, so the last name written is the record's name in Autotask (unless a person renamed it there
since — the next push writes the hub's name back). A record linked but not pushed yet keeps the bare
"#id" until its push writes the hub's fields into it. Adjustments, which have no name, are described by
the body they were written with ("+5 seats of … on 2026-02-15"). One query per page view, however many rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.sync.models import JournalEntry

#: The body fields that name a record of each Autotask entity, joined with a space.
NAME_FIELDS: dict[str, tuple[str, ...]] = {
    "Companies": ("companyName",),
    "Contacts": ("firstName", "lastName"),
    "Contracts": ("contractName",),
    "Services": ("name",),
    "Products": ("name",),
    "ContractCharges": ("name",),
}
#: Entities whose records are named after another record (a contract service after its service).
NAMED_AFTER = {"ContractServices": ("Services", "serviceID")}
#: Adjustments have no name field: they are described by what they changed (see ``_describe_adjustment``).
ADJUSTMENTS = "ContractServiceAdjustments"


def _name_from(entity: str, body: dict[str, Any]) -> str | None:
    fields = NAME_FIELDS.get(entity)
    if not fields or not all(isinstance(body.get(f), str) for f in fields):
        return None
    name = " ".join(str(body[f]).strip() for f in fields).strip()
    return name or None


def _describe_adjustment(body: dict[str, Any], service_name: str | None) -> str | None:
    """ "+5 seats of Microsoft 365 E3 (monthly) on 2026-02-15" from the body PSA Bridge sent.

    An adjustment's id alone tells a person nothing; the body it was written with says exactly what it did.
    """
    change = body.get("unitChange")
    when = str(body.get("effectiveDate") or "")[:10]
    price = body.get("adjustedUnitPrice")
    if not isinstance(change, int) or not when:
        return None
    of = f" of {service_name}" if service_name else ""
    if change == 0 and isinstance(price, (int, float)):
        return f"price{of} set to {price:,.2f} on {when}"
    text = f"{'+' if change >= 0 else ''}{change} seats{of} on {when}"
    if isinstance(price, (int, float)):
        text += f" at {price:,.2f}"
    return text


def autotask_names(
    session: Session, organization_id: int, entities: Iterable[str]
) -> dict[tuple[str, int], str]:
    """``{(entity, autotask_id): name}`` for the records of ``entities`` PSA Bridge wrote successfully.

    Later writes win (a rename in the hub is written as an update). Contract services get the name of
    their service, so the column reads "Contract service #1001 · Microsoft 365 Business Basic (monthly)".
    """
    wanted = set(entities)
    for entity in list(wanted):
        if entity in NAMED_AFTER:
            wanted.add(NAMED_AFTER[entity][0])
        if entity == ADJUSTMENTS:
            # a seat change carried by its contract service's creation is linked to that contract service
            wanted |= {"Services", "ContractServices"}
    wanted &= set(NAME_FIELDS) | set(NAMED_AFTER) | {ADJUSTMENTS}
    if not wanted:
        return {}
    rows = session.execute(
        select(JournalEntry.entity, JournalEntry.autotask_id, JournalEntry.body)
        .where(
            JournalEntry.organization_id == organization_id,
            JournalEntry.entity.in_(sorted(wanted)),
            JournalEntry.verb.in_(("create", "update", "replace", "adjust")),
            JournalEntry.outcome == "done",
            JournalEntry.autotask_id.is_not(None),
        )
        .order_by(JournalEntry.id)
    )
    names: dict[tuple[str, int], str] = {}
    named_after: dict[tuple[str, int], int] = {}
    adjustments: list[tuple[int, dict[str, Any]]] = []
    for entity, autotask_id, body in rows:
        if not isinstance(body, dict) or autotask_id is None:
            continue
        if entity == ADJUSTMENTS:
            adjustments.append((int(autotask_id), body))
            continue
        if entity in NAMED_AFTER:
            ref = body.get(NAMED_AFTER[entity][1])
            if isinstance(ref, int):
                named_after[(entity, int(autotask_id))] = ref
            continue
        name = _name_from(entity, body)
        if name:
            names[(entity, int(autotask_id))] = name
    for (entity, autotask_id), ref in named_after.items():
        parent_name = names.get((NAMED_AFTER[entity][0], ref))
        if parent_name:
            names[(entity, autotask_id)] = parent_name
    for autotask_id, body in adjustments:
        # an adjustment names its contract service (whose name is its service's), or its service
        service_id, cs_id = body.get("serviceID"), body.get("contractServiceID")
        service_name = (
            names.get(("Services", service_id))
            if isinstance(service_id, int)
            else names.get(("ContractServices", cs_id))
            if isinstance(cs_id, int)
            else None
        )
        described = _describe_adjustment(body, service_name)
        if described:
            names[(ADJUSTMENTS, autotask_id)] = described
    return names
