"""Transport-level behaviour that is easiest to pin down with a scripted fake server (httpx.MockTransport):
error mapping, retry decisions, Retry-After, zone re-discovery, secret hygiene. The same behaviours are
exercised against the emulator over HTTP in test_client_emulator.py."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from psabridge.autotask import (
    AuthenticationError,
    AutotaskClient,
    AutotaskConnectionError,
    AutotaskCredentials,
    AutotaskPermissionError,
    AutotaskServerError,
    AutotaskValidationError,
    BudgetExhaustedError,
    F,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ReferenceNotFoundError,
    RetryPolicy,
    UnsupportedOperationError,
    ZoneDiscoveryError,
    clear_caches,
)
from psabridge.autotask.limits import TENANT_USAGE

SECRET = "Top$ecret-VALUE-42"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    clear_caches()
    TENANT_USAGE.clear()


def make_client(handler: Handler, sleeps: list[float] | None = None, **kw: Any) -> AutotaskClient:
    kw.setdefault("base_url", "https://at.example/ATServicesRest/")
    kw.setdefault("retry", RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05))
    return AutotaskClient(
        AutotaskCredentials("api@x.example", SECRET, "CODE"),
        transport=httpx.MockTransport(handler),
        sleep=(sleeps.append if sleeps is not None else (lambda s: None)),
        **kw,
    )


def scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


def test_secret_never_in_repr_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    creds = AutotaskCredentials("api@x.example", SECRET, "CODE")
    assert SECRET not in repr(creds) and SECRET not in str(creds)
    handler, seen = scripted(
        httpx.Response(500, json={"errors": ["Bad value"]}), httpx.Response(200, json={})
    )
    client = make_client(handler)
    assert SECRET not in repr(client)
    with pytest.raises(AutotaskValidationError) as info:
        client.create("Companies", {"companyName": "x"})
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert seen[0].headers["Secret"] == SECRET  # it is sent, in the header only
    assert seen[0].headers["ApiIntegrationCode"] == "CODE" and seen[0].headers["UserName"] == "api@x.example"
    assert SECRET not in caplog.text


def test_impersonation_header() -> None:
    handler, seen = scripted(httpx.Response(200, json={"item": {"id": 1}}))
    client = AutotaskClient(
        AutotaskCredentials("u@x", "s", "C", impersonation_resource_id=29682885),
        base_url="https://at.example/ATServicesRest/V1.0",
        transport=httpx.MockTransport(handler),
    )
    assert client.get("Companies", 1) == {"id": 1}
    assert seen[0].headers["ImpersonationResourceId"] == "29682885"
    assert str(seen[0].url) == "https://at.example/ATServicesRest/V1.0/Companies/1"


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(401), AuthenticationError),
        (httpx.Response(403), AutotaskPermissionError),
        (httpx.Response(404), NotFoundError),
        (httpx.Response(405), UnsupportedOperationError),
        (
            httpx.Response(500, json={"errors": ["companyType: value 99 is not valid"]}),
            AutotaskValidationError,
        ),
        (httpx.Response(500, json={"errors": ["Unable to find Company with id 7"]}), ReferenceNotFoundError),
        (
            httpx.Response(500, json={"errors": ["User does not have permission to access Contracts"]}),
            AutotaskPermissionError,
        ),
    ],
)
def test_error_mapping_without_retry(response: httpx.Response, error: type[Exception]) -> None:
    handler, seen = scripted(response)
    with pytest.raises(error):
        make_client(handler).get("Companies", 7)
    assert len(seen) == 1  # never retried


def test_validation_messages_are_exposed() -> None:
    handler, _ = scripted(httpx.Response(500, json={"errors": ["a is required", "b is too long"]}))
    with pytest.raises(AutotaskValidationError) as info:
        make_client(handler).create("Companies", {"companyName": "x"})
    assert info.value.messages == ["a is required", "b is too long"]
    assert info.value.entity == "Companies" and info.value.verb == "create"


def test_reads_retry_on_server_errors_and_transport_failures() -> None:
    handler, seen = scripted(
        httpx.Response(503),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json={"item": {"id": 3}}),
    )
    client = make_client(handler)
    assert client.get("Companies", 3) == {"id": 3}
    assert len(seen) == 3
    assert client.stats.get("Companies", "get") == 3 and client.stats.retries == 2


def test_reads_give_up_after_max_attempts() -> None:
    handler, seen = scripted(httpx.Response(502))
    with pytest.raises(AutotaskServerError):
        make_client(handler).count("Companies")
    assert len(seen) == 4
    handler, seen = scripted(httpx.ReadError("reset"))
    with pytest.raises(AutotaskConnectionError):
        make_client(handler).get("Companies", 1)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(502),
        httpx.Response(504),
        httpx.Response(500, json={"errors": ["An unexpected error has occurred."]}),
        httpx.ReadTimeout("no answer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_writes_are_never_retried_after_sending(failure: httpx.Response | Exception) -> None:
    handler, seen = scripted(failure, httpx.Response(200, json={"itemId": 1}))
    body = {"companyName": "Acme", "companyType": 1}
    with pytest.raises(OutcomeUnknownError) as info:
        make_client(handler).create("Companies", body)
    assert len(seen) == 1
    assert (info.value.entity, info.value.verb, info.value.body) == ("Companies", "create", body)


def test_writes_are_retried_when_rejected_before_execution() -> None:
    sleeps: list[float] = []
    handler, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(500, json={"errors": ["Itgenatr005: thread limit exceeded"]}),
        httpx.ConnectError("refused"),
        httpx.Response(200, json={"itemId": 77}),
    )
    client = make_client(handler, sleeps, retry=RetryPolicy(max_attempts=5, initial_wait=0.01, max_wait=0.05))
    assert client.update("Companies", {"id": 77, "phone": "1"}) == 77
    assert len(seen) == 4
    assert sleeps[0] >= 2.0  # Retry-After honoured
    assert all(s < 1 for s in sleeps[1:])


def test_rate_limit_surfaces_after_attempts() -> None:
    handler, seen = scripted(httpx.Response(429))
    with pytest.raises(RateLimitError):
        make_client(handler).get("Companies", 1)
    assert len(seen) == 4


def test_zone_discovery_cached_and_rediscovered_once_after_401() -> None:
    zone = {"n": 0}
    zone_requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if "zoneInformation" in request.url.path:
            zone_requests.append(request)
            zone["n"] += 1
            host = "ws1.example" if zone["n"] == 1 else "ws2.example"
            return httpx.Response(
                200,
                json={
                    "zoneName": f"Z{zone['n']}",
                    "url": f"https://{host}/ATServicesRest/",
                    "webUrl": "w",
                    "ci": 5,
                },
            )
        if request.url.host == "ws1.example":
            return httpx.Response(401)
        return httpx.Response(200, json={"item": {"id": 1}})

    client = make_client(
        handler, base_url=None, zone_url="https://global.example/atservicesrest/v1.0/zoneInformation"
    )
    info = client.discover_zone()
    assert zone_requests[0].headers.get("Secret") is None  # the secret never goes to zone discovery
    assert (info.zone_name, info.api_base, info.ci) == ("Z1", "https://ws1.example/ATServicesRest/V1.0/", 5)
    assert client.get("Companies", 1) == {"id": 1}  # 401 on ws1 -> re-discover -> ws2
    assert zone["n"] == 2
    assert client.get("Companies", 1) == {"id": 1}
    assert zone["n"] == 2  # cached


def test_401_from_the_same_zone_is_an_authentication_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "zoneInformation" in request.url.path:
            return httpx.Response(
                200, json={"zoneName": "Z", "url": "https://ws.example/ATServicesRest/", "webUrl": ""}
            )
        return httpx.Response(401)

    with pytest.raises(AuthenticationError):
        make_client(handler, base_url=None).get("Companies", 1)


def test_zone_discovery_failure() -> None:
    handler, _ = scripted(httpx.Response(200, json={"zoneName": None, "url": None}))
    with pytest.raises(ZoneDiscoveryError):
        make_client(handler, base_url=None).discover_zone()
    handler, _ = scripted(httpx.ConnectError("down"))
    with pytest.raises(ZoneDiscoveryError):
        make_client(handler, base_url=None).discover_zone()


def test_unsupported_calls_send_nothing() -> None:
    handler, seen = scripted(httpx.Response(200, json={}))
    client = make_client(handler)
    with pytest.raises(UnsupportedOperationError):
        client.get("ContractServiceAdjustments", 1)
    with pytest.raises(UnsupportedOperationError):
        list(client.query("ContractServiceAdjustments"))
    with pytest.raises(UnsupportedOperationError):
        client.delete("Companies", 1)
    with pytest.raises(UnsupportedOperationError):
        client.create("BillingCodes", {"name": "x"})
    with pytest.raises(UnsupportedOperationError):
        client.get("NoSuchEntity", 1)
    with pytest.raises(ValueError, match="parent_id"):
        client.delete("ContractCharges", 1)
    assert seen == [] and client.stats.total == 0


def test_budget_cap_raises_before_sending() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("ThresholdInformation"):
            return httpx.Response(
                200,
                json={
                    "externalRequestThreshold": 100,
                    "requestThresholdTimeframe": 60,
                    "currentTimeframeRequestCount": 10,
                },
            )
        return httpx.Response(200, json={"item": None})

    client = make_client(handler, hourly_budget_cap=0.05)  # 5 of 100 calls
    client.get("Companies", 1)  # reads ThresholdInformation first (1 call), then the get
    for _ in range(3):
        client.get("Companies", 1)
    with pytest.raises(BudgetExhaustedError) as info:
        client.get("Companies", 1)
    assert info.value.resume_at is not None
    assert client.stats.get("Companies", "get") == 4


def test_slows_down_near_the_tenant_threshold() -> None:
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("ThresholdInformation"):
            return httpx.Response(
                200, json={"externalRequestThreshold": 100, "currentTimeframeRequestCount": 80}
            )
        return httpx.Response(200, json={"item": None})

    client = make_client(handler, sleeps)
    client.threshold_information()
    client.get("Companies", 1)
    assert sleeps == [1.0]  # past 75%
    sleeps.clear()
    TENANT_USAGE.clear()
    client = make_client(handler, sleeps)
    client._usage.observe_threshold({"externalRequestThreshold": 100, "currentTimeframeRequestCount": 55})
    client.get("Companies", 1)
    assert sleeps == [0.25]  # past 50%
    assert client.budget_usage()["estimated_tenant_calls"] == 56


def test_in_flight_limit_is_shared_across_clients() -> None:
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.02)
        with lock:
            state["now"] -= 1
        return httpx.Response(200, json={"item": None})

    clients = [make_client(handler) for _ in range(3)]
    threads = [
        threading.Thread(target=lambda c=c: [c.get("Companies", i) for i in range(5)])
        for c in clients
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state["peak"] == 3


def test_query_in_chunks_under_the_limit_and_posts_next_pages() -> None:
    import json

    bodies: list[dict[str, Any]] = []
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        urls.append(str(request.url))
        if "page=2" in str(request.url):
            return httpx.Response(200, json={"items": [{"id": -1}], "pageDetails": {"nextPageUrl": None}})
        values = body["filter"][0]["value"]
        next_url = (
            "https://at.example/ATServicesRest/V1.0/Companies/query?page=2" if len(bodies) == 1 else None
        )
        return httpx.Response(
            200, json={"items": [{"id": v} for v in values], "pageDetails": {"nextPageUrl": next_url}}
        )

    client = make_client(handler)
    assert list(client.query_in("Companies", "id", [])) == []
    assert bodies == []
    extra = [F.in_("companyType", [1, 2, 3]), F.eq("isActive", True)]
    rows = list(client.query_in("Companies", "id", [*range(1200), 5, 6], extra=extra))
    sizes = [len(b["filter"][0]["value"]) for b, u in zip(bodies, urls, strict=True) if "page=2" not in u]
    assert sizes == [496, 496, 208]  # 500 minus the 4 conditions of `extra`
    assert bodies[1] == bodies[0]  # the next page is POSTed with the same body
    assert urls[1].endswith("?page=2")
    assert sorted(r["id"] for r in rows if r["id"] >= 0) == list(range(1200))


def test_get_routes() -> None:
    handler, seen = scripted(httpx.Response(200, json={"item": {"id": 5}}))
    client = make_client(handler)
    client.get("Companies", 5, parent_id=9)  # no parent route: the root is used
    client.get("Contacts", 5)  # root GET exists
    client.get("Contacts", 5, parent_id=9)  # explicit parent route
    paths = [r.url.path.removeprefix("/ATServicesRest/V1.0/") for r in seen]
    assert paths == ["Companies/5", "Contacts/5", "Companies/9/Contacts/5"]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_thread_limit_is_recognised_at_any_status_and_retried_even_for_writes(status: int) -> None:
    """Autotask answers more than 3 concurrent requests with "thread threshold ... exceeded"
    (Itgenatr005), not always with 429: rejected before execution, so a write is retried too, and never
    taken for the tenant's hourly threshold (which also says "threshold")."""
    handler, seen = scripted(
        httpx.Response(
            status,
            json={
                "errors": ["Thread Threshold Exceeded: the thread threshold of 3 threads has been exceeded."]
            },
        ),
        httpx.Response(200, json={"itemId": 9}),
    )
    assert make_client(handler).create("Companies", {"companyName": "Acme"}) == 9
    assert len(seen) == 2


