"""Domain rules of the billing hub, through the service layer (no HTTP)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from psabridge.connectors.settings import BillingFrequency
from psabridge.hub import service
from psabridge.hub.errors import ConflictError, InvalidRecord, RecordNotFound
from psabridge.hub.models import BILLING_FREQUENCIES, Account, LicenseChangeLog, Organization, Subscription
from psabridge.hub.orgs import authenticate_token, create_api_token, create_organization, hash_token
from psabridge.hub.reports import mismatches
from psabridge.hub.schemas.accounts import AccountCreate
from psabridge.hub.schemas.contracts import (
    BillingContractCreate,
    LicenseChangeLogCreate,
    SubscriptionCreate,
    SubscriptionUpdate,
)
from psabridge.hub.schemas.products import ProductCreate


def _subscription(db: Session, org: Organization, quantity: int = 10) -> Subscription:
    account = service.create_account(db, org.id, AccountCreate(name="Northwind", phone="+1 206 555 0100"))
    product = service.create_product(
        db, org.id, ProductCreate(name="Microsoft 365 Business Standard", unit_price=Decimal("12.50"))
    )
    contract = service.create_billing_contract(
        db,
        org.id,
        BillingContractCreate(account_id=account.id, name="Monthly", start_date=date(2025, 1, 1)),
    )
    sub = service.create_subscription(
        db,
        org.id,
        SubscriptionCreate(
            billing_contract_id=contract.id,
            product_id=product.id,
            quantity=quantity,
            start_date=date(2025, 1, 1),
        ),
    )
    db.commit()
    return sub


def _logs(db: Session, sub: Subscription) -> list[tuple[int, int, str]]:
    rows = db.scalars(
        select(LicenseChangeLog)
        .where(LicenseChangeLog.subscription_id == sub.id)
        .order_by(LicenseChangeLog.id)
    )
    return [(log.quantity_before, log.quantity_after, log.status) for log in rows]


def test_billing_frequencies_match_the_connector_settings() -> None:
    assert set(BILLING_FREQUENCIES) == {f.value for f in BillingFrequency}


def test_new_subscription_records_initial_log_and_takes_product_price(db: Session, org: Organization) -> None:
    sub = _subscription(db, org, quantity=10)
    assert sub.unit_price == Decimal("12.50")
    assert _logs(db, sub) == [(0, 10, "active")]
    assert mismatches(db, org.id) == []


def test_quantity_changes_only_through_logs_and_archive_takes_seats_back(
    db: Session, org: Organization
) -> None:
    sub = _subscription(db, org, quantity=10)
    service.update_subscription(
        db, org.id, sub.id, SubscriptionUpdate(quantity=14, effective_date=date(2025, 3, 1), reason="hires")
    )
    log = service.create_license_change_log(
        db,
        org.id,
        LicenseChangeLogCreate(subscription_id=sub.id, effective_date=date(2025, 4, 1), quantity_after=12),
    )
    db.commit()
    assert sub.quantity == 12
    assert _logs(db, sub) == [(0, 10, "active"), (10, 14, "active"), (14, 12, "active")]

    service.archive_license_change_log(db, org.id, log.id)
    db.commit()
    assert sub.quantity == 14
    assert _logs(db, sub)[-1] == (14, 12, "archived")
    assert mismatches(db, org.id) == []
    with pytest.raises(ConflictError):
        service.archive_license_change_log(db, org.id, log.id)


def test_stale_quantity_before_is_a_conflict(db: Session, org: Organization) -> None:
    sub = _subscription(db, org, quantity=10)
    with pytest.raises(ConflictError) as err:
        service.create_license_change_log(
            db,
            org.id,
            LicenseChangeLogCreate(
                subscription_id=sub.id, effective_date=date(2025, 2, 1), quantity_before=7, quantity_after=9
            ),
        )
    assert err.value.errors[0].field == "quantity_before"


def test_log_before_subscription_start_is_refused(db: Session, org: Organization) -> None:
    sub = _subscription(db, org)
    with pytest.raises(InvalidRecord) as err:
        service.create_license_change_log(
            db,
            org.id,
            LicenseChangeLogCreate(
                subscription_id=sub.id, effective_date=date(2024, 12, 1), quantity_after=3
            ),
        )
    assert err.value.errors[0].field == "effective_date"


def test_subscription_must_start_inside_its_contract(db: Session, org: Organization) -> None:
    sub = _subscription(db, org)
    with pytest.raises(InvalidRecord) as err:
        service.create_subscription(
            db,
            org.id,
            SubscriptionCreate(
                billing_contract_id=sub.billing_contract_id,
                product_id=sub.product_id,
                quantity=1,
                start_date=date(2024, 6, 1),
            ),
        )
    assert err.value.errors[0].field == "start_date"


def test_references_to_another_organization_behave_as_missing(db: Session, org: Organization) -> None:
    sub = _subscription(db, org)
    other = create_organization(db, "Fabrikam", "fabrikam")
    with pytest.raises(InvalidRecord) as err:
        service.create_subscription(
            db,
            other.id,
            SubscriptionCreate(
                billing_contract_id=sub.billing_contract_id,
                product_id=sub.product_id,
                quantity=1,
                start_date=date(2025, 6, 1),
            ),
        )
    assert err.value.errors[0].field == "billing_contract_id"
    with pytest.raises(RecordNotFound):
        service.update_subscription(db, other.id, sub.id, SubscriptionUpdate(quantity=1))


def test_mismatch_report_lists_subscriptions_whose_logs_do_not_add_up(db: Session, org: Organization) -> None:
    sub = _subscription(db, org, quantity=10)
    sub.quantity = 13  # as a bad import or a direct SQL edit would leave it
    db.commit()
    [report] = mismatches(db, org.id)
    assert (report.subscription_id, report.quantity, report.logged_quantity, report.difference) == (
        sub.id,
        13,
        10,
        3,
    )


def test_database_refuses_unknown_status_and_duplicate_external_id(db: Session, org: Organization) -> None:
    db.add(Account(organization_id=org.id, external_id="A", name="x", status="bogus"))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()
    db.add(Account(organization_id=org.id, external_id="A", name="x"))
    db.add(Account(organization_id=org.id, external_id="A", name="y"))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def test_api_tokens_are_stored_hashed_and_revocable(db: Session, org: Organization) -> None:
    token, plain = create_api_token(db, org, role="viewer")
    db.commit()
    assert plain.startswith("psab_") and len(plain) > 40
    assert token.token_hash == hash_token(plain) and plain not in token.token_hash
    assert authenticate_token(db, plain) is not None
    token.revoked = True
    db.commit()
    assert authenticate_token(db, plain) is None
    with pytest.raises(InvalidRecord):
        create_api_token(db, org, role="owner")
