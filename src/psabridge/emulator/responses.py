"""Autotask-shaped HTTP answers: JSON bodies, ``{"errors": [...]}``, ASP.NET's ``{"Message": ...}``, the
empty 401 and the dropped connection fault."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from psabridge.emulator.errors import BodyShape

#: Sent with every 401. Autotask's value is not known from public evidence (the emulator's choice).
WWW_AUTHENTICATE = 'Headers realm="ATServicesRest"'


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(status: int, errors: list[str], headers: dict[str, str] | None = None) -> Response:
    return json_response({"errors": errors}, status, headers)


def message_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """ASP.NET Web API's own error body (unknown route, verb not allowed)."""
    return json_response({"Message": message}, status, headers)


def unauthorized() -> Response:
    """401: no body, a ``WWW-Authenticate`` challenge."""
    return Response(b"", status_code=401, headers={"WWW-Authenticate": WWW_AUTHENTICATE})


def shaped_response(status: int, errors: list[str], headers: dict[str, str], shape: BodyShape) -> Response:
    if shape == "empty":
        return Response(b"", status_code=status, headers=headers)
    if shape == "message":
        return message_response(status, errors[0] if errors else "", headers)
    return error_response(status, errors, headers)


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
