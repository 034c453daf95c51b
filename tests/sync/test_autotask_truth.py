"""The sync against Autotask as it really is (issue 8), end to end over HTTP against the strict emulator:
Autotask's own read-back (ContractServiceUnits) equals the hub, repeats included; drift is caught and
shown with both figures; a zone move is followed and remembered; dates are the organization's; the
thread limit answered with a 500 is retried; a value too long for Autotask blocks its record."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import select, update

from psabridge.autotask import F
from psabridge.connectors.models import Connector
from psabridge.connectors.settings import BillingFrequency
from psabridge.hub import models as m
from psabridge.hub.sample_data import generate
from psabridge.sync.reader import units_at
from tests.sync.support import Hub, SyncEnv, name_repeats


def _units_read_back(env: SyncEnv, cs_ids: list[int], day: str) -> dict[int, int | None]:
    """Units per contract service on ``day`` as Autotask's API answers them (not the emulator's state)."""
    client = env.client()
    rows = list(
        client.query_in(
            "ContractServiceUnits",
            "contractServiceID",
            cs_ids,
            extra=[F.lte("startDate", f"{day}T00:00:00"), F.gte("endDate", f"{day}T00:00:00")],
        )
    )
    return {cs: units_at([r for r in rows if r["contractServiceID"] == cs], day) for cs in cs_ids}


def test_read_back_units_equal_the_hub_for_every_subscription_repeats_included(
    env: SyncEnv, hub: Hub
) -> None:
    env.set_settings(allow_duplicated_services=True)
    with env.factory() as s:
        org = s.get(m.Organization, env.org_id)
        assert org is not None
        generate(s, org, customers=6, seed=7)
        s.commit()
    acc = hub.account("Repeat Customer")
    contract = hub.contract(acc, start=date(2026, 1, 1))
    product = hub.product("Microsoft 365 E5")
    first = hub.subscription(contract, product, quantity=5)
    repeat = hub.subscription(contract, product, quantity=3, start=date(2026, 2, 1))
    hub.change(repeat, date(2026, 3, 1), 7)
    hub.change(first, date(2026, 3, 1), 4)

    run = env.sync()
    assert run.status == "succeeded", run.error

    with env.factory() as s:
        subs = s.scalars(
            select(m.Subscription).where(
                m.Subscription.organization_id == env.org_id, m.Subscription.status == "active"
            )
        ).all()
        contracts = {
            c.id: c
            for c in s.scalars(
                select(m.BillingContract).where(m.BillingContract.organization_id == env.org_id)
            )
        }
    linked = {
        (r["record_type"], r["hub_id"]): r["autotask_id"]
        for r in env.statuses().values()
        if r["record_type"] == "subscription" and r["autotask_id"] is not None
    }
    day = "2026-06-30"
    wanted = {
        sub.id: linked[("subscription", sub.id)]
        for sub in subs
        if ("subscription", sub.id) in linked
        and contracts[sub.billing_contract_id].start_date.isoformat() <= day
        and (contracts[sub.billing_contract_id].end_date or date.max).isoformat() >= day
        and sub.start_date.isoformat() <= day
    }
    assert repeat.id in wanted and first.id in wanted and len(wanted) > 10
    units = _units_read_back(env, sorted(set(wanted.values())), day)
    quantity = {sub.id: sub.quantity for sub in subs}
    assert {sid: units[cs] for sid, cs in wanted.items()} == {sid: quantity[sid] for sid in wanted}
    assert units[wanted[repeat.id]] == 7 and units[wanted[first.id]] == 4
    assert wanted[repeat.id] != wanted[first.id]  # each repeat has its own contract service and seats
    assert env.plan().plan.operations == []


def test_a_push_reads_units_back_and_shows_drift_with_both_figures(env: SyncEnv, hub: Hub) -> None:
    acc = hub.account("Drift Co")
    contract = hub.contract(acc, start=date(2026, 1, 1))
    sub = hub.subscription(contract, hub.product(), quantity=10)
    assert env.sync().status == "succeeded"
    cs_id = env.statuses()[("subscription", sub.id)]["autotask_id"]
    # a person adds two seats in Autotask by hand
    with httpx.Client(base_url=f"{env.emu.current_api_url}V1.0", headers=env.emu.headers()) as person:
        made = person.post(
            "/ContractServiceAdjustments",
            json={
                "contractID": next(
                    c["id"]
                    for c in env.records("Contracts")
                    if c["contractNumber"] == f"PSB{env.org_id}-K{contract.id}"
                ),
                "contractServiceID": cs_id,
                "effectiveDate": "2026-03-01T00:00:00",
                "unitChange": 2,
            },
        )
        assert made.status_code == 200, made.text
    hub.change(sub, date(2026, 4, 1), 11)
    run = env.sync()
    assert run.status == "partial"
    status = env.statuses()[("subscription", sub.id)]
    assert status["status"] == "drift"
    assert "show 13 unit(s) on 2026-04-01, the billing hub 11" in status["reason"]
    # the drift stays visible (the plan writes nothing to "fix" it: adjustments are permanent)
    again = env.plan()
    assert again.plan.operations == []
    assert next(r for r in again.plan.records if r.record_type == "subscription").status == "drift"


def test_a_zone_move_is_followed_and_remembered(env: SyncEnv, hub: Hub) -> None:
    acc = hub.account("Zone Co")
    sub = hub.subscription(hub.contract(acc), hub.product(), quantity=2)
    assert env.sync().status == "succeeded"
    env.emu.control.move_zone()  # the old API address now answers 401
    hub.change(sub, date(2026, 2, 1), 3)
    run = env.sync()
    assert run.status == "succeeded", run.error
    with env.factory() as s:
        connector = s.get(Connector, env.connector_id)
        assert connector is not None
        assert connector.api_url.rstrip("/") == env.emu.moved_api_url.rstrip("/")
        assert connector.zone_changed_from.rstrip("/") == env.emu.api_url.rstrip("/")
        assert connector.zone_changed_at is not None
    assert env.plan().plan.operations == []


def test_dates_pushed_are_the_organization_calendar_dates(env: SyncEnv, hub: Hub) -> None:
    """A subscription cancelled at 23:30 in Los Angeles (07:30 UTC the next day) without an end date:
    its cancellation adjustment is dated the day it was cancelled there."""
    with env.factory() as s:
        s.execute(
            update(m.Organization)
            .where(m.Organization.id == env.org_id)
            .values(time_zone="America/Los_Angeles")
        )
        s.commit()
    acc = hub.account("Pacific Co")
    sub = hub.subscription(hub.contract(acc, start=date(2026, 1, 1)), hub.product(), quantity=4)
    assert env.sync().status == "succeeded"
    with env.factory() as s:
        row = s.get(m.Subscription, sub.id)
        assert row is not None
        row.status = "cancelled"
        s.flush()
        s.execute(
            update(m.Subscription)
            .where(m.Subscription.id == sub.id)
            .values(updated_at=datetime(2026, 1, 16, 7, 30, tzinfo=UTC))
        )
        s.commit()
    plan = env.plan().plan
    assert [(op.record_type, op.body["effectiveDate"], op.body["unitChange"]) for op in plan.operations] == [
        ("cancellation", "2026-01-15T00:00:00", -4)
    ]


def test_the_thread_limit_answered_with_a_500_is_retried(env: SyncEnv, hub: Hub) -> None:
    acc = hub.account("Busy Co")
    hub.subscription(hub.contract(acc), hub.product(), quantity=2)
    env.emu.control.add_fault(action="thread_limit", status=500, method="POST", entity="^Companies$", count=2)
    run = env.sync()
    assert run.status == "succeeded", run.error
    assert len([c for c in env.records("Companies") if c["companyName"] == "Busy Co"]) == 1


def test_a_value_longer_than_autotask_allows_blocks_only_its_record(env: SyncEnv, hub: Hub) -> None:
    long_name = "Northwind Traders and Sons " * 5  # 135 characters; Companies.companyName allows 100
    blocked = hub.account(long_name.strip())
    fine = hub.account("Short Name Ltd")
    hub.subscription(hub.contract(blocked), hub.product(), quantity=1)
    hub.subscription(hub.contract(fine), hub.product("Backup"), quantity=1)
    run = env.sync()
    assert run.status == "succeeded"
    st = env.statuses()
    assert st[("account", blocked.id)]["status"] == "blocked"
    assert (
        "companyName is 134 characters long, but Autotask allows at most 100"
        in st[("account", blocked.id)]["reason"]
    )
    assert st[("account", fine.id)]["status"] == "synced"
    assert not [c for c in env.records("Companies") if c["companyName"].startswith("Northwind Traders and")]


def test_a_changed_billing_frequency_mapping_is_explained_in_the_plan(env: SyncEnv, hub: Hub) -> None:
    acc = hub.account("Mapping Co")
    hub.subscription(hub.contract(acc), hub.product(), quantity=2)
    assert env.sync().status == "succeeded"
    with env.factory() as s:
        connector = s.get(Connector, env.connector_id)
        assert connector is not None
        current: dict[str, Any] = dict(connector.settings_json)
    quarterly_service = _picklist_value(env, "Services", "periodType", "Quarterly")
    quarterly_contract = _picklist_value(env, "Contracts", "contractPeriodType", "Quarterly")
    env.set_settings(
        billing_frequencies={**current["billing_frequencies"], BillingFrequency.MONTHLY: quarterly_service},
        contract_period_types={
            **current["contract_period_types"],
            BillingFrequency.MONTHLY: quarterly_contract,
        },
    )
    plan = env.plan().plan
    assert plan.operations == []
    assert len(plan.notices) == 2
    assert all("Billing frequency monthly now maps to" in n for n in plan.notices)
    assert any("as contract period type" in n and "does not allow" in n for n in plan.notices)


def _picklist_value(env: SyncEnv, entity: str, field: str, label: str) -> int:
    return env.client().picklist_value(entity, field, label)


def test_repeat_names_helper_names_linked_repeats(env: SyncEnv, hub: Hub) -> None:
    """The test helper itself: an unkeyed contract service linked to a subscription takes its key."""
    env.set_settings(allow_duplicated_services=True)
    acc = hub.account("Helper Co")
    contract = hub.contract(acc)
    product = hub.product()
    hub.subscription(contract, product, quantity=1)
    second = hub.subscription(contract, product, quantity=2)
    assert env.sync().status == "succeeded"
    named = {s.get("internalDescription") for s in name_repeats(env, env.records("ContractServices"))}
    assert f"PSB{env.org_id}-U{second.id}" in named


def test_date_filtered_unit_reads_stay_under_the_condition_limit(env: SyncEnv) -> None:
    """The read-back packs date groups into as few queries as Autotask's 500 OR conditions allow (the
    emulator counts an ``in`` inside an ``or`` as one more): never refused, however many services."""
    from psabridge.sync.reader import read_units_on

    wanted = {10_000 + i: {f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}"} for i in range(1_500)}
    env.emu.control.clear_calls()
    rows, calls = read_units_on(env.client(), wanted)
    assert rows == {}
    served = env.emu.control.calls()["calls"]["ContractServiceUnits"]["query"]
    assert calls == served
    days = {d for ds in wanted.values() for d in ds}
    fewest = -(-(1_500 + 3 * len(days)) // 500)  # every id, plus the in and two dates of each date group
    assert fewest <= served <= fewest + 1


def test_a_read_back_that_fails_makes_the_run_partial_and_says_so(env: SyncEnv, hub: Hub) -> None:
    from psabridge.autotask import AutotaskClient, AutotaskCredentials
    from psabridge.sync import service

    acc = hub.account("Unverified Co")
    hub.subscription(hub.contract(acc), hub.product(), quantity=2)
    env.emu.control.add_fault(action="500", method="POST", entity="^ContractServiceUnits$", count=None)
    impatient = AutotaskClient(
        AutotaskCredentials(*env.emu.credentials), zone_url=env.emu.zone_url, sleep=lambda _s: None
    )
    try:
        run = service.run_sync(env.factory, env.org_id, app_settings=env.app_settings, client=impatient)
    finally:
        impatient.close()
    assert run.status == "partial"
    assert run.error and run.error.startswith("Could not read back the units of 1 contract service(s)")
    env.emu.control.clear_faults()
    assert env.plan().plan.operations == []  # what was written stays written (nothing is redone)


def test_a_write_autotask_refuses_for_permission_shows_its_message_not_outcome_unknown(
    env: SyncEnv, hub: Hub
) -> None:
    from sqlalchemy import select as sa_select

    from psabridge.sync.models import JournalEntry

    acc = hub.account("Refused Co")
    env.emu.control.deny("Companies")  # the API user lost "CRM companies": Autotask refuses the create
    run = env.sync()
    env.emu.control.deny("Companies", False)
    assert run.status == "partial"
    status = env.statuses()[("account", acc.id)]
    assert status["status"] == "error"
    assert "adequate permissions" in status["reason"] and "Outcome unknown" not in status["reason"]
    with env.factory() as s:
        entry = s.scalars(sa_select(JournalEntry).where(JournalEntry.entity == "Companies")).one()
        assert entry.outcome == "failed"
