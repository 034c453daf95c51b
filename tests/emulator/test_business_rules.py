"""Recurring-service contracts, contract services, adjustments and ContractServiceUnits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.emulator.conftest import picklist_value
from tests.emulator.test_writes import contract_body


@pytest.fixture()
def recurring(api: httpx.Client) -> int:
    contract_type = picklist_value(api, "Contracts", "contractType", "Recurring Service")
    response = api.post("/Contracts", json=contract_body(contract_type=contract_type))
    assert response.status_code == 200, response.text
    return int(response.json()["itemId"])


def units(api: httpx.Client, contract_service_id: int) -> list[tuple[str, str, int, float]]:
    body = {"filter": [{"op": "eq", "field": "contractServiceID", "value": contract_service_id}]}
    items = api.post("/ContractServiceUnits/query", json=body).json()["items"]
    return [
        (i["startDate"][:10], i["endDate"][:10], i["units"], i["price"])
        for i in sorted(items, key=lambda i: i["startDate"])
    ]


def test_contract_services_only_on_recurring_service_contracts(api: httpx.Client) -> None:
    # seeded contract 500 is Time and Materials
    response = api.post("/Contracts/500/Services", json={"serviceID": 310, "unitPrice": 45})
    assert response.status_code == 500
    assert "Recurring Service" in response.json()["errors"][0]
    adjustment = api.post(
        "/ContractServiceAdjustments",
        json={"contractID": 500, "serviceID": 310, "effectiveDate": "2026-02-01T00:00:00", "unitChange": 1},
    )
    assert adjustment.status_code == 500


def test_units_change_only_through_adjustments(api: httpx.Client, recurring: int) -> None:
    response = api.post(
        f"/Contracts/{recurring}/Services", json={"serviceID": 310, "unitPrice": 45, "unitQuantity": 3}
    )
    assert response.status_code == 200, response.text
    cs_id = response.json()["itemId"]
    assert units(api, cs_id)[0] == ("2026-01-01", "2026-01-31", 3, 45.0)
    assert len(units(api, cs_id)) == 12  # monthly service on a one-year contract
    refused = api.patch(f"/Contracts/{recurring}/Services", json={"id": cs_id, "unitQuantity": 5})
    assert refused.status_code == 500 and "ContractServiceAdjustment" in refused.json()["errors"][0]
    ok = api.patch(f"/Contracts/{recurring}/Services", json={"id": cs_id, "internalDescription": "SUB-1"})
    assert ok.status_code == 200
    assert api.get(f"/ContractServices/{cs_id}").json()["item"]["internalDescription"] == "SUB-1"
    adj = api.post(
        "/ContractServiceAdjustments",
        json={
            "contractID": recurring,
            "contractServiceID": cs_id,
            "effectiveDate": "2026-03-15T00:00:00",
            "unitChange": 2,
            "adjustedUnitPrice": 40,
        },
    )
    assert adj.status_code == 200
    rows = units(api, cs_id)
    assert rows[1] == ("2026-02-01", "2026-02-28", 3, 45.0)
    assert rows[2] == ("2026-03-01", "2026-03-14", 3, 45.0)
    assert rows[3] == ("2026-03-15", "2026-03-31", 5, 40.0)
    assert rows[4] == ("2026-04-01", "2026-04-30", 5, 40.0)
    assert api.get(f"/ContractServices/{cs_id}").json()["item"]["unitPrice"] == 40
    # the same service twice on one contract is refused (repeat services go through adjustments)
    assert (
        api.post(f"/Contracts/{recurring}/Services", json={"serviceID": 310, "unitPrice": 45}).status_code
        == 500
    )


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
    # allowRepeatService adds a second instance instead of adjusting the first
    repeat = api.post(
        "/ContractServiceAdjustments",
        json={
            "contractID": recurring,
            "serviceID": 310,
            "effectiveDate": "2026-07-01T00:00:00",
            "unitChange": 1,
            "allowRepeatService": True,
        },
    )
    assert repeat.status_code == 200
    assert len(api.get(f"/Contracts/{recurring}/Services").json()["items"]) == 2


def test_two_adjustments_same_service_and_date_are_refused(api: httpx.Client, recurring: int) -> None:
    body = {
        "contractID": recurring,
        "serviceID": 310,
        "effectiveDate": "2026-02-01T00:00:00",
        "unitChange": 2,
    }
    assert api.post("/ContractServiceAdjustments", json=body).status_code == 200
    assert (
        api.post(
            "/ContractServiceAdjustments", json={**body, "effectiveDate": "2026-05-01T00:00:00"}
        ).status_code
        == 200
    )
    again = api.post("/ContractServiceAdjustments", json={**body, "unitChange": 1})
    assert again.status_code == 500 and "already exists" in again.json()["errors"][0]


def test_adjustments_are_validated(api: httpx.Client, recurring: int) -> None:
    base = {
        "contractID": recurring,
        "serviceID": 310,
        "effectiveDate": "2026-02-01T00:00:00",
        "unitChange": 2,
    }
    assert (
        api.post(
            "/ContractServiceAdjustments", json={**base, "effectiveDate": "2027-02-01T00:00:00"}
        ).status_code
        == 500
    )
    assert api.post("/ContractServiceAdjustments", json={**base, "unitChange": -1}).status_code == 500
    assert (
        api.post(
            "/ContractServiceAdjustments", json={k: v for k, v in base.items() if k != "effectiveDate"}
        ).status_code
        == 500
    )
    assert (
        api.post(
            "/ContractServiceAdjustments", json={k: v for k, v in base.items() if k != "serviceID"}
        ).status_code
        == 500
    )
    assert api.post("/ContractServiceAdjustments", json=base).status_code == 200
    negative = api.post(
        "/ContractServiceAdjustments", json={**base, "effectiveDate": "2026-03-01T00:00:00", "unitChange": -3}
    )
    assert negative.status_code == 500
    down = api.post(
        "/ContractServiceAdjustments", json={**base, "effectiveDate": "2026-03-01T00:00:00", "unitChange": -2}
    )
    assert down.status_code == 200


def test_units_follow_the_service_period_type(api: httpx.Client, recurring: int) -> None:
    yearly = picklist_value(api, "Services", "periodType", "Yearly")
    quarterly = picklist_value(api, "Services", "periodType", "Quarterly")
    service = api.post(
        "/Services",
        json={
            "name": "Backup (quarterly)",
            "unitPrice": 300,
            "periodType": quarterly,
            "billingCodeID": 29682812,
        },
    )
    assert service.status_code == 200, service.text
    api.post(
        "/ContractServiceAdjustments",
        json={
            "contractID": recurring,
            "serviceID": service.json()["itemId"],
            "effectiveDate": "2026-01-01T00:00:00",
            "unitChange": 1,
        },
    )
    cs = api.get(f"/Contracts/{recurring}/Services").json()["items"][0]
    assert [r[:2] for r in units(api, cs["id"])] == [
        ("2026-01-01", "2026-03-31"),
        ("2026-04-01", "2026-06-30"),
        ("2026-07-01", "2026-09-30"),
        ("2026-10-01", "2026-12-31"),
    ]
    assert yearly != quarterly


def test_contract_service_units_are_read_only(api: httpx.Client) -> None:
    assert api.post("/ContractServiceUnits", json={}).status_code == 404
    assert api.get("/Contracts/500/ServiceUnits").status_code == 200


def test_units_follow_contract_date_changes(api: httpx.Client, recurring: int) -> None:
    cs_id = api.post(
        f"/Contracts/{recurring}/Services", json={"serviceID": 310, "unitPrice": 45, "unitQuantity": 2}
    ).json()["itemId"]
    assert len(units(api, cs_id)) == 12
    assert (
        api.patch("/Contracts", json={"id": recurring, "endDate": "2026-06-30T00:00:00"}).status_code == 200
    )
    rows = units(api, cs_id)
    assert len(rows) == 6 and rows[-1][1] == "2026-06-30"
