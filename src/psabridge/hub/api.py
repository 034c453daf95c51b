"""REST API of the billing hub under /api/v1: create, read, list (filters + limit/offset pagination with a
total) and update where the domain allows it. Reading needs any token of the organization; changing
needs an admin token. Every call is scoped to the caller's organization: another tenant's record is a 404.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
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
from psabridge.hub.records import get_record, list_records
from psabridge.hub.reports import mismatches
from psabridge.hub.schemas import (
    AccountCreate,
    AccountPublic,
    AccountStatus,
    AccountUpdate,
    BillingContractCreate,
    BillingContractPublic,
    BillingContractUpdate,
    BillingFrequencyName,
    ContactCreate,
    ContactPublic,
    ContactUpdate,
    ContractStatus,
    ContractType,
    ImportResultPublic,
    LicenseChangeLogCreate,
    LicenseChangeLogPublic,
    LogStatus,
    MismatchPublic,
    OrganizationPublic,
    OrganizationUpdate,
    Page,
    ProductCreate,
    ProductKind,
    ProductPublic,
    ProductUpdate,
    SubscriptionCreate,
    SubscriptionPublic,
    SubscriptionStatus,
    SubscriptionUpdate,
)
from psabridge.hub.validation import MAX_ID, MAX_OFFSET
from psabridge.web.deps import DbSession, PathId, QueryId
from psabridge.web.principal import Admin, Reader

router = APIRouter(tags=["billing hub"])

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500).")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Records to skip.")]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid API token", **PROBLEM},
    404: {"description": "No such record in this organization", **PROBLEM},
    409: {"description": "Conflict (duplicate external id, concurrent change)", **PROBLEM},
    422: {"description": "Invalid input; `errors` names each field", **PROBLEM},
}


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


# --- accounts -------------------------------------------------------------------------------------------
@router.get("/accounts", response_model=Page[AccountPublic], responses=ERRORS)
def list_accounts(
    db: DbSession,
    principal: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    status: AccountStatus | None = None,
    external_id: str | None = None,
    q: Annotated[str | None, Query(description="Substring of the name (case-insensitive).")] = None,
) -> dict[str, Any]:
    items, total = list_records(
        db,
        Account,
        principal.organization_id,
        filters={"status": status, "external_id": external_id},
        search=(("name",), q or ""),
        limit=limit,
        offset=offset,
    )
    return _page(items, total, limit, offset)


@router.post("/accounts", response_model=AccountPublic, status_code=201, responses=ERRORS)
def create_account(body: AccountCreate, db: DbSession, principal: Admin) -> Account:
    account = service.create_account(db, principal.organization_id, body)
    db.commit()
    return account


@router.get("/accounts/{account_id}", response_model=AccountPublic, responses=ERRORS)
def read_account(account_id: PathId, db: DbSession, principal: Reader) -> Account:
    return get_record(db, Account, principal.organization_id, account_id)


@router.patch("/accounts/{account_id}", response_model=AccountPublic, responses=ERRORS)
def update_account(account_id: PathId, body: AccountUpdate, db: DbSession, principal: Admin) -> Account:
    account = service.update_account(db, principal.organization_id, account_id, body)
    db.commit()
    return account


# --- contacts -------------------------------------------------------------------------------------------
@router.get("/contacts", response_model=Page[ContactPublic], responses=ERRORS)
def list_contacts(
    db: DbSession,
    principal: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    account_id: QueryId = None,
    is_active: bool | None = None,
    email: str | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    items, total = list_records(
        db,
        Contact,
        principal.organization_id,
        filters={
            "account_id": account_id,
            "is_active": is_active,
            "email": email,
            "external_id": external_id,
        },
        limit=limit,
        offset=offset,
    )
    return _page(items, total, limit, offset)


@router.post("/contacts", response_model=ContactPublic, status_code=201, responses=ERRORS)
def create_contact(body: ContactCreate, db: DbSession, principal: Admin) -> Contact:
    contact = service.create_contact(db, principal.organization_id, body)
    db.commit()
    return contact


@router.get("/contacts/{contact_id}", response_model=ContactPublic, responses=ERRORS)
def read_contact(contact_id: PathId, db: DbSession, principal: Reader) -> Contact:
    return get_record(db, Contact, principal.organization_id, contact_id)


@router.patch("/contacts/{contact_id}", response_model=ContactPublic, responses=ERRORS)
def update_contact(contact_id: PathId, body: ContactUpdate, db: DbSession, principal: Admin) -> Contact:
    contact = service.update_contact(db, principal.organization_id, contact_id, body)
    db.commit()
    return contact


# --- products -------------------------------------------------------------------------------------------
@router.get("/products", response_model=Page[ProductPublic], responses=ERRORS)
def list_products(
    db: DbSession,
    principal: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    kind: ProductKind | None = None,
    is_active: bool | None = None,
    manufacturer: str | None = None,
    sku: str | None = None,
    external_id: str | None = None,
    q: Annotated[str | None, Query(description="Substring of name or SKU (case-insensitive).")] = None,
) -> dict[str, Any]:
    items, total = list_records(
        db,
        Product,
        principal.organization_id,
        filters={
            "kind": kind,
            "is_active": is_active,
            "manufacturer": manufacturer,
            "sku": sku,
            "external_id": external_id,
        },
        search=(("name", "sku"), q or ""),
        limit=limit,
        offset=offset,
    )
    return _page(items, total, limit, offset)


@router.post("/products", response_model=ProductPublic, status_code=201, responses=ERRORS)
def create_product(body: ProductCreate, db: DbSession, principal: Admin) -> Product:
    product = service.create_product(db, principal.organization_id, body)
    db.commit()
    return product


@router.get("/products/{product_id}", response_model=ProductPublic, responses=ERRORS)
def read_product(product_id: PathId, db: DbSession, principal: Reader) -> Product:
    return get_record(db, Product, principal.organization_id, product_id)


@router.patch("/products/{product_id}", response_model=ProductPublic, responses=ERRORS)
def update_product(product_id: PathId, body: ProductUpdate, db: DbSession, principal: Admin) -> Product:
    product = service.update_product(db, principal.organization_id, product_id, body)
    db.commit()
    return product


# --- billing contracts ----------------------------------------------------------------------------------
@router.get("/billing-contracts", response_model=Page[BillingContractPublic], responses=ERRORS)
def list_billing_contracts(
    db: DbSession,
    principal: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    account_id: QueryId = None,
    status: ContractStatus | None = None,
    billing_frequency: BillingFrequencyName | None = None,
    contract_type: ContractType | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    items, total = list_records(
        db,
        BillingContract,
        principal.organization_id,
        filters={
            "account_id": account_id,
            "status": status,
            "billing_frequency": billing_frequency,
            "contract_type": contract_type,
            "external_id": external_id,
        },
        limit=limit,
        offset=offset,
    )
    return _page(items, total, limit, offset)


@router.post("/billing-contracts", response_model=BillingContractPublic, status_code=201, responses=ERRORS)
def create_billing_contract(body: BillingContractCreate, db: DbSession, principal: Admin) -> BillingContract:
    contract = service.create_billing_contract(db, principal.organization_id, body)
    db.commit()
    return contract


@router.get("/billing-contracts/{contract_id}", response_model=BillingContractPublic, responses=ERRORS)
def read_billing_contract(contract_id: PathId, db: DbSession, principal: Reader) -> BillingContract:
    return get_record(db, BillingContract, principal.organization_id, contract_id)


@router.patch("/billing-contracts/{contract_id}", response_model=BillingContractPublic, responses=ERRORS)
def update_billing_contract(
    contract_id: PathId, body: BillingContractUpdate, db: DbSession, principal: Admin
) -> BillingContract:
    contract = service.update_billing_contract(db, principal.organization_id, contract_id, body)
    db.commit()
    return contract


# --- subscriptions --------------------------------------------------------------------------------------
@router.get("/subscriptions", response_model=Page[SubscriptionPublic], responses=ERRORS)
def list_subscriptions(
    db: DbSession,
    principal: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    billing_contract_id: QueryId = None,
    product_id: QueryId = None,
    account_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Subscriptions on this account's contracts.")
    ] = None,
    status: SubscriptionStatus | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    extra = []
    if account_id is not None:
        extra.append(
            Subscription.billing_contract_id.in_(
                select(BillingContract.id).where(
                    BillingContract.account_id == account_id,
                    BillingContract.organization_id == principal.organization_id,
                )
            )
        )
    items, total = list_records(
        db,
        Subscription,
        principal.organization_id,
        filters={
            "billing_contract_id": billing_contract_id,
            "product_id": product_id,
            "status": status,
            "external_id": external_id,
        },
        extra=extra,
        limit=limit,
        offset=offset,
    )
    return _page(items, total, limit, offset)


@router.post("/subscriptions", response_model=SubscriptionPublic, status_code=201, responses=ERRORS)
def create_subscription(body: SubscriptionCreate, db: DbSession, principal: Admin) -> Subscription:
    """Creates the subscription and its initial license change log (0 -> quantity at start_date)."""
    subscription = service.create_subscription(db, principal.organization_id, body)
    db.commit()
    return subscription


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionPublic, responses=ERRORS)
def read_subscription(subscription_id: PathId, db: DbSession, principal: Reader) -> Subscription:
    return get_record(db, Subscription, principal.organization_id, subscription_id)


@router.patch("/subscriptions/{subscription_id}", response_model=SubscriptionPublic, responses=ERRORS)
def update_subscription(
    subscription_id: PathId, body: SubscriptionUpdate, db: DbSession, principal: Admin
) -> Subscription:
    """A new ``quantity`` is recorded as a license change log (``effective_date``, ``reason``)."""
    subscription = service.update_subscription(db, principal.organization_id, subscription_id, body)
    db.commit()
    return subscription


# --- license change logs --------------------------------------------------------------------------------
@router.get("/license-change-logs", response_model=Page[LicenseChangeLogPublic], responses=ERRORS)
def list_license_change_logs(
    db: DbSession,
    principal: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    subscription_id: QueryId = None,
    status: LogStatus | None = None,
    is_refund: bool | None = None,
    external_id: str | None = None,
    effective_from: date | None = None,
    effective_to: date | None = None,
) -> dict[str, Any]:
    extra = []
    if effective_from is not None:
        extra.append(LicenseChangeLog.effective_date >= effective_from)
    if effective_to is not None:
        extra.append(LicenseChangeLog.effective_date <= effective_to)
    items, total = list_records(
        db,
        LicenseChangeLog,
        principal.organization_id,
        filters={
            "subscription_id": subscription_id,
            "status": status,
            "is_refund": is_refund,
            "external_id": external_id,
        },
        extra=extra,
        limit=limit,
        offset=offset,
    )
    return _page(items, total, limit, offset)


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
