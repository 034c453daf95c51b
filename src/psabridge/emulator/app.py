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

Pagination: pages of at most 500 items; ``nextPageUrl``/``prevPageUrl`` are absolute URLs on the zone that
answered, ``<base>/ATServicesRest/V1.0/<Entity>/query/next?paging=<{"pageSize","previousIds","nextIds"}>
&search=<the original search, or {} after a POST query>`` (Autotask's shape). ``query/next`` is not in the
description but is real: POST it with the query's body after a POST query (GET answers 405 then), GET it
after a GET ``?search=`` query. A child collection (``GET /Contracts/{id}/Services``) pages the same way,
its search being the parent condition.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import json
import logging
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from psabridge.emulator.api_users import BAD_CODE_MESSAGE, UNKNOWN_USER_MESSAGE, ApiUser
from psabridge.emulator.control import ZONE2_NAME, ZONE_PREFIXES, control_routes
from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.faults import FaultBook
from psabridge.emulator.limits import LimitSettings, RequestMeter
from psabridge.emulator.metadata import entity_information, field_information, udf_information
from psabridge.emulator.query import MISSING_FILTER, lower_keys, unknown_field
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
from psabridge.emulator.schema import EntityDef
from psabridge.emulator.tenant import EmulatorTenant

log = logging.getLogger(__name__)
PAGE_SIZE = 500
MAX_QUERY_STRING = 2048  # IIS maxQueryString default
#: Reconstructed from n8n-nodes-autotask PR #107/#110 and its retry handler (exact prefix not captured).
THREAD_LIMIT_MESSAGE = (
    "Thread Threshold Exceeded: the Autotask API thread threshold of {n} threads has been exceeded. "
    "Itgenatr005"
)
MAX_RECORDS_MESSAGE = f"maxCountOfRecordsToReturn must be between 1 and {PAGE_SIZE}"
ZONE_MISSING_USER = "Zone information could not be determined"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_URL_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!*()")


def _no_constants(name: str) -> Any:
    """NaN and Infinity are not JSON; Python would accept them and then emit invalid JSON."""
    raise ValueError(f"{name} is not valid JSON")


def url_encode(text: str) -> str:
    """Encode a query-string value as .NET's ``HttpUtility.UrlEncode`` does (lower-case ``%xx``, ``+``
    for a space), which is how Autotask's ``nextPageUrl`` spells its parameters."""
    out: list[str] = []
    for byte in text.encode("utf-8"):
        if byte in _URL_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02x}")
    return "".join(out)


