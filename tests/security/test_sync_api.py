"""The sync REST API under hostile or unlucky conditions (issue 10): links get the screen's checks, the
plan is not a GET, and failures are problem+json that say what to check."""

from __future__ import annotations

import httpx
from sqlalchemy import update

from psabridge.connectors.models import Connector
from psabridge.hub.orgs import create_api_token, create_organization
from tests.support.servers import free_port
from tests.sync.support import Hub, SyncEnv

PROBLEM = "application/problem+json"


def test_link_api_makes_the_checks_of_the_screen(
    env: SyncEnv, hub: Hub, api: tuple[httpx.Client, httpx.Client]
) -> None:
    admin, _ = api
    first = hub.account("Northwind Traders")  # a same-name company exists in the seeded tenant
    second = hub.account("Adventure Works")
    admin.post("/sync/plan")
    company = env.statuses()[("account", first.id)]["candidates"][0]["id"]
    linked = admin.post(
        "/sync/links", json={"record_type": "account", "hub_id": first.id, "autotask_id": company}
    )
    assert linked.status_code == 200, linked.text

    # The same company for another account: the next sync would have renamed it.
    taken = admin.post(
        "/sync/links", json={"record_type": "account", "hub_id": second.id, "autotask_id": company}
    )
    assert taken.status_code == 409 and taken.headers["content-type"] == PROBLEM
    assert "already linked to another hub record" in taken.json()["detail"]
    # An Autotask id that does not exist (read back, as the screen does).
    missing = admin.post(
        "/sync/links", json={"record_type": "account", "hub_id": second.id, "autotask_id": 987_654}
    )
    assert missing.status_code == 409 and "does not exist" in missing.json()["detail"]
    # A hub id of no record, and one of another organization.
    with env.factory() as s:
        other = create_organization(s, "Other MSP", "other")
        s.commit()
    foreign = Hub(env.factory, other.id).account("Foreign Co")
    for hub_id in (foreign.id, 424_242):
        refused = admin.post(
            "/sync/links", json={"record_type": "account", "hub_id": hub_id, "add_new": True}
        )
        assert refused.status_code == 404 and refused.headers["content-type"] == PROBLEM
    assert env.statuses()[("account", second.id)]["autotask_id"] is None
    assert ("account", foreign.id) not in env.statuses()


def test_plan_is_a_post_and_sync_errors_are_problems(
    env: SyncEnv, hub: Hub, api: tuple[httpx.Client, httpx.Client]
) -> None:
    admin, _ = api
    hub.account("Lucerne Publishing")
    runs_before = len(admin.get("/sync/runs").json())
    got = admin.get("/sync/plan")
    assert got.status_code == 405 and got.headers["allow"] == "POST"
    assert got.headers["content-type"] == PROBLEM
    assert len(admin.get("/sync/runs").json()) == runs_before  # the GET created no run, spent no call
    with env.factory() as s:
        other = create_organization(s, "Other MSP", "other")
        _, token = create_api_token(s, other, role="admin")
        s.commit()
    with httpx.Client(base_url=str(admin.base_url), headers={"Authorization": f"Bearer {token}"}) as c:
        no_connector = c.post("/sync/plan")
        assert no_connector.status_code == 409 and no_connector.headers["content-type"] == PROBLEM
        assert "no Autotask connector" in no_connector.json()["detail"]
        assert c.get("/sync/runs/1").headers["content-type"] == PROBLEM


def test_autotask_unreachable_is_a_502_problem_that_says_what_to_check(
    env: SyncEnv, hub: Hub, api: tuple[httpx.Client, httpx.Client]
) -> None:
    admin, _ = api
    hub.account("Lucerne Publishing")
    with env.factory() as s:
        dead = f"http://127.0.0.1:{free_port()}/atservicesrest/"
        s.execute(update(Connector).where(Connector.id == env.connector_id).values(api_url=dead))
        s.commit()
    answer = admin.post("/sync/plan")
    assert answer.status_code in (502, 503), answer.text
    assert answer.headers["content-type"] == PROBLEM
    detail = answer.json()["detail"]
    assert "could not be reached" in detail and "Check" in detail
