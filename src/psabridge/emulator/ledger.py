"""Contract service units: adjustments and the ContractServiceUnits rows they produce.

Autotask never lets anyone set a contract service's units directly. Every change is an adjustment
(effective date, unit change, adjusted price) that cannot be read back; an adjustment for a service not yet
on the contract adds it; one adjustment per contract service and effective date. The outcome is visible
as ContractServiceUnits rows per billing period (see :mod:`psabridge.emulator.units`).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from psabridge.emulator import seed
from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.schema import EntityDef
from psabridge.emulator.units import UnitEvent, compute_rows
from psabridge.emulator.values import parse_datetime

if TYPE_CHECKING:
    from psabridge.emulator.tenant import EmulatorTenant


class ServiceLedger:
    """The unit history of every contract service of one tenant (called under the tenant's lock)."""

    def __init__(self, tenant: EmulatorTenant) -> None:
        self.t = tenant

    def adjust(self, edef: EntityDef, body: dict[str, Any], parent_id: int | None) -> int:
        values = self.t._writable(edef, body)
        self.t._apply_parent(edef, values, parent_id)
        record = seed.blank("ContractServiceAdjustments")
        record.update(values)
        self.t._validate(edef, record, set(values))
        contract = self.t._contract(record["contractID"])
        self.t._require_recurring(contract)
        effective = parse_datetime(record["effectiveDate"]).date()
        start = parse_datetime(contract["startDate"]).date()
        end = parse_datetime(contract["endDate"]).date()
        if not start <= effective <= end:
            raise EmulatorError(
                500, ["The effective date must fall within the contract's start and end dates."]
            )
        services = self.t._rows("ContractServices")
        cs: dict[str, Any] | None = None
        if record.get("contractServiceID") is not None:
            cs = services.get(record["contractServiceID"])
            if cs is None or cs["contractID"] != contract["id"]:
                raise EmulatorError(500, ["contractServiceID does not belong to this contract."])
        elif record.get("serviceID") is not None:
            if not record.get("allowRepeatService"):
                cs = next(
                    (
                        s
                        for k, s in sorted(services.items())
                        if s["contractID"] == contract["id"] and s["serviceID"] == record["serviceID"]
                    ),
                    None,
                )
        else:
            raise EmulatorError(500, ["Either serviceID or contractServiceID is required."])
        change = int(record["unitChange"])
        if cs is not None:
            events = self.t.state["unit_events"].get(cs["id"], [])
            if any(e["effective"] == effective.isoformat() and e.get("adjustment_id") for e in events):
                raise EmulatorError(
                    500, ["An adjustment for this contract service and effective date already exists."]
                )
            trial = [*self.events(cs["id"]), UnitEvent(effective, change, None, None)]
            running = 0
            for event in sorted(trial, key=lambda e: e.effective):
                running += event.unit_change
                if running < 0:
                    raise EmulatorError(
                        500, ["The adjustment would leave the contract service with negative units."]
                    )
            price = record.get("adjustedUnitPrice")
            cost = record.get("adjustedUnitCost")
        else:
            service = self.t._rows("Services").get(record["serviceID"])
            if service is None:
                raise EmulatorError(
                    500,
                    ["Reference value on field: serviceID of type: Service does not exist or is invalid."],
                )
            if change < 0:
                raise EmulatorError(
                    500, ["The adjustment would leave the contract service with negative units."]
                )
            price = record.get("adjustedUnitPrice")
            cost = record.get("adjustedUnitCost")
            cs = seed.blank("ContractServices")
            cs.update(
                contractID=contract["id"],
                serviceID=service["id"],
                unitPrice=price if price is not None else service.get("unitPrice"),
                unitCost=cost if cost is not None else service.get("unitCost"),
                invoiceDescription=service.get("invoiceDescription"),
                quoteItemID=record.get("quoteItemID"),
            )
            cs["id"] = self.t._next_id("ContractServices")
            self.t._derive("ContractServices", cs)
            services[cs["id"]] = cs
            if price is None:
                price = cs["unitPrice"]
            if cost is None:
                cost = cs["unitCost"]
        adj_id = self.t._next_id("ContractServiceAdjustments")
        record["id"] = adj_id
        record["contractServiceID"] = cs["id"]
        record["serviceID"] = cs["serviceID"]
        self.t.state["adjustments"][adj_id] = record
        self.t._touch("adjustments", adj_id)
        if price is not None:
            cs["unitPrice"] = price
        if cost is not None:
            cs["unitCost"] = cost
        self.t._derive("ContractServices", cs)
        self.t._touch("records", cs["id"], "ContractServices")
        self.add_unit_event(cs, contract, change, adj_id, effective=effective, price=price, cost=cost)
        self.t._commit()
        return adj_id

    def events(self, cs_id: int) -> list[UnitEvent]:
        return [
            UnitEvent(date.fromisoformat(e["effective"]), e["unit_change"], e["unit_price"], e["unit_cost"])
            for e in self.t.state["unit_events"].get(cs_id, [])
        ]

    def add_unit_event(
        self,
        cs: dict[str, Any],
        contract: dict[str, Any],
        change: int,
        adjustment_id: int | None,
        *,
        effective: date | None = None,
        price: float | None = None,
        cost: float | None = None,
    ) -> None:
        start = parse_datetime(contract["startDate"]).date()
        event = {
            "effective": (effective or start).isoformat(),
            "unit_change": change,
            "unit_price": price if price is not None else cs.get("unitPrice"),
            "unit_cost": cost if cost is not None else cs.get("unitCost"),
            "adjustment_id": adjustment_id,
        }
        self.t.state["unit_events"].setdefault(cs["id"], []).append(event)
        self.t._touch("unit_events", cs["id"])
        self.rebuild_units(cs, contract)

    def period_months(self, cs: dict[str, Any], contract: dict[str, Any]) -> int:
        service = self.t._rows("Services").get(cs["serviceID"]) or {}
        for entity, field, value in (
            ("Services", "periodType", service.get("periodType")),
            ("Contracts", "contractPeriodType", contract.get("contractPeriodType")),
        ):
            for option in self.t.picklist(entity, field):
                if value is not None and int(option["value"]) == value:
                    months = seed.PERIOD_MONTHS.get(option["label"], 1)
                    if months:
                        return months
        return 1

    def rebuild_units(self, cs: dict[str, Any], contract: dict[str, Any]) -> None:
        units = self.t._rows("ContractServiceUnits")
        existing = {r["startDate"]: k for k, r in units.items() if r["contractServiceID"] == cs["id"]}
        for key in existing.values():
            del units[key]
            self.t._touch("records", key, "ContractServiceUnits")
        rows = compute_rows(
            self.events(cs["id"]),
            parse_datetime(contract["startDate"]).date(),
            parse_datetime(contract["endDate"]).date(),
            self.period_months(cs, contract),
        )
        service = self.t._rows("Services").get(cs["serviceID"]) or {}
        for row in rows:
            row_id = existing.get(row["startDate"]) or self.t._next_id("ContractServiceUnits")
            record = seed.blank("ContractServiceUnits")
            record.update(
                id=row_id,
                contractID=contract["id"],
                contractServiceID=cs["id"],
                serviceID=cs["serviceID"],
                startDate=row["startDate"],
                endDate=row["endDate"],
                units=row["units"],
                price=row["price"],
                internalCurrencyPrice=row["price"],
                cost=row["cost"],
                vendorCompanyID=service.get("vendorCompanyID"),
            )
            units[row_id] = record
            self.t._touch("records", row_id, "ContractServiceUnits")
