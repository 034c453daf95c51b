"""HTTP behaviour of the emulator that docs/autotask-fidelity.md backs with evidence: query quirks, page
links in Autotask's ``query/next`` shape, the thread limit's wording and status, the zone move and the
rule switchboard of the control API."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.emulator.conftest import ids_of
from tests.emulator.test_writes import COMPANY

ALL = [{"op": "exist", "field": "id"}]


def _bulk_companies(emulator: Any, n: int) -> list[int]:
    return [
        emulator.tenant.create("Companies", {**COMPANY, "companyName": f"Page {i:04d}"}) for i in range(n)
    ]


def _link(url: str) -> tuple[str, dict[str, Any], str]:
    """(path, decoded paging JSON, raw search text) of a page link."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    return parts.path, json.loads(query["paging"][0]), query["search"][0]


def test_empty_filter_list_matches_nothing(api: httpx.Client) -> None:
    response = api.post("/Companies/query", json={"filter": []})
    assert response.status_code == 200 and response.json()["items"] == []
    assert response.json()["pageDetails"]["count"] == 0
    assert api.post("/Companies/query/count", json={"filter": []}).json() == {"queryCount": 0}
    assert api.get("/Companies/query", params={"search": '{"filter": []}'}).json()["items"] == []


def test_missing_filter_is_the_captured_null_error(api: httpx.Client) -> None:
    for response in (
        api.post("/Companies/query", json={"MaxRecords": 5}),
        api.post("/Companies/query", json={"filter": None}),
        api.get("/Companies/query", params={"search": "{}"}),
        api.get("/Companies/query"),
        api.post("/Companies/query/count", json={}),
    ):
        assert response.status_code == 500
        assert response.json() == {"errors": ["Value cannot be null.\r\nParameter name: filters"]}


def test_max_records_outside_1_to_500_is_refused(api: httpx.Client) -> None:
    for value in (0, 501, -1, "ten", True):
        response = api.post("/Companies/query", json={"filter": ALL, "MaxRecords": value})
        assert response.status_code == 500, value
        assert response.json() == {"errors": ["maxCountOfRecordsToReturn must be between 1 and 500"]}
    assert len(ids_of(api.post("/Companies/query", json={"filter": ALL, "maxRecords": 1}))) == 1


def test_unknown_filter_field_names_the_singular_entity(api: httpx.Client) -> None:
    response = api.post("/Contracts/query", json={"filter": [{"op": "eq", "field": "projectID", "value": 1}]})
    assert response.json() == {"errors": ["Unable to find projectID in the Contract Entity."]}
    include = api.post("/Companies/query", json={"filter": ALL, "IncludeFields": ["nope"]})
    assert include.json() == {"errors": ["Unable to find nope in the Company Entity."]}


def test_post_query_pages_link_to_query_next_with_an_empty_search(api: httpx.Client, emulator: Any) -> None:
    created = _bulk_companies(emulator, 1_050)
    body = {"filter": [{"op": "beginsWith", "field": "companyName", "value": "Page "}]}
    first = api.post("/Companies/query", json=body).json()
    details = first["pageDetails"]
    assert details["prevPageUrl"] is None and details["count"] == 500 and details["requestCount"] == 500
    url = details["nextPageUrl"]
    assert url.startswith(f"{emulator.base_url}/ATServicesRest/V1.0/Companies/query/next?paging=%7b%22")
    path, paging, search = _link(url)
    assert path == "/ATServicesRest/V1.0/Companies/query/next"
    assert paging == {"pageSize": 500, "previousIds": [-1], "nextIds": [created[500]]}
    assert search == "{}" and url.endswith("&search=%7b%7d")
    # a POST query's next page is POSTed with the same body; GET is not allowed there
    refused = api.get(url)
    assert refused.status_code == 405 and refused.headers["Allow"] == "POST"
    assert refused.json() == {"Message": "The requested resource does not support http method 'GET'."}
    second = api.post(url, json=body).json()
    assert [i["id"] for i in second["items"]] == created[500:1000]
    third_url = second["pageDetails"]["nextPageUrl"]
    assert _link(third_url)[1] == {
        "pageSize": 500,
        "previousIds": [-1, created[500]],
        "nextIds": [created[1000]],
    }
    third = api.post(third_url, json=body).json()
    assert [i["id"] for i in third["items"]] == created[1000:] and third["pageDetails"]["nextPageUrl"] is None
    back = api.post(third["pageDetails"]["prevPageUrl"], json=body).json()
    assert [i["id"] for i in back["items"]] == created[500:1000]
    start = api.post(back["pageDetails"]["prevPageUrl"], json=body).json()
    assert [i["id"] for i in start["items"]] == created[:500] and start["pageDetails"]["prevPageUrl"] is None
    calls = emulator.control.calls()["calls"]["Companies"]
    assert calls["query"] == 6


