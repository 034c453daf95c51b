"""The emulator as an ASGI application (Starlette): Autotask's REST surface plus the ``/_emulator``
control API used by tests and the demo.

Request pipeline, in Autotask's order: zone discovery needs no auth; everything else authenticates by
headers, resolves the route against the official description (404 / 405), counts against the hourly
budget (blocked over it, slowed past 50% / 75%), enforces the concurrency limit per integration code
and endpoint (429), applies injected faults, then runs the operation under the tenant's lock.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from psabridge.emulator.control import control_routes
from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.faults import FaultBook
from psabridge.emulator.limits import LimitSettings, RequestMeter
from psabridge.emulator.metadata import entity_information, field_information, udf_information
from psabridge.emulator.query import lower_keys
from psabridge.emulator.responses import DroppedResponse, error_response, json_response
from psabridge.emulator.routes import RouteMatch, route_table
from psabridge.emulator.schema import EntityDef
from psabridge.emulator.tenant import ApiUser, EmulatorTenant

log = logging.getLogger(__name__)
PAGE_SIZE = 500
MAX_QUERY_STRING = 2048  # IIS maxQueryString default
THREAD_LIMIT_MESSAGE = (
    "Itgenatr005: The thread limit for this integration code and endpoint has been exceeded "
    "(at most {n} concurrent requests). Retry after the running requests complete."
)
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _no_constants(name: str) -> Any:
    """NaN and Infinity are not JSON; Python would accept them and then emit invalid JSON."""
    raise ValueError(f"{name} is not valid JSON")


def _token(data: dict[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _untoken(text: str) -> dict[str, int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
        return {k: int(v) for k, v in data.items() if k in ("after", "before")}
    except (ValueError, TypeError, AttributeError):
        raise EmulatorError(500, ["The paging token is invalid."]) from None


class Emulator:
    """Everything one emulator process holds besides the tenant: limits, faults, call counters."""

    def __init__(self, tenant: EmulatorTenant, limits: LimitSettings | None = None) -> None:
        self.tenant = tenant
        self.initial_limits = dataclasses.replace(limits or LimitSettings())
        self.meter = RequestMeter(dataclasses.replace(self.initial_limits))
        self.faults = FaultBook()
        self.latency_ms = 0
        self.calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.routes = route_table()

    # ----- the Autotask surface ----------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        try:
            return await self._handle(request)
        except EmulatorError as exc:
            return error_response(exc.status, exc.errors, exc.headers)
        except Exception as exc:  # a bug or input nobody foresaw: answer like Autotask, never hang up
            log.exception("emulator error on %s %s", request.method, request.url.path)
            return error_response(500, [f"An unexpected error has occurred: {type(exc).__name__}."])

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        parts = [p for p in path.split("/") if p]
        if len(parts) < 2 or parts[0].lower() != "atservicesrest" or parts[1].lower() != "v1.0":
            return error_response(404, [f"No HTTP resource was found that matches the request URI '{path}'."])
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
                return error_response(
                    405, [f"The requested resource does not support http method '{method}'."]
                )
            return self._zone(request)
        headers = request.headers
        user = self.tenant.authenticate(
            headers.get("username"), headers.get("secret"), headers.get("apiintegrationcode")
        )
        if user is None:
            return error_response(401, ["Authorization has been denied for this request."])
        match = self.routes.match(parts)
        if match is None:
            return error_response(404, [f"No HTTP resource was found that matches the request URI '{path}'."])
        if method not in match.verbs:
            return error_response(
                405,
                [f"The requested resource does not support http method '{method}'."],
                {"Allow": ", ".join(sorted(match.verbs))},
            )
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
                {"Retry-After": "60"},
            )
        if not self.meter.enter(user.integration_code, endpoint):
            return error_response(
                429, [THREAD_LIMIT_MESSAGE.format(n=self.meter.settings.max_concurrent)], {"Retry-After": "1"}
            )
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
                return error_response(
                    429, [THREAD_LIMIT_MESSAGE.format(n=self.meter.settings.max_concurrent)]
                )
            response = await self._dispatch(request, match, method, user, impersonate)
            if failure is not None and failure.action == "drop_after_commit":
                return DroppedResponse()
            return response
        finally:
            self.meter.leave(user.integration_code, endpoint)

    def _zone(self, request: Request) -> Response:
        user = request.query_params.get("user") or ""
        if not user or not self.tenant.knows_user(user):
            return error_response(500, [f"Zone information could not be determined for user '{user}'."])
        base = self._base(request)
        return json_response(
            {
                "zoneName": self.tenant.zone_name,
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
        if segs[-1] == "query":
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
        if segs[-1] in ("query", "count"):
            if method == "GET":
                search = request.query_params.get("search")
                if search is None:
                    raise EmulatorError(500, ["A search parameter with the query is required."])
                try:
                    query = json.loads(search, parse_constant=_no_constants)
                except ValueError:
                    raise EmulatorError(500, ["The search parameter is not valid JSON."]) from None
            else:
                query = await self._body(request)
            rows = tenant.query(entity, query, parent_id)
            if segs[-1] == "count":
                return json_response({"queryCount": len(rows)})
            return self._page(request, edef, rows, query, method)
        if segs[-1] == "{id}":
            item_id = match.params["id"]
            if method == "DELETE":
                return json_response({"itemId": tenant.delete(entity, item_id, parent_id=parent_id)})
            return json_response({"item": tenant.get(entity, item_id, parent_id)})
        if method == "GET":  # child collection: GET /Contracts/{parentId}/Services
            return self._page(request, edef, tenant.children(entity, parent_id or 0), None, method)
        body = await self._body(request)
        if method == "POST":
            new_id = tenant.create(entity, body, parent_id=parent_id, actor=user, impersonate=impersonate)
            return json_response({"itemId": new_id})
        item_id = tenant.update(entity, body, parent_id=parent_id, replace=method == "PUT", actor=user)
        return json_response({"itemId": item_id})

    def _page(
        self, request: Request, edef: EntityDef, rows: list[dict[str, Any]], query: Any, method: str
    ) -> Response:
        q = lower_keys(query) if isinstance(query, dict) else {}
        size = PAGE_SIZE
        max_records = q.get("maxrecords")
        if max_records is not None:
            if (
                isinstance(max_records, bool)
                or not isinstance(max_records, int)
                or not 1 <= max_records <= PAGE_SIZE
            ):
                raise EmulatorError(500, [f"MaxRecords must be between 1 and {PAGE_SIZE}."])
            size = max_records
        include = self._include(edef, q.get("includefields"))
        paging = request.query_params.get("paging")
        position = _untoken(paging) if paging else {}
        if "before" in position:
            earlier = [r for r in rows if r["id"] < position["before"]]
            page = earlier[-size:]
        else:
            after = position.get("after")
            later = rows if after is None else [r for r in rows if r["id"] > after]
            page = later[:size]
        next_url = prev_url = None
        if page:
            base = f"{self._base(request)}{request.url.path}"
            extra = ""
            if method == "GET" and request.query_params.get("search") is not None:
                extra = "&search=" + quote(request.query_params["search"], safe="")
            if rows[-1]["id"] > page[-1]["id"]:
                next_url = f"{base}?paging={_token({'after': page[-1]['id']})}{extra}"
            if rows[0]["id"] < page[0]["id"]:
                prev_url = f"{base}?paging={_token({'before': page[0]['id']})}{extra}"
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
                raise EmulatorError(500, [f"Unable to find {name} in the {edef.name} entity."])
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
        self.tenant.reset()
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
) -> Starlette:
    """The emulator ASGI app; ``app.state.emulator`` is the :class:`Emulator` behind it."""
    if tenant is None:
        tenant = EmulatorTenant(state_file=state_file)
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
