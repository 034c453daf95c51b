"""Process-wide concurrency limiter and hourly API budget.

Why process-wide: Autotask allows 3 concurrent requests per integration code *per endpoint* and
answers the 4th with a 429 (thread limit). The sync engine writes from several threads and the web app
builds a fresh client per request, so the limit must be shared by every client object using the same
integration code. Likewise the hourly budget (10,000 calls per rolling hour per Autotask database,
shared by all integrations) is tracked per tenant, not per client object.

Limits are per process; several worker processes each keep their own (documented limitation).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psabridge.autotask.errors import BudgetExhaustedError

#: Autotask's documented default hourly request threshold per database.
DEFAULT_HOURLY_THRESHOLD = 10_000


class _Gate:
    """Counting gate whose limit is supplied per acquire (clients may be configured differently)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.in_flight = 0
        self.peak = 0

    def acquire(self, limit: int) -> None:
        with self.cond:
            while self.in_flight >= limit:
                self.cond.wait()
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def release(self) -> None:
        with self.cond:
            self.in_flight -= 1
            self.cond.notify()


class EndpointLimiter:
    """At most N requests in flight per (integration code, endpoint), shared by the whole process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[tuple[str, str], _Gate] = {}

    def _gate(self, integration_code: str, endpoint: str) -> _Gate:
        key = (integration_code, endpoint.lower())
        with self._lock:
            gate = self._gates.get(key)
            if gate is None:
                gate = self._gates[key] = _Gate()
            return gate

    @contextmanager
    def slot(self, integration_code: str, endpoint: str, limit: int) -> Iterator[None]:
        """Hold one of the ``limit`` slots of the endpoint for the duration of a request."""
        gate = self._gate(integration_code, endpoint)
        gate.acquire(max(1, limit))
        try:
            yield
        finally:
            gate.release()

    def in_flight(self, integration_code: str, endpoint: str) -> int:
        return self._gate(integration_code, endpoint).in_flight

    def peak(self, integration_code: str, endpoint: str) -> int:
        """Highest number of simultaneous requests seen (for tests and diagnostics)."""
        return self._gate(integration_code, endpoint).peak


#: The limiter every client of this process shares.
ENDPOINT_LIMITER = EndpointLimiter()


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    """How much of the tenant's hourly budget this integration may use and how to pace near the limit.

    ``cap``: ``None`` (no own cap), a fraction ``0 < cap <= 1`` of the tenant threshold, or an absolute
    number of calls (> 1) per rolling hour. ``slow_at``/``slow_delays``: extra pause before each call once
    the tenant's estimated usage passes these fractions (Autotask itself slows responses past 50%/75%;
    pausing on our side leaves room for the tenant's other integrations).
    """

    cap: float | int | None = None
    slow_at: tuple[float, float] = (0.5, 0.75)
    slow_delays: tuple[float, float] = (0.25, 1.0)
    refresh_every_calls: int = 1000
    window_seconds: float = 3600.0

    def cap_calls(self, threshold: int) -> int | None:
        """The cap as a number of own calls per window, given the tenant threshold."""
        if self.cap is None:
            return None
        if isinstance(self.cap, float) and 0 < self.cap <= 1:
            return max(1, int(threshold * self.cap))
        if isinstance(self.cap, int) and self.cap >= 1:
            return self.cap
        raise ValueError(
            f"hourly_budget_cap must be a fraction in (0, 1] or a positive integer, not {self.cap!r}"
        )


class UsageTracker:
    """Rolling-hour usage of one tenant: our own calls plus the last ``ThresholdInformation`` reading.

    Subclasses store the figures (in this process: :class:`TenantUsage`; across workers:
    :class:`psabridge.autotask.redis_limits.RedisTenantUsage`); the budget decisions live here.
    """

    threshold: int
    #: Held by the one caller refreshing ThresholdInformation (``acquire(blocking=False)``/``release()``).
    refresh_lock: Any

    def now(self) -> float:
        raise NotImplementedError

    def record(self) -> None:
        raise NotImplementedError

    def observe_threshold(self, info: dict[str, Any]) -> None:
        raise NotImplementedError

    def mark_attempt(self) -> None:
        raise NotImplementedError

    def calls_since_reading(self) -> int | None:
        raise NotImplementedError

    def own_calls(self, window: float) -> int:
        raise NotImplementedError

    def oldest_call(self, window: float) -> float | None:
        raise NotImplementedError

    def estimated_tenant_calls(self, window: float) -> int:
        raise NotImplementedError

    def check(self, policy: BudgetPolicy) -> float:
        """Raise :class:`BudgetExhaustedError` at the cap; else the pause to take before the next call."""
        refused, tenant = self._assess(policy)
        if refused is not None:
            raise refused
        fraction = tenant / self.threshold
        if fraction >= policy.slow_at[1]:
            return policy.slow_delays[1]
        if fraction >= policy.slow_at[0]:
            return policy.slow_delays[0]
        return 0.0

    def resume_at(self, policy: BudgetPolicy) -> datetime | None:
        """When the budget lets the next call through (UTC); None: it does now. What a paused sync
        waits for before it is run again."""
        refused, _ = self._assess(policy)
        return None if refused is None else refused.resume_at

    def _assess(self, policy: BudgetPolicy) -> tuple[BudgetExhaustedError | None, int]:
        """The refusal of the next call (None: allowed), and the tenant's estimated usage."""
        window = policy.window_seconds
        own = self.own_calls(window)
        cap = policy.cap_calls(self.threshold)
        tenant = self.estimated_tenant_calls(window)
        if cap is not None and own >= cap:
            # the cap frees when our oldest call of the window leaves it
            now = self.now()
            oldest = self.oldest_call(window)
            wait = max(0.0, (oldest if oldest is not None else now) + window - now)
            return BudgetExhaustedError(
                f"hourly API budget cap reached ({own} of {cap} calls in the last hour)",
                resume_at=datetime.now(UTC) + timedelta(seconds=wait),
            ), tenant
        if tenant >= self.threshold:
            # other integrations' calls are invisible: look again in a twelfth of the window
            return BudgetExhaustedError(
                f"the tenant's hourly API threshold is reached (about {tenant} of {self.threshold} calls)",
                resume_at=datetime.now(UTC) + timedelta(seconds=window / 12),
            ), tenant
        return None, tenant

    def snapshot(self, policy: BudgetPolicy) -> dict[str, Any]:
        """Usage figures for dashboards and the sync engine."""
        tenant = self.estimated_tenant_calls(policy.window_seconds)
        return {
            "own_calls_last_hour": self.own_calls(policy.window_seconds),
            "estimated_tenant_calls": tenant,
            "threshold": self.threshold,
            "fraction": tenant / self.threshold,
            "cap": policy.cap_calls(self.threshold),
        }


