"""Everything one comparison looks at, gathered once: the hub's side, Autotask's side, the links and
the journal. The comparison itself (:mod:`records`, :mod:`seats`) is pure: no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from psabridge.reconcile.hubside import HubSide, Written
from psabridge.reconcile.reads import AutotaskSide
from psabridge.sync.records import RECORD_TYPES
from psabridge.sync.records.base import ref
from psabridge.sync.snapshot import LinkState


@dataclass
class Inputs:
    organization_id: int
    day: date
    hub: HubSide
    autotask: AutotaskSide
    links: dict[tuple[str, int], LinkState]
    written: Written
    #: picklist key ("company_types", "period_types", "contract_period_types", "contract_statuses")
    #: -> value -> label, from the connector's cached options
    labels: dict[str, dict[int, str]] = field(default_factory=dict)

    def label(self, record_type: str, hub_id: int) -> str:
        return self.hub.ctx.labels.get(ref(record_type, hub_id), f"{record_type} #{hub_id}")

    def linked_id(self, record_type: str, hub_id: int) -> int | None:
        link = self.links.get((record_type, hub_id))
        return None if link is None else link.autotask_id

    def key(self, record_type: str, hub_id: int) -> str:
        return RECORD_TYPES[record_type].key(self.organization_id, hub_id)

    def shown(self, picklist: str, value: Any) -> Any:
        """A picklist value with its label ("Inactive (2)"), for people; other values as they are."""
        try:
            label = self.labels.get(picklist, {}).get(int(value))
        except (TypeError, ValueError):
            return value
        return f"{label} ({value})" if label else value

    def status_ids(self) -> tuple[int | None, int | None]:
        """The tenant's Contracts status ids of "Active" and "Inactive"."""
        facts = self.hub.ctx.view.facts
        return facts.contract_status_active, facts.contract_status_inactive
