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

This module holds the client's construction, lifecycle, zone and budget figures; the rest is mixed in:
:mod:`~psabridge.autotask.sending` (the request pipeline: retries, pacing, slots, error mapping),
:mod:`~psabridge.autotask.record_reads` (get, paged queries, counts),
:mod:`~psabridge.autotask.record_writes` (create, update, replace, delete) and
:mod:`~psabridge.autotask.metadata` (fields, picklists, UDFs).
"""

from __future__ import annotations

import functools
import ssl
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from psabridge.autotask.caches import ZONE_CACHE, cache_lock, clear_caches
from psabridge.autotask.errors import AutotaskServerError
from psabridge.autotask.limits import LOCAL_LIMITS, BudgetPolicy, LimitsBackend
from psabridge.autotask.metadata import MetadataReads
from psabridge.autotask.models import (
    AutotaskCredentials,
    ZoneInfo,
    normalize_base_url,
)
from psabridge.autotask.record_reads import RecordReads
from psabridge.autotask.record_writes import RecordWrites
from psabridge.autotask.registry import EntityRegistry, load_registry
from psabridge.autotask.sending import WRITE_VERBS, RetryPolicy
from psabridge.autotask.stats import CallStats
from psabridge.autotask.zones import fetch_zone
from psabridge.config import AUTOTASK_GLOBAL_ZONE_URL

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


class AutotaskClient(RecordReads, RecordWrites, MetadataReads):
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
        #: whose limits these calls count against: the tenant (its API user) and the integration code.
        #: Autotask enforces its limits in each tenant's database, so two MSPs whose tenants are used with
        #: the same integration code (PSA Bridge's, say) neither share 3 slots nor an hourly budget.
        self.limit_key = f"{credentials.integration_code}|{credentials.username.lower()}"
        self._usage = self._limits.usage(self.limit_key)
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

    def budget_resume_at(self) -> datetime | None:
        """When the hourly budget lets the next call through (UTC); None: now. A paused sync is
        queued again for then."""
        return self._usage.resume_at(self.budget_policy)


__all__ = ["WRITE_VERBS", "AutotaskClient", "RetryPolicy", "clear_caches"]
