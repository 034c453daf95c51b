"""The emulator as an ASGI application (Starlette): Autotask's REST surface plus the ``/_emulator``
control API used by tests and the demo.

Request pipeline, in Autotask's order: zone discovery needs no auth; a request to a zone that does not
host the tenant answers 401; everything else authenticates by headers (wrong secret: 401 with an empty
body; unknown user or wrong integration code: 500), resolves the route against the official description
(404 / 405 with ASP.NET's ``{"Message": ...}``), counts against the hourly budget (blocked over it, slowed
past 50% / 75%), enforces the concurrency limit per integration code and endpoint (thread limit), applies
injected faults, then runs the operation under the tenant's lock.

Zones: the tenant lives in zone 1 (``/ATServicesRest/``) until the control API moves it
(``POST /_emulator/zone {"moved": true}``) to zone 2 (``/zone2/ATServicesRest/`` on the same server), as
Autotask moved its AUS/NZ tenants from webservices6 to webservices29 on 2026-03-11. After the move,
zoneInformation (answered under either base) names zone 2 and its URL, and every API request to the old
base answers 401 with an empty body, which is what a client holding a stale zone URL sees
(WYRE-AI/autotask-mcp PR #240). ``/_emulator/reset`` moves the tenant back.

Pagination: see :mod:`psabridge.emulator.paging`; what each operation does:
:mod:`psabridge.emulator.operations`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from psabridge.emulator.api_users import BAD_CODE_MESSAGE, UNKNOWN_USER_MESSAGE
from psabridge.emulator.control import ZONE2_NAME, ZONE_PREFIXES, control_routes
from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.faults import FaultBook
from psabridge.emulator.limits import LimitSettings, RequestMeter
from psabridge.emulator.operations import not_allowed, run_operation
from psabridge.emulator.responses import (
    DroppedResponse,
    error_response,
    json_response,
    message_response,
    shaped_response,
    unauthorized,
)
from psabridge.emulator.routes import RouteMatch, route_table
from psabridge.emulator.rules import RuleSwitches
from psabridge.emulator.tenant import EmulatorTenant

log = logging.getLogger(__name__)
MAX_QUERY_STRING = 2048  # IIS maxQueryString default
#: Reconstructed from n8n-nodes-autotask PR #107/#110 and its retry handler (exact prefix not captured).
THREAD_LIMIT_MESSAGE = (
    "Thread Threshold Exceeded: the Autotask API thread threshold of {n} threads has been exceeded. "
    "Itgenatr005"
)
ZONE_MISSING_USER = "Zone information could not be determined"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class Emulator:
    """Everything one emulator process holds besides the tenant: limits, faults, zone, call counters."""

    def __init__(self, tenant: EmulatorTenant, limits: LimitSettings | None = None) -> None:
        self.tenant = tenant
        self.initial_limits = dataclasses.replace(limits or LimitSettings())
        self.meter = RequestMeter(dataclasses.replace(self.initial_limits))
        self.faults = FaultBook()
        self.latency_ms = 0
        self.calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.routes = route_table()
        self.zone = 1  # the zone hosting the tenant (2 after a zone move)
        self.thread_rejections = 0

    @property
    def rules(self) -> RuleSwitches:
        rules: RuleSwitches = self.tenant.rules
        return rules

    # ----- the Autotask surface ----------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        try:
            return await self._handle(request)
        except EmulatorError as exc:
            return shaped_response(exc.status, exc.errors, exc.headers, exc.shape)
        except Exception as exc:  # a bug or input nobody foresaw: answer like Autotask, never hang up
            log.exception("emulator error on %s %s", request.method, request.url.path)
            return error_response(500, [f"An unexpected error has occurred: {type(exc).__name__}."])

    @staticmethod
    def _no_route(request: Request) -> Response:
        """ASP.NET's 404 body (Autotask's own 404 body is not captured publicly)."""
        return message_response(
            404, f"No HTTP resource was found that matches the request URI '{request.url}'."
        )

    def _thread_limited(self, status: int | None = None) -> Response:
        """The thread-limit rejection: 429, or 500 every Nth time (rules.thread_limit_500_every), as
        n8n-nodes-autotask's retry handler reports it may arrive with a non-429 status."""
        self.thread_rejections += 1
        every = self.rules.thread_limit_500_every
        if status is None:
            status = 500 if every and self.thread_rejections % every == 0 else 429
        return error_response(status, [THREAD_LIMIT_MESSAGE.format(n=self.meter.settings.max_concurrent)])

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        parts = [p for p in path.split("/") if p]
        zone = 1
        if parts and parts[0].lower() == ZONE_PREFIXES[2].strip("/"):
            zone, parts = 2, parts[1:]
        if len(parts) < 2 or parts[0].lower() != "atservicesrest" or parts[1].lower() != "v1.0":
            return self._no_route(request)
        parts = parts[2:]
        method = request.method.upper()
        if len(request.scope.get("query_string", b"")) > MAX_QUERY_STRING:
            # IIS in front of Autotask refuses long query strings (404.15): why GET ?search= is fragile
            return error_response(
                404,
                [
                    "The request filtering module is configured to deny a request where the query string is too long."
                ],
            )
        if len(parts) == 1 and parts[0].lower() == "zoneinformation":
            if method != "GET":
                raise not_allowed(method, {"GET"})
            return self._zone(request)
        if zone != self.zone:
            return unauthorized()  # this zone does not host the tenant (any more)
        request.state.api_root = f"{self._base(request)}{ZONE_PREFIXES[zone]}/ATServicesRest/V1.0"
        headers = request.headers
        auth = self.tenant.authenticate(
            headers.get("username"), headers.get("secret"), headers.get("apiintegrationcode")
        )
        user = auth.user
        if user is None:
            if auth.failure == "unknown_user":
                return error_response(500, [UNKNOWN_USER_MESSAGE])
            if auth.failure == "bad_code":
                return error_response(500, [BAD_CODE_MESSAGE])
            return unauthorized()
        match = self._match(parts)
        if match is None:
            return self._no_route(request)
        if method not in match.verbs:
            raise not_allowed(method, match.verbs)
        impersonate = self._impersonation(headers.get("impersonationresourceid"))
        endpoint = match.entity or match.segments[0]
        verb = self._verb(match, method)
        self.calls[endpoint][verb] += 1
        allowed, threshold_delay = self.meter.admit()
        if not allowed:
            return error_response(
                429,
                [
                    f"Request rejected: the API request threshold of {self.meter.settings.hourly_limit} requests per hour has been exceeded for this database."
                ],
            )
        if not self.meter.enter(user.integration_code, endpoint):
            return self._thread_limited()
        try:
            faults = self.faults.pick(method, endpoint, path)
            delay = (
                threshold_delay
                + self.latency_ms / 1000
                + sum(f.ms for f in faults if f.action == "latency") / 1000
            )
            if delay > 0:
                await asyncio.sleep(delay)
            failure = next((f for f in faults if f.action != "latency"), None)
            if failure is not None and failure.action == "500":
                return error_response(500, ["An unexpected error has occurred (injected fault)."])
            if failure is not None and failure.action == "429":
                return error_response(429, ["Too many requests (injected fault)."], {"Retry-After": "1"})
            if failure is not None and failure.action == "thread_limit":
                return self._thread_limited(failure.status)
            response = await run_operation(self, request, match, method, user, impersonate)
            if failure is not None and failure.action == "drop_after_commit":
                return DroppedResponse()
            return response
        finally:
            self.meter.leave(user.integration_code, endpoint)

    def _match(self, parts: list[str]) -> RouteMatch | None:
        """The description's route, or the undocumented ``{Entity}/query/next`` of a query route."""
        if len(parts) >= 3 and parts[-1].lower() == "next" and parts[-2].lower() == "query":
            inner = self.routes.match(parts[:-1])
            if inner is None or inner.entity is None or inner.segments[-1].lower() != "query":
                return None
            return RouteMatch(
                inner.template + "/next",
                frozenset({"GET", "POST"}),
                inner.entity,
                (*inner.segments, "next"),
                inner.params,
            )
        return self.routes.match(parts)

    def _zone(self, request: Request) -> Response:
        user = request.query_params.get("user") or ""
        if not user or not self.tenant.knows_user(user):
            return error_response(500, [ZONE_MISSING_USER])  # captured (KelvinTegelaar/AutotaskAPI#17)
        base = self._base(request) + ZONE_PREFIXES[self.zone]
        return json_response(
            {
                "zoneName": self.tenant.zone_name if self.zone == 1 else ZONE2_NAME,
                "url": f"{base}/ATServicesRest/",
                "webUrl": f"{base}/",
                "ci": 99,
            }
        )

    @staticmethod
    def _base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def _impersonation(self, raw: str | None) -> int | None:
        if not raw:
            return None
        try:
            rid = int(raw)
        except ValueError:
            raise EmulatorError(
                500, [f"ImpersonationResourceId '{raw}' is not a valid resource id."]
            ) from None
        resource = self.tenant.get("Resources", rid)
        if resource is None or not resource.get("isActive"):
            raise EmulatorError(500, [f"Impersonation failed: resource {rid} does not exist or is inactive."])
        return rid

    @staticmethod
    def _verb(match: RouteMatch, method: str) -> str:
        segs = [s.lower() for s in match.segments]
        if "entityinformation" in segs:
            return "metadata"
        if segs[-1] == "count":
            return "count"
        if segs[-1] in ("query", "next"):
            return "query"
        if segs[-1] == "{id}":
            return "delete" if method == "DELETE" else "get"
        return {"POST": "create", "PATCH": "update", "PUT": "replace", "GET": "list", "DELETE": "delete"}[
            method
        ]

    # ----- control API -------------------------------------------------------------------------
    def reset(self) -> None:
        """The seeded tenant in zone 1, initial rules and limits, no faults, latency or counters."""
        self.tenant.reset()
        self.zone = 1
        self.thread_rejections = 0
        self.faults.clear()
        self.latency_ms = 0
        self.calls.clear()
        self.meter.settings = dataclasses.replace(self.initial_limits)
        self.meter.reset()

    def calls_json(self) -> dict[str, Any]:
        calls = {entity: dict(verbs) for entity, verbs in self.calls.items()}
        return {"calls": calls, "total": sum(sum(v.values()) for v in calls.values())}


def create_emulator_app(
    tenant: EmulatorTenant | None = None,
    *,
    state_file: str | os.PathLike[str] | None = None,
    limits: LimitSettings | None = None,
    rules: RuleSwitches | None = None,
) -> Starlette:
    """The emulator ASGI app; ``app.state.emulator`` is the :class:`Emulator` behind it. ``rules``
    (only without ``tenant``; else the tenant's own) are the switches reset restores."""
    if tenant is None:
        tenant = EmulatorTenant(state_file=state_file, rules=rules)
    emu = Emulator(tenant, limits)

    async def api(request: Request) -> Response:
        return await emu.handle(request)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        tenant.close()  # clean shutdown folds the journal into the snapshot

    app = Starlette(
        routes=[*control_routes(emu), Route("/{path:path}", api, methods=ALL_METHODS)], lifespan=lifespan
    )
    app.state.emulator = emu
    return app
