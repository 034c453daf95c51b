"""Helpers for the emulator's own tests: an httpx client on the REST base with the API user's headers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture()
def api(emulator: Any) -> Iterator[httpx.Client]:
    """An authenticated client on ``/ATServicesRest/V1.0`` of the (freshly reset) emulator."""
    with httpx.Client(
        base_url=f"{emulator.base_url}/ATServicesRest/V1.0", headers=emulator.headers(), timeout=30.0
    ) as client:
        yield client


def ids_of(response: httpx.Response) -> list[int]:
    """Ids of a query page."""
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def picklist_value(api: httpx.Client, entity: str, field: str, label: str) -> int:
    """A picklist id looked up by label, as every real caller must."""
    fields = api.get(f"/{entity}/entityInformation/fields").json()["fields"]
    for f in fields:
        if f["name"] == field:
            for value in f["picklistValues"]:
                if value["label"] == label:
                    return int(value["value"])
    raise AssertionError(f"no {label!r} in {entity}.{field}")