def test_a_next_page_on_another_host_is_not_followed() -> None:
    """The credentials travel with every request: a nextPageUrl pointing elsewhere is refused."""
    handler, seen = scripted(
        httpx.Response(
            200,
            json={
                "items": [{"id": 1}],
                "pageDetails": {
                    "nextPageUrl": "https://evil.example/ATServicesRest/V1.0/Companies/query/next"
                },
            },
        )
    )
    client = make_client(handler)
    with pytest.raises(AutotaskServerError, match="another host"):
        list(client.query("Companies"))
    assert [r.url.host for r in seen] == ["at.example"]


def test_delete_sends_no_body() -> None:
    handler, seen = scripted(httpx.Response(200, json={"itemId": 4}))
    make_client(handler).delete("ContractCharges", 4, parent_id=9)
    assert seen[0].method == "DELETE" and seen[0].content == b""
    assert seen[0].url.path.endswith("/Contracts/9/Charges/4")


def test_a_known_api_url_is_rediscovered_after_401_and_the_move_reported() -> None:
    """A connector stores the API address it found at setup; when Autotask moves the tenant to another
    zone the old address answers 401: the client discovers the zone again, reports the move and retries."""
    moves: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if "zoneInformation" in request.url.path:
            return httpx.Response(
                200, json={"zoneName": "AU 29", "url": "https://ws29.example/ATServicesRest/", "webUrl": ""}
            )
        if request.url.host == "ws6.example":
            return httpx.Response(401)
        return httpx.Response(200, json={"item": {"id": 1}})

    client = make_client(
        handler,
        base_url=None,
        known_api_url="https://ws6.example/ATServicesRest/",
        on_zone_change=lambda zone, old: moves.append((zone.url, old)),
    )
    assert client.base_url == "https://ws6.example/ATServicesRest/V1.0/"  # no discovery up front
    assert client.get("Companies", 1) == {"id": 1}
    assert moves == [("https://ws29.example/ATServicesRest/", "https://ws6.example/ATServicesRest/V1.0/")]
    assert client.base_url == "https://ws29.example/ATServicesRest/V1.0/"


