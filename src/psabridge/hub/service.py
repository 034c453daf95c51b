"""Creating and changing billing records one at a time (API, Admin Hub), with every domain rule:
tenancy (references must belong to the caller's organization), dates, immutable fields, and seat
changes only through license change logs (delegated to :mod:`psabridge.hub.quantities`).

Functions flush but never commit: the caller owns the transaction, so a failing rule writes nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from psabridge.db import utcnow
from psabridge.hub import quantities, rules
from psabridge.hub.calendar import organization_today
from psabridge.hub.errors import InvalidRecord
from psabridge.hub.models import (
    Account,
    BillingContract,
    Contact,
    HubRecord,
    LicenseChangeLog,
    Product,
    Subscription,
)
from psabridge.hub.records import claim_external_id, get_record, get_reference
from psabridge.hub.schemas.accounts import AccountCreate, AccountUpdate, ContactCreate, ContactUpdate
from psabridge.hub.schemas.contracts import (
    BillingContractCreate,
    BillingContractUpdate,
    LicenseChangeLogCreate,
    SubscriptionCreate,
    SubscriptionUpdate,
)
from psabridge.hub.schemas.products import ProductCreate, ProductUpdate


def _changes(data: BaseModel, record: HubRecord, *, nullable: set[str]) -> dict[str, Any]:
    """Fields the update actually sets; an explicit null on a required field is the caller's error."""
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in nullable:
            raise InvalidRecord.on(field, "may not be null")
    return changes


def _apply(record: HubRecord, changes: dict[str, Any]) -> None:
    for field, value in changes.items():
        setattr(record, field, value)
    if changes:
        record.updated_at = utcnow()


def _add(session: Session, record: HubRecord) -> None:
    session.add(record)
    session.flush()


# --- accounts and contacts ------------------------------------------------------------------------------
def create_account(session: Session, organization_id: int, data: AccountCreate) -> Account:
    account = Account(
        organization_id=organization_id,
        external_id=claim_external_id(session, Account, organization_id, data.external_id),
        **data.model_dump(exclude={"external_id"}),
    )
    _add(session, account)
    return account


def update_account(session: Session, organization_id: int, account_id: int, data: AccountUpdate) -> Account:
    account = get_record(session, Account, organization_id, account_id)
    changes = _changes(
        data,
        account,
        nullable={
            "phone",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "country",
            "owner_email",
            "primary_contact_id",
        },
    )
    contact_id = changes.get("primary_contact_id")
    if contact_id is not None:
        contact = get_reference(session, Contact, organization_id, contact_id, "primary_contact_id")
        if contact.account_id != account.id:
            raise InvalidRecord.on("primary_contact_id", "must be a contact of this account")
    _apply(account, changes)
    session.flush()
    return account


def create_contact(session: Session, organization_id: int, data: ContactCreate) -> Contact:
    account = get_reference(session, Account, organization_id, data.account_id, "account_id")
    contact = Contact(
        organization_id=organization_id,
        external_id=claim_external_id(session, Contact, organization_id, data.external_id),
        **data.model_dump(exclude={"external_id", "is_primary"}),
    )
    _add(session, contact)
    if data.is_primary:
        account.primary_contact_id = contact.id
        account.updated_at = utcnow()
        session.flush()
    return contact


def update_contact(session: Session, organization_id: int, contact_id: int, data: ContactUpdate) -> Contact:
    contact = get_record(session, Contact, organization_id, contact_id)
    _apply(contact, _changes(data, contact, nullable={"email", "phone"}))
    session.flush()
    return contact


# --- products -------------------------------------------------------------------------------------------
def create_product(session: Session, organization_id: int, data: ProductCreate) -> Product:
    product = Product(
        organization_id=organization_id,
        external_id=claim_external_id(session, Product, organization_id, data.external_id),
        **data.model_dump(exclude={"external_id"}),
    )
    _add(session, product)
    return product


def update_product(session: Session, organization_id: int, product_id: int, data: ProductUpdate) -> Product:
    product = get_record(session, Product, organization_id, product_id)
    _apply(product, _changes(data, product, nullable={"sku", "manufacturer", "unit_cost", "description"}))
    session.flush()
    return product


