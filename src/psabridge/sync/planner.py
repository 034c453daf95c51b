"""The one decision function: ``plan(hub, autotask_view, links, settings) -> Plan``.

Pure (no I/O): given the hub's records, what the engine read from Autotask, what it remembers (links)
and the connector settings, it returns the exact ordered list of Autotask writes and the status of every
record. The dry run shows this plan and ``apply`` executes exactly these operations, so the preview can
never drift from what is written.

The rules of each record type live in its module under :mod:`psabridge.sync.records` (products,
customers, agreements, services, changes, charges); this module runs them in dependency order and adds
what spans them (the notices about a changed Billing Frequencies mapping). Pre-flight checks block a
record with a reason and make its dependants "waiting for" it; a linked record is only written when the
fingerprint of its owned fields changed, and then only the owned fields are sent (PATCH); a name alone
never links (same-name companies are suggestions).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency
from psabridge.sync.records import MODULES, PHASES, RECORD_TYPES, RecordModule
from psabridge.sync.records.base import Operation, RecordStatus, Status, at_date, fingerprint, ref
from psabridge.sync.records.context import PlanContext
from psabridge.sync.records.products import service_type
from psabridge.sync.snapshot import AutotaskView, HubSnapshot, LinkState, TenantFacts

# Record statuses users see on each row (plain strings: ``Status`` members compare equal to them).
SYNCED = Status.SYNCED
PENDING = Status.PENDING
NEEDS_LINK = Status.NEEDS_LINK
BLOCKED = Status.BLOCKED
WAITING = Status.WAITING
ERROR = Status.ERROR
DRIFT = Status.DRIFT


@dataclass
class Plan:
    """The exact ordered list of Autotask operations and the status of every record."""

    operations: list[Operation] = field(default_factory=list)
    records: list[RecordStatus] = field(default_factory=list)
    read_calls: int = 0
    #: what the plan deliberately leaves as it is and why (e.g. after a settings change)
    notices: list[str] = field(default_factory=list)
    #: ref -> None when the record is usable by dependants, else the reason they wait (for the next batch)
    states: dict[str, str | None] = field(default_factory=dict, repr=False)
    #: the records behind ``notices`` (merged across the batches of a batched plan)
    stale: dict[tuple[str, str, int], list[str]] = field(default_factory=dict, repr=False)
    #: digest of each batch's operations (a batched plan), see :func:`batch_digest`
    batch_digests: list[str] = field(default_factory=list, repr=False)

    @property
    def write_calls(self) -> int:
        return sum(op.cost for op in self.operations)

    @property
    def api_calls(self) -> int:
        return self.read_calls + self.write_calls

    def counts(self) -> dict[str, dict[str, int]]:
        """Operations per phase and verb, records per phase and status."""
        out: dict[str, dict[str, int]] = {p: defaultdict(int) for p in PHASES}
        for op in self.operations:
            out[op.phase][op.verb] += 1
        for rec in self.records:
            out[rec.phase][str(rec.status)] += 1
        return {p: dict(v) for p, v in out.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "operations": [op.to_dict() for op in self.operations],
            "records": [r.to_dict() for r in self.records],
            "read_calls": self.read_calls,
            "write_calls": self.write_calls,
            "api_calls": self.api_calls,
            "counts": self.counts(),
            "notices": list(self.notices),
        }


def batch_digest(operations: Sequence[Operation]) -> str:
    """A stable digest of what some operations would write (verb, target, body and cost)."""
    raw = json.dumps([op.to_dict() for op in operations], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def digest_of(batch_digests: Sequence[str]) -> str:
    """The digest of a whole (batched) plan: what a Push compares with the Preview it follows."""
    return hashlib.sha256("|".join(batch_digests).encode()).hexdigest()


def plan(
    hub: HubSnapshot,
    autotask_view: AutotaskView,
    links: dict[tuple[str, int], LinkState],
    settings: AutotaskConnectorSettings,
    *,
    modules: Sequence[RecordModule] = MODULES,
    known: dict[str, str | None] | None = None,
) -> Plan:
    """Decide every Autotask write needed to make Autotask match the hub (pure; see module doc).

    A batched sync plans the catalog (``modules`` = products) and then each batch of customers (the
    other modules), passing the catalog's record states as ``known`` so a subscription of a blocked
    service still waits for it; the operations together are the whole organization's plan."""
    ctx = PlanContext(hub, autotask_view, links, settings, RECORD_TYPES)
    if known:
        ctx.state.update(known)
    for module in modules:
        module.plan(ctx)
    order = {phase: i for i, phase in enumerate(PHASES)}
    ops = sorted(ctx.ops, key=lambda op: order[op.phase])  # stable: keeps record order inside a phase
    stale = stale_records(ctx)
    return Plan(
        operations=ops,
        records=ctx.records,
        read_calls=autotask_view.read_calls,
        notices=format_notices(stale, settings, autotask_view.facts),
        states=dict(ctx.state),
        stale=stale,
    )


