"""The operation a matched Autotask route names, run against the tenant and answered.

The request pipeline (:mod:`psabridge.emulator.app`) decides whether a call may run at all (zone,
authentication, route, limits, faults); this module decides what it does: parse the body or the
``?search=`` parameter, then query, count, page, get, create, update, delete or describe. Kept apart so
that each half can be read without the other.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from psabridge.emulator.api_users import ApiUser
from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.metadata import entity_information, field_information, udf_information
from psabridge.emulator.paging import page_response
from psabridge.emulator.query import MISSING_FILTER
from psabridge.emulator.responses import json_response
from psabridge.emulator.routes import RouteMatch
from psabridge.emulator.schema import EntityDef

if TYPE_CHECKING:
    from psabridge.emulator.app import Emulator


def _no_constants(name: str) -> Any:
    """NaN and Infinity are not JSON; Python would accept them and then emit invalid JSON."""
    raise ValueError(f"{name} is not valid JSON")


def not_allowed(method: str, verbs: frozenset[str] | set[str]) -> EmulatorError:
    """ASP.NET's 405 (``{"Message": ...}`` and an ``Allow`` header), raised by the pipeline and here."""
    return EmulatorError(
        405,
        [f"The requested resource does not support http method '{method}'."],
        {"Allow": ", ".join(sorted(verbs))},
        shape="message",
    )


async def read_body(request: Request) -> Any:
    """The JSON body (``None`` when empty); invalid JSON, NaN and Infinity answer Autotask's 500."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError):
        raise EmulatorError(500, ["The request body is not valid JSON."]) from None


async def run_operation(
    emu: Emulator, request: Request, match: RouteMatch, method: str, user: ApiUser, impersonate: int | None
) -> Response:
    """Run the operation ``match`` names for an authenticated, admitted call (each tenant call locks)."""
    tenant = emu.tenant
    segs = [s.lower() for s in match.segments]
    if match.entity is None:
        if segs == ["thresholdinformation"]:
            s = emu.meter.settings
            return json_response(
                {
                    "externalRequestThreshold": s.hourly_limit,
                    "requestThresholdTimeframe": max(1, round(s.window_seconds / 60)),
                    "currentTimeframeRequestCount": emu.meter.count(),
                }
            )
        raise EmulatorError(404, [f"The emulator does not implement {match.template}."])
    entity = match.entity
    edef = tenant.defs[entity]
    parent_id = match.params.get("parentId")
    if "entityinformation" in segs:
        return _metadata(emu, edef, segs[-1])
    if segs[-1] in ("query", "count", "next"):
        if method == "GET":
            search = request.query_params.get("search")
            if segs[-1] == "next" and (search is None or search.strip() in ("", "{}")):
                raise not_allowed(method, {"POST"})  # the next page of a POST query
            if search is None:
                raise EmulatorError(500, [MISSING_FILTER])
            try:
                query = json.loads(search, parse_constant=_no_constants)
            except ValueError:
                raise EmulatorError(500, ["The search parameter is not valid JSON."]) from None
            search_text = search
        else:
            query = await read_body(request)
            search_text = "{}"
        rows = tenant.query(entity, query, parent_id)
        if segs[-1] == "count":
            return json_response({"queryCount": len(rows)})
        return page_response(request, edef, rows, query, search_text)
    if segs[-1] == "{id}":
        item_id = match.params["id"]
        if method == "DELETE":
            return json_response({"itemId": tenant.delete(entity, item_id, parent_id=parent_id)})
        return json_response({"item": tenant.get(entity, item_id, parent_id)})
    if method == "GET":  # child collection: GET /Contracts/{parentId}/Services
        pfield = edef.parent_field or "id"
        search = json.dumps({"filter": [{"op": "eq", "field": pfield, "value": parent_id}]})
        return page_response(request, edef, tenant.children(entity, parent_id or 0), None, search)
    body = await read_body(request)
    if method == "POST":
        new_id = tenant.create(entity, body, parent_id=parent_id, actor=user, impersonate=impersonate)
        return json_response({"itemId": new_id})
    item_id = tenant.update(entity, body, parent_id=parent_id, replace=method == "PUT", actor=user)
    return json_response({"itemId": item_id})


def _metadata(emu: Emulator, edef: EntityDef, kind: str) -> Response:
    """``entityInformation``, ``/fields`` and ``/userDefinedFields`` of an entity."""
    if kind == "fields":
        return json_response(field_information(emu.tenant, edef))
    if kind == "userdefinedfields":
        return json_response(udf_information(emu.tenant, edef))
    return json_response(entity_information(emu.routes, edef))