@dataclasses.dataclass(frozen=True)
class Paging:
    """The ``paging`` parameter of a ``query/next`` URL: page size, the start ids of the earlier pages
    (``-1``: from the first record) and the start id of the page asked for."""

    page_size: int | None
    previous_ids: list[int]
    start: int

    @classmethod
    def parse(cls, raw: str | None) -> Paging:
        if raw is None:
            return cls(None, [], -1)
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError
            size = data.get("pageSize")
            previous = data.get("previousIds") or []
            nxt = data.get("nextIds") or [-1]
            if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
                raise ValueError
            ids = [*previous, *nxt]
            if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise ValueError
            return cls(size, list(previous), int(nxt[0]))
        except (ValueError, TypeError):
            raise EmulatorError(500, ["The paging parameter is not valid."]) from None

    @staticmethod
    def encode(size: int, previous: list[int], start: int) -> str:
        return json.dumps(
            {"pageSize": size, "previousIds": previous, "nextIds": [start]}, separators=(",", ":")
        )


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

    @staticmethod
    def _not_allowed(method: str, verbs: frozenset[str] | set[str]) -> EmulatorError:
        return EmulatorError(
            405,
            [f"The requested resource does not support http method '{method}'."],
            {"Allow": ", ".join(sorted(verbs))},
            shape="message",
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
                raise self._not_allowed(method, {"GET"})
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
            raise self._not_allowed(method, match.verbs)
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
            response = await self._dispatch(request, match, method, user, impersonate)
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

    async def _body(self, request: Request) -> Any:
        raw = await request.body()
        if not raw.strip():
            return None
        try:
            return json.loads(raw, parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError):
            raise EmulatorError(500, ["The request body is not valid JSON."]) from None

    async def _dispatch(
        self, request: Request, match: RouteMatch, method: str, user: ApiUser, impersonate: int | None
    ) -> Response:
        tenant = self.tenant
        segs = [s.lower() for s in match.segments]
        if match.entity is None:
            if segs == ["thresholdinformation"]:
                s = self.meter.settings
                return json_response(
                    {
                        "externalRequestThreshold": s.hourly_limit,
                        "requestThresholdTimeframe": max(1, round(s.window_seconds / 60)),
                        "currentTimeframeRequestCount": self.meter.count(),
                    }
                )
            raise EmulatorError(404, [f"The emulator does not implement {match.template}."])
        entity = match.entity
        edef = tenant.defs[entity]
        parent_id = match.params.get("parentId")
        if "entityinformation" in segs:
            return self._metadata(edef, segs[-1])
        if segs[-1] in ("query", "count", "next"):
            if method == "GET":
                search = request.query_params.get("search")
                if segs[-1] == "next" and (search is None or search.strip() in ("", "{}")):
                    raise self._not_allowed(method, {"POST"})  # the next page of a POST query
                if search is None:
                    raise EmulatorError(500, [MISSING_FILTER])
                try:
                    query = json.loads(search, parse_constant=_no_constants)
                except ValueError:
                    raise EmulatorError(500, ["The search parameter is not valid JSON."]) from None
                search_text = search
            else:
                query = await self._body(request)
                search_text = "{}"
            rows = tenant.query(entity, query, parent_id)
            if segs[-1] == "count":
                return json_response({"queryCount": len(rows)})
            return self._page(request, edef, rows, query, search_text)
        if segs[-1] == "{id}":
            item_id = match.params["id"]
            if method == "DELETE":
                return json_response({"itemId": tenant.delete(entity, item_id, parent_id=parent_id)})
            return json_response({"item": tenant.get(entity, item_id, parent_id)})
        if method == "GET":  # child collection: GET /Contracts/{parentId}/Services
            pfield = edef.parent_field or "id"
            search = json.dumps({"filter": [{"op": "eq", "field": pfield, "value": parent_id}]})
            return self._page(request, edef, tenant.children(entity, parent_id or 0), None, search)
        body = await self._body(request)
        if method == "POST":
            new_id = tenant.create(entity, body, parent_id=parent_id, actor=user, impersonate=impersonate)
            return json_response({"itemId": new_id})
        item_id = tenant.update(entity, body, parent_id=parent_id, replace=method == "PUT", actor=user)
        return json_response({"itemId": item_id})

    def _page(
        self, request: Request, edef: EntityDef, rows: list[dict[str, Any]], query: Any, search_text: str
    ) -> Response:
        """One page of ``rows`` (ordered by id) and Autotask-shaped links to its neighbours."""
        q = lower_keys(query) if isinstance(query, dict) else {}
        paging = Paging.parse(request.query_params.get("paging"))
        size = PAGE_SIZE
        max_records = q.get("maxrecords")
        if max_records is not None:
            if (
                isinstance(max_records, bool)
                or not isinstance(max_records, int)
                or not 1 <= max_records <= PAGE_SIZE
            ):
                raise EmulatorError(500, [MAX_RECORDS_MESSAGE])
            size = max_records
        elif paging.page_size is not None and 1 <= paging.page_size <= PAGE_SIZE:
            size = paging.page_size
        include = self._include(edef, q.get("includefields"))
        first = bisect.bisect_left(rows, paging.start, key=lambda r: int(r["id"]))
        page = rows[first : first + size]
        next_url = prev_url = None
        root = f"{request.state.api_root}/{edef.name}/query/next"
        search = url_encode(search_text)
        if first + size < len(rows):
            nxt = Paging.encode(size, [*paging.previous_ids, paging.start], int(rows[first + size]["id"]))
            next_url = f"{root}?paging={url_encode(nxt)}&search={search}"
        if paging.previous_ids:
            prev = Paging.encode(size, paging.previous_ids[:-1], paging.previous_ids[-1])
            prev_url = f"{root}?paging={url_encode(prev)}&search={search}"
        items = [({k: r.get(k) for k in include} if include else dict(r)) for r in page]
        return json_response(
            {
                "items": items,
                "pageDetails": {
                    "count": len(items),
                    "requestCount": size,
                    "prevPageUrl": prev_url,
                    "nextPageUrl": next_url,
                },
            }
        )

    @staticmethod
    def _include(edef: EntityDef, raw: Any) -> list[str] | None:
        if not raw:
            return None
        if not isinstance(raw, list):
            raise EmulatorError(500, ["IncludeFields must be an array of field names."])
        names = ["id"]
        for name in raw:
            fdef = edef.find(str(name))
            if fdef is None:
                raise EmulatorError(500, [unknown_field(str(name), edef)])
            if fdef.name not in names:
                names.append(fdef.name)
        return names

    def _metadata(self, edef: EntityDef, kind: str) -> Response:
        if kind == "fields":
            return json_response(field_information(self.tenant, edef))
        if kind == "userdefinedfields":
            return json_response(udf_information(self.tenant, edef))
        return json_response(entity_information(self.routes, edef))

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
