"""The rows of the PSA Integration screen: every hub record the sync pushes, with its sync status.

The sync engine remembers a status per record it has planned (``psabridge.sync.service.record_statuses``)
but not the hub's names; the hub knows the names but not the statuses. This module joins the two, one
tab at a time, so a record that was never planned still shows up ("Pending: not planned yet") instead of
silently missing, and every row names the hub record a person recognises (contract names repeat across
customers, so contracts, services and changes carry their customer's name too).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.hub import models as hub
from psabridge.psa_integration.names import autotask_names
from psabridge.sync import service
from psabridge.sync.keys import RECORD_TYPES


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
    tab: Tab
    rows: list[Row]
    counts: dict[str, int]


class _Names:
    """Hub names of one organization, loaded once per request."""

    def __init__(self, session: Session, org: int) -> None:
        self.products = {
            p.id: p for p in session.scalars(select(hub.Product).where(hub.Product.organization_id == org))
        }
        self.accounts = {
            a.id: a for a in session.scalars(select(hub.Account).where(hub.Account.organization_id == org))
        }
        self.contracts = {
            c.id: c
            for c in session.scalars(
                select(hub.BillingContract).where(hub.BillingContract.organization_id == org)
            )
        }
        self.subscriptions = {
            s.id: s
            for s in session.scalars(select(hub.Subscription).where(hub.Subscription.organization_id == org))
        }

    def account(self, account_id: int) -> str:
        a = self.accounts.get(account_id)
        return a.name if a else f"account {account_id}"

    def contract(self, contract_id: int) -> str:
        c = self.contracts.get(contract_id)
        return f"{c.name} — {self.account(c.account_id)}" if c else f"contract {contract_id}"

    def product(self, product_id: int) -> str:
        p = self.products.get(product_id)
        return p.name if p else f"product {product_id}"

    def subscription(self, sub_id: int) -> str:
        s = self.subscriptions.get(sub_id)
        if s is None:
            return f"subscription {sub_id}"
        return f"{self.product(s.product_id)} ({self.contract(s.billing_contract_id)})"


def _hub_records(session: Session, org: int, tab: Tab, names: _Names) -> list[tuple[str, int, str, str]]:
    """(record_type, hub_id, label, detail) of every hub record the tab shows, in hub order."""
    out: list[tuple[str, int, str, str]] = []
    if tab.key == "products":
        used: dict[int, set[str]] = {}
        for sub in names.subscriptions.values():
            c = names.contracts.get(sub.billing_contract_id)
            if c is not None:
                used.setdefault(sub.product_id, set()).add(c.billing_frequency)
        for p in sorted(names.products.values(), key=lambda p: (p.name, p.id)):
            if p.kind == "product":
                out.append(("product", p.id, p.name, f"{p.sku or ''} one-time product".strip()))
            for freq in sorted(used.get(p.id, ())) if p.kind == "service" else ():
                label = f"{p.name} ({freq.replace('_', '-')})"
                out.append((f"service.{freq}", p.id, label, p.sku or ""))
    elif tab.key == "customers":
        primaries = select(hub.Account.primary_contact_id).where(hub.Account.organization_id == org)
        contacts = {
            c.id: c
            for c in session.scalars(
                select(hub.Contact).where(hub.Contact.organization_id == org, hub.Contact.id.in_(primaries))
            )
        }
        for a in sorted(names.accounts.values(), key=lambda a: (a.name, a.id)):
            out.append(("account", a.id, a.name, " · ".join(x for x in (a.phone, a.city) if x)))
            if a.primary_contact_id:
                contact = contacts.get(a.primary_contact_id)
                if contact is not None:
                    out.append(
                        (
                            "contact",
                            contact.id,
                            f"{contact.first_name} {contact.last_name}",
                            f"primary contact of {a.name}",
                        )
                    )
    elif tab.key == "agreements":
        for c in sorted(names.contracts.values(), key=lambda c: (names.account(c.account_id), c.name, c.id)):
            detail = f"{c.billing_frequency.replace('_', '-')}, from {c.start_date.isoformat()}"
            out.append(("billing_contract", c.id, f"{c.name} — {names.account(c.account_id)}", detail))
    elif tab.key == "services":
        for s in sorted(names.subscriptions.values(), key=lambda s: s.id):
            out.append(
                (
                    "subscription",
                    s.id,
                    names.subscription(s.id),
                    f"{s.quantity} seats from {s.start_date.isoformat()} ({s.status})",
                )
            )
    elif tab.key == "changes":
        logs = session.scalars(
            select(hub.LicenseChangeLog)
            .where(hub.LicenseChangeLog.organization_id == org, hub.LicenseChangeLog.status == "active")
            .order_by(hub.LicenseChangeLog.effective_date, hub.LicenseChangeLog.id)
        )
        for lg in logs:
            what = names.subscription(lg.subscription_id)
            when = lg.effective_date.isoformat()
            if lg.quantity_after != lg.quantity_before or lg.unit_price is not None or not lg.is_refund:
                delta = lg.quantity_after - lg.quantity_before
                out.append(
                    (
                        "license_change_log",
                        lg.id,
                        f"{what}: {'+' if delta >= 0 else ''}{delta} seats on {when}",
                        lg.reason or "",
                    )
                )
            if lg.is_refund and lg.refund_amount:
                out.append(("refund", lg.id, f"{what}: refund {lg.refund_amount} on {when}", lg.reason or ""))
    return out


def _label_for_planned(record_type: str, hub_id: int, names: _Names) -> tuple[str, str]:
    """Label of a record only the engine knows about (initial units, cancellation)."""
    what = names.subscription(hub_id)
    if record_type == "subscription_start":
        return f"{what}: initial units", "units added at the subscription's start"
    if record_type == "cancellation":
        return f"{what}: cancellation", "units down to 0"
    return f"{record_type} {hub_id}", ""


def tab_view(session: Session, organization_id: int, tab_key: str, *, status: str | None = None) -> TabView:
    """Every row of one tab (optionally only one status), with counts per status."""
    tab = TABS_BY_KEY[tab_key]
    names = _Names(session, organization_id)
    statuses = {
        (s["record_type"], s["hub_id"]): s
        for s in service.record_statuses(session, organization_id)
        if s["phase"] in tab.phases
    }
    rows: list[Row] = []
    seen: set[tuple[str, int]] = set()

    def add(record_type: str, hub_id: int, label: str, detail: str) -> None:
        seen.add((record_type, hub_id))
        s = statuses.get((record_type, hub_id))
        entity = RECORD_TYPES[record_type].entity
        if s is None:
            rows.append(Row(record_type, hub_id, label, detail, "pending", NOT_PLANNED, entity))
            return
        rows.append(
            Row(
                record_type,
                hub_id,
                label,
                detail,
                s["status"],
                s["reason"],
                s["autotask_entity"] or entity,
                s["autotask_id"],
                s["decision"],
                list(s["candidates"] or []),
            )
        )

    for record_type, hub_id, label, detail in _hub_records(session, organization_id, tab, names):
        add(record_type, hub_id, label, detail)
    for record_type, hub_id in list(statuses):
        if (record_type, hub_id) in seen:
            continue
        if record_type in ("subscription_start", "cancellation") and hub_id in names.subscriptions:
            add(record_type, hub_id, *_label_for_planned(record_type, hub_id, names))
        # anything else the engine remembers but the hub no longer has is not shown
    counts = Counter(r.status for r in rows)
    if status:
        rows = [r for r in rows if r.status == status]
    name_rows(session, organization_id, rows)
    return TabView(tab, rows, dict(counts))


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
    names = autotask_names(session, organization_id, {r.autotask_entity for r in linked})
    for row in linked:
        assert row.autotask_id is not None
        row.autotask_entity, row.autotask_name = linked_record(row.autotask_entity, row.autotask_id, names)


def attention_counts(session: Session, organization_id: int) -> dict[str, int]:
    """Rows that need a person per tab (needs link, blocked, error), for the tab headers."""
    out: Counter[str] = Counter()
    phase_tab = {p: t.key for t in TABS for p in t.phases}
    for s in service.record_statuses(session, organization_id):
        if s["status"] in ("needs_link", "blocked", "error", "drift") and s["phase"] in phase_tab:
            out[phase_tab[s["phase"]]] += 1
    return dict(out)


def failed_count(session: Session, organization_id: int) -> int:
    """Records whose last write failed (what "Retry failed only" would retry; a refused reconciliation
    fix is not a record of a tab: the Reconcile tab shows it)."""
    phases = {p for t in TABS for p in t.phases}
    return sum(
        1
        for s in service.record_statuses(session, organization_id)
        if s["status"] == "error" and s["phase"] in phases
    )


def hub_record_exists(session: Session, organization_id: int, record_type: str, hub_id: int) -> bool:
    """Whether ``hub_id`` is a record of this organization (the sync engine's rule, shared)."""
    from psabridge.sync.service import hub_record_exists as exists

    return exists(session, organization_id, record_type, hub_id)


#: Autotask write verbs as a run page says them ("2 created").
_VERB_WORDS = {
    "create": "created",
    "update": "updated",
    "replace": "replaced",
    "delete": "deleted",
    "adjust": "adjusted",
}


def describe_counts(counts: dict[str, int]) -> str:
    """A run's counts of one entity in words: ``{"synced": 50, "ops_update_synced": 1}`` ->
    ``"50 synced · written this run: 1 updated"``.

    The engine keys its counts by record status and by ``ops_<verb>_<outcome>`` for the run's writes;
    those keys are internal ids a billing administrator should never have to decode.
    """
    records: list[str] = []
    writes: list[str] = []
    planned: list[str] = []
    for key, value in counts.items():
        if not value:
            continue
        if key in _VERB_WORDS:  # a preview counts the operations it plans by verb
            planned.append(f"{value} to {key}")
        elif key.startswith("ops_"):
            verb, _, outcome = key[4:].partition("_")
            if outcome == "synced":
                writes.append(f"{value} {_VERB_WORDS.get(verb, verb)}")
            elif outcome == "error":
                writes.append(f"{value} {verb} failed")
            else:
                writes.append(
                    f"{value} {verb}: {STATUS_LABELS.get(outcome, outcome.replace('_', ' ')).lower()}"
                )
        else:
            records.append(f"{value} {STATUS_LABELS.get(key, key.replace('_', ' ')).lower()}")
    if planned:
        records.append("planned: " + ", ".join(planned))
    if writes:
        records.append("written this run: " + ", ".join(writes))
    return " · ".join(records)


#: Record statuses a run leaves for a person (or a later run) to deal with.
LEFT_OUT = ("needs_link", "blocked", "waiting", "error", "drift")


def left_out(counts: dict[str, dict[str, int]]) -> str:
    """What a finished run left unsynced, in words ("17 records not synced: 1 needs link, 16 waiting"), so
    a run listed as "succeeded" does not hide the records it could not push; "" when there are none."""
    totals = Counter[str]()
    for phase_counts in counts.values():
        for status in LEFT_OUT:
            totals[status] += int(phase_counts.get(status, 0) or 0)
    total = sum(totals.values())
    if not total:
        return ""
    parts = ", ".join(f"{totals[s]} {STATUS_LABELS[s].lower()}" for s in LEFT_OUT if totals[s])
    return f"{total} record(s) not synced: {parts}"


# --- run history: what a run wrote, and what became of previews ---------------------------------------
WRITTEN = "written"


def written_by_run(session: Session, run_id: int) -> set[tuple[str, int]]:
    """``(record_type, hub_id)`` of the records a push wrote to Autotask (journal entries of the run
    that went through), so its page can show them apart from records that were already in sync."""
    from sqlalchemy import select

    from psabridge.sync.models import JournalEntry

    written: set[tuple[str, int]] = set()
    for covers in session.scalars(
        select(JournalEntry.covers).where(
            JournalEntry.run_id == run_id, JournalEntry.outcome.in_(("done", "reconciled"))
        )
    ):
        for item in (covers or {}).get("records", []):
            if "record_type" in item and "hub_id" in item:
                written.add((str(item["record_type"]), int(item["hub_id"])))
    return written


def preview_states(runs: list[Any]) -> dict[int, tuple[str, str]]:
    """What became of each preview still marked "planned" (``runs`` newest first): the preview a push
    performed is "pushed", an older or replaced one "superseded"; only the newest preview since the last
    push stays "planned"."""
    states: dict[int, tuple[str, str]] = {}
    later_push: Any = None
    later_preview = False
    for run in runs:  # newest first
        if run.mode == "apply":
            later_push, later_preview = run, False
            continue
        if run.status != "planned":
            continue
        if later_push is not None and not later_preview:
            states[run.id] = ("pushed", f"pushed by run {later_push.id}")
        elif later_push is not None or later_preview:
            states[run.id] = ("superseded", "replaced by a newer preview or push")
        later_preview = True
    return states