def test_get_query_pages_carry_the_original_search(api: httpx.Client, emulator: Any) -> None:
    created = _bulk_companies(emulator, 620)
    search = json.dumps({"filter": [{"op": "beginsWith", "field": "companyName", "value": "Page "}]})
    first = api.get("/Companies/query", params={"search": search}).json()
    url = first["pageDetails"]["nextPageUrl"]
    assert _link(url)[2] == search  # echoed verbatim (url-encoded, '+' for a space)
    assert "+" in url and "%2c" in url
    page = api.get(url)
    assert page.status_code == 200 and [i["id"] for i in page.json()["items"]] == created[500:]
    assert api.post(url, json=json.loads(search)).json()["items"] == page.json()["items"]
    assert api.post("/Companies/query/next", json={"filter": ALL}).status_code == 200  # first page
    assert api.post("/Companies/query/next?paging=%7bnope", json={"filter": ALL}).status_code == 500
    assert api.get("/NoSuchEntity/query/next").status_code == 404


def test_max_records_pages_keep_their_size(api: httpx.Client, emulator: Any) -> None:
    created = _bulk_companies(emulator, 5)
    body = {"filter": [{"op": "beginsWith", "field": "companyName", "value": "Page "}], "MaxRecords": 2}
    page = api.post("/Companies/query", json=body).json()
    assert page["pageDetails"]["requestCount"] == 2
    assert _link(page["pageDetails"]["nextPageUrl"])[1]["pageSize"] == 2
    seen = [i["id"] for i in page["items"]]
    url = page["pageDetails"]["nextPageUrl"]
    while url:
        page = api.post(url, json=body).json()
        seen += [i["id"] for i in page["items"]]
        url = page["pageDetails"]["nextPageUrl"]
    assert seen == created


def test_child_collections_page_like_queries(api: httpx.Client, emulator: Any) -> None:
    contacts = [
        emulator.tenant.create(
            "Contacts", {"firstName": "C", "lastName": f"{i}", "isActive": 1}, parent_id=181
        )
        for i in range(505)
    ]
    first = api.get("/Companies/181/Contacts").json()
    assert [c["id"] for c in first["items"]] == contacts[:500]
    url = first["pageDetails"]["nextPageUrl"]
    path, paging, search = _link(url)
    assert path == "/ATServicesRest/V1.0/Contacts/query/next" and paging["nextIds"] == [contacts[500]]
    assert json.loads(search) == {"filter": [{"op": "eq", "field": "companyID", "value": 181}]}
    assert [c["id"] for c in api.get(url).json()["items"]] == contacts[500:]


def test_thread_limit_wording_and_every_third_rejection_is_a_500(api: httpx.Client, emulator: Any) -> None:
    emulator.control.add_fault(action="thread_limit", entity="Companies", count=4)
    answers = [api.get("/Companies/0") for _ in range(4)]
    assert [a.status_code for a in answers] == [429, 429, 500, 429]
    for answer in answers:
        assert answer.json() == {
            "errors": [
                "Thread Threshold Exceeded: the Autotask API thread threshold of 3 threads has been "
                "exceeded. Itgenatr005"
            ]
        }
        assert "Retry-After" not in answer.headers  # no evidence Autotask sends one
    emulator.control.set_limits(max_concurrent=5)
    emulator.control.set_rules(thread_limit_500_every=0)
    emulator.control.add_fault(action="thread_limit", count=3)
    answers = [api.get("/Companies/0") for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 429]
    assert "threshold of 5 threads" in answers[0].json()["errors"][0]
    emulator.control.add_fault(action="thread_limit", status=500)
    forced = api.get("/Companies/0")
    assert forced.status_code == 500 and "Itgenatr005" in forced.json()["errors"][0]


