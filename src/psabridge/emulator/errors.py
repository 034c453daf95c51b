"""The one exception the emulator raises to answer like Autotask: an HTTP status and ``errors`` list."""

from __future__ import annotations


class EmulatorError(Exception):
    """An Autotask-shaped error answer (mostly HTTP 500 with ``{"errors": [...]}``)."""

    def __init__(self, status: int, errors: list[str], headers: dict[str, str] | None = None) -> None:
        super().__init__("; ".join(errors))
        self.status = status
        self.errors = errors
        self.headers = headers or {}
