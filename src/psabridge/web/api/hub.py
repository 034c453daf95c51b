"""REST API of the billing hub under /api/v1: create, read, list (filters + limit/offset pagination with a
total) and update where the domain allows it. Reading needs any token of the organization; changing
needs an admin token. Every call is scoped to the caller's organization: another tenant's record is a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from psabridge.hub import service
from psabridge.hub.errors import RecordNotFound
from psabridge.hub.imports.api_upload import parse_received, received_upload
from psabridge.hub.imports.runner import ImportResult, run_import
from psabridge.hub.models import (
    Account,
    BillingContract,
    Contact,
    LicenseChangeLog,
    Organization,
    Product,
    Subscription,
)
from psabridge.hub.orgs import set_time_zone
from psabridge.hub.records import get_record
from psabridge.hub.reports import mismatches
from psabridge.hub.schemas.accounts import (
    AccountCreate,
    AccountPublic,
    AccountUpdate,
    ContactCreate,
    ContactPublic,
    ContactUpdate,
)
from psabridge.hub.schemas.contracts import (
    BillingContractCreate,
    BillingContractPublic,
    BillingContractUpdate,
    LicenseChangeLogCreate,
    LicenseChangeLogPublic,
    SubscriptionCreate,
    SubscriptionPublic,
    SubscriptionUpdate,
)
from psabridge.hub.schemas.organizations import OrganizationPublic, OrganizationUpdate
from psabridge.hub.schemas.products import ProductCreate, ProductPublic, ProductUpdate
from psabridge.hub.schemas.results import ImportResultPublic, MismatchPublic
from psabridge.hub.validation import MAX_OFFSET
from psabridge.web.api.crud import CrudResource, add_crud_routes
from psabridge.web.api.lists import (
    LOG_EXTRA,
    SUBSCRIPTION_EXTRA,
    AccountQuery,
    BillingContractQuery,
    ContactQuery,
    LicenseChangeLogQuery,
    ListResource,
    ProductQuery,
    SubscriptionQuery,
    add_list_route,
)
from psabridge.web.api.responses import problem_responses
from psabridge.web.deps import DbSession, PathId
from psabridge.web.principal import Admin, Reader

router = APIRouter(tags=["billing hub"])

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500).")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Records to skip.")]
ERRORS = problem_responses(401, 404, 409, 422, e409="Conflict (duplicate external id, concurrent change)")


def _page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


# --- organization ---------------------------------------------------------------------------------------
@router.get("/organizations/me", response_model=OrganizationPublic, responses=ERRORS)
def read_my_organization(db: DbSession, principal: Reader) -> Organization:
    """The organization the token belongs to."""
    org = db.get(Organization, principal.organization_id)
    if org is None:  # pragma: no cover - the token's organization was deleted mid-request
        raise RecordNotFound("Organization not found.")
    return org


@router.patch("/organizations/me", response_model=OrganizationPublic, responses=ERRORS)
def update_my_organization(data: OrganizationUpdate, db: DbSession, principal: Admin) -> Organization:
    """Change the organization's time zone: the calendar of every date the sync pushes to Autotask."""
    org = set_time_zone(db, principal.organization_id, data.time_zone)
    db.commit()
    return org


@router.get("/organizations/{organization}/mismatches", response_model=list[MismatchPublic], responses=ERRORS)
def mismatch_report(organization: str, db: DbSession, principal: Reader) -> list[MismatchPublic]:
    """Subscriptions whose active license change logs don't add up to their quantity.

    ``organization`` is ``me``, or the caller's organization id or slug."""
    org = db.get(Organization, principal.organization_id)
    if org is None or organization not in {"me", str(org.id), org.slug}:
        raise RecordNotFound(f"No organization {organization!r}.")
    return [
        MismatchPublic(
            subscription_id=m.subscription_id,
            subscription_external_id=m.subscription_external_id,
            quantity=m.quantity,
            logged_quantity=m.logged_quantity,
            difference=m.difference,
            active_log_count=m.active_log_count,
        )
        for m in mismatches(db, org.id)
    ]


