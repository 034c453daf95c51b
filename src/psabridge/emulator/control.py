"""The ``/_emulator`` control API (no Autotask auth): reset, inspect state, inject faults, latency,
permissions, limits, the strictness switches (``rules``) and the zone move, read call counters. Clearly
separate from the Autotask surface."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.faults import FaultRule
from psabridge.emulator.responses import error_response, json_response

#: Path prefix of each zone on the emulator's server (zone 1 is the plain base); the name zoneInformation
#: gives zone 2 (zone 1's is the tenant's ``zone_name``).
ZONE_PREFIXES = {1: "", 2: "/zone2"}
ZONE2_NAME = "Emulator Zone 2 (psabridge)"

if TYPE_CHECKING:
    from psabridge.emulator.app import Emulator


async def _body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise EmulatorError(400, ["Body is not valid JSON."]) from None
    if not isinstance(data, dict):
        raise EmulatorError(400, ["Body must be a JSON object."])
    return data


Handler = Callable[[Request], Awaitable[Response]]


def _guarded(fn: Handler) -> Handler:
    """Answer control-API mistakes with 400 and the reason, never a 500."""

    async def endpoint(request: Request) -> Response:
        try:
            return await fn(request)
        except EmulatorError as exc:
            return error_response(exc.status, exc.errors)
        except (ValueError, TypeError, KeyError) as exc:
            return error_response(400, [str(exc)])

    return endpoint


class _Control:
    """One method per control route, on the emulator it controls."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    async def reset(self, request: Request) -> Response:
        self.emu.reset()
        return json_response({"ok": True})

    async def state(self, request: Request) -> Response:
        return json_response(self.emu.tenant.snapshot())

    async def faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.emu.faults.clear()
        elif request.method == "POST":
            data = await _body_of(request)
            for rule in data.get("rules", [data]):
                self.emu.faults.add(FaultRule.from_json(rule))
        return json_response({"rules": [r.as_json() for r in self.emu.faults.rules]})

    async def latency(self, request: Request) -> Response:
        data = await _body_of(request)
        self.emu.latency_ms = max(0, int(data.get("ms", 0)))
        return json_response({"ms": self.emu.latency_ms})

    async def calls(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.emu.calls.clear()
        return json_response(self.emu.calls_json())

    async def permissions(self, request: Request) -> Response:
        tenant = self.emu.tenant
        if request.method == "POST":
            data = await _body_of(request)
            entity = str(data.get("entity", ""))
            if entity not in tenant.defs:
                raise EmulatorError(400, [f"unknown entity {entity!r}"])
            tenant.set_denied(entity, bool(data.get("deny", True)))
        return json_response({"denied": tenant.state["denied"]})

    async def limits(self, request: Request) -> Response:
        s = self.emu.meter.settings
        if request.method == "POST":
            data = await _body_of(request)
            for name in ("hourly_limit", "max_concurrent"):
                if name in data:
                    setattr(s, name, int(data[name]))
            for name in ("window_seconds", "delay_over_50", "delay_over_75"):
                if name in data:
                    setattr(s, name, float(data[name]))
            if data.get("reset_counter"):
                self.emu.meter.reset()
        meter = self.emu.meter
        return json_response(
            {**vars(s), "current": meter.count(), "peak_in_flight": meter.peaks(), "refused": meter.refused}
        )

    async def rules(self, request: Request) -> Response:
        """``GET``: the switches; ``POST {"name": value, ...}`` changes some, ``{"reset": true}`` first
        restores the defaults (psabridge.emulator.rules)."""
        tenant = self.emu.tenant
        with tenant.lock:
            if request.method == "POST":
                data = await _body_of(request)
                if data.pop("reset", False):
                    tenant.rules = tenant.initial_rules.copy()
                trial = tenant.rules.copy()
                trial.update(data)  # all or nothing: a bad switch changes none
                tenant.rules = trial
            return json_response(tenant.rules.as_json())

    async def zone(self, request: Request) -> Response:
        """``POST {"moved": true}`` moves the tenant to zone 2 (``false`` back to zone 1); ``GET`` says
        where it is."""
        emu = self.emu
        if request.method == "POST":
            data = await _body_of(request)
            moved = data.get("moved", True)
            if not isinstance(moved, bool):
                raise EmulatorError(400, ["moved must be true or false"])
            emu.zone = 2 if moved else 1
        base = str(request.base_url).rstrip("/") + ZONE_PREFIXES[emu.zone]
        return json_response(
            {
                "moved": emu.zone != 1,
                "zone": emu.zone,
                "zoneName": emu.tenant.zone_name if emu.zone == 1 else ZONE2_NAME,
                "url": f"{base}/ATServicesRest/",
            }
        )

    async def health(self, request: Request) -> Response:
        return json_response({"ok": True})


#: route name -> methods
_ROUTES = {
    "reset": ["POST"],
    "state": ["GET"],
    "faults": ["GET", "POST", "DELETE"],
    "latency": ["POST"],
    "calls": ["GET", "DELETE"],
    "permissions": ["GET", "POST"],
    "limits": ["GET", "POST"],
    "rules": ["GET", "POST"],
    "zone": ["GET", "POST"],
    "health": ["GET"],
}


def control_routes(emu: Emulator) -> list[Route]:
    control = _Control(emu)
    return [
        Route(f"/_emulator/{name}", _guarded(getattr(control, name)), methods=methods)
        for name, methods in _ROUTES.items()
    ]
