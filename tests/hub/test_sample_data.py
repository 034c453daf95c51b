"""Sample data: deterministic, realistic, consistent (every subscription's logs add up), re-runnable."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from psabridge.cli import app
from psabridge.config import Settings
from psabridge.hub.models import BillingContract, LicenseChangeLog, Product, Subscription
from psabridge.hub.orgs import create_organization
from psabridge.hub.reports import mismatches
from psabridge.hub.sample_data import build_rows, generate


def _content(db: Session, org_id: int) -> list[tuple[object, ...]]:
    """The organization's subscriptions and logs, without ids or timestamps."""
    subs = db.execute(
        select(
            Subscription.external_id,
            Subscription.quantity,
            Subscription.unit_price,
            Subscription.start_date,
            Subscription.status,
        )
        .where(Subscription.organization_id == org_id)
        .order_by(Subscription.external_id)
    ).all()
    logs = db.execute(
        select(
            LicenseChangeLog.external_id,
            LicenseChangeLog.effective_date,
            LicenseChangeLog.quantity_before,
            LicenseChangeLog.quantity_after,
            LicenseChangeLog.is_refund,
            LicenseChangeLog.refund_amount,
        )
        .where(LicenseChangeLog.organization_id == org_id)
        .order_by(LicenseChangeLog.external_id)
    ).all()
    return [tuple(r) for r in subs] + [tuple(r) for r in logs]


def test_same_seed_same_data_and_another_seed_differs(db: Session) -> None:
    one, two, three = (create_organization(db, name) for name in ("One", "Two", "Three"))
    generate(db, one, customers=30, seed=7)
    generate(db, two, customers=30, seed=7)
    generate(db, three, customers=30, seed=8)
    db.commit()
    assert _content(db, one.id) == _content(db, two.id)
    assert _content(db, one.id) != _content(db, three.id)
    assert build_rows(5, seed=3) == build_rows(5, seed=3)


def test_sample_data_is_realistic_and_consistent(db: Session) -> None:
    org = create_organization(db, "Demo MSP", "demo")
    stats = generate(db, org, customers=120, seed=1)
    db.commit()
    assert stats["account"] == 120 and stats["subscription"] >= 400
    assert mismatches(db, org.id) == []
    names = set(db.scalars(select(Product.name)))
    assert {
        "Microsoft 365 Business Premium",
        "Microsoft 365 E3",
        "Datto SaaS Protection for Microsoft 365",
    } <= names
    frequencies = Counter(db.scalars(select(BillingContract.billing_frequency)))
    assert frequencies["monthly"] > frequencies["annual"] > frequencies["quarterly"] > 0
    assert db.scalar(select(BillingContract.id).where(BillingContract.setup_fee.is_not(None))) is not None
    assert db.scalar(select(BillingContract.id).where(BillingContract.status == "cancelled")) is not None
    assert db.scalar(select(Subscription.id).where(Subscription.status == "cancelled")) is not None
    assert db.scalar(select(LicenseChangeLog.id).where(LicenseChangeLog.is_refund.is_(True))) is not None
    changes = db.scalar(select(LicenseChangeLog.id).where(LicenseChangeLog.quantity_before > 0).limit(1))
    assert changes is not None  # seat changes after the initial quantities


def test_cli_sample_data_twice_changes_nothing(settings: Settings, db: Session) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["sample-data", "--customers", "10", "--org", "demo", "--seed", "4"])
    assert first.exit_code == 0, first.output
    before = _content(db, 1)
    second = runner.invoke(app, ["sample-data", "--customers", "10", "--org", "demo", "--seed", "4"])
    assert second.exit_code == 0, second.output
    db.expire_all()
    assert _content(db, 1) == before
    report = runner.invoke(app, ["hub", "mismatches", "--org", "demo"])
    assert report.exit_code == 0 and "No mismatches" in report.output
