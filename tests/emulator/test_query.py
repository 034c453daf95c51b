"""The query engine over HTTP: every operator, nesting, the documented limits and quirks, pagination."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.emulator.conftest import ids_of

ALL = [{"op": "exist", "field": "id"}]


def _company(api: httpx.Client, name: str, **extra: Any) -> int:
    body = {"companyName": name, "companyType": 1, "phone": "555", "ownerResourceID": 29682885, **extra}
    response = api.post("/Companies", json=body)
    assert response.status_code == 200, response.text
    return int(response.json()["itemId"])


@pytest.fixture()
def three(api: httpx.Client) -> dict[str, int]:
    return {
        "alpha": _company(api, "Alpha Widgets", city="Berlin", assetValue=10.5),
        "beta": _company(api, "Beta Widgets", city="Boston", assetValue=20),
        "gamma": _company(api, "Gamma Tools", assetValue=30),
    }


def q(api: httpx.Client, *conditions: dict[str, Any], entity: str = "Companies") -> list[int]:
    return ids_of(api.post(f"/{entity}/query", json={"filter": list(conditions)}))


def test_every_operator(api: httpx.Client, three: dict[str, int]) -> None:
    a, b, g = three["alpha"], three["beta"], three["gamma"]
    name = "companyName"
    assert q(api, {"op": "eq", "field": name, "value": "beta widgets"}) == [b]  # case-insensitive
    assert set(q(api, {"op": "noteq", "field": name, "value": "Beta Widgets"})) >= {a, g}
    assert b not in q(api, {"op": "noteq", "field": name, "value": "Beta Widgets"})
    assert q(api, {"op": "gt", "field": "assetValue", "value": 20}) == [g]
    assert q(api, {"op": "gte", "field": "assetValue", "value": 20}) == [b, g]
    assert q(api, {"op": "lt", "field": "assetValue", "value": 20}) == [a]
    assert q(api, {"op": "lte", "field": "assetValue", "value": "20"}) == [a, b]
    assert q(api, {"op": "beginsWith", "field": name, "value": "alpha"}) == [a]
    assert q(api, {"op": "endsWith", "field": name, "value": "WIDGETS"}) == [a, b]
    assert q(api, {"op": "contains", "field": name, "value": "ta wid"}) == [b]
    assert q(api, {"op": "exist", "field": "city"}) == [a, b]
    assert g in q(api, {"op": "notExist", "field": "city"})
    assert a not in q(api, {"op": "notExist", "field": "city"})
    assert q(api, {"op": "in", "field": "id", "value": [a, g, 999999]}) == [a, g]
    not_in = q(api, {"op": "notIn", "field": "id", "value": [a, g]})
    assert b in not_in and a not in not_in and g not in not_in


def test_nested_and_or_groups(api: httpx.Client, three: dict[str, int]) -> None:
    a, b, g = three["alpha"], three["beta"], three["gamma"]
    condition = {
        "op": "or",
        "items": [
            {
                "op": "and",
                "items": [
                    {"op": "contains", "field": "companyName", "value": "widgets"},
                    {"op": "eq", "field": "city", "value": "Boston"},
                ],
            },
            {"op": "eq", "field": "companyName", "value": "Gamma Tools"},
        ],
    }
    assert q(api, condition) == [b, g]
    assert q(api, condition, {"op": "gt", "field": "assetValue", "value": 25}) == [g]  # top level = and
    assert a not in q(api, condition)


def test_field_names_are_case_insensitive_and_dates_parse_with_or_without_z(api: httpx.Client) -> None:
    assert q(api, {"op": "eq", "field": "COMPANYNAME", "value": "Datto"}) == [175]
    contract = q(
        api, {"op": "gte", "field": "startDate", "value": "2026-01-01T00:00:00Z"}, entity="Contracts"
    )
    assert contract == [500]
    assert (
        q(api, {"op": "gt", "field": "startdate", "value": "2026-01-01T00:00:00"}, entity="Contracts") == []
    )
    assert q(api, {"op": "eq", "field": "startDate", "value": "2026-01-01"}, entity="Contracts") == [500]


def test_missing_filter_unknown_field_and_unknown_operator_quirks(api: httpx.Client) -> None:
    missing = api.post("/Companies/query", json={"MaxRecords": 5})
    assert missing.status_code == 500 and missing.json()["errors"]
    assert api.get("/Companies/query", params={"search": "{}"}).status_code == 500
    unknown_field = api.post("/Companies/query", json={"filter": [{"op": "eq", "field": "nope", "value": 1}]})
    assert unknown_field.status_code == 500
    assert unknown_field.json()["errors"][0].startswith("Unable to find nope")
    # an unknown operator is silently ignored: the query returns everything
    everything = ids_of(api.post("/Companies/query", json={"filter": ALL}))
    assert q(api, {"op": "equals", "field": "companyName", "value": "Datto"}) == everything


def test_single_udf_condition_rule(api: httpx.Client) -> None:
    cid = _company(api, "Udf Co", userDefinedFields=[{"name": "Billing Account ID", "value": "ACC-1"}])
    assert q(api, {"op": "eq", "field": "Billing Account ID", "value": "acc-1", "udf": True}) == [cid]
    two = api.post(
        "/Companies/query",
        json={
            "filter": [
                {"op": "eq", "field": "Billing Account ID", "value": "ACC-1", "udf": True},
                {"op": "exist", "field": "Customer Segment", "udf": True},
            ]
        },
    )
    assert two.status_code == 500
    unknown = api.post(
        "/Companies/query", json={"filter": [{"op": "eq", "field": "Nope", "value": "x", "udf": True}]}
    )
    assert unknown.status_code == 500


def test_or_condition_limit_counts_each_in_value(api: httpx.Client) -> None:
    ok = api.post(
        "/Companies/query", json={"filter": [{"op": "in", "field": "id", "value": list(range(500))}]}
    )
    assert ok.status_code == 200
    too_many = api.post(
        "/Companies/query", json={"filter": [{"op": "in", "field": "id", "value": list(range(501))}]}
    )
    assert too_many.status_code == 500
    ors = [{"op": "eq", "field": "id", "value": i} for i in range(501)]
    assert api.post("/Companies/query", json={"filter": [{"op": "or", "items": ors}]}).status_code == 500


def test_include_fields_and_max_records(api: httpx.Client) -> None:
    response = api.post(
        "/Companies/query", json={"filter": ALL, "IncludeFields": ["companyname", "phone"], "MaxRecords": 2}
    )
    body = response.json()
    assert [set(i) for i in body["items"]] == [{"id", "companyName", "phone"}] * 2
    assert body["pageDetails"]["count"] == 2 and body["pageDetails"]["requestCount"] == 2
    bad = api.post("/Companies/query", json={"filter": ALL, "IncludeFields": ["nope"]})
    assert bad.status_code == 500


def test_count(api: httpx.Client, three: dict[str, int]) -> None:
    response = api.post(
        "/Companies/query/count",
        json={"filter": [{"op": "contains", "field": "companyName", "value": "widgets"}]},
    )
    assert response.json() == {"queryCount": 2}
    search = json.dumps({"filter": [{"op": "eq", "field": "companyType", "value": 7}]})
    assert api.get("/Companies/query/count", params={"search": search}).json() == {"queryCount": 4}


def _many_companies(emulator: Any, n: int) -> list[int]:
    tenant = emulator.tenant
    return [
        tenant.create(
            "Companies",
            {"companyName": f"Bulk {i:05d}", "companyType": 1, "phone": "1", "ownerResourceID": 29682885},
        )
        for i in range(n)
    ]


def test_post_pagination_past_1000_records(api: httpx.Client, emulator: Any) -> None:
    created = _many_companies(emulator, 1_150)
    body = {"filter": [{"op": "beginsWith", "field": "companyName", "value": "Bulk "}]}
    seen: list[int] = []
    url = "/Companies/query"
    pages = 0
    while url:
        page = api.post(url, json=body).json()
        assert len(page["items"]) <= 500
        seen += [i["id"] for i in page["items"]]
        url = page["pageDetails"]["nextPageUrl"]
        pages += 1
    assert pages == 3 and seen == created
    # a previous-page link leads back
    second = api.post("/Companies/query", json=body).json()["pageDetails"]["nextPageUrl"]
    prev = api.post(second, json=body).json()["pageDetails"]["prevPageUrl"]
    assert [i["id"] for i in api.post(prev, json=body).json()["items"]] == created[:500]


def test_get_pagination_with_search_past_1000_records(api: httpx.Client, emulator: Any) -> None:
    created = _many_companies(emulator, 1_050)
    search = json.dumps({"filter": [{"op": "beginsWith", "field": "companyName", "value": "Bulk "}]})
    response = api.get("/Companies/query", params={"search": search})
    seen = [i["id"] for i in response.json()["items"]]
    url = response.json()["pageDetails"]["nextPageUrl"]
    while url:
        page = api.get(url).json()
        seen += [i["id"] for i in page["items"]]
        url = page["pageDetails"]["nextPageUrl"]
    assert seen == created


def test_child_collection_and_child_get(api: httpx.Client) -> None:
    items = api.get("/Companies/180/Contacts").json()["items"]
    assert [c["id"] for c in items] == [30001]
    assert api.get("/Companies/180/Contacts/30001").json()["item"]["firstName"] == "Alex"
    assert api.get("/Companies/181/Contacts/30001").json() == {"item": None}  # other parent
    assert api.get("/Contacts/30001").json()["item"]["companyID"] == 180


def test_malformed_queries_never_crash(api: httpx.Client) -> None:
    for body in (
        b"{not json",
        b"[]",
        b'"text"',
        b'{"filter": "x"}',
        b'{"filter": [1]}',
        b'{"filter": [{"op": "in", "field": "id", "value": 3}]}',
        b'{"filter": [{"op": "gt", "field": "id", "value": "abc"}]}',
        b'{"filter": [{"op": "eq", "field": "id", "value": {"a": 1}}]}',
    ):
        response = api.post("/Companies/query", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 500, body
        assert response.json()["errors"]
    assert api.get("/Companies/query", params={"search": "{oops"}).status_code == 500
    assert api.post("/Companies/query?paging=garbage", json={"filter": ALL}).status_code == 500


def test_lookups_see_every_change(api: httpx.Client) -> None:
    """Equality lookups use a hash index; it must never serve a stale answer."""
    cid = _company(api, "Indexed Co", companyNumber="ACC-9")
    by_number = {"filter": [{"op": "eq", "field": "companyNumber", "value": "acc-9"}]}
    assert ids_of(api.post("/Companies/query", json=by_number)) == [cid]
    api.patch("/Companies", json={"id": cid, "companyNumber": "ACC-10"})
    assert ids_of(api.post("/Companies/query", json=by_number)) == []
    by_in = {
        "filter": [
            {"op": "in", "field": "companyNumber", "value": ["ACC-10", "nope"]},
            {"op": "eq", "field": "companyName", "value": "Indexed Co"},
        ]
    }
    assert ids_of(api.post("/Companies/query", json=by_in)) == [cid]
    other = _company(api, "Indexed Two", companyNumber="ACC-10")
    assert ids_of(api.post("/Companies/query", json={"filter": by_in["filter"][:1]})) == [cid, other]


def test_long_get_query_strings_fail_like_iis(api: httpx.Client) -> None:
    search = json.dumps({"filter": [{"op": "in", "field": "id", "value": list(range(400))}]})
    assert api.get("/Companies/query", params={"search": search}).status_code == 404
    assert api.post("/Companies/query", json=json.loads(search)).status_code == 200


def test_or_groups_narrowed_by_an_index_match_exactly_what_a_scan_does(
    api: httpx.Client, three: dict[str, int]
) -> None:
    """The emulator narrows ``or`` groups that each filter one field with ``in``/``eq`` (the reader's
    per-date unit queries) through an index; the answer must be the scan's: every branch's other
    conditions still apply, and an ``or`` whose branches filter different fields is not narrowed."""
    a, b, g = three["alpha"], three["beta"], three["gamma"]
    grouped = {
        "op": "or",
        "items": [
            {
                "op": "and",
                "items": [
                    {"op": "in", "field": "id", "value": [a, b]},
                    {"op": "eq", "field": "city", "value": "Boston"},
                ],
            },
            {
                "op": "and",
                "items": [
                    {"op": "eq", "field": "id", "value": g},
                    {"op": "gte", "field": "assetValue", "value": 30},
                ],
            },
        ],
    }
    assert q(api, grouped) == [b, g]
    mixed = {
        "op": "or",
        "items": [
            {"op": "eq", "field": "id", "value": a},
            {"op": "eq", "field": "companyName", "value": "gamma tools"},
        ],
    }
    assert q(api, mixed) == [a, g]


def test_or_groups_on_one_field_match_exactly_what_each_group_says(
    api: httpx.Client, three: dict[str, int]
) -> None:
    """An ``or`` of groups that each name values of one field (the read-back's per-date unit queries) is
    routed by that field's value: a record matches only a group that names it *and* whose other
    conditions hold, case-insensitively for text, never one that names another value."""
    a, b, g = three["alpha"], three["beta"], three["gamma"]

    def group(names: list[str], city: str | None) -> dict[str, Any]:
        cond: dict[str, Any] = {"op": "in", "field": "companyName", "value": names}
        if city is None:
            return cond
        return {"op": "and", "items": [cond, {"op": "eq", "field": "city", "value": city}]}

    groups = [
        group(["ALPHA WIDGETS", "Gamma Tools"], "Boston"),  # alpha is in Berlin, gamma has no city
        group(["Beta Widgets"], "boston"),
        group(["nobody"], None),
        group(["Gamma Tools"], None),
        group(["Alpha Widgets"], "Paris"),
    ]
    assert sorted(q(api, {"op": "or", "items": groups})) == sorted([b, g])
    assert a not in q(api, {"op": "or", "items": groups[:3] + groups[4:]})
    ids = [{"op": "in", "field": "id", "value": [i]} for i in (a, g, 999_999, 999_998)]
    assert sorted(q(api, {"op": "or", "items": ids})) == sorted([a, g])
