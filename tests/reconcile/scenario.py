"""One tenant where a person changed Autotask in every way the reconciliation knows (shared by the tests
of differences, fixes and crashes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from psabridge.hub import models as m
from tests.reconcile.support import Person, cache_options, ours
from tests.sync.support import Fixture, Hub, SyncEnv, build_fixture

DAY = date(2026, 3, 15)


@dataclass
class Scenario:
    fx: Fixture
    late_account: int
    late_contact: int
    foreign_service: dict[str, Any]

    @property
    def ids(self) -> dict[str, int]:
        return self.fx.ids


def changed_by_hand(env: SyncEnv, hub: Hub) -> Scenario:
    """The sync fixture pushed (plus a priced change log), then a person's changes in Autotask, a hub
    change not pushed yet and a customer the hub has and Autotask has not."""
    fx = build_fixture(hub)
    with env.factory() as s:
        backup = s.get(m.Subscription, fx.ids["sub2"])
        assert backup is not None
        s.expunge(backup)
    hub.change(backup, date(2026, 2, 1), 4, unit_price=Decimal("9.50"))  # the hub owns the price from here
    assert env.sync().status == "succeeded"
    cache_options(env)
    i = fx.ids
    contract = ours(env, "Contracts", "contractNumber", "K", i["contract"])
    contract2 = ours(env, "Contracts", "contractNumber", "K", i["contract2"])
    sub_cs = ours(env, "ContractServices", "internalDescription", "U", i["sub"])
    backup_cs = ours(env, "ContractServices", "internalDescription", "U", i["sub2"])
    company2 = ours(env, "Companies", "companyNumber", "A", i["account2"])
    company = ours(env, "Companies", "companyNumber", "A", i["account"])
    contact2 = ours(env, "Contacts", "externalID", "C", i["contact2"])
    refund = ours(env, "ContractCharges", "purchaseOrderNumber", "R", i["refund"])
    backup_service = ours(env, "Services", "externalID", "SM", i["backup"])
    e3_service = ours(env, "Services", "externalID", "SM", i["product"])
    foreign = next(s for s in env.records("Services") if not str(s.get("externalID") or "").startswith("PSB"))
    with Person(env) as person:
        person.adjust(contract["id"], "2026-03-10", 2, contractServiceID=sub_cs["id"])  # +2 seats
        person.adjust(
            contract["id"], "2026-03-05", 0, contractServiceID=backup_cs["id"], adjustedUnitPrice=12.0
        )
        person.adjust(
            contract["id"], "2026-03-01", 3, serviceID=foreign["id"]
        )  # a contract service of their own
        person.patch("Companies", {"id": company2["id"], "companyName": "Humongous Insurance Group"})
        person.patch("Companies", {"id": company["id"], "companyType": 3})  # Customer -> Prospect
        person.patch("Contracts", {"id": contract2["id"], "status": 0})  # Inactive
        person.patch("Services", {"id": backup_service["id"], "isActive": False})
        person.patch("Services", {"id": e3_service["id"], "periodType": 5})  # Monthly -> Yearly
        person.delete(f"/Companies/{company2['id']}/Contacts/{contact2['id']}")
        person.delete(f"/Contracts/{contract2['id']}/Charges/{refund['id']}")
    with env.factory() as s:  # and the hub changes an account's phone, not pushed yet
        account = s.get(m.Account, i["account"])
        assert account is not None
        account.phone = "+1 555 0199"
        s.commit()
    late = hub.account("Late Customer")
    assert late.primary_contact_id is not None
    return Scenario(fx, late.id, late.primary_contact_id, foreign)
