"""The list route every billing-hub resource has: filters, a search, ``limit``/``offset`` and a total.

Each resource declares its filters once, as a query-parameter model (equality filters, an optional
case-insensitive search over some columns, and conditions that need SQL of their own); the route that
reads them, scopes them to the caller's organization and pages the result is written once here.

No ``from __future__ import annotations``: FastAPI reads the generated endpoint's annotations as objects.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from psabridge.hub.models import BillingContract, LicenseChangeLog, Subscription
from psabridge.hub.records import list_records
from psabridge.hub.schemas.accounts import AccountStatus
from psabridge.hub.schemas.contracts import (
    BillingFrequencyName,
    ContractStatus,
    ContractType,
    LogStatus,
    SubscriptionStatus,
)
from psabridge.hub.schemas.products import ProductKind
from psabridge.hub.schemas.results import Page
from psabridge.hub.validation import MAX_ID, MAX_OFFSET
from psabridge.web.deps import DbSession
from psabridge.web.principal import Reader

Id = Annotated[int | None, Field(default=None, ge=1, le=MAX_ID)]


class ListQuery(BaseModel):
    """Paging of every list, and the equality filters of a resource (``None``: not filtered)."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=50, ge=1, le=500, description="Page size (at most 500).")
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, description="Records to skip.")
    external_id: str | None = None

    def equalities(self) -> dict[str, Any]:
        """Column -> value of the equality filters (everything but paging, search and extras)."""
        skip = {"limit", "offset", "q", *EXTRA_FIELDS}
        return {k: v for k, v in self.model_dump().items() if k not in skip}


#: filter fields that are not a column equality (handled by a resource's ``extra``)
EXTRA_FIELDS = frozenset({"effective_from", "effective_to", "account_id_of_contract"})


class AccountQuery(ListQuery):
    status: AccountStatus | None = None
    q: str | None = Field(default=None, description="Substring of the name (case-insensitive).")


class ContactQuery(ListQuery):
    account_id: Id = None
    is_active: bool | None = None
    email: str | None = None


class ProductQuery(ListQuery):
    kind: ProductKind | None = None
    is_active: bool | None = None
    manufacturer: str | None = None
    sku: str | None = None
    q: str | None = Field(default=None, description="Substring of name or SKU (case-insensitive).")


class BillingContractQuery(ListQuery):
    account_id: Id = None
    status: ContractStatus | None = None
    billing_frequency: BillingFrequencyName | None = None
    contract_type: ContractType | None = None


class SubscriptionQuery(ListQuery):
    billing_contract_id: Id = None
    product_id: Id = None
    status: SubscriptionStatus | None = None
    account_id_of_contract: Id = Field(
        default=None, alias="account_id", description="Subscriptions on this account's contracts."
    )


class LicenseChangeLogQuery(ListQuery):
    subscription_id: Id = None
    status: LogStatus | None = None
    is_refund: bool | None = None
    effective_from: date | None = None
    effective_to: date | None = None


def _subscription_extra(query: Any, organization_id: int) -> list[Any]:
    if query.account_id_of_contract is None:
        return []
    contracts = select(BillingContract.id).where(
        BillingContract.account_id == query.account_id_of_contract,
        BillingContract.organization_id == organization_id,
    )
    return [Subscription.billing_contract_id.in_(contracts)]


def _log_extra(query: Any, organization_id: int) -> list[Any]:
    extra = []
    if query.effective_from is not None:
        extra.append(LicenseChangeLog.effective_date >= query.effective_from)
    if query.effective_to is not None:
        extra.append(LicenseChangeLog.effective_date <= query.effective_to)
    return extra


@dataclass(frozen=True)
class ListResource:
    """How one resource is listed."""

    path: str
    name: str
    model: type[Any]
    public: type[Any]
    query: type[ListQuery]
    search: Sequence[str] = ()
    extra: Callable[[Any, int], list[Any]] = field(default=lambda query, org: [])


SUBSCRIPTION_EXTRA = _subscription_extra
LOG_EXTRA = _log_extra


def add_list_route(
    router: APIRouter, resource: ListResource, *, responses: dict[int | str, dict[str, Any]]
) -> None:
    """``GET {path}``: one page of the organization's records (ordered by id) and the total matching."""
    query_model = resource.query

    def list_endpoint(
        query: Annotated[query_model, Query()],  # type: ignore[valid-type]
        db: DbSession,
        principal: Reader,
    ) -> dict[str, Any]:
        q: ListQuery = query
        items, total = list_records(
            db,
            resource.model,
            principal.organization_id,
            filters=q.equalities(),
            search=(tuple(resource.search), getattr(q, "q", None) or "") if resource.search else None,
            extra=resource.extra(q, principal.organization_id),
            limit=q.limit,
            offset=q.offset,
        )
        return {"items": items, "total": total, "limit": q.limit, "offset": q.offset}

    router.add_api_route(
        resource.path,
        list_endpoint,
        methods=["GET"],
        response_model=Page[resource.public],  # type: ignore[name-defined]
        responses=responses,
        name=f"list_{resource.name}s",
    )
