"""Public API of reconciliation (used by the CLI, the REST API and the Reconcile tab).

* :func:`estimate` — the API calls a reconciliation will make, from the database alone;
* :func:`start` — read Autotask (frugally), compare with the hub and the journal, keep every difference
  with its proposed fixes; writes nothing to Autotask;
* :func:`list_runs`, :func:`get_run` — what was found, per run.

Approving and applying fixes: :mod:`psabridge.reconcile.apply`; a contract service's trace:
:mod:`psabridge.reconcile.trace`. Everything is scoped to one organization.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.autotask.errors import AutotaskError
from psabridge.config import Settings
from psabridge.connectors import options as opts
from psabridge.connectors import service as connectors
from psabridge.connectors.models import Connector
from psabridge.connectors.settings import AutotaskConnectorSettings
from psabridge.hub.calendar import organization_today
from psabridge.reconcile import findings as f
from psabridge.reconcile.hubside import hub_side, last_written
from psabridge.reconcile.inputs import Inputs
from psabridge.reconcile.models import ReconcileAcceptance, ReconcileDifference, ReconcileFix, ReconcileRun
from psabridge.reconcile.reads import KEYED, Targets, read_autotask
from psabridge.reconcile.records import compare_records
from psabridge.reconcile.seats import adjustment_dates, compare_seats
from psabridge.reconcile.settle import exclusive, journal_estimate, settle_journal
from psabridge.sync import journal as jr
from psabridge.sync.hub_loader import load_snapshot
from psabridge.sync.models import JournalEntry
from psabridge.sync.reader import AutotaskApi, hub_record_ids
from psabridge.sync.records import RECORD_TYPES
from psabridge.sync.snapshot import AutotaskView, HubSnapshot, LinkState, TenantFacts

log = logging.getLogger(__name__)

#: picklists whose labels a reconciliation shows (read from the connector's option cache)
_LABELS = ("company_types", "contract_types", "period_types", "contract_period_types", "contract_statuses")


class ReconcileError(Exception):
    """A reconciliation cannot start or a fix cannot be approved/applied; ``field`` names the input."""

    def __init__(self, message: str, field: str = "organization", status: int = 409) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def connector_of(session: Session, organization_id: int) -> tuple[Connector, AutotaskConnectorSettings]:
    connector = connectors.get_autotask_connector(session, organization_id)
    if connector is None:
        raise ReconcileError("This organization has no Autotask connector: set one up under Integrations")
    return connector, connectors.connector_settings(connector)


# -- what it will read -------------------------------------------------------------------------------
def _targets(
    session: Session,
    connector: Connector,
    hub: HubSnapshot,
    links: dict[tuple[str, int], LinkState],
    day: date,
) -> Targets:
    targets = Targets(day)
    records: set[tuple[str, int]] = set()
    for record_type, ids in hub_record_ids(hub).items():
        rt = RECORD_TYPES[record_type]
        records.update((record_type, i) for i in ids)
        if rt.entity in KEYED:
            targets.keys.setdefault(rt.entity, []).extend(rt.key(hub.organization_id, i) for i in ids)
    for (record_type, hub_id), link in links.items():
        linked_type = RECORD_TYPES.get(record_type)
        if linked_type is None or link.autotask_id is None or (record_type, hub_id) not in records:
            continue
        if linked_type.entity in KEYED:
            targets.linked.setdefault(linked_type.entity, set()).add(int(link.autotask_id))
        elif record_type == "subscription":
            targets.services += 1
    if hub.contracts and opts.cached_options(session, connector, "contract_statuses") is None:
        targets.metadata = 1
    return targets


def estimate(session: Session, organization_id: int, on_date: date | None = None) -> int:
    """The API calls a reconciliation will make now (computed like a plan's read calls)."""
    connector, _ = connector_of(session, organization_id)
    hub = load_snapshot(session, organization_id)
    links = jr.link_states(jr.load_links(session, connector.id))
    day = on_date or organization_today(session, organization_id)
    return _targets(session, connector, hub, links, day).estimate() + journal_estimate(session, connector.id)


# -- running one ---------------------------------------------------------------------------------------
def start(
    factory: sessionmaker[Session],
    organization_id: int,
    *,
    app_settings: Settings,
    on_date: date | None = None,
    client: AutotaskApi | None = None,
    started_by: str = "",
) -> ReconcileRun:
    """Reconcile now (synchronously) and return the finished run (``done`` or ``failed``)."""
    with factory() as session:
        connector, settings = connector_of(session, organization_id)
        day = on_date or organization_today(session, organization_id)
        own = client is None
        client = client or connectors.build_client(connector, app_settings)
        try:
            with exclusive(session, connector.id):
                return _run(session, organization_id, connector, settings, client, day, started_by)
        finally:
            if own:
                cast(Any, client).close()


@dataclass
class _Tally:
    calls: int = 0
    reads: dict[str, dict[str, int]] = field(default_factory=dict)


def _run(
    session: Session,
    organization_id: int,
    connector: Connector,
    settings: AutotaskConnectorSettings,
    client: AutotaskApi,
    day: date,
    started_by: str,
) -> ReconcileRun:
    hub = load_snapshot(session, organization_id)
    links = jr.link_states(jr.load_links(session, connector.id))
    run = ReconcileRun(
        organization_id=organization_id,
        connector_id=connector.id,
        on_date=day,
        status="running",
        estimated_calls=_targets(session, connector, hub, links, day).estimate()
        + journal_estimate(session, connector.id),
        started_by=started_by[:200],
    )
    session.add(run)
    session.commit()
    tally = _Tally()
    try:
        tally.calls += settle_journal(session, organization_id, connector.id, client)
        links = jr.link_states(jr.load_links(session, connector.id))
        facts, labels = _facts(session, connector, client, tally)
        side = read_autotask(client, _targets(session, connector, hub, links, day))
        inputs = Inputs(
            organization_id,
            day,
            hub_side(hub, AutotaskView(by_key=side.by_key, facts=facts), links, settings),
            side,
            links,
            last_written(session, connector.id, {rt.entity for rt in RECORD_TYPES.values()}),
            labels,
        )
        found = [*compare_records(inputs), *compare_seats(inputs, _adjustment_dates(session, connector.id))]
        run.accepted = _store(session, run, found)
        run.api_calls = tally.calls + side.calls
        run.minimum_calls = side.minimum
        run.reads = {**tally.reads, **side.reads}
        accepted = _accepted(session, run)
        run.counts = dict(Counter(d.category for d in found if d.signature not in accepted))
        run.status = "done"
    except AutotaskError as exc:
        session.rollback()
        run.status, run.error = "failed", f"Autotask answered with an error: {exc}"
        log.warning("reconciliation %s failed: %s", run.id, exc)
    except Exception as exc:
        session.rollback()
        run.status, run.error = "failed", f"Internal error: {exc}"
        run.finished_at = jr.now()
        session.commit()
        raise
    run.finished_at = jr.now()
    session.commit()
    return run


def _facts(
    session: Session, connector: Connector, client: AutotaskApi, tally: _Tally
) -> tuple[TenantFacts, dict[str, dict[int, str]]]:
    """Contract status ids (read once, then from the option cache) and picklist labels to show values."""
    factory = cast(opts.ClientFactory, lambda: client)
    stats = getattr(client, "stats", None)
    before = getattr(stats, "total", 0)
    statuses = opts.get_options(session, connector, "contract_statuses", factory)
    made = int(getattr(stats, "total", 0) - before)
    if made:
        tally.calls += made
        tally.reads["metadata"] = {"queries": made, "records": len(statuses)}
    labels = {
        key: {o.value: o.label for o in (opts.cached_options(session, connector, key) or [])}
        for key in _LABELS
    }
    by_label = {o.label.strip().lower(): o.value for o in statuses}
    lengths = opts.cached_options(session, connector, opts.FIELD_LENGTHS) or []
    field_lengths: dict[str, dict[str, int]] = {}
    for option in lengths:
        entity, _, name = option.label.partition(".")
        field_lengths.setdefault(entity, {})[name.lower()] = option.value
    facts = TenantFacts(
        contract_status_active=by_label.get("active"),
        contract_status_inactive=by_label.get("inactive"),
        field_lengths=field_lengths,
    )
    return facts, labels


def _adjustment_dates(session: Session, connector_id: int) -> dict[int, set[str]]:
    """Dates PSA Bridge wrote an adjustment on, per contract service (Autotask takes one per date)."""
    pairs: list[tuple[int, str]] = []
    rows = session.scalars(
        select(JournalEntry).where(
            JournalEntry.connector_id == connector_id,
            JournalEntry.outcome.in_(("done", "recovered")),
            JournalEntry.entity.in_(("ContractServiceAdjustments", "ContractServices")),
        )
    )
    for entry in rows:
        covers = entry.covers or {}
        if entry.verb == "adjust" and covers.get("contract_service_id"):
            pairs.append((int(covers["contract_service_id"]), str(covers.get("effective_date", ""))))
        elif covers.get("repeat") and entry.autotask_id:
            pairs.append((int(entry.autotask_id), str(covers["repeat"].get("effective_date", ""))))
    return adjustment_dates(pairs)


def _accepted(session: Session, run: ReconcileRun) -> set[str]:
    return set(
        session.scalars(
            select(ReconcileAcceptance.signature).where(ReconcileAcceptance.connector_id == run.connector_id)
        )
    )


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _store(session: Session, run: ReconcileRun, found: list[f.Found]) -> int:
    """Keep every difference not accepted earlier, with its fixes; returns how many were accepted."""
    accepted = _accepted(session, run)
    skipped = 0
    for d in found:
        signature = d.signature
        if signature in accepted:
            skipped += 1
            continue
        row = ReconcileDifference(
            run_id=run.id,
            organization_id=run.organization_id,
            category=d.category,
            record_type=d.record_type,
            hub_id=d.hub_id,
            subscription_id=d.subscription_id,
            autotask_entity=d.autotask_entity,
            autotask_id=d.autotask_id,
            field=d.field,
            label=d.label[:300],
            autotask_value=_json(d.autotask_value),
            hub_value=_json(d.hub_value),
            last_written=_json(d.last_written),
            changed_by=d.changed_by,
            detail=d.detail,
            evidence=_json(d.evidence),
            signature=signature,
        )
        session.add(row)
        session.flush()
        for fix in d.fixes:
            session.add(
                ReconcileFix(
                    difference_id=row.id,
                    run_id=run.id,
                    organization_id=run.organization_id,
                    kind=fix.kind,
                    summary=fix.summary,
                    cost=fix.cost,
                    overwrites_person=fix.overwrites_person,
                    approvable=fix.approvable,
                    params=_json(fix.params),
                )
            )
    return skipped


# -- reading -------------------------------------------------------------------------------------------
def list_runs(
    session: Session, organization_id: int, *, limit: int = 50, offset: int = 0
) -> list[ReconcileRun]:
    return list(
        session.scalars(
            select(ReconcileRun)
            .where(ReconcileRun.organization_id == organization_id)
            .order_by(ReconcileRun.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def count_runs(session: Session, organization_id: int) -> int:
    return len(
        list(session.scalars(select(ReconcileRun.id).where(ReconcileRun.organization_id == organization_id)))
    )


def get_run(session: Session, organization_id: int, run_id: int) -> ReconcileRun:
    run = session.get(ReconcileRun, run_id)
    if run is None or run.organization_id != organization_id:
        raise ReconcileError(f"No reconciliation {run_id}", field="run_id", status=404)
    return run


def differences(
    session: Session, run: ReconcileRun, *, category: str | None = None
) -> list[tuple[ReconcileDifference, list[ReconcileFix]]]:
    """A run's differences in category order, each with its fixes."""
    query = select(ReconcileDifference).where(ReconcileDifference.run_id == run.id)
    if category:
        query = query.where(ReconcileDifference.category == category)
    rows = list(session.scalars(query.order_by(ReconcileDifference.id)))
    order = {c: i for i, c in enumerate(f.CATEGORIES)}
    rows.sort(key=lambda d: (order.get(d.category, 99), d.id))
    fixes: dict[int, list[ReconcileFix]] = {}
    for fix in session.scalars(
        select(ReconcileFix).where(ReconcileFix.run_id == run.id).order_by(ReconcileFix.id)
    ):
        fixes.setdefault(fix.difference_id, []).append(fix)
    return [(d, fixes.get(d.id, [])) for d in rows]


def pages(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))
