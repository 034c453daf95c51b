"""Contract service units: adjustments and the ContractServiceUnits rows they produce.

Autotask never lets anyone set a contract service's units directly: a contract service is created with
0 units and no ContractServiceUnits rows, and every change is an adjustment (effective date, unit change,
adjusted price) that cannot be read back. An adjustment names the contract service by
``contractServiceID``, or by ``serviceID`` on the contract: a service not yet on the contract is added
(Autotask's ContractServiceAdjustments page); with ``allowRepeatService`` a new contract service of that
service is added even when one exists (how a repeat gets its own units); otherwise the lowest-id contract
service of that service is adjusted. Units never go below 0. Unverified strict rules, switchable in
``tenant.rules``: one adjustment per contract service and effective date, and the effective date inside
the contract's start..end. The outcome is visible as ContractServiceUnits rows per billing period of the
contract (see :mod:`psabridge.emulator.units`).
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

NEGATIVE_UNITS = "The adjustment would leave the contract service with negative units."


class ServiceLedger:
    """The unit history of every contract service of one tenant (called under the tenant's lock)."""

    def __init__(self, tenant: EmulatorTenant) -> None:
        self.t = tenant

    def adjust(self, edef: EntityDef, body: dict[str, Any], parent_id: int | None) -> int:
        t = self.t
        values = t._writable(edef, body)
        t._apply_parent(edef, values, parent_id)
        record = seed.blank("ContractServiceAdjustments")
        record.update(values)
        t._validate(edef, record, set(values), creating=True)
        contract = t._contract(record["contractID"])
        t._require_recurring(contract)
        effective = parse_datetime(record["effectiveDate"]).date()
        start = parse_datetime(contract["startDate"]).date()
        end = parse_datetime(contract["endDate"]).date()
        if t.rules.effective_date_within_contract and not start <= effective <= end:
            raise EmulatorError(
                500, ["The effective date must fall within the contract's start and end dates."]
            )
        cs: dict[str, Any] | None = None
        if record.get("contractServiceID") is not None:
            cs = t._rows("ContractServices").get(record["contractServiceID"])
            if cs is None or cs["contractID"] != contract["id"]:
                raise EmulatorError(500, ["contractServiceID does not belong to this contract."])
            if record.get("serviceID") is not None and record["serviceID"] != cs["serviceID"]:
                raise EmulatorError(500, ["serviceID does not match the service of contractServiceID."])
        elif record.get("serviceID") is not None:
            if not record.get("allowRepeatService"):
                cs = next(
                    (
                        s
                        for s in t.services_of_contract(contract["id"])
                        if s["serviceID"] == record["serviceID"]
                    ),
                    None,
                )
        else:
            raise EmulatorError(500, ["Either serviceID or contractServiceID is required."])
        change = int(record["unitChange"])
        price = record.get("adjustedUnitPrice")
        cost = record.get("adjustedUnitCost")
        if cs is not None:
            events = t.state["unit_events"].get(cs["id"], [])
            if t.rules.one_adjustment_per_service_date and any(
                e["effective"] == effective.isoformat() and e.get("adjustment_id") for e in events
            ):
                raise EmulatorError(
                    500, ["An adjustment for this contract service and effective date already exists."]
                )
            trial = [*self.events(cs["id"]), UnitEvent(effective, change, None, None)]
            running = 0
            for event in sorted(trial, key=lambda e: e.effective):
                running += event.unit_change
                if running < 0:
                    raise EmulatorError(500, [NEGATIVE_UNITS])
        else:
            service = t._rows("Services").get(record["serviceID"])
            if service is None:
                raise EmulatorError(
                    500,
                    ["Reference value on field: serviceID of type: Service does not exist or is invalid."],
                )
            if change < 0:
                raise EmulatorError(500, [NEGATIVE_UNITS])
            cs = seed.blank("ContractServices")
            cs.update(
                contractID=contract["id"],
                serviceID=service["id"],
                unitPrice=price if price is not None else service.get("unitPrice"),
                unitCost=cost if cost is not None else service.get("unitCost"),
                invoiceDescription=service.get("invoiceDescription"),
                quoteItemID=record.get("quoteItemID"),
            )
            cs["id"] = t._next_id("ContractServices")
            t._derive("ContractServices", cs)
            t.add_contract_service(cs)
        adj_id = t._next_id("ContractServiceAdjustments")
        record["id"] = adj_id
        record["contractServiceID"] = cs["id"]
        record["serviceID"] = cs["serviceID"]
        t.state["adjustments"][adj_id] = record
        t._touch("adjustments", adj_id)
        if price is not None:
            cs["unitPrice"] = price
        if cost is not None:
            cs["unitCost"] = cost
        t._derive("ContractServices", cs)
        t._touch("records", cs["id"], "ContractServices")
        self.add_unit_event(cs, contract, change, adj_id, effective=effective)
        t._commit()
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
        effective: date,
    ) -> None:
        """Record one unit change (at the contract service's current price) and rebuild its rows."""
        event = {
            "effective": effective.isoformat(),
            "unit_change": change,
            "unit_price": cs.get("unitPrice"),
            "unit_cost": cs.get("unitCost"),
            "adjustment_id": adjustment_id,
        }
        self.t.state["unit_events"].setdefault(cs["id"], []).append(event)
        self.t._touch("unit_events", cs["id"])
        self.rebuild_units(cs, contract)

    def period_months(self, contract: dict[str, Any]) -> int:
        """Billing-period length of the contract's contractPeriodType (ContractServiceUnits page: the
        contract's period type, not the service's); one month when the contract has none."""
        value = contract.get("contractPeriodType")
        for option in self.t.picklist("Contracts", "contractPeriodType"):
            if value is not None and int(option["value"]) == value:
                return seed.PERIOD_MONTHS.get(option["label"], 1) or 1
        return 1

    def rebuild_units(self, cs: dict[str, Any], contract: dict[str, Any]) -> None:
        units = self.t._rows("ContractServiceUnits")
        ids = self.t.unit_row_ids(cs["id"])  # the index's own list: updated in place
        existing = {units[k]["startDate"]: k for k in ids if k in units}
        for key in existing.values():
            del units[key]
            self.t._touch("records", key, "ContractServiceUnits")
        ids.clear()
        rows = compute_rows(
            self.events(cs["id"]),
            parse_datetime(contract["startDate"]).date(),
            parse_datetime(contract["endDate"]).date(),
            self.period_months(contract),
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
            ids.append(row_id)
            self.t._touch("records", row_id, "ContractServiceUnits")
