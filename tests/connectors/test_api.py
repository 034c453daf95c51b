"""REST API /api/v1/connectors: the setup flow for scripts, with the same validation as the pages, roles,
tenancy, and never a secret in any answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.connectors.conftest import Org


@pytest.fixture()
def orgs(make_org: Callable[[str], Org]) -> tuple[Org, Org]:
    return make_org("acme"), make_org("globex")


@pytest.fixture()
def api(connector_app: str) -> Iterator[Callable[[str], httpx.Client]]:
    clients: list[httpx.Client] = []

    def client(token: str) -> httpx.Client:
        c = httpx.Client(
            base_url=f"{connector_app}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        clients.append(c)
        return c

    yield client
    for c in clients:
        c.close()


def _create(client: httpx.Client, emulator: Any, **overrides: str) -> httpx.Response:
    body = {
        "username": emulator.credentials.username,
        "secret": emulator.credentials.secret,
        "integration_code": emulator.credentials.integration_code,
    }
    body.update(overrides)
    return client.post("/connectors", json=body)


def _by_label(options: list[dict[str, Any]], label: str) -> int:
    return next(int(o["value"]) for o in options if o["label"] == label)


def test_admin_sets_up_the_connector_through_the_api(
    api: Callable[[str], httpx.Client], orgs: tuple[Org, Org], emulator: Any
) -> None:
    admin = api(orgs[0].admin_token)
    seen: list[str] = []

    response = _create(admin, emulator)
    seen.append(response.text)
    assert response.status_code == 201, response.text
    connector = response.json()
    assert connector["status"] == "needs_settings" and connector["has_secret"] is True
    assert "secret" not in connector and "secret_encrypted" not in connector
    cid = connector["id"]

    assert _create(admin, emulator).status_code == 409  # one Autotask connector per organization

    options = admin.get(f"/connectors/{cid}/options")
    seen.append(options.text)
    lists = options.json()["lists"]
    assert "vendors" not in lists  # Manufacturers' choices only once Default Vendor Type is saved
    products = admin.get(f"/connectors/{cid}/options/products", params={"q": "refund"}).json()
    assert [p["label"] for p in products] == ["Refund / Credit"]

    settings = {
        "default_charge_type": _by_label(lists["charge_types"], "Operational"),
        "default_company_type": _by_label(lists["company_types"], "Customer"),
        "default_billing_preference": _by_label(lists["billing_preferences"], "Immediately"),
        "default_contract_type": _by_label(lists["contract_types"], "Time and Materials"),
        "default_vendor_type": _by_label(lists["company_types"], "Vendor"),
        "default_owner_resource_id": _by_label(lists["resources"], "Jane Cooper"),
        "default_refund_product_id": products[0]["value"],
        "product_billing_code_id": _by_label(lists["product_billing_codes"], "Software Licenses"),
        "service_billing_code_id": _by_label(lists["service_billing_codes"], "Managed Services"),
        "billing_frequencies": {"monthly": _by_label(lists["period_types"], "Monthly")},
        "contract_period_types": {"monthly": _by_label(lists["contract_period_types"], "Monthly")},
        "manufacturers": {"Microsoft": 174},
    }
    refused = admin.put(f"/connectors/{cid}/settings", json=settings)
    assert refused.status_code == 422
    errors = {e["field"]: e["message"] for e in refused.json()["errors"]}
    assert "cannot hold contract services" in errors["default_contract_type"]
    assert "only after Default Vendor Type is saved" in errors["manufacturers"]

    settings["default_contract_type"] = _by_label(lists["contract_types"], "Recurring Service")
    settings["manufacturers"] = {}
    saved = admin.put(f"/connectors/{cid}/settings", json=settings)
    assert saved.status_code == 200, saved.text
    assert saved.json()["is_set_up"] is True

    vendors = admin.get(f"/connectors/{cid}/options").json()["lists"]["vendors"]
    settings["manufacturers"] = {"Microsoft": _by_label(vendors, "Microsoft")}
    assert admin.put(f"/connectors/{cid}/settings", json=settings).status_code == 200
    assert admin.get(f"/connectors/{cid}/settings").json()["settings"]["manufacturers"] == {"Microsoft": 174}

    report = admin.post(f"/connectors/{cid}/check-permissions")
    seen.append(report.text)
    assert report.status_code == 200 and report.json()["all_ok"] is True
    refreshed = admin.post(f"/connectors/{cid}/options/refresh")
    assert refreshed.status_code == 200 and refreshed.json()["lists"]["vendors"]

    # Credentials update with an empty secret keeps the stored one; a wrong one is refused, nothing changes.
    keep = admin.put(f"/connectors/{cid}/credentials", json={"username": emulator.credentials.username})
    seen.append(keep.text)
    assert keep.status_code == 200, keep.text
    wrong = admin.put(
        f"/connectors/{cid}/credentials",
        json={"username": emulator.credentials.username, "secret": "not-the-secret"},
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "secret"
    after = admin.get(f"/connectors/{cid}").json()
    assert after["status"] == "set_up" and after["updated_at"] == keep.json()["updated_at"]

    seen.append(admin.get("/connectors").text)
    assert all(emulator.credentials.secret not in text for text in seen)


def test_a_viewer_token_cannot_change_a_connector(
    api: Callable[[str], httpx.Client], orgs: tuple[Org, Org], emulator: Any
) -> None:
    viewer = api(orgs[0].viewer_token)
    assert _create(viewer, emulator).status_code == 403
    cid = _create(api(orgs[0].admin_token), emulator).json()["id"]
    assert viewer.get(f"/connectors/{cid}").status_code == 200  # viewers may look
    assert viewer.put(f"/connectors/{cid}/settings", json={}).status_code == 403
    assert viewer.put(f"/connectors/{cid}/credentials", json={"username": "x"}).status_code == 403
    assert viewer.post(f"/connectors/{cid}/check-permissions").status_code == 403
    assert viewer.post(f"/connectors/{cid}/options/refresh").status_code == 403


def test_another_organization_cannot_see_the_connector(
    api: Callable[[str], httpx.Client], orgs: tuple[Org, Org], emulator: Any
) -> None:
    cid = _create(api(orgs[0].admin_token), emulator).json()["id"]
    other = api(orgs[1].admin_token)
    assert other.get("/connectors").json() == []
    for method, path in [
        ("GET", f"/connectors/{cid}"),
        ("GET", f"/connectors/{cid}/settings"),
        ("GET", f"/connectors/{cid}/options"),
        ("PUT", f"/connectors/{cid}/settings"),
        ("POST", f"/connectors/{cid}/check-permissions"),
    ]:
        response = other.request(method, path, json={} if method == "PUT" else None)
        assert response.status_code == 404, (method, path, response.text)


def test_setup_failures_answer_with_the_reason(
    api: Callable[[str], httpx.Client], orgs: tuple[Org, Org], emulator: Any
) -> None:
    admin = api(orgs[0].admin_token)
    unknown = _create(admin, emulator, username="nobody@unknown.example")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "username"
    emulator.control.add_fault(action="500", entity="Companies", count=None)
    failed = _create(admin, emulator)
    assert failed.status_code == 502
    assert "Autotask answered with an error" in failed.json()["detail"]
    assert admin.get("/connectors").json() == []
    assert admin.get("/connectors").status_code == 200
    assert httpx.get(f"{admin.base_url}connectors").status_code == 401  # no token, no answer
