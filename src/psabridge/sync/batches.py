"""Planning an organization in bounded batches: the catalog first, then customers a batch at a time.

Why: the plan of 100,000 subscriptions is 400,000 operations; holding the organization, its links and
that plan at once took over a gigabyte. Everything of a customer depends only on that customer and on
the catalog (products and the services they are sold as), so the catalog is planned first and each
batch of customers (about ``BATCH_SUBSCRIPTIONS`` subscriptions) is read, planned — and in a sync
applied — before the next is read: memory stays bounded by the batch. Reads stay batched `in` queries
of what is not linked yet, per batch, so a first sync still costs about the minimum.

The journal is reconciled once, before the first batch: an interrupted write of any batch is settled
before anything is planned again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy.orm import Session

from psabridge.connectors.models import Connector
from psabridge.connectors.settings import AutotaskConnectorSettings
from psabridge.hub.calendar import organization_time_zone
from psabridge.sync import journal as jr
from psabridge.sync import link_store
from psabridge.sync.hub_loader import (
    BATCH_SUBSCRIPTIONS,
    account_batches,
    has_contracts,
    load_accounts,
    load_catalog,
)
from psabridge.sync.keys import PHASES, service_type
from psabridge.sync.planner import (
    PENDING,
    Operation,
    Plan,
    Stale,
    batch_digest,
    format_notices,
    merge_stale,
    plan,
)
from psabridge.sync.reader import AutotaskApi, read_view, with_contract_statuses
from psabridge.sync.records import MODULES
from psabridge.sync.records.context import RecordModule
from psabridge.sync.records.products import MODULE as PRODUCTS
from psabridge.sync.snapshot import AutotaskView, HubSnapshot, LinkState, TenantFacts

#: The customers' modules, in dependency order (the catalog's is ``products``).
CUSTOMER_MODULES = tuple(m for m in MODULES if m is not PRODUCTS)
Key = tuple[str, int]


@dataclass
class Batch:
    """One planned batch: its plan (operations and record statuses) and its records' links as planned."""

    index: int
    plan: Plan
    links: dict[Key, LinkState]

    @property
    def digest(self) -> str:
        return batch_digest(self.plan.operations)


@dataclass
class PlanTotals:
    """What a batched plan adds up to, kept while its batches are dropped (see :meth:`add`)."""

    operations: int = 0
    write_calls: int = 0
    digests: list[str] = field(default_factory=list)
    by_phase: dict[str, dict[str, int]] = field(default_factory=lambda: {p: defaultdict(int) for p in PHASES})

    def add(self, batch: Batch) -> None:
        """Count one batch: operations per phase and verb, records per phase and status, its digest."""
        self.operations += len(batch.plan.operations)
        self.write_calls += batch.plan.write_calls
        self.digests.append(batch.digest)
        for phase, counts in batch.plan.counts().items():
            for key, n in counts.items():
                self.by_phase.setdefault(phase, defaultdict(int))[key] += n

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return {p: dict(v) for p, v in self.by_phase.items()}


def catalog_refs(catalog: HubSnapshot) -> dict[str, list[int]]:
    """The records of the catalog step: one-time products and each product's service per frequency."""
    refs: dict[str, list[int]] = {"product": [p.id for p in catalog.products if p.kind == "product"]}
    for product_id, freqs in (catalog.sold_at or {}).items():
        for freq in freqs:
            refs.setdefault(service_type(freq), []).append(product_id)
    return refs


def customer_refs(batch: HubSnapshot) -> dict[str, list[int]]:
    """The records of one batch of customers, per record type."""
    sub_ids = [s.id for s in batch.subscriptions]
    log_ids = [lg.id for lg in batch.logs]
    return {
        "account": [a.id for a in batch.accounts],
        "contact": [a.primary_contact.id for a in batch.accounts if a.primary_contact],
        "billing_contract": [c.id for c in batch.contracts],
        "subscription": sub_ids,
        "subscription_start": sub_ids,
        "cancellation": sub_ids,
        "license_change_log": log_ids,
        "reversal": log_ids,
        "refund": log_ids,
    }


