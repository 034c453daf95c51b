"""Push performs exactly the previewed plan: if the plan changed in between, nothing is written."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from psabridge.sync import service
from tests.psa_integration.conftest import add_account_with_contact, autotask_writes, wait_for_run
from tests.support.web import signed_in_client


def _digest(html: str) -> str:
    found = re.search(r'name="digest" value="([0-9a-f]{64})"', html)
    assert found, "the preview has no Push form: " + re.sub(r"<[^>]+>|\s+", " ", html)[-1500:]
    return found.group(1)


def test_push_refuses_a_plan_that_changed_since_the_preview(
    psa_app: str, make_org_user: Any, set_up_org: Any, emulator: Any, session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    org = set_up_org(admin.organization_id)
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)
    digest = _digest(client.post("/psa-integration/preview", data={"csrf_token": csrf}).text)

    with session_factory() as s:  # someone adds a customer between preview and push
        add_account_with_contact(s, org.organization_id, "Late Arrival Dental", "LATE-1")
        s.commit()
    writes_before = autotask_writes(emulator)
    response = client.post("/psa-integration/push", data={"csrf_token": csrf, "digest": digest})
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "The plan changed since it was previewed; nothing was written" in page.text
    assert autotask_writes(emulator) == writes_before
    with session_factory() as s:
        newest = service.list_runs(s, org.organization_id)[0]
        assert (newest.mode, newest.status) == ("apply", "failed")
        assert "plan changed" in (newest.error or "")

    # The fresh preview includes the new customer, and pushing it works.
    preview = client.post("/psa-integration/preview", data={"csrf_token": csrf}).text
    assert "Late Arrival Dental" in preview
    pushed = client.post("/psa-integration/push", data={"csrf_token": csrf, "digest": _digest(preview)})
    assert pushed.status_code == 303 and re.search(r"/psa-integration/runs/\d+$", pushed.headers["location"])
    run_page = wait_for_run(client, pushed.headers["location"])
    assert 'data-testid="run-status">succeeded<' in run_page
    assert any(c.get("companyName") == "Late Arrival Dental" for c in emulator.control.records("Companies"))


def test_one_autotask_record_cannot_be_linked_to_two_hub_records(
    psa_app: str, make_org_user: Any, set_up_org: Any, session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    org = set_up_org(admin.organization_id)
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)
    first = client.post(
        "/psa-integration/link",
        data={
            "csrf_token": csrf,
            "record_type": "account",
            "hub_id": org.contoso_account_id,
            "autotask_id": 180,
            "tab": "customers",
        },
    )
    assert first.status_code == 303 and "notice=linked" in first.headers["location"]
    with session_factory() as s:
        other = add_account_with_contact(s, org.organization_id, "Contoso Look-alike", "LOOK-1")
        s.commit()
        other_id = other.id
    second = client.post(
        "/psa-integration/link",
        data={
            "csrf_token": csrf,
            "record_type": "account",
            "hub_id": other_id,
            "autotask_id": 180,
            "tab": "customers",
        },
    )
    page = client.get(second.headers["location"]).text
    assert "already linked to another hub record" in page
    with session_factory() as s:
        statuses = {
            (r["record_type"], r["hub_id"]): r for r in service.record_statuses(s, org.organization_id)
        }
    assert statuses[("account", org.contoso_account_id)]["autotask_id"] == 180
    assert ("account", other_id) not in statuses or statuses[("account", other_id)]["autotask_id"] is None


def test_push_runs_in_the_background_and_refuses_a_second_push_meanwhile(
    psa_app: str, make_org_user: Any, set_up_org: Any, emulator: Any
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    set_up_org(admin.organization_id)
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)
    digest = _digest(client.post("/psa-integration/preview", data={"csrf_token": csrf}).text)
    emulator.control.set_latency(150)  # slow Autotask: the push takes a few seconds
    try:
        pushed = client.post("/psa-integration/push", data={"csrf_token": csrf, "digest": digest})
        assert pushed.status_code == 303
        running = client.get(pushed.headers["location"]).text
        assert 'data-testid="run-status">running<' in running
        assert re.search(r"Pushing: \d+ of \d+ operation\(s\) written so far", running)
        assert '<meta http-equiv="refresh"' in running
        again = client.post("/psa-integration/push", data={"csrf_token": csrf, "digest": digest})
        assert "is still pushing" in client.get(again.headers["location"]).text
        done = wait_for_run(client, pushed.headers["location"])
    finally:
        emulator.control.set_latency(0)
    assert 'data-testid="run-status">succeeded<' in done
    assert '<meta http-equiv="refresh"' not in done


def test_a_refused_write_shows_as_error_with_autotask_message_and_a_later_push_fixes_it(
    psa_app: str, make_org_user: Any, set_up_org: Any, emulator: Any
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    set_up_org(admin.organization_id)
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)
    emulator.control.add_fault(action="500", method="POST", path=r"/Contracts/?$", count=None)  # creates only
    digest = _digest(client.post("/psa-integration/preview", data={"csrf_token": csrf}).text)
    pushed = client.post("/psa-integration/push", data={"csrf_token": csrf, "digest": digest})
    run_page = wait_for_run(client, pushed.headers["location"])
    status = re.search(r'data-testid="run-status">(\w+)<', run_page)
    assert status and status.group(1) == "partial", re.sub(r"<[^>]+>|\s+", " ", run_page)[-2500:]
    agreements = client.get("/psa-integration/agreements?status=error").text
    assert agreements.count('data-testid="psa-row"') == 1
    assert "injected fault" in agreements  # Autotask's own message, on the row
    services = client.get("/psa-integration/services?status=waiting").text
    assert "Waiting for Managed Services" in services

    emulator.control.clear_faults()
    # "Retry failed only": the preview holds just the failed writes, and the push performs them.
    assert 'data-testid="preview-retry"' in client.get("/psa-integration/agreements").text
    retry = client.post("/psa-integration/preview", data={"csrf_token": csrf, "retry_failed": "true"}).text
    assert "retry failed records only" in retry
    ops = re.findall(r'<tr data-testid="plan-op">.*?</tr>', retry, re.S)
    assert ops and all("Create Contracts" in op for op in ops)
    pushed = client.post(
        "/psa-integration/push", data={"csrf_token": csrf, "digest": _digest(retry), "retry_failed": "true"}
    )
    assert re.search(
        r'data-testid="run-status">(succeeded|partial)<', wait_for_run(client, pushed.headers["location"])
    )
    assert 'data-status="error"' not in client.get("/psa-integration/agreements").text
    # then the records that waited for them
    digest = _digest(client.post("/psa-integration/preview", data={"csrf_token": csrf}).text)
    pushed = client.post("/psa-integration/push", data={"csrf_token": csrf, "digest": digest})
    assert 'data-testid="run-status">succeeded<' in wait_for_run(client, pushed.headers["location"])
    assert 'data-status="error"' not in client.get("/psa-integration/agreements").text
    contracts = [
        c for c in emulator.control.records("Contracts") if (c.get("contractNumber") or "").startswith("PSB")
    ]
    assert len(contracts) == len({c["contractNumber"] for c in contracts})  # no duplicate after the retry


def test_blocked_rows_show_their_reason_and_dependants_wait(
    psa_app: str, make_org_user: Any, set_up_org: Any, session_factory: sessionmaker[Session]
) -> None:
    from psabridge.hub import models as hub

    admin = make_org_user(slug="acme", role="admin")
    org = set_up_org(admin.organization_id)
    with session_factory() as s:
        account = add_account_with_contact(s, org.organization_id, "No Phone Bakery", "NOPHONE")
        account.phone = None
        s.add(
            hub.BillingContract(
                organization_id=org.organization_id,
                external_id="NOPHONE-K1",
                account_id=account.id,
                name="Bakery Monthly",
                contract_type="recurring",
                billing_frequency="monthly",
                start_date=date(2025, 1, 1),
                status="active",
            )
        )
        s.commit()
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)
    preview = client.post("/psa-integration/preview", data={"csrf_token": csrf}).text
    assert "No Phone Bakery" in preview and "no valid phone number" in preview
    blocked = client.get("/psa-integration/customers?status=blocked").text
    assert blocked.count('data-testid="psa-row"') == 1
    assert 'data-testid="row-reason">Account has no valid phone number (empty)<' in blocked
    waiting = client.get("/psa-integration/agreements?status=waiting").text
    assert "Bakery Monthly — No Phone Bakery" in waiting and "Waiting for No Phone Bakery" in waiting
    # the Customers tab counts the rows that need a person: the blocked one and two same-name suggestions
    tabs = client.get("/psa-integration/products").text.split('data-testid="psa-tab-customers"')[1][:300]
    assert 'title="rows that need you">3<' in tabs
