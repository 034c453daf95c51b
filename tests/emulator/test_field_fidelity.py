"""Field-level rules of docs/autotask-fidelity.md: unknown, read-only and null body fields, string lengths,
date-only fields and date rendering, booleans, Recurring Service contracts and contract charges."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from psabridge.emulator.schema import DEFAULT_STRING_LENGTH, FIELD_LENGTHS
from tests.emulator.conftest import picklist_value
from tests.emulator.test_writes import COMPANY, contract_body

ISO_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$"


def _charge(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Setup",
        "datePurchased": "2026-01-15T00:00:00",
        "chargeType": 1,
        "unitQuantity": 1,
        "unitPrice": 100,
        "billingCodeID": 29682806,
        **extra,
    }


def test_unknown_body_fields_are_refused_on_create_and_update(api: httpx.Client, emulator: Any) -> None:
    response = api.post("/Companies", json={**COMPANY, "nickname": "A", "Colour": "red"})
    assert response.status_code == 500
    assert response.json() == {
        "errors": [
            "Unable to find nickname in the Company Entity.",
            "Unable to find Colour in the Company Entity.",
        ]
    }
    company = api.post("/Companies", json={**COMPANY, "CITY": "Berlin"}).json()["itemId"]  # any case
    update = api.patch("/Companies", json={"id": company, "nickname": "A"})
    assert update.json() == {"errors": ["Unable to find nickname in the Company Entity."]}
    assert api.post("/Contracts/500/Charges", json=_charge(quantity=2)).status_code == 500
    emulator.control.set_rules(refuse_unknown_fields=False)  # lenient reading: ignored
    assert api.patch("/Companies", json={"id": company, "nickname": "A", "city": "Bonn"}).status_code == 200
    assert api.get(f"/Companies/{company}").json()["item"]["city"] == "Bonn"


def test_read_only_fields_are_refused_on_create_and_when_changed(api: httpx.Client, emulator: Any) -> None:
    refused = api.post("/Companies", json={**COMPANY, "createDate": "2000-01-01T00:00:00"})
    assert refused.status_code == 500 and "createDate" in refused.json()["errors"][0]
    company = api.post("/Companies", json=COMPANY).json()["itemId"]
    stored = api.get(f"/Companies/{company}").json()["item"]
    # sending back what was read is harmless (a read-modify-write client)
    same = api.patch("/Companies", json={"id": company, "createDate": stored["createDate"], "city": "X"})
    assert same.status_code == 200
    changed = api.patch("/Companies", json={"id": company, "createDate": "2000-01-01T00:00:00Z"})
    assert changed.status_code == 500 and "read-only" in changed.json()["errors"][0]
    charge = api.post("/Contracts/500/Charges", json=_charge(isBilled=False))
    assert charge.status_code == 500 and "isBilled" in charge.json()["errors"][0]
    emulator.control.set_rules(refuse_read_only_fields=False)  # lenient reading: ignored
    assert api.patch("/Companies", json={"id": company, "createDate": "2000-01-01T00:00:00Z"}).is_success
    assert api.get(f"/Companies/{company}").json()["item"]["createDate"] == stored["createDate"]


def test_null_values_in_a_create_body_are_refused(api: httpx.Client, emulator: Any) -> None:
    response = api.post("/Companies", json={**COMPANY, "city": None})
    assert response.status_code == 500 and "city" in response.json()["errors"][0]
    company = api.post("/Companies", json={**COMPANY, "city": "Berlin"}).json()["itemId"]
    assert api.patch("/Companies", json={"id": company, "city": None}).status_code == 200  # update may clear
    assert api.get(f"/Companies/{company}").json()["item"]["city"] is None
    emulator.control.set_rules(refuse_null_on_create=False)
    assert api.post("/Companies", json={**COMPANY, "city": None}).status_code == 200


def test_field_lengths_are_served_in_field_information(api: httpx.Client) -> None:
    for entity, lengths in FIELD_LENGTHS.items():
        fields = {f["name"]: f for f in api.get(f"/{entity}/entityInformation/fields").json()["fields"]}
        for name, length in lengths.items():
            assert fields[name]["length"] == length, (entity, name)
    companies = {f["name"]: f for f in api.get("/Companies/entityInformation/fields").json()["fields"]}
    assert companies["companyName"]["length"] == 100 and companies["address1"]["length"] == 150
    assert companies["webAddress"]["length"] == DEFAULT_STRING_LENGTH  # no evidence: the default
    assert companies["ownerResourceID"]["length"] == 0  # not a string


@pytest.mark.parametrize(
    "path,body,field,limit",
    [
        ("/Companies", COMPANY, "companyName", 100),
        ("/Companies", COMPANY, "phone", 25),
        ("/Companies", COMPANY, "postalCode", 10),
        ("/Companies/180/Contacts", {"firstName": "A", "lastName": "B", "isActive": 1}, "lastName", 50),
        ("/Services", {"name": "S", "unitPrice": 1, "periodType": 2, "billingCodeID": 29682810}, "sku", 50),
        ("/Contracts/500/Charges", _charge(), "name", 100),
    ],
)
def test_too_long_strings_are_refused_with_autotasks_message(
    api: httpx.Client, path: str, body: dict[str, Any], field: str, limit: int
) -> None:
    assert api.post(path, json={**body, field: "x" * limit}).status_code == 200
    response = api.post(path, json={**body, field: "x" * (limit + 1)})
    assert response.status_code == 500
    assert response.json() == {
        "errors": [
            f"String value exceeds maximum length (field:{field}). ",
            "Error creating entity for record number [1].",
        ]
    }


def test_an_update_revalidates_the_whole_record(api: httpx.Client, emulator: Any) -> None:
    company = api.post("/Companies", json=COMPANY).json()["itemId"]
    too_long = api.patch("/Companies", json={"id": company, "city": "c" * 31})
    assert too_long.json() == {
        "errors": [
            "String value exceeds maximum length (field:city). ",
            "Error updating entity for record number [1].",
        ]
    }
    # a stored value over the limit (written before the limit shrank) blocks unrelated updates
    emulator.tenant.state["records"]["Companies"][company]["companyName"] = "n" * 101
    unrelated = api.patch("/Companies", json={"id": company, "phone": "1"})
    assert unrelated.status_code == 500
    assert unrelated.json()["errors"][0] == "String value exceeds maximum length (field:companyName). "


def test_date_only_fields_keep_the_submitted_date_without_conversion(api: httpx.Client) -> None:
    contract = api.post(
        "/Contracts",
        json=contract_body(startDate="2026-01-01T23:30:00-08:00", endDate="2026-12-31T06:00:00+09:00"),
    )
    assert contract.status_code == 200, contract.text
    item = api.get(f"/Contracts/{contract.json()['itemId']}").json()["item"]
    assert item["startDate"] == "2026-01-01T00:00:00Z" and item["endDate"] == "2026-12-31T00:00:00Z"
    adjustment = api.post(
        "/ContractServiceAdjustments",
        json={
            "contractID": contract.json()["itemId"],
            "serviceID": 310,
            "effectiveDate": "2026-10-09T02:00:00.00",  # Autotask's own example: stays 9 October
            "unitChange": 1,
        },
    )
    assert adjustment.status_code == 200
    rows = api.get(f"/Contracts/{contract.json()['itemId']}/ServiceUnits").json()["items"]
    assert rows[0]["startDate"] == "2026-10-09T00:00:00Z"
    charge = api.post("/Contracts/500/Charges", json=_charge(datePurchased="2026-03-31T23:59:59-05:00"))
    assert api.get(f"/ContractCharges/{charge.json()['itemId']}").json()["item"]["datePurchased"] == (
        "2026-03-31T00:00:00Z"
    )


def test_timestamps_are_utc_and_rendered_with_z(api: httpx.Client) -> None:
    contact = api.post(
        "/Companies/180/Contacts",
        json={
            "firstName": "T",
            "lastName": "Z",
            "isActive": 1,
            "solicitationOptOutTime": "2026-01-31T23:30:00-08:00",
            "bulkEmailOptOutTime": "2026-02-01T10:00:00.120",
        },
    )
    assert contact.status_code == 200, contact.text
    item = api.get(f"/Contacts/{contact.json()['itemId']}").json()["item"]
    assert item["solicitationOptOutTime"] == "2026-02-01T07:30:00Z"  # converted, unlike a date-only field
    assert item["bulkEmailOptOutTime"] == "2026-02-01T10:00:00.12Z"  # fractions only when non-zero
    assert re.match(ISO_Z, item["createDate"]) and ".000" not in item["createDate"]
    seeded = api.get("/Contracts/500").json()["item"]
    assert seeded["startDate"] == "2026-01-01T00:00:00Z" and seeded["lastModifiedDateTime"].endswith("Z")


def test_booleans_are_json_true_or_false_only(api: httpx.Client) -> None:
    for value in ("true", 1, 0, "1"):
        response = api.post("/Companies", json={**COMPANY, "isActive": value})
        assert response.status_code == 500, value
        query = api.post(
            "/Companies/query", json={"filter": [{"op": "eq", "field": "isActive", "value": value}]}
        )
        assert query.status_code == 500, value
    assert api.post("/Companies", json={**COMPANY, "isActive": False}).status_code == 200


def test_recurring_service_contracts_need_a_contract_period_type(api: httpx.Client) -> None:
    recurring = picklist_value(api, "Contracts", "contractType", "Recurring Service")
    response = api.post("/Contracts", json=contract_body(contract_type=recurring, period_type=None))
    assert response.status_code == 500
    assert response.json() == {
        "errors": [f"Contracts of type {recurring} (Recurring Services) require a ContractPeriodType."]
    }
    time_and_materials = picklist_value(api, "Contracts", "contractType", "Time and Materials")
    assert api.post("/Contracts", json=contract_body(contract_type=time_and_materials)).status_code == 200
    bad_period = api.post("/Contracts", json=contract_body(contract_type=recurring, period_type=99))
    assert bad_period.status_code == 500 and "contractPeriodType" in bad_period.json()["errors"][0]
    fields = {f["name"]: f for f in api.get("/Contracts/entityInformation/fields").json()["fields"]}
    assert fields["contractPeriodType"]["isPickList"] and not fields["contractPeriodType"]["isReadOnly"]


def test_contract_charges_change_only_while_unbilled(api: httpx.Client, emulator: Any) -> None:
    charge_id = api.post("/Contracts/500/Charges", json=_charge()).json()["itemId"]
    assert api.patch("/Contracts/500/Charges", json={"id": charge_id, "unitPrice": 90}).status_code == 200
    emulator.tenant.state["records"]["ContractCharges"][charge_id]["isBilled"] = True
    update = api.patch("/Contracts/500/Charges", json={"id": charge_id, "unitPrice": 80})
    assert update.status_code == 500 and "billed" in update.json()["errors"][0]
    assert api.delete(f"/Contracts/500/Charges/{charge_id}").status_code == 500
    assert api.get(f"/ContractCharges/{charge_id}").json()["item"]["unitPrice"] == 90


def test_contract_charges_need_a_product_or_billing_code_and_may_be_negative(api: httpx.Client) -> None:
    neither = api.post(
        "/Contracts/500/Charges", json={k: v for k, v in _charge().items() if k != "billingCodeID"}
    )
    assert neither.status_code == 500 and "productID or a billingCodeID" in neither.json()["errors"][0]
    refund = api.post(
        "/Contracts/500/Charges", json=_charge(productID=212, unitPrice=-25, billingCodeID=None)
    )
    assert refund.status_code == 500  # a null in a create body
    refund = api.post(
        "/Contracts/500/Charges",
        json={
            **{k: v for k, v in _charge().items() if k != "billingCodeID"},
            "productID": 212,
            "unitPrice": -25,
        },
    )
    assert refund.status_code == 200, refund.text  # negative prices: allowed (unverified)
    assert api.get(f"/ContractCharges/{refund.json()['itemId']}").json()["item"]["billableAmount"] == -25
