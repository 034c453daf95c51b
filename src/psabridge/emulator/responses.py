"""Autotask-shaped HTTP answers: JSON bodies, ``{"errors": [...]}`` and the dropped connection fault."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(status: int, errors: list[str], headers: dict[str, str] | None = None) -> Response:
    return json_response({"errors": errors}, status, headers)


class DroppedResponse(Response):
    """Start a response and never finish it: the server closes the connection mid-answer."""

    def __init__(self) -> None:
        super().__init__(b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"item', "more_body": True})
