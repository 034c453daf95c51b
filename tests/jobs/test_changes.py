"""Change-driven sync: committed hub changes (ORM writes, the REST API) schedule one sync of the
organization's connector after the quiet period; a burst of changes is one job."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import httpx
import pytest

from psabridge.config import Settings
from psabridge.connectors.models import Connector, ConnectorStatus
from psabridge.db import make_sessionmaker
from psabridge.hub import models as hub_models
from psabridge.jobs.changes import install_change_hook
from tests.jobs.conftest import wait_for
from tests.jobs.support import jobs_of
from tests.sync.support import Hub, SyncEnv, build_fixture, signature


@pytest.fixture()
def change_settings(env: SyncEnv) -> Settings:
    with env.factory() as s:
        connector = s.get(Connector, env.connector_id)
        assert connector is not None
        connector.status = ConnectorStatus.SET_UP.value
        s.commit()
    env.app_settings = env.app_settings.model_copy(update={"change_sync_delay_seconds": 1.0})
    return env.app_settings


def _subscription(env: SyncEnv, sub_id: int) -> hub_models.Subscription:
    with env.factory() as s:
        sub = s.get(hub_models.Subscription, sub_id)
        assert sub is not None
        s.expunge(sub)
        return sub


def test_a_burst_of_changes_is_one_sync_after_the_quiet_period(
    env: SyncEnv, hub: Hub, change_settings: Settings
) -> None:
    fx = build_fixture(hub)
    assert env.sync().status == "succeeded"
    factory = make_sessionmaker(env.factory.kw["bind"])
    install_change_hook(factory, change_settings)
    watched = Hub(factory, env.org_id)
    watched.n = 1000
    changed_at = time.monotonic()
    for after in (14, 15, 16):  # three commits within the quiet period
        watched.change(_subscription(env, fx.ids["sub"]), date(2026, 4, 1), after)
        time.sleep(0.3)
    change_jobs = wait_for(lambda: [j for j in jobs_of(env.factory) if j.trigger == "change"], timeout=10)
    assert len(change_jobs) == 1 and change_jobs[0].state == "queued"
    wait_for(lambda: jobs_of(env.factory)[-1].state == "succeeded", timeout=60)
    assert time.monotonic() - changed_at >= 1.0 + 0.6  # after the quiet period of the last change
    assert len([j for j in jobs_of(env.factory) if j.trigger == "change"]) == 1
    expected = fx.expected(env.org_id)
    key = f"PSB{env.org_id}-U{fx.ids['sub']}"
    expected["adjustments"] = sorted([*expected["adjustments"], (key, "2026-04-01", 3)])
    assert signature(env) == expected


def test_a_change_through_the_rest_api_reaches_autotask(
    env: SyncEnv, hub: Hub, change_settings: Settings, api: tuple[httpx.Client, Any]
) -> None:
    admin, _ = api
    fx = build_fixture(hub)
    assert env.sync().status == "succeeded"
    answer = admin.post(
        "/license-change-logs",
        json={"subscription_id": fx.ids["sub3"], "effective_date": "2026-04-01", "quantity_after": 9},
    )
    assert answer.status_code == 201, answer.text
    job = wait_for(lambda: [j for j in jobs_of(env.factory) if j.trigger == "change"], timeout=10)[0]
    done = wait_for(
        lambda: admin.get(f"/jobs/{job.id}").json()["state"] in ("succeeded", "failed"), timeout=60
    )
    assert done
    assert admin.get(f"/jobs/{job.id}").json()["state"] == "succeeded"
    key = f"PSB{env.org_id}-U{fx.ids['sub3']}"
    assert (key, "2026-04-01", 4) in signature(env)["adjustments"]


def test_no_change_sync_when_the_connector_is_not_set_up(env: SyncEnv, hub: Hub) -> None:
    settings = env.app_settings.model_copy(update={"change_sync_delay_seconds": 0.2})
    factory = make_sessionmaker(env.factory.kw["bind"])
    install_change_hook(factory, settings)
    Hub(factory, env.org_id).account("Northwind Traders")
    time.sleep(0.5)
    assert jobs_of(env.factory) == []
