"""Read what the plan needs from Autotask, frugally.

Only records the engine does not know yet are read, and only in batches: one ``in`` query per entity (per
500 keys) by matching key, one by company name for link suggestions, and ContractServiceUnits only for
adjustments whose outcome is unknown. Linked records whose owned fields did not change cost nothing, so a
no-change re-run reads (almost) nothing. Never read-before-write per record.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

from psabridge.autotask.query import MAX_OR_CONDITIONS, F
from psabridge.sync.keys import RECORD_TYPES, matching_key
from psabridge.sync.records import INCLUDE_FIELDS, MODULES
from psabridge.sync.records.context import RecordModule
from psabridge.sync.snapshot import AutotaskView, HubSnapshot, LinkState, TenantFacts


class AutotaskApi(Protocol):
    """The part of ``psabridge.autotask.AutotaskClient`` the engine uses (kept narrow for clarity)."""

    def query_in(
        self,
        entity: str,
        field: str,
        values: Iterable[Any],
        *,
        extra: Any = None,
        include_fields: list[str] | None = None,
    ) -> Iterator[dict[str, Any]]: ...

    def create(self, entity: str, body: dict[str, Any], *, parent_id: int | None = None) -> int: ...

    def update(self, entity: str, body: dict[str, Any], *, parent_id: int | None = None) -> int: ...

    def picklist(self, entity: str, field: str) -> Any: ...

    def query(
        self,
        entity: str,
        filter: Any = None,
        include_fields: list[str] | None = None,
        max_records: int | None = None,
    ) -> Iterator[dict[str, Any]]: ...


_OUR_COMPANY_KEY = re.compile(r"^PSB\d+-A\d+$")


class CallCounter:
    """Counts pages fetched through an iterator of query results (500 items per page)."""

    def __init__(self) -> None:
        self.calls = 0

    def count(self, chunks: int, items: int) -> None:
        self.calls += max(chunks, (items + 499) // 500)


def hub_record_ids(hub: HubSnapshot, modules: Sequence[RecordModule] = MODULES) -> dict[str, list[int]]:
    """Every hub record id per record type that has an Autotask record with a matching key."""
    out: dict[str, list[int]] = {}
    for module in modules:
        for record_type, ids in module.hub_ids(hub).items():
            out.setdefault(record_type, []).extend(ids)
    return out


def _picklist_value(items: Any, label: str) -> int | None:
    for item in items or []:
        item_label = getattr(item, "label", None) if not isinstance(item, dict) else item.get("label")
        value = getattr(item, "value", None) if not isinstance(item, dict) else item.get("value")
        if str(item_label).strip().lower() == label.lower() and value is not None:
            return int(value)
    return None


def with_contract_statuses(statuses: Any, facts: TenantFacts) -> TenantFacts:
    """``facts`` with the tenant's Contracts status values "Active" and "Inactive" (looked up by label in
    ``statuses``: the picklist's values, or the connector's cached options of it)."""
    return replace(
        facts,
        contract_status_active=_picklist_value(statuses, "Active"),
        contract_status_inactive=_picklist_value(statuses, "Inactive"),
    )


def read_view(
    client: AutotaskApi,
    hub: HubSnapshot,
    links: dict[tuple[str, int], LinkState],
    *,
    unit_services: dict[int, set[str]] | None = None,
    extra_keys: Iterable[tuple[str, str]] = (),
    repeat_contracts: dict[int, set[str]] | None = None,
    need_facts: bool = True,
    facts: TenantFacts | None = None,
    modules: Sequence[RecordModule] = MODULES,
) -> AutotaskView:
    """Batched reads for one plan. ``unit_services``: contract services whose units must be checked on
    the given dates (adjustments with an unknown outcome); ``extra_keys``: (entity, key) pairs from the
    journal; ``repeat_contracts``: contracts with a repeat service of unknown outcome and its dates
    (their contract services are read, and the units of the unkeyed ones on those dates). ``facts``:
    what is already known of the tenant (field lengths, period labels), completed here."""
    view = AutotaskView()
    counter = CallCounter()
    view.facts = facts or TenantFacts()
    if need_facts and hub.contracts:
        view.facts = with_contract_statuses(client.picklist("Contracts", "status"), view.facts)
    _read_by_key(client, hub, links, extra_keys, view, counter, modules)
    _read_candidates(client, hub, links, view, counter)
    wanted_units: dict[int, set[str]] = defaultdict(set)
    for cs_id, days in (unit_services or {}).items():
        wanted_units[cs_id] |= days
    if repeat_contracts:
        for cs_id, days in _read_repeat_services(client, repeat_contracts, view, counter).items():
            wanted_units[cs_id] |= days
    if wanted_units:
        units, calls = read_units_on(client, wanted_units)
        counter.calls += calls
        view.units = units
    view.read_calls = counter.calls
    return view


def _read_by_key(
    client: AutotaskApi,
    hub: HubSnapshot,
    links: dict[tuple[str, int], LinkState],
    extra_keys: Iterable[tuple[str, str]],
    view: AutotaskView,
    counter: CallCounter,
    modules: Sequence[RecordModule],
) -> None:
    """Records not linked yet (and journal keys to reconcile), by matching key: one ``in`` query per
    entity and 500 keys."""
    org = hub.organization_id
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record_type, ids in hub_record_ids(hub, modules).items():
        rt = RECORD_TYPES[record_type]
        assert rt.key_field is not None
        for hub_id in ids:
            link = links.get((record_type, hub_id))
            if link is None or link.autotask_id is None:
                wanted[(rt.entity, rt.key_field)].add(matching_key(org, record_type, hub_id))
    key_fields = {t.entity: t.key_field for t in RECORD_TYPES.values() if t.key_field}
    for entity, extra in extra_keys:
        key_field = key_fields.get(entity)
        if key_field:
            wanted[(entity, key_field)].add(extra)
    for (entity, field), keys in sorted(wanted.items()):
        values = sorted(keys)
        rows = list(client.query_in(entity, field, values, include_fields=INCLUDE_FIELDS.get(entity)))
        counter.count((len(values) + 499) // 500, len(rows))
        for row in rows:
            found = row.get(field)
            if found:
                view.by_key[(entity, str(found))] = row


def _read_candidates(
    client: AutotaskApi,
    hub: HubSnapshot,
    links: dict[tuple[str, int], LinkState],
    view: AutotaskView,
    counter: CallCounter,
) -> None:
    """Link suggestions: same-name companies for accounts neither linked nor found by key."""
    org = hub.organization_id
    names: dict[str, str] = {}
    for a in hub.accounts:
        link = links.get(("account", a.id))
        if link is not None and (link.autotask_id is not None or link.decision != "auto"):
            continue
        if ("Companies", matching_key(org, "account", a.id)) in view.by_key:
            continue
        names[a.name.strip().lower()] = a.name.strip()
    if not names:
        return
    values = sorted(set(names.values()))
    rows = list(
        client.query_in(
            "Companies",
            "companyName",
            values,
            include_fields=["id", "companyName", "companyNumber", "city", "phone"],
        )
    )
    counter.count((len(values) + 499) // 500, len(rows))
    for row in rows:
        if _OUR_COMPANY_KEY.match(str(row.get("companyNumber") or "")):
            continue  # already the company of another account (of any PSA Bridge organization)
        name = str(row.get("companyName") or "").strip().lower()
        view.company_candidates.setdefault(name, []).append(
            {
                "id": row["id"],
                "name": row.get("companyName"),
                "city": row.get("city"),
                "phone": row.get("phone"),
            }
        )


def _read_repeat_services(
    client: AutotaskApi, repeat_contracts: dict[int, set[str]], view: AutotaskView, counter: CallCounter
) -> dict[int, set[str]]:
    """The contract services of contracts with a repeat service of unknown outcome; returns the unkeyed
    ones with the dates their units must be read on."""
    contracts = sorted(repeat_contracts)
    rows = list(
        client.query_in(
            "ContractServices",
            "contractID",
            contracts,
            include_fields=["id", "contractID", "serviceID", "internalDescription"],
        )
    )
    counter.count((len(contracts) + 499) // 500, len(rows))
    wanted: dict[int, set[str]] = {}
    for row in rows:
        contract_id = int(row["contractID"])
        view.contract_services.setdefault(contract_id, []).append(row)
        if not row.get("internalDescription"):
            wanted[int(row["id"])] = set(repeat_contracts[contract_id])
    return wanted


#: Conditions one date group adds besides its ids when OR-ed with others: the ``in`` itself and the two
#: date conditions (how the emulator, strictly, counts conditions inside an ``or``).
_DATE_CONDITIONS = 3


def read_units_on(
    client: AutotaskApi, wanted: dict[int, set[str]]
) -> tuple[dict[int, list[dict[str, Any]]], int]:
    """ContractServiceUnits rows covering given dates (YYYY-MM-DD) of given contract services, and the
    API calls spent.

    A contract service has a row per billing period for the contract's whole term; reading them all
    to learn the units on one day costs pages (a contract with 520 services and 12 monthly periods is
    13 pages). Instead, per date, ``contractServiceID in (...) and startDate <= day and endDate >= day``
    returns one row per service; date groups are OR-ed into one query up to Autotask's 500 conditions.
    """
    by_day: dict[str, list[int]] = defaultdict(list)
    for cs_id, days in wanted.items():
        for day in days:
            if day:
                by_day[day].append(cs_id)
    groups: list[Any] = []
    for day in sorted(by_day):
        ids = sorted(by_day[day])
        chunk = MAX_OR_CONDITIONS - _DATE_CONDITIONS
        for i in range(0, len(ids), chunk):
            group = F.and_(
                F.in_("contractServiceID", ids[i : i + chunk]),
                F.lte("startDate", f"{day}T00:00:00"),
                F.gte("endDate", f"{day}T00:00:00"),
            )
            groups.append((group.condition_count(inside_or=True), group))
    queries: list[list[Any]] = []
    size = MAX_OR_CONDITIONS + 1
    for cost, group in groups:
        if size + cost > MAX_OR_CONDITIONS:
            queries.append([])
            size = 0
        queries[-1].append(group)
        size += cost
    out: dict[int, list[dict[str, Any]]] = {}
    calls = 0
    seen: set[int] = set()
    for items in queries:
        rows = list(
            client.query(
                "ContractServiceUnits",
                items[0] if len(items) == 1 else F.or_(*items),
                include_fields=["id", "contractServiceID", "startDate", "endDate", "units", "price"],
            )
        )
        calls += max(1, (len(rows) + 499) // 500)
        for row in rows:
            if int(row["id"]) in seen:
                continue
            seen.add(int(row["id"]))
            out.setdefault(int(row["contractServiceID"]), []).append(row)
    return out, calls


def units_at(rows: list[dict[str, Any]], day: str) -> int | None:
    """Units of a contract service on ``day`` (YYYY-MM-DD) from its ContractServiceUnits rows."""
    best: tuple[str, int] | None = None
    for row in rows:
        start = str(row.get("startDate") or "")[:10]
        end = str(row.get("endDate") or "9999-12-31")[:10]
        if start <= day <= end and (best is None or start >= best[0]):
            best = (start, int(row.get("units") or 0))
    return None if best is None else best[1]
