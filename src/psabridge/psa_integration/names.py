"""Names of the Autotask records the PSA Integration screen links to, without asking Autotask.

A row's "PSA System …" column used to say only "Company #1003": a person cannot tell from an id whether
the right record is linked. Asking Autotask for every row's name would spend the tenant's shared API
budget on page views, so the names come from what PSA Bridge already knows:

the sync journal. Every create or update PSA Bridge wrote carries the body it sent, and the hub owns the
name fields, so the last name written is the record's name in Autotask (unless a person renamed it there
since — the next push writes the hub's name back). A record linked but not pushed yet keeps the bare
"#id" until its push writes the hub's fields into it. Adjustments, which have no name, are described by
the body they were written with ("+5 seats of … on 2026-02-15"). At most three queries per page view, for the page's records only, however many rows.
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


def _entries(
    session: Session, organization_id: int, wanted: set[tuple[str, int]]
) -> list[tuple[str, int, dict[str, Any]]]:
    """The successful writes of these ``(entity, autotask_id)`` records, oldest first (one query)."""
    if not wanted:
        return []
    rows = session.execute(
        select(JournalEntry.entity, JournalEntry.autotask_id, JournalEntry.body)
        .where(
            JournalEntry.organization_id == organization_id,
            JournalEntry.entity.in_(sorted({e for e, _ in wanted})),
            JournalEntry.autotask_id.in_(sorted({i for _, i in wanted})),
            JournalEntry.verb.in_(("create", "update", "replace", "adjust")),
            JournalEntry.outcome == "done",
        )
        .order_by(JournalEntry.id)
    )
    return [
        (str(entity), int(at_id), body)
        for entity, at_id, body in rows
        if at_id is not None and isinstance(body, dict) and (entity, at_id) in wanted
    ]


def autotask_names(
    session: Session, organization_id: int, records: Iterable[tuple[str, int | None]]
) -> dict[tuple[str, int], str]:
    """``{(entity, autotask_id): name}`` of these Autotask records, from what PSA Bridge wrote into them.

    Only the given records are looked up (a page's), in at most three queries however many there are:
    the records, then the services their contract services and adjustments name, then the services of
    those contract services. Later writes win (a rename in the hub is written as an update). Contract
    services get the name of their service, so the column reads "Contract service #1001 · Microsoft 365
    Business Basic (monthly)".
    """
    wanted: set[tuple[str, int]] = set()
    for entity, autotask_id in records:
        if not autotask_id or entity not in {*NAME_FIELDS, *NAMED_AFTER, ADJUSTMENTS}:
            continue
        wanted.add((entity, int(autotask_id)))
        if entity == ADJUSTMENTS:
            # a seat change carried by its contract service's creation is linked to that contract service
            wanted.add(("ContractServices", int(autotask_id)))
    names: dict[tuple[str, int], str] = {}
    named_after: dict[tuple[str, int], int] = {}
    adjustments: dict[int, dict[str, Any]] = {}
    loaded: set[tuple[str, int]] = set()
    for _round in range(3):
        todo = wanted - loaded
        if not todo:
            break
        loaded |= todo
        for entity, autotask_id, body in _entries(session, organization_id, todo):
            if entity == ADJUSTMENTS:
                adjustments[autotask_id] = body
                refs = [
                    ("Services", body.get("serviceID")),
                    ("ContractServices", body.get("contractServiceID")),
                ]
            elif entity in NAMED_AFTER:
                ref = body.get(NAMED_AFTER[entity][1])
                if isinstance(ref, int):
                    named_after[(entity, autotask_id)] = ref
                refs = [(NAMED_AFTER[entity][0], ref)]
            else:
                name = _name_from(entity, body)
                if name:
                    names[(entity, autotask_id)] = name
                refs = []
            wanted |= {(e, r) for e, r in refs if isinstance(r, int)}
    for (entity, autotask_id), ref in named_after.items():
        parent_name = names.get((NAMED_AFTER[entity][0], ref))
        if parent_name:
            names[(entity, autotask_id)] = parent_name
    for autotask_id, body in adjustments.items():
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