# --- billing contracts ----------------------------------------------------------------------------------
def create_billing_contract(
    session: Session, organization_id: int, data: BillingContractCreate
) -> BillingContract:
    get_reference(session, Account, organization_id, data.account_id, "account_id")
    contract = BillingContract(
        organization_id=organization_id,
        external_id=claim_external_id(session, BillingContract, organization_id, data.external_id),
        **data.model_dump(exclude={"external_id"}),
    )
    _add(session, contract)
    return contract


def update_billing_contract(
    session: Session, organization_id: int, contract_id: int, data: BillingContractUpdate
) -> BillingContract:
    contract = get_record(session, BillingContract, organization_id, contract_id)
    changes = _changes(data, contract, nullable={"end_date", "setup_fee"})
    start = changes.get("start_date", contract.start_date)
    end = changes.get("end_date", contract.end_date)
    if end is not None and end < start:
        raise InvalidRecord.on("end_date", "must be on or after start_date")
    if "start_date" in changes:
        earliest = session.scalar(
            select(func.min(Subscription.start_date)).where(Subscription.billing_contract_id == contract.id)
        )
        errors = rules.contract_start_change(start, earliest)
        if errors:
            raise InvalidRecord(f"start_date: {errors[0].message}", errors)
    _apply(contract, changes)
    session.flush()
    return contract


# --- subscriptions and license change logs --------------------------------------------------------------
def create_subscription(session: Session, organization_id: int, data: SubscriptionCreate) -> Subscription:
    """A new subscription plus its initial 0 -> quantity log (its seats must be explained by logs)."""
    contract = get_reference(
        session, BillingContract, organization_id, data.billing_contract_id, "billing_contract_id"
    )
    product = get_reference(session, Product, organization_id, data.product_id, "product_id")
    errors = rules.subscription_dates(data.start_date, data.end_date, contract.start_date, contract.end_date)
    if errors:
        raise InvalidRecord(f"{errors[0].field}: {errors[0].message}", errors)
    values = data.model_dump(exclude={"external_id"})
    if values["unit_price"] is None:
        values["unit_price"] = product.unit_price
    if values["unit_cost"] is None:
        values["unit_cost"] = product.unit_cost
    subscription = Subscription(
        organization_id=organization_id,
        external_id=claim_external_id(session, Subscription, organization_id, data.external_id),
        **values,
    )
    _add(session, subscription)
    if subscription.quantity > 0:
        session.add(quantities.record_initial_log(subscription))
        session.flush()
    return subscription


def update_subscription(
    session: Session, organization_id: int, subscription_id: int, data: SubscriptionUpdate
) -> Subscription:
    """Change a subscription; a new quantity is recorded as a license change log, never written directly."""
    subscription = get_record(session, Subscription, organization_id, subscription_id)
    changes = _changes(data, subscription, nullable={"unit_cost", "end_date", "effective_date", "reason"})
    new_quantity = changes.pop("quantity", None)
    effective_date = changes.pop("effective_date", None) or organization_today(session, organization_id)
    reason = changes.pop("reason", None)
    end = changes.get("end_date", subscription.end_date)
    if end is not None and end < subscription.start_date:
        raise InvalidRecord.on("end_date", "must be on or after start_date")
    if new_quantity is not None and new_quantity != subscription.quantity:
        session.add(
            quantities.change_quantity(
                subscription,
                new_quantity,
                effective_date=effective_date,
                reason=reason or "Quantity changed",
                unit_price=changes.get("unit_price"),
            )
        )
    _apply(subscription, changes)
    session.flush()
    return subscription


def create_license_change_log(
    session: Session, organization_id: int, data: LicenseChangeLogCreate
) -> LicenseChangeLog:
    """Record a seat change (or refund) for a subscription and apply it to the subscription's quantity."""
    subscription = get_reference(
        session, Subscription, organization_id, data.subscription_id, "subscription_id"
    )
    external_id = (
        claim_external_id(session, LicenseChangeLog, organization_id, data.external_id)
        if data.external_id
        else None
    )
    log = quantities.change_quantity(
        subscription,
        data.quantity_after,
        effective_date=data.effective_date,
        reason=data.reason,
        unit_price=data.unit_price,
        is_refund=data.is_refund,
        refund_amount=data.refund_amount,
        external_id=external_id,
        expected_before=data.quantity_before,
    )
    _add(session, log)
    return log


def archive_license_change_log(session: Session, organization_id: int, log_id: int) -> LicenseChangeLog:
    log = get_record(session, LicenseChangeLog, organization_id, log_id)
    quantities.archive_log(log)
    log.updated_at = utcnow()
    session.flush()
    return log
