"""API limits (threshold, latency, block, concurrency), injected faults, permissions and call counters."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.emulator.test_writes import COMPANY

ALL = {"filter": [{"op": "exist", "field": "id"}]}


def test_threshold_information_counts_requests(api: httpx.Client) -> None:
    first = api.get("/ThresholdInformation").json()
    assert first["externalRequestThreshold"] == 10_000 and first["requestThresholdTimeframe"] == 60
    api.get("/Companies/0")
    api.get("/Companies/0")
    assert (
        api.get("/ThresholdInformation").json()["currentTimeframeRequestCount"]
        == first["currentTimeframeRequestCount"] + 3
    )


def test_latency_past_50_and_75_percent_then_blocked(api: httpx.Client, emulator: Any) -> None:
    emulator.control.set_limits(hourly_limit=8, delay_over_50=0.15, delay_over_75=0.4, reset_counter=True)

    def timed() -> tuple[int, float]:
        start = time.perf_counter()
        status = api.get("/Companies/0").status_code
        return status, time.perf_counter() - start

    timings = [timed() for _ in range(8)]
    assert all(status == 200 for status, _ in timings)
    assert all(t < 0.12 for _, t in timings[:4])  # up to 50%
    assert all(0.15 <= t < 0.4 for _, t in timings[4:6])  # past 50%
    assert all(t >= 0.4 for _, t in timings[6:])  # past 75%
    blocked = api.get("/Companies/0")
    assert blocked.status_code == 429 and "threshold" in blocked.json()["errors"][0]


def test_rolling_window_forgets_old_requests(api: httpx.Client, emulator: Any) -> None:
    emulator.control.set_limits(
        hourly_limit=2, window_seconds=0.3, delay_over_50=0, delay_over_75=0, reset_counter=True
    )
    assert api.get("/Companies/0").status_code == 200
    assert api.get("/Companies/0").status_code == 200
    assert api.get("/Companies/0").status_code == 429
    time.sleep(0.35)
    assert api.get("/Companies/0").status_code == 200


def test_more_than_three_concurrent_requests_per_endpoint_get_429(emulator: Any, api: httpx.Client) -> None:
    clients = [httpx.Client(base_url=str(api.base_url), headers=emulator.headers()) for _ in range(6)]
    for c in clients:  # open the connections first so the six requests really start together
        c.get("/ThresholdInformation")
    emulator.control.set_latency(600)
    barrier = threading.Barrier(6)

    def call(args: tuple[httpx.Client, str]) -> httpx.Response:
        client, path = args
        barrier.wait()
        return client.get(path)

    paths = ["/Companies/0"] * 5 + ["/Contracts/500"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        same = list(pool.map(call, zip(clients, paths, strict=True)))
    for c in clients:
        c.close()
    statuses = [r.status_code for r in same[:5]]
    assert statuses.count(200) == 3 and statuses.count(429) == 2
    limited = next(r for r in same[:5] if r.status_code == 429)
    assert "Itgenatr005" in limited.json()["errors"][0]
    assert same[5].status_code == 200  # another endpoint has its own three slots


@pytest.mark.parametrize("action,status", [("500", 500), ("429", 429), ("thread_limit", 429)])
def test_faults_fail_requests_before_they_run(
    api: httpx.Client, emulator: Any, action: str, status: int
) -> None:
    emulator.control.add_fault(action=action, method="POST", entity="Companies", count=1)
    failed = api.post("/Companies", json=COMPANY)
    assert failed.status_code == status
    if action == "thread_limit":
        assert "Itgenatr005" in failed.json()["errors"][0]
    assert not [
        c for c in emulator.control.records("Companies") if c["companyName"] == "Acme"
    ]  # nothing written
    assert api.post("/Companies", json=COMPANY).status_code == 200  # count=1: the next one passes


def test_fault_skip_count_and_regex_matching(api: httpx.Client, emulator: Any) -> None:
    emulator.control.add_fault(action="500", entity="Contract.*", skip=1, count=2)
    assert api.get("/Companies/0").status_code == 200  # other entity
    assert api.get("/Contracts/500").status_code == 200  # skipped
    assert api.get("/ContractServices/1").status_code == 500
    assert api.get("/Contracts/500").status_code == 500
    assert api.get("/Contracts/500").status_code == 200
    emulator.control.add_fault(action="500", path=r"/query$", count=None)
    assert api.post("/Companies/query", json=ALL).status_code == 500
    assert api.post("/Companies/query", json=ALL).status_code == 500
    emulator.control.clear_faults()
    assert api.post("/Companies/query", json=ALL).status_code == 200


def test_drop_after_commit_writes_then_drops_the_answer(api: httpx.Client, emulator: Any) -> None:
    emulator.control.add_fault(action="drop_after_commit", method="POST", entity="Companies")
    with pytest.raises(httpx.TransportError):
        api.post("/Companies", json={**COMPANY, "companyName": "Dropped Co"})
    names = [c["companyName"] for c in emulator.control.records("Companies")]
    assert names.count("Dropped Co") == 1  # the write happened


def test_latency_fault_and_global_latency(api: httpx.Client, emulator: Any) -> None:
    emulator.control.add_fault(action="latency", ms=250, entity="Companies")
    start = time.perf_counter()
    assert api.get("/Companies/0").status_code == 200
    assert time.perf_counter() - start >= 0.25
    emulator.control.set_latency(150)
    start = time.perf_counter()
    assert api.get("/Contracts/500").status_code == 200
    assert time.perf_counter() - start >= 0.15


def test_denied_entity_reads_empty_and_writes_fail(api: httpx.Client, emulator: Any) -> None:
    emulator.control.deny("Contracts")
    assert api.post("/Contracts/query", json=ALL).json()["items"] == []
    assert api.get("/Contracts/500").json() == {"item": None}
    refused = api.patch("/Contracts", json={"id": 500, "contractName": "x"})
    assert refused.status_code == 500 and "permission" in refused.json()["errors"][0]
    assert api.post("/Companies/query", json=ALL).json()["items"]  # others unaffected
    emulator.control.deny("Contracts", deny=False)
    assert api.get("/Contracts/500").json()["item"]["id"] == 500


def test_calls_are_counted_per_entity_and_verb(api: httpx.Client, emulator: Any) -> None:
    api.post("/Companies/query", json=ALL)
    api.post("/Companies/query/count", json=ALL)
    api.get("/Companies/0")
    api.post("/Companies", json=COMPANY)
    api.get("/Companies/180/Contacts")
    api.get("/Companies/entityInformation/fields")
    calls = emulator.control.calls()
    assert calls["calls"]["Companies"] == {"query": 1, "count": 1, "get": 1, "create": 1, "metadata": 1}
    assert calls["calls"]["Contacts"] == {"list": 1}
    assert calls["total"] == 6
    emulator.control.reset()
    assert emulator.control.calls()["total"] == 0


def test_zone_information_is_not_thread_limited_or_counted(api: httpx.Client, emulator: Any) -> None:
    emulator.control.set_limits(max_concurrent=0, reset_counter=True)  # every API call is thread-limited
    assert api.get("/Companies/0").status_code in (429, 500)
    for _ in range(3):
        zone = httpx.get(emulator.zone_url, params={"user": emulator.credentials.username})
        assert zone.status_code == 200
    emulator.control.set_limits(max_concurrent=3)
    assert api.get("/ThresholdInformation").json()["currentTimeframeRequestCount"] == 2
