"""The Autotask REST client: typed, budget-aware, safe to use from many threads.

Why this shape: every call Autotask answers costs part of a budget shared by the tenant's other
integrations, some writes cannot be read back, and a lost answer to a write must never be retried
blindly. So the client (1) refuses what the official description does not offer before sending,
(2) retries only what is provably safe to retry — reads, and requests Autotask rejected before
executing them (429 / thread limit / connection never established), (3) reports a write whose answer
was lost as :class:`OutcomeUnknownError` with enough context to reconcile, and (4) keeps at most N
requests in flight per endpoint and integration code across the whole process.

>>> client = AutotaskClient(AutotaskCredentials("api@x.example", "s3cret", "CODE"))  # doctest: +SKIP
>>> for company in client.query("Companies", F.begins_with("companyName", "Acme")):  # doctest: +SKIP
...     print(company["id"])
"""

from __future__ import annotations

import functools
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity

from psabridge.autotask.caches import ZONE_CACHE, cache_lock, clear_caches
from psabridge.autotask.errors import (
    AuthenticationError,
    AutotaskError,
    AutotaskServerError,
    OutcomeUnknownError,
    RateLimitError,
    UnsupportedOperationError,
    ZoneDiscoveryError,
)
from psabridge.autotask.http_errors import error_for_response, error_for_transport
from psabridge.autotask.limits import LOCAL_LIMITS, BudgetPolicy, LimitsBackend
from psabridge.autotask.metadata import MetadataReads
from psabridge.autotask.models import (
    AutotaskCredentials,
    ZoneInfo,
    normalize_base_url,
)
from psabridge.autotask.outcomes import retryable
from psabridge.autotask.query import (
    MAX_OR_CONDITIONS,
    Condition,
    FilterInput,
    chunk_in_values,
    normalize_filter,
    query_body,
    to_wire,
)
from psabridge.autotask.registry import EntityRegistry, EntitySpec, load_registry
from psabridge.autotask.stats import CallStats
from psabridge.autotask.zones import fetch_zone
from psabridge.config import AUTOTASK_GLOBAL_ZONE_URL

log = logging.getLogger(__name__)

WRITE_VERBS = frozenset({"create", "update", "replace", "delete"})
#: Autotask answers large or complex queries only after tens of seconds; a read timeout shorter than
#: that turns a slow answer into a failure (and a write into "outcome unknown").
DEFAULT_READ_TIMEOUT = 120.0
#: Establishing the connection is quick when Autotask is up; failing fast here is safe to retry.
DEFAULT_CONNECT_TIMEOUT = 10.0


