"""The organization's calendar: a quantity change made at 23:30 in California is dated that day there,
not the next UTC day — the date the sync pushes to Autotask as the adjustment's effective date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from psabridge import db as psab_db
from psabridge.hub import service
from psabridge.hub.calendar import calendar_date, validate_time_zone
from psabridge.hub.errors import InvalidRecord
from psabridge.hub.models import LicenseChangeLog
from psabridge.hub.orgs import create_organization, set_time_zone
from psabridge.hub.schemas.accounts import AccountCreate
from psabridge.hub.schemas.contracts import BillingContractCreate, SubscriptionCreate, SubscriptionUpdate
from psabridge.hub.schemas.products import ProductCreate
from tests.hub.conftest import Tenant

#: 23:30 on 15 January in Los Angeles (UTC-8) is 07:30 on 16 January in UTC.
LATE_EVENING_IN_LA = datetime(2026, 1, 16, 7, 30, tzinfo=UTC)


def test_calendar_dates_follow_the_organization_time_zone() -> None:
    assert calendar_date(LATE_EVENING_IN_LA, "America/Los_Angeles") == date(2026, 1, 15)
    assert calendar_date(LATE_EVENING_IN_LA, "Europe/Berlin") == date(2026, 1, 16)
    assert calendar_date(LATE_EVENING_IN_LA.replace(tzinfo=None), "America/Los_Angeles") == date(2026, 1, 15)
    with pytest.raises(InvalidRecord) as info:
        validate_time_zone("Mars/Olympus_Mons")
    assert info.value.errors[0].field == "time_zone"


def test_a_quantity_change_without_date_is_dated_today_in_the_organization(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = create_organization(db, "Pacific MSP", "pacific", time_zone="America/Los_Angeles")
    account = service.create_account(db, org.id, AccountCreate(name="Surf Co", phone="+1 415 555 0100"))
    product = service.create_product(db, org.id, ProductCreate(name="Backup", unit_price=Decimal("5")))
    contract = service.create_billing_contract(
        db, org.id, BillingContractCreate(account_id=account.id, name="Monthly", start_date=date(2026, 1, 1))
    )
    sub = service.create_subscription(
        db,
        org.id,
        SubscriptionCreate(
            billing_contract_id=contract.id, product_id=product.id, quantity=5, start_date=date(2026, 1, 1)
        ),
    )
    db.commit()
    monkeypatch.setattr(psab_db, "utcnow", lambda: LATE_EVENING_IN_LA)
    service.update_subscription(db, org.id, sub.id, SubscriptionUpdate(quantity=7))
    db.commit()
    change = db.query(LicenseChangeLog).filter_by(subscription_id=sub.id, quantity_after=7).one()
    assert change.effective_date == date(2026, 1, 15)
    set_time_zone(db, org.id, "Asia/Tokyo")
    service.update_subscription(db, org.id, sub.id, SubscriptionUpdate(quantity=8))
    db.commit()
    change = db.query(LicenseChangeLog).filter_by(subscription_id=sub.id, quantity_after=8).one()
    assert change.effective_date == date(2026, 1, 16)


def test_admins_set_the_time_zone_through_the_api(
    client: TestClient, tenant: Tenant, make_tenant: Callable[[str], Tenant]
) -> None:
    assert client.get("/api/v1/organizations/me", headers=tenant.admin).json()["time_zone"] is None
    ok = client.patch(
        "/api/v1/organizations/me", json={"time_zone": "America/Los_Angeles"}, headers=tenant.admin
    )
    assert ok.status_code == 200 and ok.json()["time_zone"] == "America/Los_Angeles"
    bad = client.patch("/api/v1/organizations/me", json={"time_zone": "Nowhere/Land"}, headers=tenant.admin)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "time_zone"
    viewer = client.patch("/api/v1/organizations/me", json={"time_zone": "UTC"}, headers=tenant.viewer)
    assert viewer.status_code == 403
    other = make_tenant("other")
    assert client.get("/api/v1/organizations/me", headers=other.admin).json()["time_zone"] is None
