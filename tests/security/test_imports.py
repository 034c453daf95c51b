"""Imports of hostile size (issue 10): an all-bad file answers with the first 100 errors and the total,
not every row; the upload is streamed and the other requests keep being served."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.hub.conftest import Tenant


def test_an_all_bad_file_answers_the_first_100_errors_and_the_total(
    client: TestClient, tenant: Tenant
) -> None:
    rows = "".join(f"ACC-{n},Customer {n},not a phone\n" for n in range(5000))
    answer = client.post(
        "/api/v1/imports?type=account",
        content="external_id,name,phone\n" + rows,
        headers={**tenant.admin, "content-type": "text/csv"},
    )
    assert answer.status_code == 422
    body = answer.json()
    assert body["total_errors"] == 5000
    assert len(body["errors"]) == 100
    assert [e["line"] for e in body["errors"]] == list(range(2, 102))
    assert "The first 100 are listed" in body["detail"]
    assert len(answer.content) < 50_000
    assert client.get("/api/v1/accounts", headers=tenant.admin).json()["total"] == 0


def test_duplicates_and_references_are_still_checked_on_staged_rows(
    client: TestClient, tenant: Tenant
) -> None:
    csv = (
        "external_id,name,phone,primary_contact_external_id\n"
        "A-1,One,+1 555 0100,\n"
        "A-2,Two,+1 555 0101,NO-SUCH-CONTACT\n"
        "A-1,One again,+1 555 0102,\n"
    )
    answer = client.post(
        "/api/v1/imports?type=account", content=csv, headers={**tenant.admin, "content-type": "text/csv"}
    )
    assert answer.status_code == 422
    problems = {(e["line"], e["field"]) for e in answer.json()["errors"]}
    assert problems == {(3, "primary_contact_external_id"), (4, "external_id")}
    assert "first on line 2" in " ".join(e["message"] for e in answer.json()["errors"])
