"""Approved fixes are written once, through the sync's journaled applier; nothing else is written; a
second reconciliation reports nothing. Accepted differences are not reported again; a fix whose target
changed since the reconciliation is not written ("stale")."""

from __future__ import annotations

import pytest

from psabridge.reconcile.apply import apply_approved
from psabridge.reconcile.approve import approve
from psabridge.reconcile.service import ReconcileError
from psabridge.sync.models import JournalEntry
from tests.reconcile.scenario import DAY, changed_by_hand
from tests.reconcile.support import Person, approve_and_apply, fix_of, found, ours, reconcile
from tests.sync.support import Hub, SyncEnv, units_on


def _first_choice(diffs: list[dict[str, object]]) -> list[int]:
    """The first fix of every difference (the write, the push or "create again"), except: accept that
    the refund charge is gone."""
    out = []
    for d in diffs:
        kinds = [x["kind"] for x in d["fixes"]]  # type: ignore[index]
        kind = "accept" if d["record"][0] == "refund" else kinds[0]  # type: ignore[index]
        out.append(fix_of(d, kind))  # type: ignore[arg-type]
    return out


def test_approved_fixes_are_written_once_and_a_second_reconcile_reports_nothing(
    env: SyncEnv, hub: Hub
) -> None:
    sc = changed_by_hand(env, hub)
    i = sc.ids
    run = reconcile(env, DAY)
    diffs = found(env, run)
    adjustments_before = len(env.adjustments())
    env.emu.control.clear_calls()

    report = approve_and_apply(env, run, _first_choice(diffs))
    assert not report.failed and not report.stale, report
    assert len(report.applied) == len(diffs)
    # exactly three adjustments: seats back, price back, the person's contract service to 0
    new = env.adjustments()[adjustments_before:]
    assert sorted(
        (a["effectiveDate"][:10], a["unitChange"], a.get("adjustedUnitPrice")) for a in new
    ) == sorted([("2026-03-15", -2, None), ("2026-03-15", 0, 9.5), ("2026-03-15", -3, None)])
    sub_cs = ours(env, "ContractServices", "internalDescription", "U", i["sub"])
    assert units_on(env, sub_cs["id"], "2026-03-15") == 13
    company = ours(env, "Companies", "companyNumber", "A", i["account"])
    company2 = ours(env, "Companies", "companyNumber", "A", i["account2"])
    assert company2["companyName"] == "Humongous Insurance"
    assert (company["companyType"], company["phone"]) == (1, "+1 555 0199")  # written back; pushed
    assert ours(env, "Contracts", "contractNumber", "K", i["contract2"])["status"] == 1
    assert ours(env, "Services", "externalID", "SM", i["backup"])["isActive"] is True
    assert len([c for c in env.records("Companies") if c["companyName"] == "Late Customer"]) == 1
    with env.factory() as s:  # each fix's write is in the journal, with who approved it
        entries = s.query(JournalEntry).filter(JournalEntry.op_id.like(f"reconcile:{run.id}:%")).all()
        assert {e.outcome for e in entries} == {"done"}
    applied = found(env, run)
    for d in applied:
        chosen = [x for x in d["fixes"] if x["status"] == "applied"]
        assert len(chosen) == 1, d
        assert chosen[0]["written"]

    # the deleted contact is created again by the next push (that was the fix); the refund stays gone
    assert env.sync().status == "succeeded"
    again = reconcile(env, DAY)
    assert found(env, again) == []
    assert again.accepted == 1  # the refund the person deleted: accepted, not reported again

    # applying again writes nothing: nothing is approved any more
    with pytest.raises(ReconcileError, match="no approved fix"):
        apply_approved(env.factory, env.org_id, run.id, app_settings=env.app_settings, client=env.client())


