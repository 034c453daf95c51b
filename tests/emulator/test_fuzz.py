"""Malformed input never crashes the emulator: random JSON to create, update and query routes always gets
an Autotask-shaped answer (200, or 500 with an ``errors`` list), and the tenant keeps serving."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "companyName",
        "companyType",
        "id",
        "phone",
        "startDate",
        "isActive",
        "userDefinedFields",
        "x",
        "op",
        "field",
        "value",
        "items",
        "filter",
    ]
)
bodies = st.dictionaries(field_names, json_values, max_size=6) | json_values
conditions = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["eq", "in", "gt", "and", "or", "contains", "exist", "bogus"]),
        "field": field_names,
        "value": json_values,
    },
    optional={
        "items": st.lists(st.dictionaries(field_names, json_values, max_size=3), max_size=3),
        "udf": st.booleans(),
    },
)


def _autotask_shaped(response: httpx.Response) -> None:
    assert response.status_code in (200, 500), (response.status_code, response.text)
    body = response.json()
    if response.status_code == 500:
        assert isinstance(body["errors"], list) and body["errors"]
        assert not body["errors"][0].startswith("An unexpected error"), (
            body
        )  # the safety net is not the answer


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=bodies,
    path=st.sampled_from(
        [
            "/Companies",
            "/Contracts",
            "/ContractServiceAdjustments",
            "/Contracts/500/Charges",
            "/Companies/180/Contacts",
        ]
    ),
    method=st.sampled_from(["POST", "PATCH", "PUT"]),
)
def test_random_write_bodies(api: httpx.Client, body: Any, path: str, method: str) -> None:
    if method != "POST" and path == "/ContractServiceAdjustments":
        method = "POST"
    _autotask_shaped(api.request(method, path, json=body))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    filter_=st.lists(conditions, max_size=3),
    extra=st.dictionaries(st.sampled_from(["IncludeFields", "MaxRecords"]), json_values, max_size=2),
)
def test_random_queries(api: httpx.Client, filter_: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    _autotask_shaped(api.post("/Companies/query", json={"filter": filter_, **extra}))
    _autotask_shaped(api.post("/Contracts/query/count", json={"filter": filter_}))
    assert api.get("/Companies/0").status_code == 200


def test_nan_and_infinity_are_not_json(api: httpx.Client) -> None:
    for raw in (
        b'{"companyName": "x", "assetValue": Infinity}',
        b'{"filter": [{"op": "eq", "field": "id", "value": NaN}]}',
    ):
        response = api.post("/Companies", content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 500 and "JSON" in response.json()["errors"][0]
