"""Autotask's paging of query answers: pages of at most 500 items and the links between them.

``nextPageUrl``/``prevPageUrl`` are absolute URLs on the zone that answered,
``<base>/ATServicesRest/V1.0/<Entity>/query/next?paging=<{"pageSize","previousIds","nextIds"}>
&search=<the original search, or {} after a POST query>`` (Autotask's shape). ``query/next`` is not in the
description but is real: POST it with the query's body after a POST query (GET answers 405 then), GET it
after a GET ``?search=`` query. A child collection (``GET /Contracts/{id}/Services``) pages the same way,
its search being the parent condition. Kept apart from the request pipeline because clients depend on
these URLs byte for byte (.NET's URL encoding included) and the rules are easier to read alone.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.query import lower_keys, unknown_field
from psabridge.emulator.responses import json_response
from psabridge.emulator.schema import EntityDef

PAGE_SIZE = 500
MAX_RECORDS_MESSAGE = f"maxCountOfRecordsToReturn must be between 1 and {PAGE_SIZE}"
_URL_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!*()")


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


def page_response(
    request: Request, edef: EntityDef, rows: list[dict[str, Any]], query: Any, search_text: str
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
    include = include_fields(edef, q.get("includefields"))
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


def include_fields(edef: EntityDef, raw: Any) -> list[str] | None:
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