# --- accounts, contacts, products, billing contracts, subscriptions --------------------------------------
#: the list of each resource, with its filters (the shared shape: psabridge.web.api.lists)
for _listed in (
    ListResource("/accounts", "account", Account, AccountPublic, AccountQuery, search=("name",)),
    ListResource("/contacts", "contact", Contact, ContactPublic, ContactQuery),
    ListResource("/products", "product", Product, ProductPublic, ProductQuery, search=("name", "sku")),
    ListResource(
        "/billing-contracts", "billing_contract", BillingContract, BillingContractPublic, BillingContractQuery
    ),
    ListResource(
        "/subscriptions",
        "subscription",
        Subscription,
        SubscriptionPublic,
        SubscriptionQuery,
        extra=SUBSCRIPTION_EXTRA,
    ),
    ListResource(
        "/license-change-logs",
        "license_change_log",
        LicenseChangeLog,
        LicenseChangeLogPublic,
        LicenseChangeLogQuery,
        extra=LOG_EXTRA,
    ),
):
    add_list_route(router, _listed, responses=ERRORS)


#: create / read / update of each resource (the shared shape: psabridge.web.api.crud)
for _resource in (
    CrudResource(
        "/accounts",
        "account",
        Account,
        AccountPublic,
        AccountCreate,
        AccountUpdate,
        service.create_account,
        service.update_account,
    ),
    CrudResource(
        "/contacts",
        "contact",
        Contact,
        ContactPublic,
        ContactCreate,
        ContactUpdate,
        service.create_contact,
        service.update_contact,
    ),
    CrudResource(
        "/products",
        "product",
        Product,
        ProductPublic,
        ProductCreate,
        ProductUpdate,
        service.create_product,
        service.update_product,
    ),
    CrudResource(
        "/billing-contracts",
        "billing_contract",
        BillingContract,
        BillingContractPublic,
        BillingContractCreate,
        BillingContractUpdate,
        service.create_billing_contract,
        service.update_billing_contract,
    ),
    CrudResource(
        "/subscriptions",
        "subscription",
        Subscription,
        SubscriptionPublic,
        SubscriptionCreate,
        SubscriptionUpdate,
        service.create_subscription,
        service.update_subscription,
        create_doc="Creates the subscription and its initial license change log (0 -> quantity at "
        "start_date).",
        update_doc="A new ``quantity`` is recorded as a license change log (``effective_date``, ``reason``).",
    ),
):
    add_crud_routes(router, _resource, responses=ERRORS)


# --- license change logs --------------------------------------------------------------------------------
@router.post("/license-change-logs", response_model=LicenseChangeLogPublic, status_code=201, responses=ERRORS)
def create_license_change_log(
    body: LicenseChangeLogCreate, db: DbSession, principal: Admin
) -> LicenseChangeLog:
    """Record a seat change; the subscription's quantity becomes ``quantity_after``."""
    log = service.create_license_change_log(db, principal.organization_id, body)
    db.commit()
    return log


@router.get("/license-change-logs/{log_id}", response_model=LicenseChangeLogPublic, responses=ERRORS)
def read_license_change_log(log_id: PathId, db: DbSession, principal: Reader) -> LicenseChangeLog:
    return get_record(db, LicenseChangeLog, principal.organization_id, log_id)


@router.post("/license-change-logs/{log_id}/archive", response_model=LicenseChangeLogPublic, responses=ERRORS)
def archive_license_change_log(log_id: PathId, db: DbSession, principal: Admin) -> LicenseChangeLog:
    """Logs are never edited or deleted: archiving takes the log's seats back out of the subscription."""
    log = service.archive_license_change_log(db, principal.organization_id, log_id)
    db.commit()
    return log


# --- imports --------------------------------------------------------------------------------------------
@router.post("/imports", response_model=list[ImportResultPublic], responses=ERRORS)
async def import_file(
    request: Request,
    db: DbSession,
    principal: Admin,
    type: Annotated[
        str | None, Query(description="Record type when the file does not say (e.g. subscription).")
    ] = None,
    format: Annotated[str | None, Query(description="csv or json (default: from the content type).")] = None,
) -> list[ImportResultPublic]:
    """Import a CSV or JSON file (multipart field ``file``, or the raw body; at most 200 MB, else 413).
    All or nothing: a bad file answers 422 with the first 100 bad rows (line, field, message),
    ``total_errors``, and writes nothing."""
    async with received_upload(request, record_type=type, file_format=format) as (path, name, kind, fmt):

        def apply() -> list[ImportResult]:
            results = run_import(db, principal.organization_id, parse_received(path, name, kind, fmt))
            db.commit()
            return results

        results = await run_in_threadpool(apply)
    return [ImportResultPublic(**r.as_dict()) for r in results]
