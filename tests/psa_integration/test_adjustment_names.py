"""Pushed seat changes read as what they did ("+5 seats of … on 2026-02-15"), not a bare "Adjustment #id",
on the Changes tab and on the run page, without an Autotask call."""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.hub import models as hub
from tests.psa_integration.conftest import wait_for_run
from tests.support.web import signed_in_client


def _digest(page: str) -> str:
    found = re.search(r'name="digest" value="([0-9a-f]{64})"', page)
    assert found, "the preview has no Push form"
    return found.group(1)


def _calls(emulator: Any) -> int:
    calls = emulator.control.calls().get("calls", {})
    return sum(n for verbs in calls.values() for n in verbs.values())


def test_pushed_adjustments_are_described_by_what_they_changed(
    psa_app: str, make_org_user: Any, set_up_org: Any, emulator: Any, session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    org = set_up_org(admin.organization_id, customers=4)
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)
    preview = client.post("/psa-integration/preview", data={"csrf_token": csrf}).text
    pushed = client.post("/psa-integration/push", data={"csrf_token": csrf, "digest": _digest(preview)})
    run_url = pushed.headers["location"]
    assert 'data-testid="run-status">succeeded<' in wait_for_run(client, run_url)

    # What the hub says a pushed seat change was: product, billing frequency, delta, date and price.
    with session_factory() as s:
        logs = s.execute(
            select(hub.LicenseChangeLog, hub.Product.name, hub.BillingContract.billing_frequency)
            .join(hub.Subscription, hub.Subscription.id == hub.LicenseChangeLog.subscription_id)
            .join(hub.Product, hub.Product.id == hub.Subscription.product_id)
            .join(hub.BillingContract, hub.BillingContract.id == hub.Subscription.billing_contract_id)
            .where(
                hub.LicenseChangeLog.organization_id == org.organization_id,
                hub.LicenseChangeLog.status == "active",
                hub.LicenseChangeLog.quantity_after != hub.LicenseChangeLog.quantity_before,
            )
        ).all()
    assert logs, "the sample data should hold seat changes"
    expected = {
        f"{lg.quantity_after - lg.quantity_before:+d} seats of {name} ({freq.replace('_', '-')}) "
        f"on {lg.effective_date.isoformat()}"
        + (f" at {float(lg.unit_price):,.2f}" if lg.unit_price is not None else "")
        for lg, name, freq in logs
    }

    before = _calls(emulator)
    changes = html.unescape(client.get("/psa-integration/changes").text)
    run_page = html.unescape(client.get(run_url + "?status=synced").text)
    assert _calls(emulator) == before, "describing adjustments must not cost Autotask API calls"

    shown = set(
        re.findall(r'data-testid="psa-linked-name">([^<]+)</span> <span[^>]*>Adjustment #\d+', changes)
    )
    assert shown & expected, (sorted(shown)[:5], sorted(expected)[:5])
    # every linked adjustment on the tab is described, none is left as a bare "Adjustment #id"
    assert not re.search(r'data-testid="psa-linked">Adjustment #\d+', changes)
    assert re.search(r'class="psa-linked-name">[+-]\d+ seats of [^<]+ on \d{4}-\d{2}-\d{2}', run_page)
    assert not re.search(r'data-testid="run-result-autotask">Adjustment #\d+', run_page)