_MAPPED = (
    # (record types, created_with field, setting, label source, what it is)
    ("service", "periodType", "billing_frequencies", "period_labels", "service period type"),
    (
        "billing_contract",
        "contractPeriodType",
        "contract_period_types",
        "contract_period_labels",
        "contract period type",
    ),
)


#: (kind, frequency, period type created with) -> names of linked records the mapping now contradicts
Stale = dict[tuple[str, str, int], list[str]]


def stale_records(ctx: PlanContext) -> Stale:
    """Linked services and contracts created with a period type the Billing Frequencies mapping no longer
    gives (see :func:`format_notices`)."""
    out: Stale = {}
    for kind, field_name, setting, _labels, _what in _MAPPED:
        mapping: dict[BillingFrequency, int] = getattr(ctx.settings, setting)
        for (freq, was), names in _stale(ctx, kind, field_name, mapping).items():
            out[(kind, freq, was)] = names
    return out


def merge_stale(into: Stale, more: Stale) -> None:
    """Add the stale records of one batch of a batched plan to the others'."""
    for key, names in more.items():
        into.setdefault(key, []).extend(names)


def format_notices(stale: Stale, settings: AutotaskConnectorSettings, facts: TenantFacts) -> list[str]:
    """What a changed Billing Frequencies mapping does to records created under the old one.

    Autotask never changes a contract's period type, and PSA Bridge does not change the period type of
    a service its contract services bill by: those records keep what they were created with. The plan
    says so, per frequency, instead of silently doing nothing.
    """
    notices: list[str] = []
    for kind, _field, setting, label_source, what in _MAPPED:
        mapping: dict[BillingFrequency, int] = getattr(settings, setting)
        labels: dict[int, str] = getattr(facts, label_source)
        for (stale_kind, freq, was), names in sorted(stale.items()):
            if stale_kind != kind:
                continue
            now = mapping.get(BillingFrequency(freq))
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            new = f"now maps to {labels.get(now, f'#{now}')}" if now is not None else "is now unmapped"
            consequence = (
                "new contract services of these products are still added to them; services created from "
                "now on use the new mapping"
                if kind == "service"
                else "Autotask does not allow a contract's period type to change; contracts created from "
                "now on use the new mapping"
            )
            notices.append(
                f"Billing frequency {freq.replace('_', '-')} {new} as {what}: {len(names)} existing "
                f"Autotask record(s) created with {labels.get(was, f'#{was}')} are left as they are "
                f"({shown}); {consequence}."
            )
    return notices


def _stale(
    ctx: PlanContext, kind: str, field_name: str, mapping: dict[BillingFrequency, int]
) -> dict[tuple[str, int], list[str]]:
    """(frequency, period type created with) -> names of linked records the current mapping contradicts."""
    frequency_of = {c.id: c.billing_frequency for c in ctx.hub.contracts}
    stale: dict[tuple[str, int], list[str]] = defaultdict(list)
    for (record_type, hub_id), link in sorted(ctx.links.items()):
        if link.autotask_id is None or not link.created_with:
            continue
        if kind == "service" and record_type.startswith("service."):
            freq = record_type.removeprefix("service.")
        elif kind == record_type and hub_id in frequency_of:
            freq = frequency_of[hub_id]
        else:
            continue
        was = link.created_with.get(field_name)
        if isinstance(was, int) and was != mapping.get(BillingFrequency(freq)):
            name = ctx.labels.get(ref(record_type, hub_id), f"#{hub_id}")
            stale[(freq, was)].append(f"{name} (#{link.autotask_id})")
    return stale


__all__ = [
    "BLOCKED",
    "DRIFT",
    "ERROR",
    "NEEDS_LINK",
    "PENDING",
    "SYNCED",
    "WAITING",
    "Operation",
    "Plan",
    "RecordStatus",
    "Status",
    "at_date",
    "fingerprint",
    "plan",
    "service_type",
]