def test_zone_move_old_base_401_new_base_works(api: httpx.Client, emulator: Any) -> None:
    user = {"user": emulator.credentials.username}
    zone1 = httpx.get(emulator.zone_url, params=user).json()
    assert zone1["url"] == emulator.api_url
    moved_base = f"{emulator.moved_api_url}V1.0"
    before = httpx.get(f"{moved_base}/Companies/0", headers=emulator.headers())
    assert before.status_code == 401  # zone 2 does not host the tenant yet
    moved = emulator.control.move_zone()
    assert moved["moved"] is True and moved["url"] == emulator.moved_api_url
    assert emulator.current_api_url == emulator.moved_api_url
    for zone_url in (emulator.zone_url, f"{moved_base}/zoneInformation"):
        answer = httpx.get(zone_url, params=user).json()
        assert answer["url"] == emulator.moved_api_url and answer["zoneName"] != zone1["zoneName"]
    stale = api.get("/Companies/0")
    assert stale.status_code == 401 and stale.content == b"" and stale.headers["WWW-Authenticate"]
    assert api.post("/Companies/query", json={"filter": ALL}).status_code == 401
    with httpx.Client(base_url=moved_base, headers=emulator.headers()) as new:
        assert new.get("/Companies/0").json()["item"]["companyName"] == "Demo MSP Ltd"
        new_id = new.post("/Companies", json=COMPANY).json()["itemId"]
        body = {"filter": ALL, "MaxRecords": 1}
        next_url = new.post("/Companies/query", json=body).json()["pageDetails"]["nextPageUrl"]
        assert next_url.startswith(f"{moved_base}/Companies/query/next?")
        assert new.post(next_url, json=body).status_code == 200
        bad = new.get("/Companies/0", headers={"Secret": "wrong"})
        assert bad.status_code == 401
    emulator.control.reset()
    assert emulator.control.zone()["moved"] is False
    assert api.get("/Companies/0").status_code == 200
    assert api.get(f"/Companies/{new_id}").json() == {"item": None}  # reset: the seeded tenant again


def test_rules_control_api(emulator: Any) -> None:
    control = emulator.control
    defaults = control.rules()
    assert defaults == {
        "one_adjustment_per_service_date": True,
        "effective_date_within_contract": True,
        "refuse_unknown_fields": True,
        "refuse_read_only_fields": True,
        "refuse_null_on_create": True,
        "refuse_duplicate_contract_service": True,
        "contract_service_update_limited": True,
        "thread_limit_500_every": 3,
    }
    changed = control.set_rules(refuse_unknown_fields=False, thread_limit_500_every=2)
    assert changed["refuse_unknown_fields"] is False and changed["thread_limit_500_every"] == 2
    for bad in ({"no_such_rule": True}, {"refuse_unknown_fields": "no"}, {"thread_limit_500_every": -1}):
        response = httpx.post(f"{emulator.base_url}/_emulator/rules", json=bad)
        assert response.status_code == 400, bad
    assert control.rules() == changed  # a refused change changes nothing
    assert control.reset_rules() == defaults
    control.set_rules(refuse_null_on_create=False)
    control.reset()
    assert control.rules() == defaults


@pytest.mark.parametrize("moved", [False, True])
def test_zone_control_api_round_trip(emulator: Any, moved: bool) -> None:
    assert emulator.control.move_zone(moved)["moved"] is moved
    assert emulator.control.zone()["zone"] == (2 if moved else 1)
    assert httpx.post(f"{emulator.base_url}/_emulator/zone", json={"moved": "yes"}).status_code == 400
