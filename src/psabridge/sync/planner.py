"""The one decision function: ``plan(hub, autotask_view, links, settings) -> Plan``.

Pure (no I/O): given the hub's records, what the engine read from Autotask, what it remembers (links)
and the connector settings, it returns the exact ordered list of Autotask writes and the status of every
record. The dry run shows this plan and ``apply`` executes exactly these operations, so the preview can
never drift from what is written.

Rules (docs/sync-design.md): dependency order products → customers → agreements → services → changes →
charges; pre-flight checks block a record with a reason and make its dependants "waiting for" it; a
linked record is only written when the fingerprint of its owned fields changed, and then only the owned
fields are sent (PATCH); name alone never links (same-name companies are suggestions).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency
from psabridge.sync.keys import PHASES, RECORD_TYPES, matching_key, ref, service_type
from psabridge.sync.snapshot import (
    AutotaskView,
    HubAccount,
    HubChangeLog,
    HubContract,
    HubProduct,
    HubSnapshot,
    HubSubscription,
    LinkState,
)

# Record statuses users see on each row.
SYNCED = "synced"
PENDING = "pending"
NEEDS_LINK = "needs_link"
BLOCKED = "blocked"
WAITING = "waiting"
ERROR = "error"
#: pushed, but Autotask's own read-back (ContractServiceUnits) disagrees with the hub
DRIFT = "drift"

_PHONE = re.compile(r"^\+?[0-9 ().\-/]{7,40}$")
#: Autotask contracts need an end date; an open-ended billing contract gets this many years.
OPEN_ENDED_CONTRACT_YEARS = 5


@dataclass(frozen=True)
class Operation:
    """One Autotask write (or a free DB-only ``link`` of a record found by its matching key).

    ``body`` and ``parent`` may hold references ``"record_type:hub_id"`` (under the key ``"$ref"``) to
    records created earlier in the same plan; ``apply`` resolves them from the links as it goes.
    """

    op_id: str
    phase: str
    verb: str  # create | update | adjust | charge | link
    entity: str
    record_type: str
    hub_id: int
    label: str
    body: dict[str, Any]
    parent: Any = None  # int, {"$ref": ...} or None
    matching_key: str | None = None
    fingerprint: str | None = None
    #: further records this write covers (e.g. two same-day change logs merged into one adjustment)
    covers: tuple[tuple[str, int], ...] = ()
    #: adjustments: the contract service's units at the effective date once this write happened
    units_after: int | None = None
    autotask_id: int | None = None  # known target (update/link)
    summary: str = ""
    #: a second contract service of the same service (Allow Duplicated Services): Autotask only adds it
    #: through an adjustment with ``allowRepeatService`` (``body`` is that adjustment, carrying the first
    #: units); ``apply`` then finds the new contract service by one query of the contract's services.
    #: Autotask does not let its internalDescription be updated, so it carries no key: the link holds it.
    repeat: bool = False
    #: create-only values the link remembers (see ``SyncLink.created_with``)
    created_with: dict[str, Any] | None = None

    @property
    def cost(self) -> int:
        """API calls this operation costs."""
        if self.verb == "link":
            return 0
        return 2 if self.repeat else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "op_id": self.op_id,
            "phase": self.phase,
            "verb": self.verb,
            "entity": self.entity,
            "record_type": self.record_type,
            "hub_id": self.hub_id,
            "label": self.label,
            "summary": self.summary,
            "body": self.body,
            "parent": self.parent,
            "matching_key": self.matching_key,
            "covers": [list(c) for c in self.covers],
            "cost": self.cost,
        }


@dataclass(frozen=True)
class RecordStatus:
    """Where one hub record stands, with the reason when it is not (going to be) synced."""

    record_type: str
    hub_id: int
    label: str
    status: str
    reason: str | None = None
    autotask_id: int | None = None
    candidates: tuple[dict[str, Any], ...] = ()

    @property
    def phase(self) -> str:
        return RECORD_TYPES[self.record_type].phase

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_type": self.record_type,
            "hub_id": self.hub_id,
            "label": self.label,
            "phase": self.phase,
            "status": self.status,
            "reason": self.reason,
            "autotask_id": self.autotask_id,
            "candidates": list(self.candidates),
        }


@dataclass
class Plan:
    """The exact ordered list of Autotask operations and the status of every record."""

    operations: list[Operation] = field(default_factory=list)
    records: list[RecordStatus] = field(default_factory=list)
    read_calls: int = 0
    #: what the plan deliberately leaves as it is and why (e.g. after a settings change)
    notices: list[str] = field(default_factory=list)

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
            out[rec.phase][rec.status] += 1
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


def fingerprint(fields: dict[str, Any]) -> str:
    """SHA-256 of owned fields in canonical JSON: equal fingerprints mean nothing to write."""
    raw = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def at_date(d: date) -> str:
    """Autotask date-time for a calendar date (UTC midnight, no offset)."""
    return f"{d.isoformat()}T00:00:00"


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _normal(value: Any) -> str:
    """Compare values read from Autotask with values we would send (dates, numbers, booleans)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, Decimal)):
        return f"{float(value):.4f}"
    text = str(value)
    if re.match(r"^\d{4}-\d{2}-\d{2}T", text):
        return text[:10]
    return text.strip()


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


