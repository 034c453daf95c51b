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
    for params in ({"user": "nobody@example.com"}, {}):
        response = httpx.get(emulator.zone_url, params=params)
        assert response.status_code == 500
        assert response.json() == {"errors": ["Zone information could not be determined"]}


def test_wrong_secret_is_401_with_an_empty_body_and_a_challenge(emulator: Any) -> None:
    base = f"{emulator.base_url}/ATServicesRest/V1.0/Companies/0"
    good = emulator.headers()
    assert httpx.get(base, headers=good).status_code == 200
    no_user = {k: v for k, v in good.items() if k != "UserName"}
    for headers in (
        dict(good, Secret="wrong"),
        {k: v for k, v in good.items() if k != "Secret"},
        no_user,
        {},
    ):
        response = httpx.get(base, headers=headers)
        assert response.status_code == 401, headers
        assert response.content == b"" and response.headers["WWW-Authenticate"]


def test_unknown_user_or_wrong_integration_code_is_500(emulator: Any) -> None:
    base = f"{emulator.base_url}/ATServicesRest/V1.0/Companies/0"
    good = emulator.headers()
    for key in ("UserName", "ApiIntegrationCode"):
        response = httpx.get(base, headers=dict(good, **{key: "wrong"}))
        assert response.status_code == 500, key
        errors = response.json()["errors"]
        assert errors and "wrong" not in response.text and emulator.credentials.secret not in response.text
    # the user name is looked up first: an unknown user with a wrong secret is still a 500
    assert httpx.get(base, headers=dict(good, UserName="x@y.example", Secret="bad")).status_code == 500
    assert httpx.get(base, headers=dict(good, ApiIntegrationCode="")).status_code == 500


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
    assert api.post("/ContractServiceUnits/query/count", json={"filter": []}).status_code == 200
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


def test_404_and_405_bodies_are_aspnet_messages(api: httpx.Client, emulator: Any) -> None:
    missing = api.get("/NoSuchEntity/5")
    assert missing.status_code == 404
    assert missing.json() == {
        "Message": f"No HTTP resource was found that matches the request URI '{missing.request.url}'."
    }
    outside = httpx.get(f"{emulator.base_url}/elsewhere", headers=emulator.headers())
    assert outside.status_code == 404 and "Message" in outside.json()
    wrong_verb = api.delete("/Companies/0")
    assert wrong_verb.status_code == 405
    assert wrong_verb.json() == {"Message": "The requested resource does not support http method 'DELETE'."}
    assert wrong_verb.headers["Allow"] == "GET"
    on_query = api.put("/Companies/query", json={})
    assert on_query.json()["Message"].endswith("http method 'PUT'.")
    assert on_query.headers["Allow"] == "GET, POST"
    zone = httpx.post(emulator.zone_url, params={"user": emulator.credentials.username})
    assert zone.status_code == 405 and zone.headers["Allow"] == "GET" and "Message" in zone.json()


def test_paths_are_case_insensitive_like_iis(api: httpx.Client) -> None:
    assert api.get("/companies/0").json()["item"]["companyName"] == "Demo MSP Ltd"


def test_get_missing_record_returns_item_null(api: httpx.Client) -> None:
    response = api.get("/Companies/999999")
    assert response.status_code == 200
    assert response.json() == {"item": None}
