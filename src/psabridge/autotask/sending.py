"""Sending one logical request to Autotask: retries, pacing, concurrency slots and error mapping.

Why a module of its own: this is where the client's safety rules are enforced for every call, whatever
the entity: only what is provably safe to retry is retried — reads, and requests Autotask rejected before
executing them (429 / thread limit / connection never established), with full-jitter backoff honouring
``Retry-After`` — a write whose answer was lost becomes :class:`OutcomeUnknownError`, at most N requests
are in flight per endpoint and integration code, the tenant's hourly budget is checked (and its reading
refreshed) before sending, and after a 401 the zone is discovered once more. The typed entity methods
(:mod:`~psabridge.autotask.record_reads`, :mod:`~psabridge.autotask.record_writes`,
:mod:`~psabridge.autotask.metadata`) only build paths and bodies and hand them to :meth:`_request`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity

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
from psabridge.autotask.limits import BudgetPolicy, LimitsBackend, UsageTracker
from psabridge.autotask.models import AutotaskCredentials, ZoneInfo
from psabridge.autotask.outcomes import retryable
from psabridge.autotask.registry import EntityRegistry, EntitySpec
from psabridge.autotask.stats import CallStats

# The client's logger name, kept from before the pipeline moved out of psabridge.autotask.client.
log = logging.getLogger("psabridge.autotask.client")

WRITE_VERBS = frozenset({"create", "update", "replace", "delete"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry with full-jitter exponential backoff; ``Retry-After`` is honoured (up to ``max_retry_after``)."""

    max_attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0
    max_retry_after: float = 120.0


class RequestSending:
    """The request pipeline of :class:`psabridge.autotask.client.AutotaskClient` (the base of its halves).

    The client's constructor sets the attributes below; ``base_url``, ``discover_zone`` and
    ``threshold_information`` are the client's own.
    """

    credentials: AutotaskCredentials
    limit_key: str
    registry: EntityRegistry
    stats: CallStats
    retry_policy: RetryPolicy
    budget_policy: BudgetPolicy
    _sleep: Callable[[float], None]
    _explicit_base: str | None
    _known_base: str | None
    _on_zone_change: Callable[[ZoneInfo, str], None] | None
    _limits: LimitsBackend
    _usage: UsageTracker
    _http: httpx.Client
    max_in_flight_per_endpoint: int

    @property
    def base_url(self) -> str:  # pragma: no cover - provided by the client
        raise NotImplementedError

    def discover_zone(self, *, refresh: bool = False) -> ZoneInfo:  # pragma: no cover - the client's
        raise NotImplementedError

    def threshold_information(self) -> dict[str, Any]:  # pragma: no cover - provided by the client
        raise NotImplementedError

    def _require_root(self, entity: str, verb: str) -> EntitySpec:
        spec = self.registry.require(entity, verb)
        if not spec.has_root(verb):
            raise UnsupportedOperationError(
                f"Autotask offers {verb!r} on {entity} only through a parent route", entity=entity, verb=verb
            )
        return spec

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
        # included under the child entity) in each tenant: keyed on the tenant's API user, the integration
        # code and the entity.
        with self._limits.slot(self.limit_key, entity, self.max_in_flight_per_endpoint):
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


__all__ = ["WRITE_VERBS", "RequestSending", "RetryPolicy"]