@functools.lru_cache(maxsize=1)
def shared_tls_context() -> ssl.SSLContext:
    """One certificate-verifying TLS context for every client of the process: building one loads the CA
    bundle (about 0.1 s of CPU), and each client has two connection pools; a sync builds a client per
    run, so on a worker running many small syncs this was most of a sync's CPU time."""
    return httpx.create_ssl_context()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry with full-jitter exponential backoff; ``Retry-After`` is honoured (up to ``max_retry_after``)."""

    max_attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0
    max_retry_after: float = 120.0


class AutotaskClient(MetadataReads):
    """Synchronous, thread-safe client of one Autotask API user.

    ``base_url`` (``https://webservicesN.autotask.net/ATServicesRest/`` or ``.../V1.0/``) pins the API
    address: no zone discovery, ever. ``known_api_url`` is the address found earlier (e.g. stored with a
    connector): it is used without discovery, but Autotask moves tenants between zones, so after a 401 the
    zone is discovered again and, when it moved, ``on_zone_change(zone, old_url)`` is told and the
    request is sent once more to the new address. ``hourly_budget_cap`` is a fraction (0-1] of the
    tenant's hourly threshold or an absolute number of calls per rolling hour; at the cap
    :class:`BudgetExhaustedError` is raised before sending. ``timeout`` is the read timeout: Autotask
    answers some queries only after tens of seconds, so it is generous; connecting must be quick.
    """

    def __init__(
        self,
        credentials: AutotaskCredentials,
        *,
        base_url: str | None = None,
        known_api_url: str | None = None,
        on_zone_change: Callable[[ZoneInfo, str], None] | None = None,
        zone_url: str = AUTOTASK_GLOBAL_ZONE_URL,
        max_in_flight_per_endpoint: int = 3,
        hourly_budget_cap: float | int | None = None,
        timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        budget_policy: BudgetPolicy | None = None,
        registry: EntityRegistry | None = None,
        limits: LimitsBackend | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_in_flight_per_endpoint < 1:
            raise ValueError("max_in_flight_per_endpoint must be at least 1")
        self.credentials = credentials
        self.zone_url = zone_url
        self.max_in_flight_per_endpoint = max_in_flight_per_endpoint
        self.retry_policy = retry or RetryPolicy()
        policy = budget_policy or BudgetPolicy()
        if hourly_budget_cap is not None:
            policy = BudgetPolicy(
                cap=hourly_budget_cap,
                slow_at=policy.slow_at,
                slow_delays=policy.slow_delays,
                refresh_every_calls=policy.refresh_every_calls,
                window_seconds=policy.window_seconds,
            )
        policy.cap_calls(10_000)  # validates the cap early
        self.budget_policy = policy
        self.registry = registry or load_registry()
        self.stats = CallStats()
        self._sleep = sleep
        self._explicit_base = normalize_base_url(base_url) if base_url else None
        self._known_base = normalize_base_url(known_api_url) if known_api_url else None
        self._on_zone_change = on_zone_change
        self._zone_lock = threading.Lock()
        # Concurrency slots and hourly usage: this process by default; Redis (RedisLimits) across workers.
        self._limits = limits or LOCAL_LIMITS
        self._usage = self._limits.usage(f"{credentials.integration_code}|{credentials.username.lower()}")
        timeouts = httpx.Timeout(timeout, connect=min(connect_timeout, timeout))
        tls = shared_tls_context()
        self._http = httpx.Client(
            headers={**credentials.headers(), "Accept": "application/json"},
            timeout=timeouts,
            transport=transport,
            verify=tls,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            follow_redirects=False,
        )
        # Zone discovery is unauthenticated: a separate client so the secret is never sent there.
        self._zone_http = httpx.Client(
            timeout=timeouts, transport=transport, verify=tls, follow_redirects=False
        )

    # --- lifecycle ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pools."""
        self._http.close()
        self._zone_http.close()

    def __enter__(self) -> AutotaskClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"AutotaskClient(username={self.credentials.username!r}, "
            f"integration_code={self.credentials.integration_code!r}, base_url={self._explicit_base!r})"
        )

    # --- zone -----------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The versioned REST base in use (discovering the zone on first use)."""
        if self._explicit_base:
            return self._explicit_base
        if self._known_base:
            return self._known_base
        return self.discover_zone().api_base

    def discover_zone(self, *, refresh: bool = False) -> ZoneInfo:
        """The zone of the username, from ``zoneInformation`` (cached per zone URL and username)."""
        key = (self.zone_url.lower(), self.credentials.username.lower())
        with self._zone_lock:
            if not refresh:
                with cache_lock:
                    cached = ZONE_CACHE.get(key)
                if cached is not None:
                    return cached
            self.stats.record("ZoneInformation", "get")
            zone = fetch_zone(self._zone_http, self.zone_url, self.credentials.username)
            with cache_lock:
                ZONE_CACHE[key] = zone
            return zone

    # --- the request pipeline -------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        entity: str,
        verb: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        parent_id: int | None = None,
    ) -> Any:
        """Send one logical request (with retries and one zone re-discovery after a 401)."""
        try:
            return self._request_with_retries(method, path, entity, verb, body, params, parent_id)
        except AuthenticationError:
            if self._explicit_base or path.startswith(("http://", "https://")):
                raise
            old = self.base_url
            try:
                zone = self.discover_zone(refresh=True)
            except ZoneDiscoveryError:
                raise AuthenticationError(
                    "Autotask refused the credentials and zone re-discovery failed", entity=entity, verb=verb
                ) from None
            if zone.api_base == old:
                raise
            self._known_base = zone.api_base
            log.warning(
                "Autotask moved the tenant of %s to %s (%s); retrying once there",
                self.credentials.username,
                zone.zone_name,
                zone.api_base,
            )
            if self._on_zone_change is not None:
                try:
                    self._on_zone_change(zone, old)
                except Exception:  # remembering the move must not fail the request
                    log.exception("could not record the new Autotask zone")
            return self._request_with_retries(method, path, entity, verb, body, params, parent_id)

    @staticmethod
    def _retryable(exc: BaseException, write: bool) -> bool:
        """From the one table of error outcomes (:mod:`psabridge.autotask.outcomes`)."""
        return retryable(exc, write=write)

    def _backoff(self, attempt: int, exc: BaseException | None) -> float:
        """Full-jitter exponential backoff for the retry after ``attempt`` failures, at least Retry-After."""
        policy = self.retry_policy
        cap = min(policy.max_wait, policy.initial_wait * (2 ** (attempt - 1)))
        wait = random.uniform(policy.initial_wait / 2, max(cap, policy.initial_wait / 2))
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            wait = max(wait, min(exc.retry_after, policy.max_retry_after))
        return wait

    def _first_wait(self, exc: BaseException) -> float:
        log.info("retrying after %s (attempt 1)", type(exc).__name__)
        return self._backoff(1, exc)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self._backoff(state.attempt_number + 1, exc)

    def _request_with_retries(
        self,
        method: str,
        path: str,
        entity: str,
        verb: str,
        body: dict[str, Any] | None,
        params: dict[str, Any] | None,
        parent_id: int | None,
    ) -> Any:
        write = verb in WRITE_VERBS

        def before_sleep(state: tenacity.RetryCallState) -> None:
            self.stats.record_retry()
            exc = state.outcome.exception() if state.outcome else None
            log.info(
                "retrying %s %s after %s (attempt %d)", verb, entity, type(exc).__name__, state.attempt_number
            )

        # Fast path: one attempt without building a retry controller (most calls succeed first time).
        try:
            return self._send_once(method, path, entity, verb, body, params, parent_id)
        except AutotaskError as exc:
            if not self._retryable(exc, write) or self.retry_policy.max_attempts <= 1:
                raise
            first = exc
        self.stats.record_retry()
        self._sleep(self._first_wait(first))
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(1, self.retry_policy.max_attempts - 1)),
            wait=self._wait,
            retry=tenacity.retry_if_exception(lambda e: self._retryable(e, write)),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(self._send_once, method, path, entity, verb, body, params, parent_id)

    def _maybe_refresh_threshold(self) -> None:
        """Keep the tenant-usage estimate fresh at little cost (one call per ``refresh_every_calls``).

        Without a cap, ThresholdInformation is only read once our own calls reach ``refresh_every_calls``
        (small syncs cost nothing extra); with a cap it is read before the first call.
        """
        policy = self.budget_policy
        since = self._usage.calls_since_reading()
        if since is None:
            due = (
                policy.cap is not None
                or self._usage.own_calls(policy.window_seconds) >= policy.refresh_every_calls
            )
        else:
            due = since >= policy.refresh_every_calls
        if due and self._usage.refresh_lock.acquire(blocking=False):
            try:
                self.threshold_information()
            except AutotaskError as exc:
                self._usage.mark_attempt()  # do not retry the reading on every call
                log.warning("could not read ThresholdInformation: %s", exc)
            finally:
                self._usage.refresh_lock.release()

    def _send_once(
        self,
        method: str,
        path: str,
        entity: str,
        verb: str,
        body: dict[str, Any] | None,
        params: dict[str, Any] | None,
        parent_id: int | None,
    ) -> Any:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if entity != "ThresholdInformation":
            self._maybe_refresh_threshold()
        delay = self._usage.check(self.budget_policy)
        if delay > 0:
            self._sleep(delay)
        write = verb in WRITE_VERBS
        # Autotask counts concurrency per integration code and endpoint (the entity's route, child routes
        # included under the child entity); keying on the entity matches that.
        with self._limits.slot(self.credentials.integration_code, entity, self.max_in_flight_per_endpoint):
            self.stats.record(entity, verb)
            self._usage.record()
            try:
                response = self._http.request(method, url, json=body, params=params)
            except httpx.TransportError as exc:
                raise error_for_transport(
                    exc, entity=entity, verb=verb, write=write, body=body, parent_id=parent_id
                ) from None
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %d", method, url.split("?", 1)[0], response.status_code)
        if not 200 <= response.status_code < 300:
            raise error_for_response(
                response, entity=entity, verb=verb, write=write, body=body, parent_id=parent_id
            )
        if verb == "delete" and not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            if write:
                raise OutcomeUnknownError(
                    "Autotask answered the write with an unreadable body; it may or may not have been applied",
                    entity=entity,
                    verb=verb,
                    body=body,
                    parent_id=parent_id,
                    status_code=response.status_code,
                ) from None
            raise AutotaskServerError(
                "Autotask answered with an unreadable body",
                entity=entity,
                verb=verb,
                status_code=response.status_code,
            ) from None

    # --- reads ----------------------------------------------------------------------------------------
    def get(self, entity: str, id: int, *, parent_id: int | None = None) -> dict[str, Any] | None:
        """One record by id, or ``None`` when it does not exist or is not visible (``{"item": null}``)."""
        spec = self.registry.require(entity, "get")
        route = spec.parent_route("get")
        if route is not None and parent_id is not None:
            path = f"{route.path(parent_id)}/{int(id)}"
        elif spec.has_root("get"):
            path = f"{entity}/{int(id)}"
        else:
            raise UnsupportedOperationError(
                f"{entity} can only be read through {route.route if route else 'no route'} (pass parent_id)",
                entity=entity,
                verb="get",
            )
        data = self._request("GET", path, entity=entity, verb="get")
        item = data.get("item") if isinstance(data, dict) else None
        return item if isinstance(item, dict) else None

    def query(
        self,
        entity: str,
        filter: FilterInput = None,
        include_fields: Sequence[str] | None = None,
        max_records: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record matching ``filter`` (all pages, POSTing each ``nextPageUrl`` with the same body).

        The filter is validated now (bad operators, UDF and condition limits raise before any request);
        pages are fetched lazily as the iterator is consumed. ``max_records`` caps the total returned.
        """
        self._require_root(entity, "query")
        items = normalize_filter(filter)
        body = query_body(items, include_fields, max_records)
        return self._paginate(entity, f"{entity}/query", body, max_records)

    def _paginate(
        self, entity: str, path: str, body: dict[str, Any], max_records: int | None
    ) -> Iterator[dict[str, Any]]:
        returned = 0
        url = path
        seen: set[str] = set()
        while True:
            data = self._request("POST", url, entity=entity, verb="query", body=body)
            items = data.get("items") if isinstance(data, dict) else None
            for item in items or []:
                yield item
                returned += 1
                if max_records is not None and returned >= max_records:
                    return
            details = data.get("pageDetails") if isinstance(data, dict) else None
            next_url = details.get("nextPageUrl") if isinstance(details, dict) else None
            if not next_url or not items or next_url in seen:
                return
            self._require_same_host(str(next_url), entity)
            seen.add(next_url)
            url = str(next_url)

    def _require_same_host(self, url: str, entity: str) -> None:
        """The credentials travel with every request: follow a ``nextPageUrl`` only to the host (scheme
        and port included) of the API address in use, never to wherever an answer points."""
        wanted = httpx.URL(self.base_url)
        try:
            given = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            given = None
        if given is None or (given.scheme, given.host, given.port) != (
            wanted.scheme,
            wanted.host,
            wanted.port,
        ):
            raise AutotaskServerError(
                f"Autotask answered a {entity} query with a next page on another host; not followed",
                entity=entity,
                verb="query",
            )

    def query_in(
        self,
        entity: str,
        field: str,
        values: Iterable[Any],
        *,
        extra: FilterInput = None,
        include_fields: Sequence[str] | None = None,
        udf: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Records whose ``field`` is one of ``values``, in as few queries as the 500-condition limit allows.

        ``extra`` conditions are AND-ed to each chunk; their condition count is reserved in every chunk.
        """
        self._require_root(entity, "query")
        extra_items = normalize_filter(extra) if extra is not None else []
        reserved = sum(item.condition_count() for item in extra_items)
        chunks = list(chunk_in_values(values, MAX_OR_CONDITIONS - reserved))
        bodies = [
            query_body([Condition("in", field, tuple(chunk), udf), *extra_items], include_fields)
            for chunk in chunks
        ]
        normalize_filter([Condition("in", field, ("x",), udf), *extra_items])  # UDF rule with the extras

        def run() -> Iterator[dict[str, Any]]:
            for body in bodies:
                yield from self._paginate(entity, f"{entity}/query", body, None)

        return run()

    def count(self, entity: str, filter: FilterInput = None) -> int:
        """How many records match (``POST /{Entity}/query/count``)."""
        self._require_root(entity, "count")
        items = normalize_filter(filter)
        data = self._request(
            "POST", f"{entity}/query/count", entity=entity, verb="count", body=query_body(items)
        )
        try:
            return int(data["queryCount"])
        except (KeyError, TypeError, ValueError):
            raise AutotaskServerError(
                "count answer without queryCount", entity=entity, verb="count"
            ) from None

    # --- writes ---------------------------------------------------------------------------------------
    def _require_root(self, entity: str, verb: str) -> EntitySpec:
        spec = self.registry.require(entity, verb)
        if not spec.has_root(verb):
            raise UnsupportedOperationError(
                f"Autotask offers {verb!r} on {entity} only through a parent route", entity=entity, verb=verb
            )
        return spec

    def _write_path(
        self, entity: str, verb: str, body: dict[str, Any] | None, parent_id: int | None
    ) -> tuple[str, int | None, dict[str, Any] | None]:
        """The route for a write: the root route, or the parent route (parent id from arg or body)."""
        spec = self.registry.require(entity, verb)
        route = spec.parent_route(verb)
        if spec.has_root(verb) and (parent_id is None or route is None):
            return entity, None, body
        if route is None:  # pragma: no cover - require() guarantees one of the two
            raise UnsupportedOperationError(f"no route for {verb} {entity}", entity=entity, verb=verb)
        pid = parent_id
        if pid is None and body is not None and route.parent_field:
            raw = body.get(route.parent_field)
            pid = int(raw) if raw is not None else None
        if pid is None:
            raise ValueError(
                f"{verb} {entity} goes through {route.route}: pass parent_id= or set {route.parent_field!r} in the body"
            )
        if body is not None and verb == "create" and route.parent_field and route.parent_field not in body:
            body = {**body, route.parent_field: int(pid)}
        return route.path(pid), int(pid), body

    def create(self, entity: str, body: dict[str, Any], *, parent_id: int | None = None) -> int:
        """Create a record; returns its id (``itemId``). Child entities go through their parent route.

        ``None`` values are left out: on a create they clear nothing, and Autotask answers an explicit
        null in a create body with a 500 (KelvinTegelaar/AutotaskAPI#26)."""
        present = {k: v for k, v in body.items() if v is not None}
        path, pid, sent = self._write_path(entity, "create", to_wire(present), parent_id)
        data = self._request("POST", path, entity=entity, verb="create", body=sent, parent_id=pid)
        return self._item_id(data, entity, "create", sent, pid)

    def update(self, entity: str, body: dict[str, Any], *, parent_id: int | None = None) -> int:
        """Change only the fields in ``body`` (PATCH); ``body["id"]`` names the record. Returns the id."""
        self._require_id(entity, "update", body)
        path, pid, sent = self._write_path(entity, "update", to_wire(dict(body)), parent_id)
        data = self._request("PATCH", path, entity=entity, verb="update", body=sent, parent_id=pid)
        return self._item_id(data, entity, "update", sent, pid)

    def replace(self, entity: str, body: dict[str, Any], *, parent_id: int | None = None) -> int:
        """Replace the record (PUT): omitted fields are cleared. Returns the id."""
        self._require_id(entity, "replace", body)
        path, pid, sent = self._write_path(entity, "replace", to_wire(dict(body)), parent_id)
        data = self._request("PUT", path, entity=entity, verb="replace", body=sent, parent_id=pid)
        return self._item_id(data, entity, "replace", sent, pid)

    def delete(self, entity: str, id: int, *, parent_id: int | None = None) -> None:
        """Delete a record (only entities Autotask allows it for; child entities need ``parent_id``)."""
        path, pid, _ = self._write_path(entity, "delete", None, parent_id)
        self._request("DELETE", f"{path}/{int(id)}", entity=entity, verb="delete", parent_id=pid)

    @staticmethod
    def _require_id(entity: str, verb: str, body: dict[str, Any]) -> None:
        if body.get("id") in (None, ""):
            raise ValueError(f"{verb} {entity}: the body must contain the record's 'id'")

    @staticmethod
    def _item_id(data: Any, entity: str, verb: str, body: dict[str, Any] | None, pid: int | None) -> int:
        try:
            return int(data["itemId"])
        except (KeyError, TypeError, ValueError):
            raise OutcomeUnknownError(
                "Autotask answered the write without an itemId",
                entity=entity,
                verb=verb,
                body=body,
                parent_id=pid,
            ) from None

    def threshold_information(self) -> dict[str, Any]:
        """``ThresholdInformation``: the tenant's hourly threshold and current usage (also updates pacing)."""
        data = self._request("GET", "ThresholdInformation", entity="ThresholdInformation", verb="get")
        if isinstance(data, dict):
            self._usage.observe_threshold(data)
            return dict(data)
        raise AutotaskServerError("unreadable ThresholdInformation answer", entity="ThresholdInformation")

    def budget_usage(self) -> dict[str, Any]:
        """Own calls in the last hour, estimated tenant usage, threshold and cap."""
        return self._usage.snapshot(self.budget_policy)


__all__ = ["WRITE_VERBS", "AutotaskClient", "RetryPolicy", "clear_caches"]
