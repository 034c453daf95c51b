"""Bad input at the REST API and in imports is a 4xx problem naming the field, never a 500 or a stored
hole (issue 10): out-of-range dates, ids and offsets, deep JSON, huge numbers, control and bidi text."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.hub.conftest import Tenant

PROBLEM = "application/problem+json"


def _fields(response: object) -> set[str]:
    body = response.json()  # type: ignore[attr-defined]
    return {e["field"] for e in body.get("errors", [])}


def _account(client: TestClient, tenant: Tenant) -> int:
    created = client.post(
        "/api/v1/accounts", json={"name": "Acme Ltd", "phone": "+1 555 0100"}, headers=tenant.admin
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_dates_outside_1900_to_2200_are_refused_at_the_api_and_in_imports(
    client: TestClient, tenant: Tenant
) -> None:
    account = _account(client, tenant)
    for start in ("9998-01-01", "1899-12-31", "2201-01-01"):
        refused = client.post(
            "/api/v1/billing-contracts",
            json={"name": "Managed", "account_id": account, "start_date": start},
            headers=tenant.admin,
        )
        assert refused.status_code == 422 and _fields(refused) == {"start_date"}, refused.text
    csv = (
        "external_id,account_external_id,name,start_date\n"
        f"K-1,{client.get(f'/api/v1/accounts/{account}', headers=tenant.admin).json()['external_id']},"
        "Far future,9998-01-01\n"
    )
    imported = client.post(
        "/api/v1/imports?type=billing_contract",
        content=csv,
        headers={**tenant.admin, "content-type": "text/csv"},
    )
    assert imported.status_code == 422
    assert imported.json()["errors"] == [
        {"line": 2, "field": "start_date", "message": "must be between 1900-01-01 and 2200-12-31"}
    ]
    assert client.get("/api/v1/billing-contracts", headers=tenant.admin).json()["total"] == 0


def test_ids_and_offsets_beyond_the_databases_integers_are_422(client: TestClient, tenant: Tenant) -> None:
    for url, field in (
        (f"/api/v1/accounts/{2**63}", "account_id"),
        (f"/api/v1/accounts/{2**31}", "account_id"),
        ("/api/v1/accounts?offset=100000000000000000000", "offset"),
        (f"/api/v1/subscriptions?account_id={2**40}", "account_id"),
        (f"/api/v1/sync/runs/{2**64}", "run_id"),
    ):
        answer = client.get(url, headers=tenant.admin)
        assert answer.status_code == 422, (url, answer.text)
        assert answer.headers["content-type"] == PROBLEM and _fields(answer) == {field}
    body = {"name": "Big", "account_id": 2**40, "start_date": "2026-01-01"}
    answer = client.post("/api/v1/billing-contracts", json=body, headers=tenant.admin)
    assert answer.status_code == 422 and _fields(answer) == {"account_id"}


def test_deeply_nested_json_and_huge_numbers_are_4xx_problems(client: TestClient, tenant: Tenant) -> None:
    headers = {**tenant.admin, "content-type": "application/json"}
    nested = client.post("/api/v1/accounts", content="[" * 100_000 + "]" * 100_000, headers=headers)
    assert nested.status_code == 400 and nested.headers["content-type"] == PROBLEM
    assert "nested too deeply" in nested.json()["detail"]
    digits = client.post(
        "/api/v1/accounts", content='{"name": "x", "phone": ' + "9" * 5000 + "}", headers=headers
    )
    assert digits.status_code == 400 and "too many digits" in digits.json()["detail"]
    quantity = client.post(
        "/api/v1/subscriptions",
        json={"billing_contract_id": 1, "product_id": 1, "quantity": 10**30, "start_date": "2026-01-01"},
        headers=tenant.admin,
    )
    assert quantity.status_code == 422


def test_control_and_bidi_characters_are_refused_naming_the_field(client: TestClient, tenant: Tenant) -> None:
    for name in ("Acme\x00Ltd", "Acme \x1b[31mLtd", "Acme\u202eLtd", "Acme\u2066Ltd", "Acme\nLtd"):
        refused = client.post(
            "/api/v1/accounts", json={"name": name, "phone": "+1 555 0100"}, headers=tenant.admin
        )
        assert refused.status_code == 422, repr(name)
        assert _fields(refused) == {"name"}
        assert "U+" in refused.json()["errors"][0]["message"]
    refused = client.post(
        "/api/v1/products", json={"name": "Backup", "description": "a\x07b"}, headers=tenant.admin
    )
    assert refused.status_code == 422 and _fields(refused) == {"description"}
    # Free text keeps its line breaks and tabs.
    ok = client.post(
        "/api/v1/products", json={"name": "Backup", "description": "line 1\n\tline 2"}, headers=tenant.admin
    )
    assert ok.status_code == 201, ok.text
    assert client.get("/api/v1/accounts", headers=tenant.admin).json()["total"] == 0


def test_head_answers_like_get_and_405_names_every_allowed_method(client: TestClient, tenant: Tenant) -> None:
    head = client.head("/api/v1/accounts", headers=tenant.admin)
    assert head.status_code == 200 and head.content == b""
    assert client.head("/login").status_code == 200
    wrong = client.delete("/api/v1/accounts", headers=tenant.admin)
    assert wrong.status_code == 405 and wrong.headers["content-type"] == PROBLEM
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    unknown = client.get("/api/v1/no-such-thing", headers=tenant.admin)
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
