"""The "PSA System …" field: find an existing Autotask record to link a hub record to.

Each keystroke batch costs one query against the tenant's shared hourly budget, so a search asks only for
what the results list shows (``IncludeFields``), caps the result count, and needs at least two
characters. One or two characters use ``beginsWith`` (cheap and what a person typing a name expects);
longer text uses ``contains`` so "wind" finds "Northwind Traders".

Before a link is stored the chosen id is read back (one ``get``): a crafted or stale id is refused with a
clear message instead of surfacing as a failed update in the next sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from psabridge.autotask.query import F
from psabridge.sync import service

MIN_QUERY = 2
MAX_RESULTS = 20


@dataclass(frozen=True)
class Target:
    """Where a record type's links live in Autotask and how its records are named."""

    entity: str
    name_field: str
    detail_fields: tuple[str, ...]


def target_for(record_type: str) -> Target | None:
    """The Autotask entity a linkable record type is linked to (None if it cannot be linked by hand)."""
    if record_type == "account":
        return Target("Companies", "companyName", ("phone", "city"))
    if record_type == "product":
        return Target("Products", "name", ("sku",))
    if record_type.startswith("service."):
        return Target("Services", "name", ("unitPrice",))
    if record_type == "billing_contract":
        return Target("Contracts", "contractName", ("startDate", "endDate"))
    return None


class SearchClient(Protocol):
    def query(
        self,
        entity: str,
        filter: Any = None,
        include_fields: Any = None,
        max_records: int | None = None,
    ) -> Any: ...

    def get(self, entity: str, id: int, *, parent_id: int | None = None) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Match:
    id: int
    name: str
    detail: str


def _match(target: Target, item: dict[str, Any]) -> Match:
    detail = " · ".join(
        str(item[f])[:10] if f.endswith("Date") else str(item[f])
        for f in target.detail_fields
        if item.get(f) not in (None, "")
    )
    return Match(int(item["id"]), str(item.get(target.name_field) or f"#{item['id']}"), detail)


def search(client: SearchClient, record_type: str, text: str, *, limit: int = MAX_RESULTS) -> list[Match]:
    """Autotask records of the right entity whose name matches ``text`` (empty for too-short text)."""
    target = target_for(record_type)
    text = text.strip()
    if target is None or len(text) < MIN_QUERY:
        return []
    cond = (
        F.begins_with(target.name_field, text)
        if len(text) <= MIN_QUERY
        else F.contains(target.name_field, text)
    )
    fields = ["id", target.name_field, *target.detail_fields]
    items = client.query(target.entity, [cond], include_fields=fields, max_records=limit)
    return [_match(target, item) for item in items][:limit]


#: Refusals of a link (the sync engine's: one rule set for the screen and the REST API).
LinkRefused = service.LinkRefused


def check_link_allowed(
    session: Session, *, organization_id: int, record_type: str, hub_id: int, autotask_id: int
) -> Target:
    """The database checks of :func:`psabridge.sync.service.check_link_rules` (no API call)."""
    target = target_for(record_type)
    if target is None:
        raise LinkRefused(f"Records of type {record_type!r} cannot be linked by hand")
    service.check_link_rules(session, organization_id, record_type, hub_id, autotask_id)
    return target


def check_target(
    session: Session,
    client: SearchClient,
    *,
    organization_id: int,
    record_type: str,
    hub_id: int,
    autotask_id: int,
) -> Match:
    """The Autotask record to link, after checking it exists and no other hub record is linked to it."""
    target = check_link_allowed(
        session,
        organization_id=organization_id,
        record_type=record_type,
        hub_id=hub_id,
        autotask_id=autotask_id,
    )
    return _match(target, service.read_link_target(client, target.entity, autotask_id))
