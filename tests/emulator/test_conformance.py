"""Every emulator response body validates against the official description's models.

The models come from the committed digest of the description (tests/fixtures, see
scripts/gen_description_digest.py), so these tests run in any clone; when the description itself is
present beside the repository, the digest is first checked to be up to date with it.

The Swagger 2 definitions are converted to JSON Schema: every property may be null (Autotask sends
nulls, Swagger 2 cannot say so), and entity models forbid properties they do not declare, so a field the
real API does not have fails the test. Definitions without properties (.NET ``object``) accept anything.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from psabridge.emulator.routes import route_table
from psabridge.emulator.schema import entity_defs
from tests.conftest import DIGEST_PATH, SWAGGER_PATH, description_digest
from tests.emulator.conftest import picklist_value
from tests.emulator.test_writes import COMPANY, contract_body

REPO = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def swagger() -> dict[str, Any]:
    """The digest of the description: ``routes`` (path -> verb -> 200 model) and ``definitions``."""
    return description_digest()


def test_the_committed_digest_matches_the_official_description(tmp_path: Path) -> None:
    """With the description beside the repository, the digest must be regenerated from it unchanged;
    without it (a clean clone), the committed digest is what the conformance tests use."""
    digest = description_digest()
    assert digest["routes"] and digest["definitions"] and len(digest["source_sha256"]) == 64
    if not SWAGGER_PATH.exists():
        return
    assert hashlib.sha256(SWAGGER_PATH.read_bytes()).hexdigest() == digest["source_sha256"], (
        f"the description changed: run scripts/gen_description_digest.py to refresh {DIGEST_PATH}"
    )
    out = tmp_path / "digest.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "gen_description_digest.py"),
            str(SWAGGER_PATH),
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    assert out.read_text(encoding="utf-8") == DIGEST_PATH.read_text(encoding="utf-8")


def _convert(node: dict[str, Any]) -> dict[str, Any]:
    """One Swagger 2 schema object as JSON Schema (draft 7)."""
    if "$ref" in node:
        return {"$ref": node["$ref"]}
    if node.get("type") == "object" and not node.get("properties"):
        return {}  # .NET ``object``: anything
    out: dict[str, Any] = {}
    if "type" in node:
        out["type"] = [node["type"], "null"]
    if "enum" in node:
        out["enum"] = [*node["enum"], None]
    if "items" in node:
        out["items"] = _convert(node["items"])
    if node.get("properties"):
        out["properties"] = {name: _convert(prop) for name, prop in node["properties"].items()}
        out["additionalProperties"] = False
    return out


@lru_cache(maxsize=1)
def definitions() -> dict[str, Any]:
    return {name: _convert(schema) for name, schema in swagger()["definitions"].items()}


def validate(method: str, url: str, response: httpx.Response) -> None:
    assert response.status_code == 200, f"{method} {url}: {response.status_code} {response.text}"
    parts = [p for p in httpx.URL(url).path.split("/") if p][2:]
    match = route_table().match(parts)
    assert match is not None, url
    ref = swagger()["routes"]["/V1.0" + match.template][method.upper()]
    assert ref, f"{method} {match.template}: no response model in the digest"
    errors = sorted(validator(ref).iter_errors(response.json()), key=str)
    assert not errors, f"{method} {url}: {errors[0].message} at {list(errors[0].absolute_path)}"


@cache
def validator(ref: str) -> jsonschema.Draft7Validator:
    """One compiled validator per response model (checking the 800-definition schema each time is slow)."""
    return jsonschema.Draft7Validator({"$ref": ref, "definitions": definitions()})


def test_spec_json_matches_the_official_description() -> None:
    """The generated field lists are exactly the description's models (regenerate if this fails)."""
    for entity, edef in entity_defs().items():
        props = set(swagger()["definitions"][edef.model]["properties"]) - {"soapParentPropertyId"}
        assert set(edef.fields) == props, entity
    templates = {"/V1.0" + r.template for r in _all_routes()}
    assert templates == {p for p in swagger()["routes"] if p.startswith("/V1.0/")}
    for route in _all_routes():
        wanted = {v for v in swagger()["routes"]["/V1.0" + route.template]}
        assert {v.upper() for v in route.verbs} == wanted, route.template


