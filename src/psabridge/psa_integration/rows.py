"""The rows of the PSA Integration screen: every hub record the sync pushes, with its sync status.

The sync engine remembers a status per record it has planned (its sync links) but not the hub's names;
the hub knows the names but not the statuses. The tabs join the two a page at a time
(:mod:`psabridge.psa_integration.tab_pages`), so a record that was never planned still shows up
("Pending: not planned yet") instead of silently missing, and every row names the hub record a person
recognises. This module holds what a row is and says: tabs, statuses, the row itself, the header counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from psabridge.psa_integration.names import autotask_names
from psabridge.sync import service
from psabridge.sync.keys import RECORD_TYPES
from psabridge.sync.models import SyncLink


@dataclass(frozen=True)
class Tab:
    key: str
    title: str
    phases: tuple[str, ...]


#: Left to right, in dependency order: a tab's records only refer to records of tabs before it.
TABS: tuple[Tab, ...] = (
    Tab("products", "Products", ("products",)),
    Tab("customers", "Customers", ("customers",)),
    Tab("agreements", "Agreements", ("agreements",)),
    Tab("services", "Services", ("services",)),
    Tab("changes", "Changes", ("changes", "charges")),
)
TABS_BY_KEY = {t.key: t for t in TABS}

STATUS_LABELS = {
    "synced": "Synced",
    "pending": "Pending",
    "needs_link": "Needs link",
    "blocked": "Blocked",
    "waiting": "Waiting",
    "error": "Error",
    "drift": "Drift",
}
NOT_PLANNED = "Not planned yet: preview the plan to check this record"
#: Autotask entity names as the "PSA System …" column shows them.
PSA_NAMES = {
    "Companies": "Company",
    "Contacts": "Contact",
    "Products": "Product",
    "Services": "Service",
    "Contracts": "Contract",
    "ContractServices": "Contract service",
    "ContractServiceAdjustments": "Adjustment",
    "ContractCharges": "Charge",
}


def entity_of(record_type: str) -> str:
    """The Autotask entity a hub record type lands as ("Companies", "ContractServices", ...)."""
    rt = RECORD_TYPES.get(record_type)
    return rt.entity if rt else ""


def linkable(record_type: str) -> bool:
    """Whether a person may link this kind of record to an existing Autotask record (or Add New)."""
    return record_type in service.LINKABLE


@dataclass
class Row:
    """One line of a tab."""

    record_type: str
    hub_id: int
    label: str
    detail: str
    status: str
    reason: str | None
    autotask_entity: str
    autotask_id: int | None = None
    decision: str = "auto"
    candidates: list[dict[str, Any]] = field(default_factory=list)
    #: The linked Autotask record's name when PSA Bridge knows it (see ``psa_integration.names``).
    autotask_name: str | None = None

    @property
    def key(self) -> str:
        return f"{self.record_type}:{self.hub_id}"

    @property
    def status_label(self) -> str:
        if self.status == "waiting" and self.reason:
            return self.reason  # "Waiting for <record>"
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def kind(self) -> str:
        """What the row is, in words ("Service (monthly)", "Company", ...)."""
        if self.record_type.startswith("service."):
            return f"Service ({self.record_type.split('.', 1)[1].replace('_', '-')})"
        return {
            "subscription_start": "Initial units",
            "license_change_log": "Seat change",
            "cancellation": "Cancellation",
            "refund": "Refund",
        }.get(self.record_type, PSA_NAMES.get(self.autotask_entity, self.autotask_entity))

    @property
    def linkable(self) -> bool:
        return linkable(self.record_type)

    @property
    def psa_name(self) -> str:
        return PSA_NAMES.get(self.autotask_entity, self.autotask_entity)

    @property
    def psa_plural(self) -> str:
        """The kind in the plural, lower case, for prompts ("Search Autotask companies…")."""
        name = self.psa_name.lower()
        return name[:-1] + "ies" if name.endswith("y") else name + "s"


@dataclass(frozen=True)
class TabView:
    """One page of a tab: its rows, the counts per status of the whole tab, and where the page is."""

    tab: Tab
    rows: list[Row]
    counts: dict[str, int]
    #: rows matching the status filter (all rows without one)
    total: int = 0
    page: int = 1
    size: int = 50

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def linked_record(entity: str, autotask_id: int, names: dict[tuple[str, int], str]) -> tuple[str, str | None]:
    """(entity, name) of the Autotask record a row is linked to, from ``autotask_names``.

    A seat change on the contract service's first day is not written as an adjustment: the contract
    service is created with those units and its id is what the change is linked to. Such an id is not an
    adjustment PSA Bridge wrote (every one is journalled), so it is shown as the contract service it is.
    """
    if entity == "ContractServiceAdjustments" and (entity, autotask_id) not in names:
        carrier = names.get(("ContractServices", autotask_id))
        if carrier is not None:
            return "ContractServices", carrier
    return entity, names.get((entity, autotask_id))


def name_rows(session: Session, organization_id: int, rows: list[Row]) -> None:
    """Fill ``autotask_name`` of the linked rows from the sync journal (no Autotask API call)."""
    linked = [r for r in rows if r.autotask_id]
    if not linked:
        return
    names = autotask_names(session, organization_id, {(r.autotask_entity, r.autotask_id) for r in linked})
    for row in linked:
        assert row.autotask_id is not None
        row.autotask_entity, row.autotask_name = linked_record(row.autotask_entity, row.autotask_id, names)


#: Statuses a tab's header counts as needing a person.
ATTENTION = ("needs_link", "blocked", "error", "drift")


def _tab_of_record_type() -> dict[str, str]:
    phase_tab = {p: t.key for t in TABS for p in t.phases}
    return {name: phase_tab[rt.phase] for name, rt in RECORD_TYPES.items() if rt.phase in phase_tab}


def attention_and_failed(session: Session, organization_id: int) -> tuple[dict[str, int], int]:
    """Rows that need a person per tab (needs link, blocked, error, drift), for the tab headers, and the
    records whose last write failed (what "Retry failed only" would retry): one GROUP BY on the links."""
    tab_of = _tab_of_record_type()
    out: Counter[str] = Counter()
    failed = 0
    for record_type, status, n in session.execute(
        select(SyncLink.record_type, SyncLink.status, func.count())
        .where(SyncLink.organization_id == organization_id, SyncLink.status.in_(ATTENTION))
        .group_by(SyncLink.record_type, SyncLink.status)
    ):
        tab = tab_of.get(record_type)
        if tab is None:
            continue
        out[tab] += n
        if status == "error":
            failed += n
    return dict(out), failed


def attention_counts(session: Session, organization_id: int) -> dict[str, int]:
    """Rows that need a person per tab (needs link, blocked, error, drift), for the tab headers."""
    return attention_and_failed(session, organization_id)[0]


def failed_count(session: Session, organization_id: int) -> int:
    """Records whose last write failed (what "Retry failed only" would retry; a refused reconciliation
    fix is not a record of a tab: the Reconcile tab shows it)."""
    return attention_and_failed(session, organization_id)[1]


def hub_record_exists(session: Session, organization_id: int, record_type: str, hub_id: int) -> bool:
    """Whether ``hub_id`` is a record of this organization (the sync engine's rule, shared)."""
    from psabridge.sync.service import hub_record_exists as exists

    return exists(session, organization_id, record_type, hub_id)