@dataclass
class _Desired:
    """What one hub record should look like in Autotask."""

    record_type: str
    hub_id: int
    label: str
    owned: dict[str, Any]  # fields the hub owns (sent on create and on update)
    create_only: dict[str, Any]  # sent on create only (Autotask or people own them afterwards)
    parent: Any = None
    depends: tuple[str, ...] = ()  # refs that must be synced first
    covers: tuple[tuple[str, int], ...] = ()  # further records the create carries
    #: create-only values worth remembering on the link (a settings change may contradict them later)
    created_with: dict[str, Any] | None = None


class _Planner:
    def __init__(
        self,
        hub: HubSnapshot,
        view: AutotaskView,
        links: dict[tuple[str, int], LinkState],
        settings: AutotaskConnectorSettings,
    ) -> None:
        self.hub = hub
        self.view = view
        self.links = links
        self.s = settings
        self.org = hub.organization_id
        self.ops: list[Operation] = []
        self.records: list[RecordStatus] = []
        #: ref -> None when usable by dependants (synced or created in this plan), else a waiting reason
        self.state: dict[str, str | None] = {}
        self.labels: dict[str, str] = {}
        self.products = {p.id: p for p in hub.products}
        self.accounts = {a.id: a for a in hub.accounts}
        self.contracts = {c.id: c for c in hub.contracts}
        self.logs_by_sub: dict[int, list[HubChangeLog]] = defaultdict(list)
        for log in sorted(hub.logs, key=lambda lg: (lg.effective_date, lg.id)):
            self.logs_by_sub[log.subscription_id].append(log)
        #: repeat contract services (Allow Duplicated Services): the adjustment that adds one carries
        #: its first units; subscription id -> (units, change logs dated on its start it carries)
        self.repeats: dict[int, tuple[int, tuple[HubChangeLog, ...]]] = {}

    def initial_units(self, sub: HubSubscription) -> int:
        """Units at the subscription's start: its quantity minus the net of its active change logs."""
        active = [lg for lg in self.logs_by_sub.get(sub.id, []) if lg.status == "active"]
        return max(sub.quantity - sum(lg.delta for lg in active), 0)

    def carried_by_repeat(self, sub: HubSubscription) -> tuple[int, tuple[HubChangeLog, ...]]:
        """Units (and the change logs dated on the subscription's start) carried by the adjustment that
        adds a repeat contract service: Autotask refuses a second adjustment of a service on one date, so
        whatever happens on that date must ride on the first one."""
        same_day = tuple(
            lg
            for lg in self.logs_by_sub.get(sub.id, [])
            if lg.status == "active" and lg.effective_date == sub.start_date and not lg.is_refund
        )
        if any(lg.unit_price is not None and lg.unit_price != sub.unit_price for lg in same_day):
            same_day = ()  # a price change on the start date: the adjustment carries the start price only
        return self.initial_units(sub) + sum(lg.delta for lg in same_day), same_day

    # -- bookkeeping -------------------------------------------------------------------------
    def _record(
        self,
        record_type: str,
        hub_id: int,
        label: str,
        status: str,
        reason: str | None = None,
        autotask_id: int | None = None,
        candidates: tuple[dict[str, Any], ...] = (),
    ) -> None:
        r = ref(record_type, hub_id)
        self.labels[r] = label
        usable = status in (SYNCED, PENDING, DRIFT)
        self.state[r] = None if usable else f"Waiting for {label}"
        self.records.append(RecordStatus(record_type, hub_id, label, status, reason, autotask_id, candidates))

    def _waiting_on(self, refs: tuple[str, ...]) -> str | None:
        for r in refs:
            if r not in self.state:
                return f"Waiting for {r}"
            reason = self.state[r]
            if reason is not None:
                return reason
        return None

    def _block(self, d: _Desired, reason: str) -> None:
        self._record(d.record_type, d.hub_id, d.label, BLOCKED, reason)

    def _too_long(self, entity: str, values: dict[str, Any]) -> str | None:
        """Why Autotask would refuse these values for their length (from its ``entityInformation/fields``),
        or None. Nothing is ever truncated silently: the record is blocked until the hub value is shortened."""
        lengths = self.view.facts.field_lengths.get(entity, {})
        for name, value in values.items():
            if not isinstance(value, str):
                continue
            limit = lengths.get(name.lower())
            if limit and len(value) > limit:
                return (
                    f"{entity} {name} is {len(value)} characters long, but Autotask allows at most {limit}: "
                    "shorten it in the billing hub"
                )
        return None

    # -- the generic upsert ------------------------------------------------------------------
    def _upsert(
        self, d: _Desired, *, suggest: list[dict[str, Any]] | None = None, repeat: bool = False
    ) -> None:
        """Create, update, adopt (found by key) or leave alone one record."""
        rt = RECORD_TYPES[d.record_type]
        waiting = self._waiting_on(d.depends)
        if waiting:
            self._record(d.record_type, d.hub_id, d.label, WAITING, waiting)
            return
        key = matching_key(self.org, d.record_type, d.hub_id)
        owned = dict(d.owned)
        if rt.key_field:
            owned[rt.key_field] = key
        fp = fingerprint(owned)
        link = self.links.get((d.record_type, d.hub_id))
        op_base = f"{d.record_type}:{d.hub_id}"
        if link and link.autotask_id:
            if link.fingerprint == fp:
                status = DRIFT if link.status == DRIFT else SYNCED
                reason = link.reason if status == DRIFT else None
                self._record(d.record_type, d.hub_id, d.label, status, reason, autotask_id=link.autotask_id)
                return
            too_long = self._too_long(rt.entity, owned)
            if too_long:
                self._record(
                    d.record_type, d.hub_id, d.label, BLOCKED, too_long, autotask_id=link.autotask_id
                )
                return
            self.ops.append(
                Operation(
                    op_id=f"update:{op_base}:{fp[:12]}",
                    phase=rt.phase,
                    verb="update",
                    entity=rt.entity,
                    record_type=d.record_type,
                    hub_id=d.hub_id,
                    label=d.label,
                    body={"id": link.autotask_id, **owned},
                    parent=link.parent_autotask_id if d.parent is not None else None,
                    matching_key=key,
                    fingerprint=fp,
                    autotask_id=link.autotask_id,
                    summary=f"Update {rt.entity} #{link.autotask_id} ({', '.join(sorted(d.owned))})",
                )
            )
            self._record(d.record_type, d.hub_id, d.label, PENDING, autotask_id=link.autotask_id)
            return
        found = self.view.by_key.get((rt.entity, key))
        if found is not None:
            found_id = int(found["id"])
            same = all(_normal(found.get(k)) == _normal(v) for k, v in owned.items())
            too_long = None if same else self._too_long(rt.entity, owned)
            if too_long:
                self._record(d.record_type, d.hub_id, d.label, BLOCKED, too_long, autotask_id=found_id)
                return
            self.ops.append(
                Operation(
                    op_id=f"{'link' if same else 'update'}:{op_base}:{fp[:12]}",
                    phase=rt.phase,
                    verb="link" if same else "update",
                    entity=rt.entity,
                    record_type=d.record_type,
                    hub_id=d.hub_id,
                    label=d.label,
                    body={"id": found_id, **owned},
                    parent=d.parent,
                    matching_key=key,
                    fingerprint=fp,
                    autotask_id=found_id,
                    covers=d.covers,
                    summary=f"{'Link' if same else 'Link and update'} {rt.entity} #{found_id} (key {key})",
                )
            )
            self._record(d.record_type, d.hub_id, d.label, PENDING, autotask_id=found_id)
            return
        decision = link.decision if link else "auto"
        if suggest and decision == "auto":
            self._record(
                d.record_type,
                d.hub_id,
                d.label,
                NEEDS_LINK,
                f"{len(suggest)} Autotask record(s) with the same name: link one or choose Add New",
                candidates=tuple(suggest),
            )
            return
        # a repeat contract service is added by an adjustment (its body), which carries no key
        body = dict(d.create_only) if repeat else {**d.create_only, **owned}
        too_long = self._too_long(rt.entity, body)
        if too_long:
            self._block(d, too_long)
            return
        self.ops.append(
            Operation(
                op_id=f"create:{op_base}",
                phase=rt.phase,
                verb="create",
                entity=rt.entity,
                record_type=d.record_type,
                hub_id=d.hub_id,
                label=d.label,
                body=body,
                parent=None if repeat else d.parent,
                matching_key=None if repeat else key,
                fingerprint=fp,
                covers=d.covers,
                repeat=repeat,
                created_with=d.created_with,
                summary=f"Create {rt.entity} {d.label!r}"
                + (
                    " (a repeat of a service on the contract: added by an adjustment with its first units)"
                    if repeat
                    else ""
                ),
            )
        )
        self._record(d.record_type, d.hub_id, d.label, PENDING)

    # -- phases ------------------------------------------------------------------------------
    def products_phase(self) -> None:
        for p in sorted(self.hub.products, key=lambda p: p.id):
            if p.kind != "product":
                continue
            d = _Desired(
                "product",
                p.id,
                p.name,
                owned={"name": p.name, "isActive": p.is_active},
                create_only={
                    "productBillingCodeID": self.s.product_billing_code_id,
                    "isSerialized": False,
                    "sku": p.sku,
                    "manufacturerName": p.manufacturer,
                    "description": p.description,
                    "unitPrice": _money(p.unit_price),
                    "unitCost": _money(p.unit_cost),
                },
            )
            if self.s.product_billing_code_id is None:
                self._block(d, "No billing code configured for products (setting Billing Codes for Products)")
                continue
            d.create_only = {k: v for k, v in d.create_only.items() if v is not None}
            self._upsert(d)
        used: dict[int, set[str]] = defaultdict(set)
        for sub in self.hub.subscriptions:
            contract = self.contracts.get(sub.contract_id)
            if contract is not None:
                used[sub.product_id].add(contract.billing_frequency)
        for pid in sorted(used):
            p = self.products[pid]
            if p.kind != "service":
                continue
            for freq in sorted(used[pid], key=lambda f: list(BillingFrequency).index(BillingFrequency(f))):
                self._service(p, freq)

    def _service(self, p: HubProduct, freq: str) -> None:
        label = f"{p.name} ({freq.replace('_', '-')})"
        period = self.s.billing_frequencies.get(BillingFrequency(freq))
        create_only: dict[str, Any] = {
            "unitPrice": _money(p.unit_price),
            "unitCost": _money(p.unit_cost),
            "periodType": period,
            "billingCodeID": self.s.service_billing_code_id,
            "sku": p.sku,
            "description": p.description,
        }
        vendor = self.s.manufacturers.get(p.manufacturer or "") if p.manufacturer else None
        if vendor is not None:
            create_only["vendorCompanyID"] = vendor
        d = _Desired(
            service_type(freq),
            p.id,
            label,
            owned={"name": label},
            create_only={k: v for k, v in create_only.items() if v is not None},
            created_with={"periodType": period},
        )
        if self.s.service_billing_code_id is None:
            self._block(d, "No billing code configured for services (setting Billing Codes for Services)")
        elif period is None and not self._linked(service_type(freq), p.id):
            self._block(
                d, f"Billing frequency {freq!r} has no Autotask period type (setting Billing Frequencies)"
            )
        else:
            self._upsert(d)

    def customers_phase(self) -> None:
        for a in sorted(self.hub.accounts, key=lambda a: a.id):
            self._customer(a)

    def _customer(self, a: HubAccount) -> None:
        create_only = {
            "companyType": self.s.default_company_type,
            "ownerResourceID": self.s.default_owner_resource_id,
            "address1": a.address_line1,
            "address2": a.address_line2,
            "city": a.city,
            "state": a.state,
            "postalCode": a.postal_code,
            "isActive": True,
        }
        d = _Desired(
            "account",
            a.id,
            a.name,
            owned={"companyName": a.name, "phone": a.phone},
            create_only={k: v for k, v in create_only.items() if v is not None},
        )
        contact = a.primary_contact
        if not a.phone or not _PHONE.match(a.phone.strip()) or sum(c.isdigit() for c in a.phone) < 7:
            self._block(d, f"Account has no valid phone number ({a.phone or 'empty'})")
        elif contact is None:
            self._block(d, "Account has no primary contact")
        elif self.s.default_company_type is None or self.s.default_owner_resource_id is None:
            self._block(d, "Settings Default Company Type and Default Owner Source must be chosen")
        else:
            suggest = self.view.company_candidates.get(a.name.strip().lower())
            self._upsert(d, suggest=suggest)
        if contact is None:
            return
        c_owned: dict[str, Any] = {
            "firstName": contact.first_name,
            "lastName": contact.last_name,
            "isActive": 1 if contact.is_active else 0,
        }
        if contact.email:
            c_owned["emailAddress"] = contact.email
        if contact.phone:
            c_owned["phone"] = contact.phone
        account_ref = ref("account", a.id)
        self._upsert(
            _Desired(
                "contact",
                contact.id,
                f"{contact.first_name} {contact.last_name} ({a.name})",
                owned=c_owned,
                create_only={"companyID": {"$ref": account_ref}, "primaryContact": True},
                parent={"$ref": account_ref},
                depends=(account_ref,),
            )
        )

    def agreements_phase(self) -> None:
        for c in sorted(self.hub.contracts, key=lambda c: c.id):
            self._agreement(c)

    def _agreement(self, c: HubContract) -> None:
        end = c.end_date or _add_years(c.start_date, OPEN_ENDED_CONTRACT_YEARS)
        facts = self.view.facts
        status = facts.contract_status_active if c.status == "active" else facts.contract_status_inactive
        owned: dict[str, Any] = {
            "contractName": c.name,
            "startDate": at_date(c.start_date),
            "endDate": at_date(end),
        }
        if status is not None:
            owned["status"] = status
        account_ref = ref("account", c.account_id)
        create_only: dict[str, Any] = {
            "companyID": {"$ref": account_ref},
            "contractType": self.s.default_contract_type,
            "billingPreference": self.s.default_billing_preference,
            "timeReportingRequiresStartAndStopTimes": 1
            if self.s.time_reporting_requires_start_and_stop_times
            else 0,
        }
        if self.s.setup_fee_enabled and c.setup_fee is not None and c.setup_fee > 0:
            create_only["setupFee"] = _money(c.setup_fee)
            create_only["setupFeeBillingCodeID"] = self.s.setup_fee_billing_code_id
        period = self.s.contract_period_types.get(BillingFrequency(c.billing_frequency))
        create_only["contractPeriodType"] = period
        d = _Desired(
            "billing_contract",
            c.id,
            c.name,
            owned,
            create_only,
            parent=None,
            depends=(account_ref,),
            created_with={"contractPeriodType": period},
        )
        if c.contract_type == "item_based":
            self._block(d, "Item Based billing contracts are not supported: contracts must be Recurring")
        elif self.s.default_contract_type is None or self.s.default_billing_preference is None:
            self._block(d, "Settings Default Contract Type and Default Billing Preference must be chosen")
        elif period is None and not self._linked("billing_contract", c.id):
            self._block(
                d,
                f"Billing frequency {c.billing_frequency.replace('_', '-')!r} has no Autotask contract period "
                "type (setting Billing Frequencies); Autotask requires one on every Recurring Service contract",
            )
        elif status is None:
            self._block(d, "The tenant has no Contracts status 'Active'/'Inactive' picklist value")
        else:
            self._upsert(d)

    def services_phase(self) -> None:
        seen: dict[tuple[int, int], HubSubscription] = {}
        for sub in sorted(self.hub.subscriptions, key=lambda s: s.id):
            contract = self.contracts.get(sub.contract_id)
            product = self.products.get(sub.product_id)
            label = f"{product.name if product else sub.product_id} x{sub.quantity} ({contract.name if contract else sub.contract_id})"
            if contract is None or product is None:
                self._record("subscription", sub.id, label, BLOCKED, "Contract or product is missing")
                continue
            contract_ref = ref("billing_contract", contract.id)
            service_ref = ref(service_type(contract.billing_frequency), product.id)
            d = _Desired(
                "subscription",
                sub.id,
                label,
                owned={},
                create_only={
                    "contractID": {"$ref": contract_ref},
                    "serviceID": {"$ref": service_ref},
                    "unitPrice": _money(sub.unit_price),
                    **({"unitCost": _money(sub.unit_cost)} if sub.unit_cost is not None else {}),
                },
                parent={"$ref": contract_ref},
                depends=(contract_ref, service_ref),
            )
            first = seen.get((contract.id, product.id))
            repeat = first is not None and self.s.allow_duplicated_services
            if repeat:
                d.create_only = self._repeat_adjustment(sub, contract_ref, service_ref)
            else:
                # keyed on create (internalDescription); its units come from adjustments only
                d.create_only["internalDescription"] = matching_key(self.org, "subscription", sub.id)
            if product.kind != "service":
                self._block(d, f"Product {product.name!r} is one-time; subscriptions need a service product")
            elif sub.start_date < contract.start_date:
                self._block(
                    d,
                    f"Subscription starts {sub.start_date.isoformat()}, before its billing contract "
                    f"starts ({contract.start_date.isoformat()})",
                )
            elif first is not None and not self.s.allow_duplicated_services:
                self._block(
                    d,
                    f"Contract already has a subscription of {product.name!r} (#{first.id}) and "
                    "Allow Duplicated Services is No",
                )
            else:
                seen.setdefault((contract.id, product.id), sub)
                self._upsert(d, repeat=repeat)

    def changes_phase(self) -> None:
        for sub in sorted(self.hub.subscriptions, key=lambda s: s.id):
            self._changes(sub, self.logs_by_sub.get(sub.id, []))

    def _repeat_adjustment(self, sub: HubSubscription, contract_ref: str, service_ref: str) -> dict[str, Any]:
        """The adjustment that adds a repeat contract service with its first units (see ``Operation``)."""
        link = self.links.get(("subscription", sub.id))
        units, carried = self.carried_by_repeat(sub)
        if link is not None and link.autotask_id:
            # already added: only the logs it did carry count as carried (a later same-day log is a
            # change of its own, which Autotask refuses on that date: the changes phase says so)
            carried = tuple(lg for lg in carried if self._synced("license_change_log", lg.id))
            units = self.initial_units(sub) + sum(lg.delta for lg in carried)
        self.repeats[sub.id] = (units, carried)
        body: dict[str, Any] = {
            "contractID": {"$ref": contract_ref},
            "serviceID": {"$ref": service_ref},
            "allowRepeatService": True,
            "effectiveDate": at_date(sub.start_date),
            "unitChange": units,
            "adjustedUnitPrice": _money(sub.unit_price),
        }
        if sub.unit_cost is not None:
            body["adjustedUnitCost"] = _money(sub.unit_cost)
        return body

    def _changes(self, sub: HubSubscription, logs: list[HubChangeLog]) -> None:
        """One adjustment per effective date of the subscription (initial units, change logs,
        cancellation, corrections of archived logs), in date order, each with the units it leaves."""
        sub_ref = ref("subscription", sub.id)
        contract_ref = ref("billing_contract", sub.contract_id)
        contract = self.contracts.get(sub.contract_id)
        active = [lg for lg in logs if lg.status == "active"]
        initial = self.initial_units(sub)
        # (date, record_type, hub_id, delta, price)
        items: list[tuple[date, str, int, int, Decimal | None]] = []
        units = 0
        waiting = self._waiting_on((sub_ref,))
        if sub.id in self.repeats:
            units, carried = self.repeats[sub.id]
            for lg in carried:
                status = (
                    SYNCED if self._synced("license_change_log", lg.id) else WAITING if waiting else PENDING
                )
                reason = waiting if status == WAITING else "Carried by the adjustment that adds the service"
                self._record("license_change_log", lg.id, self._log_label(sub, lg), status, reason)
            carried_ids = {lg.id for lg in carried}
            active = [lg for lg in active if lg.id not in carried_ids]
        elif initial:
            items.append((sub.start_date, "subscription_start", sub.id, initial, None))
        final = (units if sub.id in self.repeats else initial) + sum(lg.delta for lg in active)
        price_now = sub.unit_price
        for lg in sorted(active, key=lambda lg: (lg.effective_date, lg.id)):
            # a unit change carries the log's price (harmless when unchanged); a change of price alone
            # only makes an adjustment when the price really differs
            changed = lg.unit_price is not None and lg.unit_price != price_now
            new_price = lg.unit_price if (lg.delta or changed) else None
            if lg.unit_price is not None:
                price_now = lg.unit_price
            if lg.delta or new_price is not None or not lg.is_refund:
                items.append((lg.effective_date, "license_change_log", lg.id, lg.delta, new_price))
        # archived logs that had been pushed: the pushed adjustment stays (history is never edited) and
        # an opposite adjustment corrects it, dated when the log was archived (Autotask refuses a second
        # adjustment of the service on the original date)
        for lg in logs:
            if lg.status != "archived" or not self._synced("license_change_log", lg.id) or not lg.delta:
                continue
            items.append((lg.effective_date, "license_change_log", lg.id, lg.delta, None))
            when = max(lg.effective_date + timedelta(days=1), lg.changed_on or lg.effective_date)
            if contract is not None and contract.end_date is not None:
                when = min(when, contract.end_date)
            items.append((when, "reversal", lg.id, -lg.delta, None))
        if sub.status == "cancelled" and final > 0:
            when = sub.end_date or sub.changed_on
            items.append((when, "cancellation", sub.id, -final, None))
        service_id = (self.links.get(("subscription", sub.id)) or LinkState("subscription", 0)).autotask_id
        by_date: dict[date, list[tuple[date, str, int, int, Decimal | None]]] = defaultdict(list)
        for item in items:
            by_date[item[0]].append(item)
        for when in sorted(by_date):
            group = by_date[when]
            net = sum(i[3] for i in group)
            units += net
            price = next((i[4] for i in reversed(group) if i[4] is not None), None)
            head = group[0]
            label = self._change_label(sub, head, when)
            done = [i for i in group if self._synced(i[1], i[2])]
            todo = [i for i in group if not self._synced(i[1], i[2])]
            for i in done:
                self._record(i[1], i[2], self._change_label(sub, i, when), SYNCED, autotask_id=None)
            if not todo:
                continue
            if waiting:
                for i in todo:
                    self._record(i[1], i[2], self._change_label(sub, i, when), WAITING, waiting)
                continue
            if done or (sub.id in self.repeats and when == sub.start_date):
                # the date already holds an adjustment of this service (pushed, or the one that added
                # a repeat service): Autotask takes one per service and date
                todo_net = sum(i[3] for i in todo)
                if todo_net == 0:
                    for i in todo:
                        self._record(i[1], i[2], self._change_label(sub, i, when), SYNCED)
                    continue
                for i in todo:
                    self._record(
                        i[1],
                        i[2],
                        self._change_label(sub, i, when),
                        BLOCKED,
                        f"Autotask already holds an adjustment of this service on {when.isoformat()} "
                        "and refuses a second one: record the change with another effective date",
                    )
                continue
            todo_net = sum(i[3] for i in todo)
            if todo_net == 0 and price is None:
                for i in todo:  # merged changes cancel out: nothing to write, all covered
                    self._record(i[1], i[2], self._change_label(sub, i, when), SYNCED, "Net change is zero")
                continue
            body: dict[str, Any] = {
                "contractID": {"$ref": contract_ref},
                "contractServiceID": {"$ref": sub_ref},
                "effectiveDate": at_date(when),
                "unitChange": todo_net,
            }
            if price is not None:
                body["adjustedUnitPrice"] = _money(price)
            self.ops.append(
                Operation(
                    op_id=f"adjust:subscription:{sub.id}:{when.isoformat()}",
                    phase="changes",
                    verb="adjust",
                    entity="ContractServiceAdjustments",
                    record_type=head[1],
                    hub_id=head[2],
                    label=label,
                    body=body,
                    parent=None,
                    covers=tuple((i[1], i[2]) for i in todo),
                    units_after=units,
                    autotask_id=service_id,
                    summary=(
                        f"Adjust {label}: {'+' if todo_net >= 0 else ''}{todo_net} units on {when.isoformat()}"
                        + (f" at {price}" if price is not None else "")
                        + (f" (merges {len(todo)} changes)" if len(todo) > 1 else "")
                    ),
                )
            )
            for i in todo:
                self._record(i[1], i[2], self._change_label(sub, i, when), PENDING)

    def _log_label(self, sub: HubSubscription, lg: HubChangeLog) -> str:
        return self._change_label(
            sub, (lg.effective_date, "license_change_log", lg.id, lg.delta, None), lg.effective_date
        )

    def _change_label(
        self, sub: HubSubscription, item: tuple[date, str, int, int, Decimal | None], when: date
    ) -> str:
        product = self.products.get(sub.product_id)
        name = product.name if product else f"subscription {sub.id}"
        kind = {
            "subscription_start": "initial units",
            "cancellation": "cancellation",
            "reversal": "correction of an archived change",
        }.get(item[1], "change")
        return f"{name} {kind} {'+' if item[3] >= 0 else ''}{item[3]} on {when.isoformat()}"

    def _linked(self, record_type: str, hub_id: int) -> bool:
        link = self.links.get((record_type, hub_id))
        return link is not None and link.autotask_id is not None

    def mapping_notices(self) -> list[str]:
        """What a changed Billing Frequencies mapping does to records created under the old one.

        Autotask never changes a contract's period type, and PSA Bridge does not change the period type
        of a service its contract services bill by: those records keep what they were created with. The
        plan says so, per frequency, instead of silently doing nothing.
        """
        facts = self.view.facts
        notices: list[str] = []
        kinds = (
            ("service", "periodType", self.s.billing_frequencies, facts.period_labels, "service period type"),
            (
                "billing_contract",
                "contractPeriodType",
                self.s.contract_period_types,
                facts.contract_period_labels,
                "contract period type",
            ),
        )
        frequency_of = {c.id: c.billing_frequency for c in self.hub.contracts}
        for kind, field_name, mapping, labels, what in kinds:
            stale: dict[tuple[str, int], list[str]] = defaultdict(list)
            for (record_type, hub_id), link in sorted(self.links.items()):
                if link.autotask_id is None or not link.created_with or field_name not in link.created_with:
                    continue
                if kind == "service" and record_type.startswith("service."):
                    freq = record_type.removeprefix("service.")
                elif kind == "billing_contract" and record_type == kind and hub_id in frequency_of:
                    freq = frequency_of[hub_id]
                else:
                    continue
                was = link.created_with[field_name]
                now = mapping.get(BillingFrequency(freq))
                if isinstance(was, int) and was != now:
                    name = self.labels.get(ref(record_type, hub_id), f"#{hub_id}")
                    stale[(freq, was)].append(f"{name} (#{link.autotask_id})")
            for (freq, was), names in sorted(stale.items()):
                now = mapping.get(BillingFrequency(freq))
                shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                new = f"now maps to {labels.get(now, f'#{now}')}" if now is not None else "is now unmapped"
                consequence = (
                    "new contract services of these products are still added to them; services created "
                    "from now on use the new mapping"
                    if kind == "service"
                    else "Autotask does not allow a contract's period type to change; contracts created "
                    "from now on use the new mapping"
                )
                notices.append(
                    f"Billing frequency {freq.replace('_', '-')} {new} as {what}: {len(names)} existing "
                    f"Autotask record(s) created with {labels.get(was, f'#{was}')} are left as they are "
                    f"({shown}); {consequence}."
                )
        return notices

    def _synced(self, record_type: str, hub_id: int) -> bool:
        link = self.links.get((record_type, hub_id))
        return link is not None and link.status == SYNCED

    def charges_phase(self) -> None:
        subs = {s.id: s for s in self.hub.subscriptions}
        for lg in sorted(self.hub.logs, key=lambda lg: (lg.effective_date, lg.id)):
            if not lg.is_refund or lg.status != "active" or not lg.refund_amount:
                continue
            sub = subs.get(lg.subscription_id)
            if sub is None:
                continue
            product = self.products.get(sub.product_id)
            label = (
                f"Refund {lg.refund_amount} for {product.name if product else sub.id} on {lg.effective_date}"
            )
            contract_ref = ref("billing_contract", sub.contract_id)
            d = _Desired(
                "refund",
                lg.id,
                label,
                owned={},
                create_only={
                    "contractID": {"$ref": contract_ref},
                    "name": f"Refund: {product.name if product else 'subscription'}",
                    "datePurchased": at_date(lg.effective_date),
                    "chargeType": self.s.default_charge_type,
                    "productID": self.s.default_refund_product_id,
                    "unitQuantity": 1,
                    "unitPrice": -float(lg.refund_amount),
                    "unitCost": 0,
                    "isBillableToCompany": True,
                },
                parent={"$ref": contract_ref},
                depends=(contract_ref,),
            )
            if self.s.default_refund_product_id is None or self.s.default_charge_type is None:
                self._block(d, "Settings Default Refund Product and Default Charge Type must be chosen")
            else:
                self._upsert(d)


def plan(
    hub: HubSnapshot,
    autotask_view: AutotaskView,
    links: dict[tuple[str, int], LinkState],
    settings: AutotaskConnectorSettings,
) -> Plan:
    """Decide every Autotask write needed to make Autotask match the hub (pure; see module doc)."""
    p = _Planner(hub, autotask_view, links, settings)
    p.products_phase()
    p.customers_phase()
    p.agreements_phase()
    p.services_phase()
    p.changes_phase()
    p.charges_phase()
    order = {phase: i for i, phase in enumerate(PHASES)}
    ops = sorted(p.ops, key=lambda op: order[op.phase])  # stable: keeps record order inside a phase
    # refund charges were planned in the charges phase already; adjustments keep date order per service
    return Plan(
        operations=ops, records=p.records, read_calls=autotask_view.read_calls, notices=p.mapping_notices()
    )