class BatchPlanner:
    """Plans the organization batch by batch (see the module docstring); :meth:`batches` yields them.

    ``read_only``: a sync is running, so its in-flight writes are still unresolved in the journal: they
    are neither reconciled (that would mark a write still in flight "absent", and a crash of the running
    sync would then leave it never checked again) nor are link statuses saved. ``retry_failed``: keep
    only the operations of records whose last write failed; ``only``: keep only the operations writing
    these records (approved reconciliation fixes). Both leave the other records' statuses as they are.
    """

    def __init__(
        self,
        session: Session,
        organization_id: int,
        connector: Connector,
        settings: AutotaskConnectorSettings,
        client: AutotaskApi,
        facts: TenantFacts,
        *,
        read_only: bool = False,
        retry_failed: bool = False,
        only: Collection[Key] | None = None,
        batch_subscriptions: int = BATCH_SUBSCRIPTIONS,
    ) -> None:
        self.session = session
        self.org = organization_id
        self.connector = connector
        self.settings = settings
        self.client = client
        self.facts = facts
        self.read_only = read_only
        self.retry_failed = retry_failed
        self.only = set(only) if only is not None else None
        self.batch_subscriptions = batch_subscriptions
        self.read_calls = 0
        self.stale: Stale = {}

    def batches(self) -> Iterator[Batch]:
        """Reconcile the journal, then plan the catalog and each batch of customers, in order."""
        self.read_calls += self._reconcile_journal()
        self._complete_facts()
        catalog = load_catalog(self.session, self.org)
        first = self._plan(0, catalog, catalog_refs(catalog), (PRODUCTS,), known=None)
        yield first
        known = dict(first.plan.states)
        zone = organization_time_zone(self.session, self.org)
        for index, account_ids in enumerate(
            account_batches(self.session, self.org, self.batch_subscriptions), start=1
        ):
            hub = load_accounts(self.session, self.org, account_ids, catalog.products, zone)
            yield self._plan(index, hub, customer_refs(hub), CUSTOMER_MODULES, known=known)

    def notices(self) -> list[str]:
        """The plan's notices about a changed Billing Frequencies mapping, over every batch so far."""
        return format_notices(self.stale, self.settings, self.facts)

    # -- steps ----------------------------------------------------------------------------------------
    def _reconcile_journal(self) -> int:
        """Settle writes whose outcome is not known (killed process, lost answer) by reading Autotask."""
        entries = [] if self.read_only else jr.unresolved_entries(self.session, self.connector.id)
        if not entries:
            return 0
        unit_services, extra_keys = jr.reconcile_needs(entries)
        view = read_view(
            self.client,
            HubSnapshot(self.org),
            {},
            unit_services=unit_services,
            extra_keys=extra_keys,
            repeat_contracts=jr.repeat_contracts(entries),
            need_facts=False,
            facts=self.facts,
        )
        jr.reconcile(
            self.session, entries, view, jr.linked_contract_services(self.session, self.connector.id)
        )
        return view.read_calls

    def _complete_facts(self) -> None:
        """The Contracts status values (by label) for every batch, when there are contracts: from the
        connector's option cache, read from the tenant once per connector (not once per process: a
        change-driven sync on a worker that has not read it yet costs no metadata call); "Refresh
        options" on the connector reads it again."""
        if has_contracts(self.session, self.org):
            from psabridge.connectors import options as opts

            client = self.client
            statuses = opts.get_options(
                self.session, self.connector, "contract_statuses", cast(opts.ClientFactory, lambda: client)
            )
            self.facts = with_contract_statuses(statuses, self.facts)

    def _plan(
        self,
        index: int,
        hub: HubSnapshot,
        refs: dict[str, list[int]],
        modules: Sequence[RecordModule],
        known: dict[str, str | None] | None,
    ) -> Batch:
        links = link_store.load(self.session, self.connector.id, refs)
        view: AutotaskView = read_view(
            self.client, hub, links, need_facts=False, facts=self.facts, modules=modules
        )
        self.read_calls += view.read_calls
        failed_before = {k for k, link in links.items() if link.status == "error"}
        result = plan(hub, view, links, self.settings, modules=modules, known=known)
        merge_stale(self.stale, result.stale)
        if self.retry_failed:
            result.operations = [op for op in result.operations if _touches(op, failed_before)]
        if self.only is not None:
            result.operations = [op for op in result.operations if _touches(op, self.only)]
        if not self.read_only:
            self._save_statuses(result, links)
        return Batch(index, result, links)

    def _save_statuses(self, result: Plan, links: dict[Key, LinkState]) -> None:
        """Store each record's planned status (what the screen shows until the next run)."""
        keep_others = self.retry_failed or self.only is not None
        changes: list[link_store.StatusChange] = []
        for rec in result.records:
            link = links.get((rec.record_type, rec.hub_id))
            status = link.status if link is not None else PENDING
            if keep_others and rec.status == PENDING and status != "error":
                if link is None:  # a new link starts pending, with no reason
                    changes.append(link_store.StatusChange(rec.record_type, rec.hub_id, PENDING, None, []))
                continue
            if rec.status == PENDING and status == "error":
                continue  # keep the error reason visible until the retry succeeds
            changes.append(
                link_store.StatusChange(
                    rec.record_type, rec.hub_id, rec.status, rec.reason, list(rec.candidates)
                )
            )
        link_store.save_planned(self.session, self.org, self.connector.id, changes, links)
        self.session.commit()


def _touches(op: Operation, records: set[Key]) -> bool:
    return (op.record_type, op.hub_id) in records or any(c in records for c in op.covers)
