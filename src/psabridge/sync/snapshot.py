"""Plain, immutable inputs of the planner: the hub's records, the Autotask view and the links.

The planner is a pure function of these values, so a preview (``plan``) and an apply of the same inputs
can never disagree, and the decision logic is testable without a database or a network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class HubContact:
    id: int
    external_id: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    is_active: bool


@dataclass(frozen=True, slots=True)
class HubAccount:
    id: int
    external_id: str
    name: str
    phone: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    owner_email: str | None
    status: str
    primary_contact: HubContact | None


@dataclass(frozen=True, slots=True)
class HubProduct:
    id: int
    external_id: str
    name: str
    sku: str | None
    manufacturer: str | None
    kind: str
    unit_price: Decimal
    unit_cost: Decimal | None
    is_active: bool
    description: str | None


@dataclass(frozen=True, slots=True)
class HubContract:
    id: int
    external_id: str
    account_id: int
    name: str
    contract_type: str
    billing_frequency: str
    start_date: date
    end_date: date | None
    status: str
    setup_fee: Decimal | None


@dataclass(frozen=True, slots=True)
class HubSubscription:
    id: int
    external_id: str
    contract_id: int
    product_id: int
    quantity: int
    unit_price: Decimal
    unit_cost: Decimal | None
    start_date: date
    end_date: date | None
    status: str
    changed_on: date  # date of the last change (used to date a cancellation without a log)


@dataclass(frozen=True, slots=True)
class HubChangeLog:
    id: int
    external_id: str
    subscription_id: int
    effective_date: date
    quantity_before: int
    quantity_after: int
    unit_price: Decimal | None
    status: str
    is_refund: bool
    refund_amount: Decimal | None
    changed_on: date | None = None  # last change (for an archived log: when it was archived)

    @property
    def delta(self) -> int:
        return self.quantity_after - self.quantity_before


@dataclass(frozen=True)
class HubSnapshot:
    """Every record of one organization that the sync pushes."""

    organization_id: int
    accounts: tuple[HubAccount, ...] = ()
    products: tuple[HubProduct, ...] = ()
    contracts: tuple[HubContract, ...] = ()
    subscriptions: tuple[HubSubscription, ...] = ()
    logs: tuple[HubChangeLog, ...] = ()
    #: product id -> billing frequencies it is sold at, when known without the subscriptions (the
    #: catalog step of a batched sync); None: derived from ``subscriptions``
    sold_at: dict[int, frozenset[str]] | None = None


@dataclass(frozen=True, slots=True)
class LinkState:
    """What the engine remembers about one hub record (a read-only copy of ``SyncLink``)."""

    record_type: str
    hub_id: int
    autotask_id: int | None = None
    parent_autotask_id: int | None = None
    fingerprint: str | None = None
    status: str = "pending"
    decision: str = "auto"
    reason: str | None = None
    #: create-only values the record was created with (see ``SyncLink.created_with``)
    created_with: dict[str, Any] | None = None
    #: suggested Autotask records shown until the user decides (None: not read)
    candidates: list[dict[str, Any]] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TenantFacts:
    """Picklist values of the tenant the planner needs (looked up by label, never hard-coded)."""

    contract_status_active: int | None = None
    contract_status_inactive: int | None = None
    #: entity -> lower-cased field name -> maximum length of a string value (entityInformation/fields)
    field_lengths: dict[str, dict[str, int]] = field(default_factory=dict)
    #: picklist id -> label of Services.periodType and Contracts.contractPeriodType (for plan notices)
    period_labels: dict[int, str] = field(default_factory=dict)
    contract_period_labels: dict[int, str] = field(default_factory=dict)
    #: lower-cased e-mail -> id of the active, non-API resource with it (Default Owner Source by e-mail)
    resources_by_email: dict[str, int] = field(default_factory=dict)


@dataclass
class AutotaskView:
    """What the engine read from Autotask for this plan (batched, by matching key)."""

    #: (entity, matching key) -> record found in Autotask carrying that key
    by_key: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: lower-cased company name -> same-name companies (link suggestions for unlinked accounts)
    company_candidates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: contract service id -> its ContractServiceUnits rows (for reconciling adjustments)
    units: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    #: contract id -> its contract services (for reconciling repeat services, added before being tagged)
    contract_services: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    facts: TenantFacts = field(default_factory=TenantFacts)
    #: API calls the reads cost
    read_calls: int = 0
