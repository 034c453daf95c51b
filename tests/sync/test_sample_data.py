"""The sample data set lands in Autotask as the expected state; a second run writes nothing; seat changes
made after the first run land as adjustments only."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from psabridge.hub import models as m
from psabridge.hub.sample_data import generate
from psabridge.sync.reader import units_at
from tests.sync.support import SyncEnv, count_calls


def _load_sample(env: SyncEnv, customers: int) -> None:
    with env.factory() as s:
        org = s.get(m.Organization, env.org_id)
        assert org is not None
        generate(s, org, customers=customers, seed=7)
        s.commit()


def _expected_units(logs: list[m.LicenseChangeLog], day: date) -> int:
    return sum(lg.delta for lg in logs if lg.status == "active" and lg.effective_date <= day)


@pytest.mark.parametrize("batch", [None, 7], ids=["one-batch", "small-batches"])
def test_sample_data_lands_as_expected_state(env: SyncEnv, batch: int | None) -> None:
    """Also planned and applied a few customers at a time (the batches of a very large organization):
    Autotask's units read back match the hub the same way."""
    if batch is not None:
        env.app_settings = env.app_settings.model_copy(update={"sync_batch_subscriptions": batch})
    _load_sample(env, customers=6)
    run = env.sync()
    assert run.status == "succeeded", run.error
    p = f"PSB{env.org_id}-"
    state = env.emu.control.state()["entities"]
    with env.factory() as s:
        accounts = s.scalars(select(m.Account).where(m.Account.organization_id == env.org_id)).all()
        contracts = s.scalars(
            select(m.BillingContract).where(m.BillingContract.organization_id == env.org_id)
        ).all()
        subs = s.scalars(select(m.Subscription).where(m.Subscription.organization_id == env.org_id)).all()
        logs = s.scalars(
            select(m.LicenseChangeLog).where(m.LicenseChangeLog.organization_id == env.org_id)
        ).all()
        # companies and primary contacts, one each, with the owned fields
        companies = {
            c["companyNumber"]: c
            for c in state["Companies"]
            if str(c.get("companyNumber") or "").startswith(p)
        }
        assert len(companies) == len(accounts)
        for a in accounts:
            company = companies[f"{p}A{a.id}"]
            assert company["companyName"] == a.name and company["phone"] == a.phone
            contacts = [c for c in state["Contacts"] if c["companyID"] == company["id"]]
            assert [c["externalID"] for c in contacts] == [f"{p}C{a.primary_contact_id}"]
        k_by_key = {
            c["contractNumber"]: c
            for c in state["Contracts"]
            if str(c.get("contractNumber") or "").startswith(p)
        }
        assert len(k_by_key) == len(contracts)
        for c in contracts:
            k = k_by_key[f"{p}K{c.id}"]
            assert k["companyID"] == companies[f"{p}A{c.account_id}"]["id"]
            assert k["startDate"][:10] == c.start_date.isoformat()
            assert (float(k.get("setupFee") or 0)) == float(c.setup_fee or 0)
        cs_by_key = {
            c["internalDescription"]: c
            for c in state["ContractServices"]
            if str(c.get("internalDescription") or "").startswith(p)
        }
        assert len(cs_by_key) == len(subs)
        units = defaultdict(list)
        for row in state["ContractServiceUnits"]:
            units[row["contractServiceID"]].append(row)
        logs_by_sub = defaultdict(list)
        for lg in logs:
            logs_by_sub[lg.subscription_id].append(lg)
        checked = 0
        for sub in subs:
            cs = cs_by_key[f"{p}U{sub.id}"]
            assert cs["contractID"] == k_by_key[f"{p}K{sub.billing_contract_id}"]["id"]
            contract = next(c for c in contracts if c.id == sub.billing_contract_id)
            days = {lg.effective_date for lg in logs_by_sub[sub.id]} | {date(2025, 12, 31)}
            for day in sorted(days):
                if contract.end_date and day > contract.end_date:
                    continue
                for probe in (day, day + timedelta(days=1)):
                    if contract.end_date and probe > contract.end_date:
                        continue
                    got = units_at(units[cs["id"]], probe.isoformat()) or 0
                    assert got == _expected_units(logs_by_sub[sub.id], probe), (sub.id, probe)
                    checked += 1
        assert checked > len(subs)
        refunds = [lg for lg in logs if lg.is_refund and lg.refund_amount and lg.status == "active"]
        charges = [
            c for c in state["ContractCharges"] if str(c.get("purchaseOrderNumber") or "").startswith(p)
        ]
        assert sorted(c["purchaseOrderNumber"] for c in charges) == sorted(f"{p}R{lg.id}" for lg in refunds)
        for lg in refunds:
            ch = next(c for c in charges if c["purchaseOrderNumber"] == f"{p}R{lg.id}")
            assert round(float(ch["unitPrice"]) * float(ch["unitQuantity"]), 2) == -float(
                lg.refund_amount or 0
            )

    # a second run writes nothing
    env.emu.control.clear_calls()
    again = env.sync()
    assert again.status == "succeeded" and again.planned_operations == 0
    assert count_calls(env.emu.control.calls(), writes_only=True) == 0

    # seat changes after the first run land as adjustments only
    with env.factory() as s:
        sub = s.scalars(
            select(m.Subscription).where(
                m.Subscription.organization_id == env.org_id, m.Subscription.status == "active"
            )
        ).first()
        assert sub is not None
        sub_id, qty = sub.id, sub.quantity
    with env.factory() as s:
        row = s.get(m.Subscription, sub_id)
        assert row is not None
        s.add(
            m.LicenseChangeLog(
                organization_id=env.org_id,
                external_id="late-change",
                subscription_id=sub_id,
                effective_date=date(2026, 1, 15),
                quantity_before=qty,
                quantity_after=qty + 3,
                unit_price=row.unit_price,
            )
        )
        row.quantity = qty + 3
        s.commit()
    env.emu.control.clear_calls()
    third = env.sync()
    assert third.status == "succeeded"
    calls = env.emu.control.calls()["calls"]
    writes = {e: v for e, v in calls.items() if any(k in v for k in ("create", "update"))}
    assert list(writes) == ["ContractServiceAdjustments"] and writes["ContractServiceAdjustments"] == {
        "create": 1
    }
