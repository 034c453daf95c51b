"""The ``/_emulator`` control API (no Autotask auth): reset, inspect state, inject faults, latency,
permissions, limits, the strictness switches (``rules``) and the zone move, read call counters. Clearly
separate from the Autotask surface."""

from __future__ import annotations

import json
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


def control_routes(emu: Emulator) -> list[Route]:
    async def body_of(request: Request) -> dict[str, Any]:
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

    def guarded(fn: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                result: Response = await fn(request)
                return result
            except EmulatorError as exc:
                return error_response(exc.status, exc.errors)
            except (ValueError, TypeError, KeyError) as exc:
                return error_response(400, [str(exc)])

        return endpoint

    async def reset(request: Request) -> Response:
        emu.reset()
        return json_response({"ok": True})

    async def state(request: Request) -> Response:
        return json_response(emu.tenant.snapshot())

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            emu.faults.clear()
        elif request.method == "POST":
            data = await body_of(request)
            for rule in data.get("rules", [data]):
                emu.faults.add(FaultRule.from_json(rule))
        return json_response({"rules": [r.as_json() for r in emu.faults.rules]})

    async def latency(request: Request) -> Response:
        data = await body_of(request)
        emu.latency_ms = max(0, int(data.get("ms", 0)))
        return json_response({"ms": emu.latency_ms})

    async def calls(request: Request) -> Response:
        if request.method == "DELETE":
            emu.calls.clear()
        return json_response(emu.calls_json())

    async def permissions(request: Request) -> Response:
        if request.method == "POST":
            data = await body_of(request)
            entity = str(data.get("entity", ""))
            if entity not in emu.tenant.defs:
                raise EmulatorError(400, [f"unknown entity {entity!r}"])
            emu.tenant.set_denied(entity, bool(data.get("deny", True)))
        return json_response({"denied": emu.tenant.state["denied"]})

    async def limits(request: Request) -> Response:
        s = emu.meter.settings
        if request.method == "POST":
            data = await body_of(request)
            for name in ("hourly_limit", "max_concurrent"):
                if name in data:
                    setattr(s, name, int(data[name]))
            for name in ("window_seconds", "delay_over_50", "delay_over_75"):
                if name in data:
                    setattr(s, name, float(data[name]))
            if data.get("reset_counter"):
                emu.meter.reset()
        return json_response({**vars(s), "current": emu.meter.count()})

    async def rules(request: Request) -> Response:
        """``GET``: the switches; ``POST {"name": value, ...}`` changes some, ``{"reset": true}`` first
        restores the defaults (psabridge.emulator.rules)."""
        with emu.tenant.lock:
            if request.method == "POST":
                data = await body_of(request)
                if data.pop("reset", False):
                    emu.tenant.rules = emu.tenant.initial_rules.copy()
                trial = emu.tenant.rules.copy()
                trial.update(data)  # all or nothing: a bad switch changes none
                emu.tenant.rules = trial
            return json_response(emu.tenant.rules.as_json())

    async def zone(request: Request) -> Response:
        """``POST {"moved": true}`` moves the tenant to zone 2 (``false`` back to zone 1); ``GET`` says
        where it is."""
        if request.method == "POST":
            data = await body_of(request)
            moved = data.get("moved", True)
            if not isinstance(moved, bool):
                raise EmulatorError(400, ["moved must be true or false"])
            emu.zone = 2 if moved else 1
        prefix = ZONE_PREFIXES[emu.zone]
        base = str(request.base_url).rstrip("/") + prefix
        return json_response(
            {
                "moved": emu.zone != 1,
                "zone": emu.zone,
                "zoneName": emu.tenant.zone_name if emu.zone == 1 else ZONE2_NAME,
                "url": f"{base}/ATServicesRest/",
            }
        )

    async def health(request: Request) -> Response:
        return json_response({"ok": True})

    return [
        Route("/_emulator/reset", guarded(reset), methods=["POST"]),
        Route("/_emulator/state", guarded(state), methods=["GET"]),
        Route("/_emulator/faults", guarded(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/latency", guarded(latency), methods=["POST"]),
        Route("/_emulator/calls", guarded(calls), methods=["GET", "DELETE"]),
        Route("/_emulator/permissions", guarded(permissions), methods=["GET", "POST"]),
        Route("/_emulator/limits", guarded(limits), methods=["GET", "POST"]),
        Route("/_emulator/rules", guarded(rules), methods=["GET", "POST"]),
        Route("/_emulator/zone", guarded(zone), methods=["GET", "POST"]),
        Route("/_emulator/health", guarded(health), methods=["GET"]),
    ]
