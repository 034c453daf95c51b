"""Helpers of the reconciliation tests: a person working in Autotask (its REST API, as a person's tool
would call it), and shortcuts to reconcile and read what was found."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from psabridge.reconcile import service
from psabridge.reconcile.apply import ApplyReport, apply_approved
from psabridge.reconcile.approve import approve
from psabridge.reconcile.models import ReconcileRun
from tests.sync.support import SyncEnv


class Person:
    """Someone changing Autotask by hand, through the tenant's REST API."""

    def __init__(self, env: SyncEnv) -> None:
        self.env = env
        self.http = httpx.Client(
            base_url=f"{env.emu.current_api_url}V1.0", headers=env.emu.headers(), timeout=30
        )

    def __enter__(self) -> Person:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def ok(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def patch(self, entity: str, body: dict[str, Any]) -> None:
        self.ok(self.http.patch(f"/{entity}", json=body))

    def adjust(self, contract_id: int, day: str, change: int, **extra: Any) -> int:
        body = {"contractID": contract_id, "effectiveDate": f"{day}T00:00:00", "unitChange": change, **extra}
        return int(self.ok(self.http.post("/ContractServiceAdjustments", json=body))["itemId"])

    def delete(self, path: str) -> None:
        self.ok(self.http.delete(path))


def cache_options(env: SyncEnv) -> None:
    """Read the connector's dropdown lists as opening its settings page does (labels of picklist values)."""
    from psabridge.connectors import service as connectors

    with env.factory() as s:
        connector = connectors.get_autotask_connector(s, env.org_id)
        assert connector is not None
        connectors.load_option_lists(s, connector, env.app_settings)


def ours(env: SyncEnv, entity: str, key_field: str, code: str, hub_id: int) -> dict[str, Any]:
    """Our Autotask record of a hub record, found by its matching key in the emulator's state."""
    key = f"PSB{env.org_id}-{code}{hub_id}"
    return next(r for r in env.records(entity) if r.get(key_field) == key)


def reconcile(env: SyncEnv, day: date) -> ReconcileRun:
    run = service.start(
        env.factory, env.org_id, app_settings=env.app_settings, on_date=day, client=env.client()
    )
    assert run.status == "done", run.error
    return run


def found(env: SyncEnv, run: ReconcileRun) -> list[dict[str, Any]]:
    """The run's differences as plain dicts, each with its fixes."""
    with env.factory() as s:
        r = service.get_run(s, env.org_id, run.id)
        return [
            {
                "id": d.id,
                "category": d.category,
                "record": (d.record_type, d.hub_id),
                "autotask_id": d.autotask_id,
                "field": d.field,
                "autotask": d.autotask_value,
                "hub": d.hub_value,
                "last_written": d.last_written,
                "changed_by": d.changed_by,
                "detail": d.detail,
                "evidence": d.evidence,
                "fixes": [
                    {
                        "id": x.id,
                        "kind": x.kind,
                        "summary": x.summary,
                        "cost": x.cost,
                        "status": x.status,
                        "overwrites": x.overwrites_person,
                        "written": x.written,
                        "error": x.error,
                    }
                    for x in fixes
                ],
            }
            for d, fixes in service.differences(s, r)
        ]


def fix_of(difference: dict[str, Any], kind: str) -> int:
    return int(next(x["id"] for x in difference["fixes"] if x["kind"] == kind))


def approve_and_apply(env: SyncEnv, run: ReconcileRun, fix_ids: list[int]) -> ApplyReport:
    with env.factory() as s:
        approve(s, env.org_id, run.id, fix_ids, "admin@acme.test")
    return apply_approved(
        env.factory,
        env.org_id,
        run.id,
        app_settings=env.app_settings,
        client=env.client(),
        actor="admin@acme.test",
    )