def test_the_read_timeout_fits_long_running_queries() -> None:
    client = make_client(scripted(httpx.Response(200, json={}))[0])
    timeout = client._http.timeout
    assert timeout.read is not None and timeout.read >= 100
    assert timeout.connect is not None and timeout.connect <= 10


@pytest.mark.parametrize(
    ("response", "outcome"),
    [
        (httpx.Response(403, json={"errors": ["no"]}), "refused"),
        (httpx.Response(404), "refused"),
        (httpx.Response(500, json={"errors": ["companyType is required"]}), "refused"),
        (httpx.Response(502), "unknown"),
        (httpx.Response(429), "not_sent"),
    ],
)
def test_one_table_says_what_a_failed_write_means(response: httpx.Response, outcome: str) -> None:
    """The client's retry and the sync's journal read the same table: a 403 or 404 to a write is
    Autotask refusing it (shown with its message), never "outcome unknown"."""
    from psabridge.autotask.outcomes import retryable, rule_for

    handler, _seen = scripted(response)
    with pytest.raises(Exception) as info:
        make_client(handler, retry=RetryPolicy(max_attempts=1)).create("Companies", {"companyName": "A"})
    assert rule_for(info.value).outcome == outcome
    assert retryable(info.value, write=True) is (outcome == "not_sent")