class TenantUsage(UsageTracker):
    """:class:`UsageTracker` kept in this process's memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._own: deque[float] = deque()
        self.threshold = DEFAULT_HOURLY_THRESHOLD
        self._tenant_count: int | None = None
        self._own_at_reading = 0  # total own calls when the reading was taken
        self._own_total = 0
        self._reading_at: float | None = None
        #: Held by the one thread refreshing ThresholdInformation, so others do not pile on.
        self.refresh_lock = threading.Lock()

    def now(self) -> float:
        return self._clock()

    def oldest_call(self, window: float) -> float | None:
        with self._lock:
            self._prune(self._clock(), window)
            return self._own[0] if self._own else None

    def _prune(self, now: float, window: float) -> None:
        while self._own and self._own[0] <= now - window:
            self._own.popleft()

    def record(self) -> None:
        with self._lock:
            self._own.append(self._clock())
            self._own_total += 1

    def observe_threshold(self, info: dict[str, Any]) -> None:
        """Take a ``ThresholdInformation`` answer as the new baseline."""
        with self._lock:
            threshold = info.get("externalRequestThreshold")
            if isinstance(threshold, int) and threshold > 0:
                self.threshold = threshold
            count = info.get("currentTimeframeRequestCount")
            if isinstance(count, int):
                self._tenant_count = count
                self._own_at_reading = self._own_total
                self._reading_at = self._clock()

    def mark_attempt(self) -> None:
        """A reading was attempted (and failed): wait another refresh interval before the next one."""
        with self._lock:
            self._own_at_reading = self._own_total
            self._reading_at = self._clock()

    def calls_since_reading(self) -> int | None:
        with self._lock:
            return None if self._reading_at is None else self._own_total - self._own_at_reading

    def own_calls(self, window: float) -> int:
        with self._lock:
            self._prune(self._clock(), window)
            return len(self._own)

    def estimated_tenant_calls(self, window: float) -> int:
        """Tenant usage: last reading plus our calls since, or just our own calls without a reading."""
        with self._lock:
            self._prune(self._clock(), window)
            if self._tenant_count is None:
                return len(self._own)
            return max(self._tenant_count + self._own_total - self._own_at_reading, len(self._own))


class _UsageRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usages: dict[str, TenantUsage] = {}

    def get(self, tenant_key: str) -> TenantUsage:
        with self._lock:
            usage = self._usages.get(tenant_key)
            if usage is None:
                usage = self._usages[tenant_key] = TenantUsage()
            return usage

    def clear(self) -> None:
        with self._lock:
            self._usages.clear()


#: Usage per tenant, shared by every client of this process.
TENANT_USAGE = _UsageRegistry()


class LimitsBackend:
    """Where the concurrency slots and the hourly usage live: this process (default) or Redis."""

    def slot(self, integration_code: str, endpoint: str, limit: int) -> AbstractContextManager[None]:
        raise NotImplementedError

    def usage(self, tenant_key: str) -> UsageTracker:
        raise NotImplementedError


class LocalLimits(LimitsBackend):
    """Limits shared by every thread and client of this process."""

    def slot(self, integration_code: str, endpoint: str, limit: int) -> AbstractContextManager[None]:
        return ENDPOINT_LIMITER.slot(integration_code, endpoint, limit)

    def usage(self, tenant_key: str) -> UsageTracker:
        return TENANT_USAGE.get(tenant_key)


LOCAL_LIMITS = LocalLimits()


__all__ = [
    "DEFAULT_HOURLY_THRESHOLD",
    "ENDPOINT_LIMITER",
    "LOCAL_LIMITS",
    "TENANT_USAGE",
    "BudgetPolicy",
    "EndpointLimiter",
    "LimitsBackend",
    "LocalLimits",
    "TenantUsage",
    "UsageTracker",
]
