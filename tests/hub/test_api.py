"""The REST API as an integrator uses it: tokens, CRUD, filters and pages, tenancy, problem+json errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.hub.conftest import Tenant

API = "/api/v1"


def _make_subscription(client: TestClient, headers: dict[str, str], quantity: int = 10) -> dict[str, Any]:
    account = client.post(
        f"{API}/accounts", headers=headers, json={"name": "Northwind Dental", "phone": "+1 (206) 555-0100"}
    )
    assert account.status_code == 201, account.text
    product = client.post(
        f"{API}/products",
        headers=headers,
        json={"name": "Microsoft 365 Business Premium", "unit_price": "22.00", "manufacturer": "Microsoft"},
    )
    assert product.status_code == 201, product.text
    contract = client.post(
        f"{API}/billing-contracts",
        headers=headers,
        json={
            "account_id": account.json()["id"],
            "name": "Managed Services Monthly",
            "billing_frequency": "monthly",
            "start_date": "2025-01-01",
        },
    )
    assert contract.status_code == 201, contract.text
    sub = client.post(
        f"{API}/subscriptions",
        headers=headers,
        json={
            "external_id": "SUB-1",
            "billing_contract_id": contract.json()["id"],
            "product_id": product.json()["id"],
            "quantity": quantity,
            "start_date": "2025-01-01",
        },
    )
    assert sub.status_code == 201, sub.text
    return dict(sub.json())


def test_create_read_update_and_list_records(client: TestClient, tenant: Tenant) -> None:
    sub = _make_subscription(client, tenant.admin)
    assert sub["unit_price"] == "22.00" and sub["quantity"] == 10

    read = client.get(f"{API}/subscriptions/{sub['id']}", headers=tenant.viewer)
    assert read.status_code == 200 and read.json()["external_id"] == "SUB-1"

    patched = client.patch(
        f"{API}/subscriptions/{sub['id']}",
        headers=tenant.admin,
        json={"quantity": 15, "effective_date": "2025-06-01", "reason": "New office"},
    )
    assert patched.status_code == 200 and patched.json()["quantity"] == 15
    logs = client.get(
        f"{API}/license-change-logs", headers=tenant.viewer, params={"subscription_id": sub["id"]}
    )
    assert [(x["quantity_before"], x["quantity_after"]) for x in logs.json()["items"]] == [(0, 10), (10, 15)]
    assert logs.json()["items"][1]["reason"] == "New office"

    contacts = client.post(
        f"{API}/contacts",
        headers=tenant.admin,
        json={
            "account_id": client.get(f"{API}/accounts", headers=tenant.viewer).json()["items"][0]["id"],
            "first_name": "Ava",
            "last_name": "Patel",
            "email": "ava.patel@northwind.example.com",
            "is_primary": True,
        },
    )
    assert contacts.status_code == 201
    account = client.get(f"{API}/accounts", headers=tenant.viewer).json()["items"][0]
    assert account["primary_contact_id"] == contacts.json()["id"]
    assert client.get(f"{API}/organizations/me/mismatches", headers=tenant.viewer).json() == []


def test_list_filters_and_pages_with_total(client: TestClient, tenant: Tenant) -> None:
    for n in range(7):
        status = "inactive" if n % 3 == 0 else "active"
        response = client.post(
            f"{API}/accounts", headers=tenant.admin, json={"name": f"Customer {n}", "status": status}
        )
        assert response.status_code == 201
    page = client.get(f"{API}/accounts", headers=tenant.viewer, params={"limit": 2, "offset": 2})
    body = page.json()
    assert (body["total"], body["limit"], body["offset"]) == (7, 2, 2)
    assert [a["name"] for a in body["items"]] == ["Customer 2", "Customer 3"]
    inactive = client.get(f"{API}/accounts", headers=tenant.viewer, params={"status": "inactive"}).json()
    assert inactive["total"] == 3
    search = client.get(f"{API}/accounts", headers=tenant.viewer, params={"q": "omer 5"}).json()
    assert [a["name"] for a in search["items"]] == ["Customer 5"]
    too_big = client.get(f"{API}/accounts", headers=tenant.viewer, params={"limit": 5000})
    assert too_big.status_code == 422 and too_big.json()["errors"][0]["field"] == "limit"


def test_one_organizations_token_cannot_see_or_touch_anothers_records(
    client: TestClient, make_tenant: Callable[[str], Tenant]
) -> None:
    acme, globex = make_tenant("acme"), make_tenant("globex")
    sub = _make_subscription(client, acme.admin)
    assert client.get(f"{API}/subscriptions", headers=globex.admin).json()["total"] == 0
    assert client.get(f"{API}/subscriptions/{sub['id']}", headers=globex.admin).status_code == 404
    patch = client.patch(f"{API}/subscriptions/{sub['id']}", headers=globex.admin, json={"quantity": 1})
    assert patch.status_code == 404
    log = client.post(
        f"{API}/license-change-logs",
        headers=globex.admin,
        json={"subscription_id": sub["id"], "effective_date": "2025-02-01", "quantity_after": 1},
    )
    assert log.status_code == 422 and log.json()["errors"][0]["field"] == "subscription_id"
    # Same external id in another organization is fine: ids are unique per organization.
    other = client.post(f"{API}/accounts", headers=globex.admin, json={"name": "X", "external_id": "SUB-1"})
    assert other.status_code == 201
    assert client.get(f"{API}/subscriptions/{sub['id']}", headers=acme.viewer).json()["quantity"] == 10


def test_errors_are_problem_json_naming_the_field(client: TestClient, tenant: Tenant) -> None:
    bad = client.post(
        f"{API}/accounts", headers=tenant.admin, json={"name": "Acme", "phone": "call me", "colour": "red"}
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"phone", "colour"}

    dates = client.post(
        f"{API}/billing-contracts",
        headers=tenant.admin,
        json={"account_id": 1, "name": "x", "start_date": "2025-05-01", "end_date": "2025-01-01"},
    )
    assert dates.status_code == 422 and dates.json()["errors"][0]["field"] == "end_date"

    null_name = client.patch(
        f"{API}/accounts/{client.post(f'{API}/accounts', headers=tenant.admin, json={'name': 'A'}).json()['id']}",
        headers=tenant.admin,
        json={"name": None},
    )
    assert null_name.status_code == 422 and null_name.json()["errors"][0]["field"] == "name"


def test_duplicate_external_id_is_409(client: TestClient, tenant: Tenant) -> None:
    body = {"name": "Veeam Backup for Microsoft 365", "external_id": "VEEAM-M365", "unit_price": "2.50"}
    assert client.post(f"{API}/products", headers=tenant.admin, json=body).status_code == 201
    again = client.post(f"{API}/products", headers=tenant.admin, json=body)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["errors"][0]["field"] == "external_id"


def test_logs_are_never_edited_or_deleted_only_archived(client: TestClient, tenant: Tenant) -> None:
    sub = _make_subscription(client, tenant.admin, quantity=10)
    log = client.post(
        f"{API}/license-change-logs",
        headers=tenant.admin,
        json={
            "subscription_id": sub["id"],
            "effective_date": "2025-03-01",
            "quantity_after": 4,
            "is_refund": True,
            "refund_amount": "132.00",
            "reason": "Refund for unused seats",
        },
    )
    assert log.status_code == 201, log.text
    log_id = log.json()["id"]
    assert (
        client.patch(f"{API}/license-change-logs/{log_id}", headers=tenant.admin, json={}).status_code == 405
    )
    assert client.delete(f"{API}/license-change-logs/{log_id}", headers=tenant.admin).status_code == 405
    archived = client.post(f"{API}/license-change-logs/{log_id}/archive", headers=tenant.admin)
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    assert client.get(f"{API}/subscriptions/{sub['id']}", headers=tenant.viewer).json()["quantity"] == 10
    again = client.post(f"{API}/license-change-logs/{log_id}/archive", headers=tenant.admin)
    assert again.status_code == 409
    refund_without_amount = client.post(
        f"{API}/license-change-logs",
        headers=tenant.admin,
        json={
            "subscription_id": sub["id"],
            "effective_date": "2025-03-01",
            "quantity_after": 4,
            "is_refund": True,
        },
    )
    assert refund_without_amount.json()["errors"][0]["field"] == "refund_amount"


def test_authentication_and_roles(client: TestClient, tenant: Tenant) -> None:
    none = client.get(f"{API}/accounts")
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    assert none.headers["content-type"].startswith("application/problem+json")
    wrong = client.get(f"{API}/accounts", headers={"Authorization": "Bearer psab_not-a-real-token"})
    assert wrong.status_code == 401
    viewer_write = client.post(f"{API}/accounts", headers=tenant.viewer, json={"name": "x"})
    assert viewer_write.status_code == 403
    assert client.get(f"{API}/organizations/me", headers=tenant.viewer).json()["slug"] == "acme"


def test_openapi_lists_the_hub_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/accounts", "/api/v1/subscriptions/{subscription_id}", "/api/v1/imports"):
        assert path in paths


def test_unknown_filter_value_names_the_parameter(client: TestClient, tenant: Tenant) -> None:
    response = client.get(f"{API}/subscriptions", headers=tenant.viewer, params={"status": "paused"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "status"
