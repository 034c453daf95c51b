"""Per-entity business rules of the emulated tenant: defaults, computed fields and refusals.

What Autotask fills in on create, what it computes (internal-currency copies, billable amounts) and
which records it refuses (a recurring contract without a period type, a service with a billing code
of the wrong use type, a duplicate contract service, ...). Rules whose public evidence is missing are
switchable (:class:`psabridge.emulator.rules.RuleSwitches`, ``tenant.rules``); the evidence for every
rule is in docs/autotask-fidelity.md.
"""

from __future__ import annotations

from typing import Any

from psabridge.emulator.api_users import ApiUser
from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.tenant_reads import TenantReads
from psabridge.emulator.values import now_stamp, parse_datetime

RECURRING_SERVICE_LABEL = "Recurring Service"
MATERIAL_LABEL = "Material"
RECURRING_CODE_LABEL = "Recurring Contract Service"

#: Invented wording (the rule has evidence, the message does not): see docs/autotask-fidelity.md.
DUPLICATE_SERVICE_MESSAGE = (
    "Service {service} is already on contract {contract}; add units with a ContractServiceAdjustment "
    "(allowRepeatService adds a repeat of the service)."
)


class BusinessRules(TenantReads):
    """The entity rules a create, an update or an adjustment applies (called under the tenant's lock)."""

    def _defaults(self, entity: str, record: dict[str, Any]) -> None:
        """Values Autotask fills in when a create leaves them out."""
        if entity in ("Companies", "Services") and record.get("isActive") is None:
            record["isActive"] = True
        if entity == "ContractServices" and record.get("unitPrice") is None:
            service = self._rows("Services").get(record.get("serviceID") or 0) or {}
            record["unitPrice"] = service.get("unitPrice")
        if entity == "ContractCharges":
            if record.get("status") is None:
                record["status"] = next(
                    (int(v["value"]) for v in self.picklist(entity, "status") if v["isDefaultValue"]), None
                )
            if record.get("isBilled") is None:
                record["isBilled"] = False
            if record.get("isBillableToCompany") is None:
                record["isBillableToCompany"] = True

    def _stamp_create(
        self, entity: str, record: dict[str, Any], actor: ApiUser | None, impersonate: int | None
    ) -> None:
        stamp = now_stamp()
        creator = impersonate or (actor.resource_id if actor else None)
        for name in (
            "createDate",
            "createdTime",
            "lastModifiedDate",
            "lastModifiedDateTime",
            "lastTrackedModifiedDateTime",
            "lastActivityDate",
        ):
            if name in record:
                record[name] = stamp
        for name in ("createdByResourceID", "creatorResourceID", "updateResourceID"):
            if name in record:
                record[name] = creator
        if impersonate and "impersonatorCreatorResourceID" in record:
            record["impersonatorCreatorResourceID"] = actor.resource_id if actor else None
        if entity == "Contracts":
            record["isCompliant"] = True
            record["internalCurrencySetupFee"] = record.get("setupFee")
        self._derive(entity, record)

    @staticmethod
    def _derive(entity: str, record: dict[str, Any]) -> None:
        """Fields Autotask computes (internal-currency copies, billable amounts)."""
        if entity == "ContractServices":
            record["internalCurrencyUnitPrice"] = record.get("unitPrice")
            record["internalCurrencyAdjustedPrice"] = record.get("unitPrice")
        if entity == "ContractCharges":
            qty = record.get("unitQuantity") or 0.0
            price = record.get("unitPrice") or 0.0
            cost = record.get("unitCost") or 0.0
            record["billableAmount"] = round(qty * price, 2)
            record["internalCurrencyBillableAmount"] = record["billableAmount"]
            record["internalCurrencyUnitPrice"] = record.get("unitPrice")
            record["extendedCost"] = round(qty * cost, 2)
        if entity == "Contracts":
            record["internalCurrencySetupFee"] = record.get("setupFee")

    def _contract(self, contract_id: int) -> dict[str, Any]:
        contract = self._rows("Contracts").get(contract_id)
        if contract is None:
            raise EmulatorError(
                500, ["Reference value on field: contractID of type: Contract does not exist or is invalid."]
            )
        return contract

    def recurring_type(self) -> int | None:
        """The tenant's contractType value of "Recurring Service" (7 in Autotask)."""
        return self.picklist_id("Contracts", "contractType", RECURRING_SERVICE_LABEL)

    def _require_recurring(self, contract: dict[str, Any]) -> None:
        if contract.get("contractType") != self.recurring_type():
            raise EmulatorError(
                500, ["Contract services can only be added to contracts of type Recurring Service."]
            )

    def _create_rules(self, entity: str, record: dict[str, Any]) -> None:
        """Entity business rules on create (after field validation)."""
        self._common_rules(entity, record)
        if entity == "Contracts":
            recurring = self.recurring_type()
            if record.get("contractType") == recurring and record.get("contractPeriodType") is None:
                # ecitsolutions/Autotask#39 (a real tenant's answer)
                raise EmulatorError(
                    500, [f"Contracts of type {recurring} (Recurring Services) require a ContractPeriodType."]
                )
        if entity == "ContractServices":
            contract = self._contract(record["contractID"])
            self._require_recurring(contract)
            if self.rules.refuse_duplicate_contract_service and any(
                other["serviceID"] == record["serviceID"]
                for other in self.services_of_contract(contract["id"])
            ):
                raise EmulatorError(
                    500,
                    [DUPLICATE_SERVICE_MESSAGE.format(service=record["serviceID"], contract=contract["id"])],
                )

    def _common_rules(self, entity: str, record: dict[str, Any]) -> None:
        if entity == "Contracts":
            if parse_datetime(record["endDate"]) < parse_datetime(record["startDate"]):
                raise EmulatorError(500, ["The contract end date must be on or after its start date."])
            if record.get("setupFee") and not record.get("setupFeeBillingCodeID"):
                raise EmulatorError(500, ["setupFeeBillingCodeID is required when a setup fee is entered."])
        if entity == "Services":
            code = self._rows("BillingCodes").get(record["billingCodeID"]) or {}
            wanted = self.picklist_id("BillingCodes", "useType", RECURRING_CODE_LABEL)
            if code.get("useType") != wanted or not code.get("isActive"):
                raise EmulatorError(
                    500, ["billingCodeID must be an active Recurring Contract Service billing code."]
                )
        if entity == "Products":
            code = self._rows("BillingCodes").get(record["productBillingCodeID"]) or {}
            wanted = self.picklist_id("BillingCodes", "useType", MATERIAL_LABEL)
            if code.get("useType") != wanted or not code.get("isActive"):
                raise EmulatorError(500, ["productBillingCodeID must be an active Material billing code."])
        if entity == "Companies":
            owner = self._rows("Resources").get(record["ownerResourceID"]) or {}
            if not owner.get("isActive"):
                raise EmulatorError(500, ["ownerResourceID must be an active resource."])
        if entity == "ContractCharges":
            contract = self._contract(record["contractID"])
            if record.get("productID") is None and record.get("billingCodeID") is None:
                # ContractChargesEntity page: a charge needs a product or a billing code
                raise EmulatorError(500, ["A contract charge requires a productID or a billingCodeID."])
            cs_id = record.get("contractServiceID")
            if cs_id is not None:
                cs = self._rows("ContractServices").get(cs_id)
                if cs is None or cs["contractID"] != contract["id"]:
                    raise EmulatorError(500, ["contractServiceID does not belong to this contract."])
        if entity == "ProductVendors" and record.get("isDefault"):
            for other in self._rows("ProductVendors").values():
                if other["productID"] == record["productID"] and other.get("id") != record.get("id"):
                    other["isDefault"] = False
                    self._touch("records", other["id"], "ProductVendors")