def test_a_fix_whose_target_changed_since_is_stale_and_not_written(env: SyncEnv, hub: Hub) -> None:
    sc = changed_by_hand(env, hub)
    run = reconcile(env, DAY)
    diffs = found(env, run)
    renamed = next(d for d in diffs if d["field"] == "companyName")
    seats = next(d for d in diffs if d["category"] == "seats")
    company2 = ours(env, "Companies", "companyNumber", "A", sc.ids["account2"])
    sub_cs = ours(env, "ContractServices", "internalDescription", "U", sc.ids["sub"])
    contract = ours(env, "Contracts", "contractNumber", "K", sc.ids["contract"])
    with Person(env) as person:  # after the reconciliation, the person changes both again
        person.patch("Companies", {"id": company2["id"], "companyName": "HI Group"})
        person.adjust(contract["id"], "2026-03-12", -1, contractServiceID=sub_cs["id"])
    before = len(env.adjustments())
    report = approve_and_apply(env, run, [fix_of(renamed, "write_back"), fix_of(seats, "adjust")])
    assert sorted(report.stale) == sorted([fix_of(renamed, "write_back"), fix_of(seats, "adjust")])
    assert len(env.adjustments()) == before
    assert ours(env, "Companies", "companyNumber", "A", sc.ids["account2"])["companyName"] == "HI Group"


def test_one_decision_per_difference_and_bad_input_names_the_field(env: SyncEnv, hub: Hub) -> None:
    changed_by_hand(env, hub)
    run = reconcile(env, DAY)
    diffs = found(env, run)
    seats = next(d for d in diffs if d["category"] == "seats")
    with env.factory() as s:
        with pytest.raises(ReconcileError) as both:
            approve(s, env.org_id, run.id, [fix_of(seats, "adjust"), fix_of(seats, "accept")], "a")
        assert both.value.field == "fix_ids" and both.value.status == 422
        with pytest.raises(ReconcileError) as unknown:
            approve(s, env.org_id, run.id, [999_999], "a")
        assert unknown.value.status == 404
        approve(s, env.org_id, run.id, [fix_of(seats, "adjust")], "a")
        approve(s, env.org_id, run.id, [fix_of(seats, "accept")], "b")  # changes the decision
    statuses = {
        x["kind"]: x["status"] for x in next(d for d in found(env, run) if d["id"] == seats["id"])["fixes"]
    }
    assert statuses == {"adjust": "proposed", "accept": "approved"}
    before = len(env.adjustments())
    report = apply_approved(
        env.factory, env.org_id, run.id, app_settings=env.app_settings, client=env.client()
    )
    assert report.applied == [fix_of(seats, "accept")] and len(env.adjustments()) == before
    again = found(env, reconcile(env, DAY))
    assert not [d for d in again if d["category"] == "seats"]


def test_a_fix_autotask_refuses_is_failed_with_its_message_and_can_be_accepted_instead(
    env: SyncEnv, hub: Hub
) -> None:
    from tests.sync.support import build_fixture

    fx = build_fixture(hub)
    assert env.sync().status == "succeeded"
    contract = ours(env, "Contracts", "contractNumber", "K", fx.ids["contract"])
    sub_cs = ours(env, "ContractServices", "internalDescription", "U", fx.ids["sub"])
    with Person(env) as person:  # on the very date reconciled: Autotask takes one adjustment per date
        person.adjust(contract["id"], DAY.isoformat(), 2, contractServiceID=sub_cs["id"])
    run = reconcile(env, DAY)
    [seats] = found(env, run)
    report = approve_and_apply(env, run, [fix_of(seats, "adjust")])
    assert report.failed == [fix_of(seats, "adjust")]
    adjust = next(x for x in found(env, run)[0]["fixes"] if x["kind"] == "adjust")
    assert adjust["status"] == "failed" and "already exists" in adjust["error"]
    with env.factory() as s:
        from psabridge.psa_integration.rows import failed_count

        assert failed_count(s, env.org_id) == 0  # not a record of the tabs: no "retry failed" there
    report = approve_and_apply(env, run, [fix_of(seats, "accept")])
    assert report.applied == [fix_of(seats, "accept")]
    assert found(env, reconcile(env, DAY)) == []