def _all_routes() -> list[Any]:
    from psabridge.emulator.routes import RouteMatch

    out: list[RouteMatch] = []
    for bucket in route_table()._index.values():
        for segs, verbs, entity, template in bucket:
            out.append(RouteMatch(template, verbs, entity, segs, {}))
    return out


def test_every_route_answers_with_a_body_of_its_model(api: httpx.Client, emulator: Any) -> None:
    calls: list[tuple[str, str, Any]] = []

    def call(method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        response = api.request(method, path, json=body, params=params or None)
        calls.append((method, str(response.request.url), body))
        validate(method, str(response.request.url), response)
        return response

    recurring = picklist_value(api, "Contracts", "contractType", "Recurring Service")
    company = call("POST", "/Companies", COMPANY).json()["itemId"]
    call("PATCH", "/Companies", {"id": company, "city": "Berlin"})
    call("PUT", "/Companies", {"id": company, **COMPANY})
    contact = call(
        "POST", f"/Companies/{company}/Contacts", {"firstName": "A", "lastName": "B", "isActive": 1}
    ).json()["itemId"]
    call("PATCH", f"/Companies/{company}/Contacts", {"id": contact, "title": "CEO"})
    contract = call(
        "POST",
        "/Contracts",
        contract_body(
            company_id=company, contract_type=recurring, setupFee=100, setupFeeBillingCodeID=29682806
        ),
    ).json()["itemId"]
    call("PATCH", "/Contracts", {"id": contract, "purchaseOrderNumber": "PO-1"})
    service = call(
        "POST",
        "/Services",
        {"name": "Svc", "unitPrice": 10, "periodType": 2, "billingCodeID": 29682810, "externalID": "P-1"},
    ).json()["itemId"]
    call("PATCH", "/Services", {"id": service, "sku": "SKU-1"})
    product = call(
        "POST",
        "/Products",
        {"name": "Prod", "isActive": True, "productBillingCodeID": 29682803, "isSerialized": False},
    ).json()["itemId"]
    call("POST", f"/Products/{product}/Vendors", {"vendorID": 174, "isActive": True, "isDefault": True})
    call("POST", f"/Contracts/{contract}/Services", {"serviceID": service, "unitPrice": 10})
    call(
        "POST",
        "/ContractServiceAdjustments",
        {
            "contractID": contract,
            "serviceID": service,
            "effectiveDate": "2026-03-01T00:00:00",
            "unitChange": 2,
        },
    )
    call(
        "POST",
        f"/Contracts/{contract}/ServiceAdjustments",
        {"serviceID": 310, "effectiveDate": "2026-04-01T00:00:00", "unitChange": 1},
    )
    charge = call(
        "POST",
        f"/Contracts/{contract}/Charges",
        {
            "name": "Setup",
            "datePurchased": "2026-01-01",
            "chargeType": 1,
            "unitQuantity": 1,
            "productID": 212,
        },
    ).json()["itemId"]
    call("PATCH", f"/Contracts/{contract}/Charges", {"id": charge, "unitPrice": 5})
    all_ = {"filter": [{"op": "exist", "field": "id"}]}
    for entity in entity_defs():
        if entity == "ContractServiceAdjustments":
            continue
        items = call("POST", f"/{entity}/query", all_).json()["items"]
        assert items, entity
        call("GET", f"/{entity}/query", search=json.dumps(all_))
        call("POST", f"/{entity}/query/count", all_)
        call("GET", f"/{entity}/{items[-1]['id']}")
    for entity in entity_defs():
        for suffix in ("", "/fields", "/userDefinedFields"):
            call("GET", f"/{entity}/entityInformation{suffix}")
    for path in (
        f"/Companies/{company}/Contacts",
        f"/Contracts/{contract}/Services",
        f"/Contracts/{contract}/Charges",
        f"/Products/{product}/Vendors",
        f"/Contracts/{contract}/ServiceUnits",
        f"/Contracts/{contract}/Services/entityInformation/fields",
    ):
        call("GET", path)
    call("GET", "/ThresholdInformation")
    call("GET", "/ZoneInformation", user=emulator.credentials.username)
    call("DELETE", f"/Contracts/{contract}/Charges/{charge}")
    call("DELETE", f"/Companies/{company}/Contacts/{contact}")
    assert len(calls) > 80
