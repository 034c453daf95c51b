"""Zone discovery, authentication and the route/verb table of the official description."""

from __future__ import annotations

from typing import Any

import httpx


def test_zone_information_points_back_at_the_emulator_in_both_spellings(emulator: Any) -> None:
    for path in ("/atservicesrest/v1.0/zoneInformation", "/ATServicesRest/V1.0/zoneInformation"):
        response = httpx.get(f"{emulator.base_url}{path}", params={"user": emulator.credentials.username})
        assert response.status_code == 200
        body = response.json()
        assert body["url"] == f"{emulator.base_url}/ATServicesRest/"
        assert set(body) == {"zoneName", "url", "webUrl", "ci"}


def test_zone_information_for_an_unknown_user_fails(emulator: Any) -> None:
    response = httpx.get(emulator.zone_url, params={"user": "nobody@example.com"})
    assert response.status_code == 500
    assert response.json()["errors"]


def test_bad_credentials_are_refused_with_401(emulator: Any) -> None:
    base = f"{emulator.base_url}/ATServicesRest/V1.0/Companies/0"
    good = emulator.headers()
    assert httpx.get(base, headers=good).status_code == 200
    for key in ("Secret", "UserName", "ApiIntegrationCode"):
        bad = dict(good, **{key: "wrong"})
        response = httpx.get(base, headers=bad)
        assert response.status_code == 401
        assert "wrong" not in response.text and emulator.credentials.secret not in response.text
    assert httpx.get(base).status_code == 401


def test_header_names_and_username_are_case_insensitive(emulator: Any) -> None:
    headers = {
        "apiintegrationcode": emulator.credentials.integration_code,
        "USERNAME": emulator.credentials.username.upper(),
        "secret": emulator.credentials.secret,
    }
    assert (
        httpx.get(f"{emulator.base_url}/ATServicesRest/V1.0/Companies/0", headers=headers).status_code == 200
    )


def test_unknown_route_is_404_and_missing_verb_is_405(api: httpx.Client) -> None:
    assert api.get("/NoSuchEntity/query?search={}").status_code == 404
    # Companies exist but cannot be deleted; adjustments cannot be read; units cannot be written
    assert api.delete("/Companies/0").status_code == 405
    assert api.get("/ContractServiceAdjustments/1").status_code == 404
    assert api.post("/ContractServiceAdjustments/query", json={"filter": []}).status_code == 404
    assert api.get("/ContractServiceAdjustments").status_code == 405
    assert api.post("/ContractServiceUnits/query/count", json={"filter": []}).status_code == 500
    assert api.patch("/ContractServiceUnits/query", json={}).status_code == 405
    assert (
        api.post("/BillingCodes/query", json={"filter": [{"op": "exist", "field": "id"}]}).status_code == 200
    )
    assert api.delete("/BillingCodes/29682801").status_code == 405
    # contacts are created under their company: the description has no root /Contacts route at all
    assert api.post("/Contacts", json={}).status_code == 404
    assert api.post("/Companies/180/Contacts", json={}).status_code == 500  # exists, validation fails
    assert api.put("/Contacts/query", json={}).status_code == 405
    assert api.delete("/Contracts/1/Services/1").status_code == 405


def test_paths_are_case_insensitive_like_iis(api: httpx.Client) -> None:
    assert api.get("/companies/0").json()["item"]["companyName"] == "Demo MSP Ltd"


def test_get_missing_record_returns_item_null(api: httpx.Client) -> None:
    response = api.get("/Companies/999999")
    assert response.status_code == 200
    assert response.json() == {"item": None}
