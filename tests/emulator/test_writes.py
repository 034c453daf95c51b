"""Create / PATCH / PUT / DELETE semantics, validation errors and metadata, over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.emulator.conftest import picklist_value

COMPANY = {"companyName": "Acme", "companyType": 1, "phone": "555 0100", "ownerResourceID": 29682885}


def contract_body(
    company_id: int = 180, contract_type: int = 7, period_type: int | None = 2, **extra: Any
) -> dict[str, Any]:
    """A contract create body; a Recurring Service contract (type 7) gets ``contractPeriodType``
    ``period_type`` (2 = Monthly in the seeded tenant) unless it is None."""
    body = {
        "companyID": company_id,
        "contractName": "Acme recurring",
        "contractType": contract_type,
        "startDate": "2026-01-01T00:00:00",
        "endDate": "2026-12-31T00:00:00",
        "status": 1,
        "timeReportingRequiresStartAndStopTimes": 0,
    }
    if contract_type == 7 and period_type is not None:
        body["contractPeriodType"] = period_type
    return {**body, **extra}


def test_create_returns_item_id_and_the_record_reads_back(api: httpx.Client) -> None:
    response = api.post("/Companies", json=COMPANY)
    assert response.status_code == 200
    new_id = response.json()["itemId"]
    item = api.get(f"/Companies/{new_id}").json()["item"]
    assert item["companyName"] == "Acme" and item["isActive"] is True
    assert item["createDate"].endswith("Z") and item["createdByResourceID"] == 29682889


def test_required_fields_are_reported_like_autotask(api: httpx.Client) -> None:
    response = api.post("/Companies", json={"companyName": "No type"})
    assert response.status_code == 500
    errors = response.json()["errors"]
    assert any("companyType" in e for e in errors) and any("ownerResourceID" in e for e in errors)
    assert any("phone" in e for e in errors)


def test_picklist_and_reference_validation(api: httpx.Client) -> None:
    bad_pick = api.post("/Companies", json={**COMPANY, "companyType": 5})
    assert bad_pick.status_code == 500 and "companyType" in bad_pick.json()["errors"][0]
    bad_ref = api.post("/Companies", json={**COMPANY, "ownerResourceID": 1})
    assert bad_ref.status_code == 500 and "ownerResourceID" in bad_ref.json()["errors"][0]
    inactive_owner = api.post("/Companies", json={**COMPANY, "ownerResourceID": 29682888})
    assert inactive_owner.status_code == 500
    service_with_material_code = api.post(
        "/Services", json={"name": "S", "unitPrice": 1, "periodType": 2, "billingCodeID": 29682803}
    )
    assert service_with_material_code.status_code == 500
    assert api.post("/Contracts", json=contract_body(company_id=424242)).status_code == 500


def test_wrong_types_and_bad_json_answer_500_not_crash(api: httpx.Client) -> None:
    for body in (
        {**COMPANY, "companyType": "Customer"},
        {**COMPANY, "isActive": "maybe"},
        {**COMPANY, "phone": {"a": 1}},
    ):
        response = api.post("/Companies", json=body)
        assert response.status_code == 500 and response.json()["errors"], body
    for raw in (b"{", b"[1,2]", b"null", b""):
        response = api.post("/Companies", content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 500 and response.json()["errors"]
    contract = api.post("/Contracts", json=contract_body(startDate="31/01/2026"))
    assert contract.status_code == 500
    assert api.get("/Companies/0").status_code == 200  # still alive


def test_patch_changes_only_the_fields_sent(api: httpx.Client) -> None:
    new_id = api.post("/Companies", json={**COMPANY, "city": "Berlin"}).json()["itemId"]
    response = api.patch("/Companies", json={"id": new_id, "phone": "999"})
    assert response.status_code == 200 and response.json() == {"itemId": new_id}
    item = api.get(f"/Companies/{new_id}").json()["item"]
    assert item["phone"] == "999" and item["city"] == "Berlin" and item["companyName"] == "Acme"
    assert api.patch("/Companies", json={"phone": "1"}).status_code == 500  # id required
    assert api.patch("/Companies", json={"id": 987654, "phone": "1"}).status_code == 500
    assert api.patch("/Companies", json={"id": new_id, "companyName": None}).status_code == 500  # required


def test_put_replaces_and_omitted_fields_become_null(api: httpx.Client) -> None:
    new_id = api.post("/Companies", json={**COMPANY, "city": "Berlin"}).json()["itemId"]
    response = api.put("/Companies", json={"id": new_id, **COMPANY, "companyName": "Acme 2"})
    assert response.status_code == 200
    item = api.get(f"/Companies/{new_id}").json()["item"]
    assert item["companyName"] == "Acme 2" and item["city"] is None
    assert api.put("/Companies", json={"id": new_id, "companyName": "only"}).status_code == 500


def test_contract_type_company_and_period_type_cannot_change(api: httpx.Client) -> None:
    cid = api.post("/Contracts", json=contract_body()).json()["itemId"]
    assert api.patch("/Contracts", json={"id": cid, "contractType": 1}).status_code == 500
    assert api.patch("/Contracts", json={"id": cid, "companyID": 181}).status_code == 500
    quarterly = picklist_value(api, "Contracts", "contractPeriodType", "Quarterly")
    refused = api.patch("/Contracts", json={"id": cid, "contractPeriodType": quarterly})
    assert refused.status_code == 500 and "contractPeriodType" in refused.json()["errors"][0]
    assert api.patch("/Contracts", json={"id": cid, "contractPeriodType": 2}).status_code == 200  # same
    assert (
        api.patch("/Contracts", json={"id": cid, "companyID": 180, "contractName": "Renamed"}).status_code
        == 200
    )
    assert api.get(f"/Contracts/{cid}").json()["item"]["contractName"] == "Renamed"
    assert api.post("/Contracts", json=contract_body(endDate="2025-01-01T00:00:00")).status_code == 500


def test_child_routes_write_under_their_parent(api: httpx.Client) -> None:
    response = api.post(
        "/Companies/180/Contacts", json={"firstName": "Kim", "lastName": "Lee", "isActive": 1}
    )
    assert response.status_code == 200
    contact_id = response.json()["itemId"]
    assert api.get(f"/Contacts/{contact_id}").json()["item"]["companyID"] == 180
    mismatch = api.post(
        "/Companies/180/Contacts", json={"companyID": 181, "firstName": "A", "lastName": "B", "isActive": 1}
    )
    assert mismatch.status_code == 500
    assert (
        api.post(
            "/Companies/424242/Contacts", json={"firstName": "A", "lastName": "B", "isActive": 1}
        ).status_code
        == 500
    )
    patched = api.patch("/Companies/180/Contacts", json={"id": contact_id, "title": "CFO"})
    assert patched.status_code == 200
    assert api.get(f"/Contacts/{contact_id}").json()["item"]["title"] == "CFO"


def test_deletes_only_where_autotask_allows_them(api: httpx.Client, emulator: Any) -> None:
    contact_id = api.post(
        "/Companies/180/Contacts", json={"firstName": "K", "lastName": "L", "isActive": 1}
    ).json()["itemId"]
    assert api.delete(f"/Companies/181/Contacts/{contact_id}").status_code == 500  # wrong parent
    assert api.delete(f"/Companies/180/Contacts/{contact_id}").status_code == 200
    assert api.get(f"/Contacts/{contact_id}").json() == {"item": None}
    cid = api.post("/Contracts", json=contract_body()).json()["itemId"]
    operational = picklist_value(api, "ContractCharges", "chargeType", "Operational")
    charge = {
        "name": "Setup",
        "datePurchased": "2026-01-01T00:00:00",
        "chargeType": operational,
        "unitQuantity": 1,
        "unitPrice": 100,
        "billingCodeID": 29682806,
    }
    charge_id = api.post(f"/Contracts/{cid}/Charges", json=charge).json()["itemId"]
    item = api.get(f"/ContractCharges/{charge_id}").json()["item"]
    assert item["billableAmount"] == 100 and item["isBilled"] is False
    emulator.tenant.state["records"]["ContractCharges"][charge_id]["isBilled"] = True
    assert api.delete(f"/Contracts/{cid}/Charges/{charge_id}").status_code == 500  # billed
    emulator.tenant.state["records"]["ContractCharges"][charge_id]["isBilled"] = False
    assert api.delete(f"/Contracts/{cid}/Charges/{charge_id}").status_code == 200
    assert api.delete("/Contracts/1").status_code == 405


def test_id_in_a_create_body_is_ignored(api: httpx.Client) -> None:
    for sent in (0, 5):  # Autotask's own examples send "id": 0 on create
        new_id = api.post("/Companies", json={**COMPANY, "id": sent}).json()["itemId"]
        assert new_id not in (0, 5)
        assert api.get(f"/Companies/{new_id}").json()["item"]["companyName"] == "Acme"


def test_picklist_metadata_shape(api: httpx.Client) -> None:
    fields = {f["name"]: f for f in api.get("/Contracts/entityInformation/fields").json()["fields"]}
    contract_type = fields["contractType"]
    assert contract_type["isPickList"] and contract_type["isRequired"]
    labels = {v["label"]: v for v in contract_type["picklistValues"]}
    assert "Recurring Service" in labels
    value = labels["Recurring Service"]
    assert isinstance(value["value"], str) and set(value) >= {
        "value",
        "label",
        "isActive",
        "isDefaultValue",
        "sortOrder",
        "parentValue",
    }
    assert fields["companyID"]["isReference"] and fields["companyID"]["referenceEntityType"] == "Company"
    period_labels = {
        v["label"]
        for f in api.get("/Services/entityInformation/fields").json()["fields"]
        if f["name"] == "periodType"
        for v in f["picklistValues"]
    }
    assert period_labels == {"Monthly", "Quarterly", "Semi-Annual", "Yearly"}
    company_types = {
        v["label"]
        for f in api.get("/Companies/entityInformation/fields").json()["fields"]
        if f["name"] == "companyType"
        for v in f["picklistValues"]
    }
    assert {"Customer", "Vendor"} <= company_types


def test_entity_information_and_udfs(api: httpx.Client) -> None:
    info = api.get("/ContractServiceAdjustments/entityInformation").json()["info"]
    assert info["canCreate"] and not info["canQuery"] and not info["canUpdate"] and not info["canDelete"]
    charges = api.get("/ContractCharges/entityInformation").json()["info"]
    assert charges["canDelete"] and charges["canCreate"] and charges["canQuery"]
    udfs = api.get("/Companies/entityInformation/userDefinedFields").json()["fields"]
    assert "Billing Account ID" in {u["name"] for u in udfs}
    assert (
        api.post(
            "/Companies", json={**COMPANY, "userDefinedFields": [{"name": "Nope", "value": "1"}]}
        ).status_code
        == 500
    )


def test_seeded_tenant(api: httpx.Client) -> None:
    all_ = [{"op": "exist", "field": "id"}]
    resources = api.post(
        "/Resources/query", json={"filter": [{"op": "eq", "field": "isActive", "value": True}]}
    ).json()["items"]
    assert len(resources) >= 3 and all("@" in r["email"] for r in resources)
    vendor = picklist_value(api, "Companies", "companyType", "Vendor")
    vendors = {
        c["companyName"]
        for c in api.post(
            "/Companies/query", json={"filter": [{"op": "eq", "field": "companyType", "value": vendor}]}
        ).json()["items"]
    }
    assert {"Microsoft", "Datto"} <= vendors
    material = picklist_value(api, "BillingCodes", "useType", "Material")
    recurring = picklist_value(api, "BillingCodes", "useType", "Recurring Contract Service")
    codes = api.post("/BillingCodes/query", json={"filter": all_}).json()["items"]
    assert {material, recurring} <= {c["useType"] for c in codes}
    products = {p["name"] for p in api.post("/Products/query", json={"filter": all_}).json()["items"]}
    assert any("Refund" in p for p in products)


def test_secrets_never_come_back(api: httpx.Client, emulator: Any) -> None:
    secret = emulator.credentials.secret
    for path in ("/Resources/29682889", "/ThresholdInformation", "/Resources/entityInformation/fields"):
        assert secret not in api.get(path).text
    assert secret not in httpx.get(f"{emulator.base_url}/_emulator/state").text


def test_inactive_picklist_values_are_listed_but_refused(api: httpx.Client) -> None:
    fields = api.get("/Companies/entityInformation/fields").json()["fields"]
    values = {v["label"]: v for f in fields if f["name"] == "companyType" for v in f["picklistValues"]}
    former = values["Former Customer"]
    assert former["isActive"] is False and values["Customer"]["isDefaultValue"] is True
    response = api.post("/Companies", json={**COMPANY, "companyType": int(former["value"])})
    assert response.status_code == 500


def test_impersonation_header(api: httpx.Client) -> None:
    new_id = api.post("/Companies", json=COMPANY, headers={"ImpersonationResourceId": "29682886"}).json()[
        "itemId"
    ]
    item = api.get(f"/Companies/{new_id}").json()["item"]
    assert item["createdByResourceID"] == 29682886 and item["impersonatorCreatorResourceID"] == 29682889
    inactive = api.post("/Companies", json=COMPANY, headers={"ImpersonationResourceId": "29682888"})
    assert inactive.status_code == 500
    assert api.get("/Companies/0", headers={"ImpersonationResourceId": "abc"}).status_code == 500


def test_sample_data_owners_exist_as_resources(api: httpx.Client) -> None:
    body = {
        "filter": [
            {
                "op": "in",
                "field": "email",
                "value": [
                    "alex.morgan@msp.example.com",
                    "jordan.reyes@msp.example.com",
                    "sam.chen@msp.example.com",
                ],
            }
        ]
    }
    assert len(api.post("/Resources/query", json=body).json()["items"]) == 3


def test_emulator_readings_of_contract_product_contact_and_charge_rules(api: httpx.Client) -> None:
    """Rules without public evidence the emulator keeps as its own strict reading (fidelity doc)."""
    no_code = api.post("/Contracts", json=contract_body(setupFee=100))
    assert no_code.status_code == 500 and "setupFeeBillingCodeID" in no_code.json()["errors"][0]
    with_recurring_code = api.post(
        "/Products",
        json={"name": "P", "isActive": True, "productBillingCodeID": 29682810, "isSerialized": False},
    )
    assert with_recurring_code.status_code == 500 and "Material" in with_recurring_code.json()["errors"][0]
    contact = api.post(
        "/Companies/180/Contacts", json={"firstName": "K", "lastName": "L", "isActive": 1}
    ).json()["itemId"]
    assert api.post("/Contracts", json=contract_body(contactID=contact)).status_code == 200
    assert api.delete(f"/Companies/180/Contacts/{contact}").status_code == 500  # a contract names it
    other = api.post("/Contracts", json=contract_body()).json()["itemId"]
    cs_id = api.post(f"/Contracts/{other}/Services", json={"serviceID": 310}).json()["itemId"]
    foreign = api.post(
        "/Contracts/500/Charges",
        json={
            "name": "X",
            "datePurchased": "2026-01-01",
            "chargeType": 1,
            "unitQuantity": 1,
            "billingCodeID": 29682806,
            "contractServiceID": cs_id,
        },
    )
    assert foreign.status_code == 500 and "contractServiceID" in foreign.json()["errors"][0]
    # a new default vendor of a product clears the old default (seeded: 400 = Microsoft for product 210)
    assert api.post(
        "/Products/210/Vendors", json={"vendorID": 175, "isActive": True, "isDefault": True}
    ).is_success
    assert api.get("/ProductVendors/400").json()["item"]["isDefault"] is False
