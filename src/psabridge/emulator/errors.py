"""The one exception the emulator raises to answer like Autotask: an HTTP status and a body."""

from __future__ import annotations

from typing import Literal

#: ``errors``: Autotask's ``{"errors": [...]}``; ``message``: ASP.NET's ``{"Message": "..."}`` (404, 405);
#: ``empty``: no body at all (401).
BodyShape = Literal["errors", "message", "empty"]


class EmulatorError(Exception):
    """An Autotask-shaped error answer (mostly HTTP 500 with ``{"errors": [...]}``)."""

    def __init__(
        self,
        status: int,
        errors: list[str],
        headers: dict[str, str] | None = None,
        *,
        shape: BodyShape = "errors",
    ) -> None:
        super().__init__("; ".join(errors))
        self.status = status
        self.errors = errors
        self.headers = headers or {}
        self.shape = shape
