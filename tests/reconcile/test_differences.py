"""Every kind of difference, made in Autotask the way a person would (its REST API), then reconciled:
each is reported once, with its category, both values, who changed it and a fix; nothing else is."""

from __future__ import annotations

from tests.reconcile.scenario import DAY, changed_by_hand
from tests.reconcile.support import found, reconcile
from tests.sync.support import Hub, SyncEnv, build_fixture


def test_an_untouched_tenant_reports_nothing_and_costs_the_minimum(env: SyncEnv, hub: Hub) -> None:
    build_fixture(hub)
    assert env.sync().status == "succeeded"
    env.emu.control.clear_calls()
    run = reconcile(env, DAY)
    assert found(env, run) == []
    assert run.api_calls == run.minimum_calls == 8  # one query per entity, one for the units on the day
    assert run.estimated_calls >= run.api_calls
    assert sum(v.get("query", 0) for v in env.emu.control.calls()["calls"].values()) == run.api_calls


def test_each_difference_a_person_makes_is_reported_with_its_values(env: SyncEnv, hub: Hub) -> None:
    sc = changed_by_hand(env, hub)
    i = sc.ids
    foreign = sc.foreign_service
    run = reconcile(env, DAY)
    diffs = found(env, run)
    by = {(d["category"], d["record"], d["field"]): d for d in diffs}
    seats = by[("seats", ("subscription", i["sub"]), "units")]
    assert (seats["autotask"], seats["hub"], seats["changed_by"]) == (15, 13, "person")
    assert [x["kind"] for x in seats["fixes"]] == ["adjust", "accept"]
    assert (
        "Adjustment of -2 seat(s)" in seats["fixes"][0]["summary"]
        and "2026-03-15" in seats["fixes"][0]["summary"]
    )
    assert seats["fixes"][0]["overwrites"] and seats["fixes"][0]["cost"] == 1
    price = by[("price", ("subscription", i["sub2"]), "price")]
    assert (price["autotask"], price["hub"], price["changed_by"]) == (12.0, 9.5, "person")
    unexplained = next(d for d in diffs if d["category"] == "unexplained_service")
    assert unexplained["autotask"] == 3 and unexplained["evidence"]["autotask"]["serviceID"] == foreign["id"]
    assert [x["kind"] for x in unexplained["fixes"]] == ["adjust", "accept"]
    renamed = by[("owned_field", ("account", i["account2"]), "companyName")]
    assert (renamed["autotask"], renamed["hub"], renamed["changed_by"]) == (
        "Humongous Insurance Group",
        "Humongous Insurance",
        "person",
    )
    assert renamed["last_written"] == "Humongous Insurance"
    assert [x["kind"] for x in renamed["fixes"]] == ["write_back", "accept"]
    assert "overwrites a change made in Autotask" in renamed["fixes"][0]["summary"]
    phone = by[("owned_field", ("account", i["account"]), "phone")]
    assert (phone["autotask"], phone["hub"], phone["changed_by"]) == ("+1 555 0100", "+1 555 0199", "hub")
    assert [x["kind"] for x in phone["fixes"]] == ["push"] and not phone["fixes"][0]["overwrites"]
    retyped = by[("retyped", ("account", i["account"]), "companyType")]
    assert retyped["autotask"].startswith("Prospect") and retyped["hub"].startswith("Customer")
    inactive = by[("inactive", ("billing_contract", i["contract2"]), "status")]
    assert inactive["autotask"].startswith("Inactive") and inactive["hub"].startswith("Active")
    service_retyped = by[("retyped", ("service.monthly", i["product"]), "periodType")]
    assert str(service_retyped["autotask"]).startswith("Yearly") and str(service_retyped["hub"]).startswith(
        "Monthly"
    )
    assert [x["kind"] for x in service_retyped["fixes"]] == ["write_back", "accept"]
    service_off = by[("inactive", ("service.monthly", i["backup"]), "isActive")]
    assert (service_off["autotask"], service_off["hub"]) == (False, True)
    missing_contact = by[("missing", ("contact", i["contact2"]), None)]
    assert [x["kind"] for x in missing_contact["fixes"]] == ["recreate", "accept"]
    assert ("missing", ("refund", i["refund"]), None) in by
    not_in = by[("not_in_autotask", ("account", sc.late_account), None)]
    assert [x["kind"] for x in not_in["fixes"]] == ["push"] and not_in["fixes"][0][
        "cost"
    ] == 2  # company, contact
    expected = {
        ("seats", ("subscription", i["sub"])),
        ("price", ("subscription", i["sub2"])),
        ("unexplained_service", ("billing_contract", i["contract"])),
        ("owned_field", ("account", i["account2"])),
        ("owned_field", ("account", i["account"])),
        ("retyped", ("account", i["account"])),
        ("retyped", ("service.monthly", i["product"])),
        ("inactive", ("billing_contract", i["contract2"])),
        ("inactive", ("service.monthly", i["backup"])),
        ("missing", ("contact", i["contact2"])),
        ("missing", ("refund", i["refund"])),
        ("not_in_autotask", ("account", sc.late_account)),
        ("not_in_autotask", ("contact", sc.late_contact)),
    }
    assert {(d["category"], d["record"]) for d in diffs} == expected, diffs
    assert len(diffs) == len(expected)  # each once
    assert run.counts["seats"] == 1 and sum(run.counts.values()) == len(expected)


def test_a_push_that_would_overwrite_a_persons_change_says_so(env: SyncEnv, hub: Hub) -> None:
    from psabridge.hub import models as m
    from tests.reconcile.support import Person, ours

    fx = build_fixture(hub)
    assert env.sync().status == "succeeded"
    company = ours(env, "Companies", "companyNumber", "A", fx.ids["account"])
    with Person(env) as person:
        person.patch("Companies", {"id": company["id"], "companyName": "Wingtip Toys Ltd"})
    with env.factory() as s:
        account = s.get(m.Account, fx.ids["account"])
        assert account is not None
        account.phone = "+1 555 0142"
        s.commit()
    diffs = {d["field"]: d for d in found(env, reconcile(env, DAY))}
    assert diffs["companyName"]["changed_by"] == "person" and diffs["phone"]["changed_by"] == "hub"
    assert "the next push overwrites it" in diffs["companyName"]["detail"]
    [push] = diffs["phone"]["fixes"]
    assert (
        push["overwrites"]
        and "also writes the hub's companyName over a change made in Autotask" in push["summary"]
    )
