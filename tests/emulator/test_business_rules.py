"""Recurring-service contracts, contract services, adjustments and ContractServiceUnits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.emulator.conftest import picklist_value
from tests.emulator.test_writes import contract_body


@pytest.fixture()
def recurring(api: httpx.Client) -> int:
    """A Recurring Service contract (monthly periods) for 2026."""
    contract_type = picklist_value(api, "Contracts", "contractType", "Recurring Service")
    monthly = picklist_value(api, "Contracts", "contractPeriodType", "Monthly")
    response = api.post("/Contracts", json=contract_body(contract_type=contract_type, period_type=monthly))
    assert response.status_code == 200, response.text
    return int(response.json()["itemId"])


def units(api: httpx.Client, contract_service_id: int) -> list[tuple[str, str, int, float]]:
    body = {"filter": [{"op": "eq", "field": "contractServiceID", "value": contract_service_id}]}
    items = api.post("/ContractServiceUnits/query", json=body).json()["items"]
    return [
        (i["startDate"][:10], i["endDate"][:10], i["units"], i["price"])
        for i in sorted(items, key=lambda i: i["startDate"])
    ]


def adjust(api: httpx.Client, contract_id: int, **fields: Any) -> httpx.Response:
    return api.post("/ContractServiceAdjustments", json={"contractID": contract_id, **fields})


def add_service(api: httpx.Client, contract_id: int, **fields: Any) -> int:
    response = api.post(
        f"/Contracts/{contract_id}/Services", json={"serviceID": 310, "unitPrice": 45, **fields}
    )
    assert response.status_code == 200, response.text
    return int(response.json()["itemId"])


def test_contract_services_only_on_recurring_service_contracts(api: httpx.Client) -> None:
    # seeded contract 500 is Time and Materials
    response = api.post("/Contracts/500/Services", json={"serviceID": 310, "unitPrice": 45})
    assert response.status_code == 500
    assert "Recurring Service" in response.json()["errors"][0]
    adjustment = adjust(api, 500, serviceID=310, effectiveDate="2026-02-01T00:00:00", unitChange=1)
    assert adjustment.status_code == 500


def test_a_new_contract_service_has_no_units_until_an_adjustment(api: httpx.Client, recurring: int) -> None:
    cs_id = add_service(api, recurring)
    assert units(api, cs_id) == []  # 0 units, no ContractServiceUnits rows
    assert (
        adjust(api, recurring, contractServiceID=cs_id, effectiveDate="2026-01-01", unitChange=3).status_code
        == 200
    )
    rows = units(api, cs_id)
    assert rows[0] == ("2026-01-01", "2026-01-31", 3, 45.0) and len(rows) == 12
    assert adjust(
        api,
        recurring,
        contractServiceID=cs_id,
        effectiveDate="2026-03-15T00:00:00",
        unitChange=2,
        adjustedUnitPrice=40,
    ).is_success
    rows = units(api, cs_id)
    assert rows[1] == ("2026-02-01", "2026-02-28", 3, 45.0)
    assert rows[2] == ("2026-03-01", "2026-03-14", 3, 45.0)
    assert rows[3] == ("2026-03-15", "2026-03-31", 5, 40.0)
    assert rows[4] == ("2026-04-01", "2026-04-30", 5, 40.0)
    assert api.get(f"/ContractServices/{cs_id}").json()["item"]["unitPrice"] == 40


def test_unit_quantity_is_not_a_contract_service_field(
    api: httpx.Client, recurring: int, emulator: Any
) -> None:
    refused = api.post(f"/Contracts/{recurring}/Services", json={"serviceID": 310, "unitQuantity": 3})
    assert refused.status_code == 500
    assert refused.json() == {"errors": ["Unable to find unitQuantity in the ContractService Entity."]}
    emulator.control.set_rules(refuse_unknown_fields=False)  # the lenient reading: ignored, still 0 units
    cs_id = api.post(f"/Contracts/{recurring}/Services", json={"serviceID": 310, "unitQuantity": 3}).json()[
        "itemId"
    ]
    assert units(api, cs_id) == []
    # without unitPrice the contract service takes the service's price
    assert api.get(f"/ContractServices/{cs_id}").json()["item"]["unitPrice"] == 45.0


def test_contract_service_update_changes_only_price_and_invoice_description(
    api: httpx.Client, recurring: int, emulator: Any
) -> None:
    cs_id = add_service(api, recurring, internalDescription="PSB1-U-7", unitCost=10)
    path = f"/Contracts/{recurring}/Services"
    assert api.get(f"/ContractServices/{cs_id}").json()["item"]["internalDescription"] == "PSB1-U-7"
    assert (
        api.patch(path, json={"id": cs_id, "unitPrice": 50, "invoiceDescription": "Seats"}).status_code == 200
    )
    item = api.get(f"/ContractServices/{cs_id}").json()["item"]
    assert item["unitPrice"] == 50 and item["invoiceDescription"] == "Seats"
    for field, value in (("internalDescription", "PSB1-U-8"), ("unitCost", 11), ("quoteItemID", 4)):
        refused = api.patch(path, json={"id": cs_id, field: value})
        assert refused.status_code == 500, field
        assert field in refused.json()["errors"][0]
    # the stored value sent back is harmless; a PUT keeps what it cannot change
    assert (
        api.patch(path, json={"id": cs_id, "internalDescription": "PSB1-U-7", "unitCost": 10}).status_code
        == 200
    )
    assert api.put(path, json={"id": cs_id, "serviceID": 310, "unitPrice": 55}).status_code == 200
    item = api.get(f"/ContractServices/{cs_id}").json()["item"]
    assert item["internalDescription"] == "PSB1-U-7" and item["unitPrice"] == 55 and item["unitCost"] == 10
    assert api.patch(path, json={"id": cs_id, "serviceID": 311}).status_code == 500  # never changes
    emulator.control.set_rules(contract_service_update_limited=False)
    assert api.patch(path, json={"id": cs_id, "internalDescription": "PSB1-U-8"}).status_code == 200
    assert api.get(f"/ContractServices/{cs_id}").json()["item"]["internalDescription"] == "PSB1-U-8"


def test_a_second_contract_service_of_the_same_service_is_refused(
    api: httpx.Client, recurring: int, emulator: Any
) -> None:
    add_service(api, recurring)
    again = api.post(f"/Contracts/{recurring}/Services", json={"serviceID": 310, "unitPrice": 45})
    assert again.status_code == 500 and "already on contract" in again.json()["errors"][0]
    emulator.control.set_rules(refuse_duplicate_contract_service=False)
    add_service(api, recurring)
    assert len(api.get(f"/Contracts/{recurring}/Services").json()["items"]) == 2


def test_adjustment_for_a_missing_service_creates_the_contract_service(
    api: httpx.Client, recurring: int, emulator: Any
) -> None:
    response = api.post(
        f"/Contracts/{recurring}/ServiceAdjustments",
        json={
            "serviceID": 310,
            "effectiveDate": "2026-06-01T00:00:00Z",
            "unitChange": 7,
            "adjustedUnitPrice": 42.5,
        },
    )
    assert response.status_code == 200, response.text
    services = api.get(f"/Contracts/{recurring}/Services").json()["items"]
    assert len(services) == 1 and services[0]["serviceID"] == 310 and services[0]["unitPrice"] == 42.5
    rows = units(api, services[0]["id"])
    assert rows[0] == ("2026-06-01", "2026-06-30", 7, 42.5) and len(rows) == 7
    # the adjustment is kept (control API) but cannot be read back through Autotask's API
    adjustments = emulator.control.state()["entities"]["ContractServiceAdjustments"]
    assert adjustments[-1]["unitChange"] == 7 and adjustments[-1]["contractServiceID"] == services[0]["id"]
    assert api.get(f"/ContractServiceAdjustments/{response.json()['itemId']}").status_code == 404


def test_allow_repeat_service_gives_a_repeat_its_own_units(api: httpx.Client, recurring: int) -> None:
    first = add_service(api, recurring)
    assert adjust(api, recurring, serviceID=310, effectiveDate="2026-01-01", unitChange=3).is_success
    repeat = adjust(
        api, recurring, serviceID=310, effectiveDate="2026-01-01", unitChange=2, allowRepeatService=True
    )
    assert repeat.status_code == 200, repeat.text
    services = api.get(f"/Contracts/{recurring}/Services").json()["items"]
    assert [s["serviceID"] for s in services] == [310, 310]
    second = services[1]["id"]
    assert second > first
    assert units(api, first)[0][2] == 3 and units(api, second)[0][2] == 2
    # contractServiceID adjusts that one; serviceID alone adjusts the lowest id
    assert adjust(
        api, recurring, contractServiceID=second, effectiveDate="2026-02-01", unitChange=4
    ).is_success
    assert adjust(api, recurring, serviceID=310, effectiveDate="2026-03-01", unitChange=1).is_success
    assert [r[2] for r in units(api, second)[:3]] == [2, 6, 6]
    assert [r[2] for r in units(api, first)[:3]] == [3, 3, 4]
    mismatch = adjust(
        api, recurring, contractServiceID=second, serviceID=999, effectiveDate="2026-04-01", unitChange=1
    )
    assert mismatch.status_code == 500


def test_two_adjustments_same_service_and_date_are_refused(
    api: httpx.Client, recurring: int, emulator: Any
) -> None:
    body = {"serviceID": 310, "effectiveDate": "2026-02-01T00:00:00", "unitChange": 2}
    assert adjust(api, recurring, **body).status_code == 200
    assert adjust(api, recurring, **{**body, "effectiveDate": "2026-05-01T00:00:00"}).status_code == 200
    # the same calendar date, whatever the time part
    again = adjust(api, recurring, **{**body, "unitChange": 1, "effectiveDate": "2026-02-01T18:00:00"})
    assert again.status_code == 500 and "already exists" in again.json()["errors"][0]
    emulator.control.set_rules(one_adjustment_per_service_date=False)
    assert adjust(api, recurring, **{**body, "unitChange": 1}).status_code == 200
    cs_id = api.get(f"/Contracts/{recurring}/Services").json()["items"][0]["id"]
    assert units(api, cs_id)[0] == ("2026-02-01", "2026-02-28", 3, 45.0)


def test_adjustments_are_validated(api: httpx.Client, recurring: int, emulator: Any) -> None:
    base = {"serviceID": 310, "effectiveDate": "2026-02-01T00:00:00", "unitChange": 2}
    outside = adjust(api, recurring, **{**base, "effectiveDate": "2027-02-01T00:00:00"})
    assert outside.status_code == 500 and "within the contract" in outside.json()["errors"][0]
    assert adjust(api, recurring, **{**base, "effectiveDate": "2025-12-31T00:00:00"}).status_code == 500
    assert adjust(api, recurring, **{**base, "unitChange": -1}).status_code == 500
    assert (
        adjust(api, recurring, **{k: v for k, v in base.items() if k != "effectiveDate"}).status_code == 500
    )
    assert adjust(api, recurring, **{k: v for k, v in base.items() if k != "serviceID"}).status_code == 500
    assert adjust(api, recurring, **base).status_code == 200
    negative = adjust(api, recurring, **{**base, "effectiveDate": "2026-03-01T00:00:00", "unitChange": -3})
    assert negative.status_code == 500 and "negative" in negative.json()["errors"][0]
    down = adjust(api, recurring, **{**base, "effectiveDate": "2026-03-01T00:00:00", "unitChange": -2})
    assert down.status_code == 200
    emulator.control.set_rules(effective_date_within_contract=False)
    assert adjust(api, recurring, **{**base, "effectiveDate": "2027-02-01T00:00:00"}).status_code == 200


def test_units_follow_the_contract_period_type_not_the_service(api: httpx.Client) -> None:
    recurring = picklist_value(api, "Contracts", "contractType", "Recurring Service")
    quarterly = picklist_value(api, "Contracts", "contractPeriodType", "Quarterly")
    contract = api.post("/Contracts", json=contract_body(contract_type=recurring, period_type=quarterly))
    assert contract.status_code == 200, contract.text
    monthly_service = picklist_value(api, "Services", "periodType", "Monthly")
    assert api.get("/Services/310").json()["item"]["periodType"] == monthly_service
    cid = contract.json()["itemId"]
    assert adjust(api, cid, serviceID=310, effectiveDate="2026-01-01T00:00:00", unitChange=1).is_success
    assert adjust(api, cid, serviceID=310, effectiveDate="2026-05-10T00:00:00", unitChange=2).is_success
    cs = api.get(f"/Contracts/{cid}/Services").json()["items"][0]
    assert [r[:3] for r in units(api, cs["id"])] == [
        ("2026-01-01", "2026-03-31", 1),
        ("2026-04-01", "2026-05-09", 1),
        ("2026-05-10", "2026-06-30", 3),
        ("2026-07-01", "2026-09-30", 3),
        ("2026-10-01", "2026-12-31", 3),
    ]


def test_unit_rows_start_at_the_first_adjustment(api: httpx.Client, recurring: int) -> None:
    cs_id = add_service(api, recurring)
    assert adjust(
        api, recurring, contractServiceID=cs_id, effectiveDate="2026-10-20", unitChange=5
    ).is_success
    assert units(api, cs_id) == [
        ("2026-10-20", "2026-10-31", 5, 45.0),
        ("2026-11-01", "2026-11-30", 5, 45.0),
        ("2026-12-01", "2026-12-31", 5, 45.0),
    ]
    rows = api.get(f"/Contracts/{recurring}/ServiceUnits").json()["items"]
    assert rows[0]["startDate"] == "2026-10-20T00:00:00Z" and rows[0]["endDate"] == "2026-10-31T00:00:00Z"


def test_contract_service_units_are_read_only(api: httpx.Client) -> None:
    assert api.post("/ContractServiceUnits", json={}).status_code == 404
    assert api.get("/Contracts/500/ServiceUnits").status_code == 200


def test_units_follow_contract_date_changes(api: httpx.Client, recurring: int) -> None:
    cs_id = add_service(api, recurring)
    assert adjust(
        api, recurring, contractServiceID=cs_id, effectiveDate="2026-01-01", unitChange=2
    ).is_success
    assert len(units(api, cs_id)) == 12
    assert (
        api.patch("/Contracts", json={"id": recurring, "endDate": "2026-06-30T00:00:00"}).status_code == 200
    )
    rows = units(api, cs_id)
    assert len(rows) == 6 and rows[-1][1] == "2026-06-30"
