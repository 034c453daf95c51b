"""The seeded tenant: what a freshly provisioned Autotask database of a small MSP looks like.

Picklist ids are deliberately not 1..n in label order (as in real tenants), so callers that hard-code
ids instead of looking labels up fail against the emulator just as they would against Autotask.
"""

from __future__ import annotations

from typing import Any

from psabridge.emulator.schema import entity_defs

DEMO_USERNAME = "psabridge-api@demo.example"
DEMO_SECRET = "demo-secret"
DEMO_INTEGRATION_CODE = "PSABRIDGE-DEMO"
SEED_TIMESTAMP = "2026-01-05T09:00:00Z"


def _pick(
    values: list[tuple[int, str]], default: int | None = None, inactive: tuple[int, ...] = ()
) -> list[dict[str, Any]]:
    return [
        {
            "value": str(value),
            "label": label,
            "isDefaultValue": value == default,
            "sortOrder": order,
            "parentValue": "",
            "isActive": value not in inactive,
            "isSystem": True,
        }
        for order, (value, label) in enumerate(values, start=1)
    ]


PERIODS = [(2, "Monthly"), (3, "Quarterly"), (4, "Semi-Annual"), (5, "Yearly")]
# length in months of each period-type label (Services.periodType, Contracts.contractPeriodType)
PERIOD_MONTHS = {"Monthly": 1, "Quarterly": 3, "Semi-Annual": 6, "Yearly": 12, "One-Time": 0}


def seed_picklists() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Picklists per entity and field, as ``entityInformation/fields`` reports them."""
    return {
        "Companies": {
            "companyType": _pick(
                [
                    (1, "Customer"),
                    (2, "Lead"),
                    (3, "Prospect"),
                    (4, "Dead"),
                    (6, "Cancellation"),
                    (7, "Vendor"),
                    (8, "Partner"),
                    (9, "Former Customer"),
                ],
                default=1,
                inactive=(9,),
            ),
            "classification": _pick([(101, "Gold"), (102, "Silver"), (103, "Bronze")]),
        },
        "Contacts": {"namePrefix": _pick([(1, "Mr."), (2, "Mrs."), (3, "Ms."), (4, "Dr.")])},
        "Contracts": {
            "contractType": _pick(
                [
                    (1, "Time and Materials"),
                    (3, "Fixed Price"),
                    (4, "Block Hours"),
                    (6, "Retainer"),
                    (7, "Recurring Service"),
                    (8, "Per Ticket"),
                ],
                default=1,
            ),
            "billingPreference": _pick(
                [(1, "Manually"), (2, "Immediately"), (3, "Timesheet Approval")], default=1
            ),
            "status": _pick([(0, "Inactive"), (1, "Active")], default=1),
            "contractPeriodType": _pick(PERIODS, default=2),
            "contractCategory": _pick([(11, "Managed Services"), (12, "Cloud"), (13, "Project")]),
        },
        "Services": {"periodType": _pick(PERIODS, default=2)},
        "Products": {
            "periodType": _pick([(1, "One-Time"), *PERIODS], default=1),
            "billingType": _pick([(1, "Billable"), (2, "Non-Billable")], default=1),
            "priceCostMethod": _pick(
                [(1, "Standard"), (2, "Markup from Cost"), (3, "Markdown from MSRP")], default=1
            ),
            "productCategory": _pick([(21, "Hardware"), (22, "Software"), (23, "Licensing")]),
        },
        "ContractCharges": {
            "chargeType": _pick([(1, "Operational"), (2, "Capitalized")], default=1),
            "status": _pick([(1, "Pending Approval"), (2, "Ready to Bill"), (3, "Billed")], default=2),
        },
        "BillingCodes": {
            "useType": _pick(
                [
                    (1, "Work Type"),
                    (2, "Material"),
                    (3, "General Expense"),
                    (4, "Internal Allocation Code"),
                    (5, "Recurring Contract Service"),
                    (6, "Milestone"),
                ]
            ),
            "billingCodeType": _pick([(0, "Regular"), (1, "Flat Rate"), (2, "Recurring")]),
        },
        "Resources": {"licenseType": _pick([(1, "Full"), (2, "Time and Attendance Only"), (7, "API User")])},
    }


def seed_udfs() -> dict[str, list[dict[str, Any]]]:
    """User-defined field definitions per entity (text UDFs that can carry a matching key)."""

    def udf(udf_id: int, name: str) -> dict[str, Any]:
        return {
            "id": udf_id,
            "createDate": SEED_TIMESTAMP,
            "crmToProjectUdfId": None,
            "dataType": 1,
            "defaultValue": None,
            "description": f"{name} (text)",
            "displayFormat": 1,
            "isActive": True,
            "isEncrypted": False,
            "isFieldMapping": False,
            "isPrivate": False,
            "isProtected": False,
            "isRequired": False,
            "isVisibleToClientPortal": False,
            "mergeVariableName": None,
            "name": name,
            "numberOfDecimalPlaces": None,
            "sortOrder": 1,
            "udfType": 1,
        }

    return {
        "Companies": [udf(29683001, "Billing Account ID"), udf(29683002, "Customer Segment")],
        "Contacts": [udf(29683003, "Billing Contact ID")],
        "Contracts": [udf(29683004, "Billing Contract ID")],
        "Services": [udf(29683005, "Billing Product ID")],
        "Products": [udf(29683006, "Billing Product ID")],
    }


def blank(entity: str) -> dict[str, Any]:
    """A record of ``entity`` with every field of its model present and null (UDFs: empty list)."""
    return {name: ([] if f.kind == "udf" else None) for name, f in entity_defs()[entity].fields.items()}


def _rec(entity: str, udfs: dict[str, list[dict[str, Any]]], **values: Any) -> dict[str, Any]:
    record = blank(entity)
    record.update(values)
    if "userDefinedFields" in record:
        given = {u["name"]: u["value"] for u in values.get("userDefinedFields", [])}
        record["userDefinedFields"] = [
            {"name": d["name"], "value": given.get(d["name"])} for d in udfs.get(entity, [])
        ]
    return record


def seed_records(udfs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[int, dict[str, Any]]]:
    """The seeded records per entity."""
    owner = 29682885
    resources = [
        (29682885, "Jane", "Cooper", "jane.cooper@demo-msp.example", True, 1),
        (29682886, "Omar", "Haddad", "omar.haddad@demo-msp.example", True, 1),
        (29682887, "Lena", "Fischer", "lena.fischer@demo-msp.example", True, 1),
        (29682888, "Pat", "Former", "pat.former@demo-msp.example", False, 1),
        (29682889, "PSA Bridge", "API", DEMO_USERNAME, True, 7),
        # the owners of the hub's sample data (psabridge.hub.sample_data), for owner-by-email matching
        (29682890, "Alex", "Morgan", "alex.morgan@msp.example.com", True, 1),
        (29682891, "Jordan", "Reyes", "jordan.reyes@msp.example.com", True, 1),
        (29682892, "Sam", "Chen", "sam.chen@msp.example.com", True, 1),
    ]
    out: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in entity_defs()}
    for rid, first, last, email, active, license_type in resources:
        out["Resources"][rid] = _rec(
            "Resources",
            udfs,
            id=rid,
            firstName=first,
            lastName=last,
            email=email,
            userName=email.split("@", 1)[0] if license_type != 7 else email,
            isActive=active,
            resourceType="Employee",
            licenseType=license_type,
            userType=1 if license_type != 7 else 17,
            initials=(first[0] + last[0]).upper(),
            title="API User" if license_type == 7 else "Technician",
            hireDate="2020-01-06T00:00:00Z",
        )
    codes = [
        (29682801, "Remote Support", 1, None),
        (29682802, "Onsite Support", 1, None),
        (29682803, "Hardware", 2, None),
        (29682804, "Software Licenses", 2, None),
        (29682805, "Refunds and Credits", 2, None),
        (29682806, "Setup Fees", 2, None),
        (29682810, "Managed Services", 5, None),
        (29682811, "Cloud Subscriptions", 5, None),
        (29682812, "Backup and Continuity", 5, None),
        (29682813, "Legacy Recurring (inactive)", 5, None),
    ]
    for cid, name, use_type, _ in codes:
        out["BillingCodes"][cid] = _rec(
            "BillingCodes",
            udfs,
            id=cid,
            name=name,
            description=name,
            useType=use_type,
            billingCodeType=2 if use_type == 5 else 0,
            isActive=cid != 29682813,
            isExcludedFromNewContracts=False,
            unitPrice=0.0,
            unitCost=0.0,
            markupRate=0.0,
            externalNumber=f"GL-{cid % 1000:03d}",
        )
    companies = [
        (0, "Demo MSP Ltd", 8, "000 000 0000"),
        (174, "Microsoft", 7, "+1 425 882 8080"),
        (175, "Datto", 7, "+1 203 664 1100"),
        (176, "Pax8", 7, "+1 855 884 7298"),
        (177, "Sophos", 7, "+44 1235 559933"),
        (180, "Contoso Ltd", 1, "+1 555 0100"),
        (181, "Northwind Traders", 1, "+1 555 0101"),
        (182, "Fabrikam Inc", 3, "+1 555 0102"),
        # named like a customer of the hub's sample data: the "link suggestion" case
        (183, "Cedar Schools", 1, "+1 (415) 555-0142"),
    ]
    for cid, name, ctype, phone in companies:
        out["Companies"][cid] = _rec(
            "Companies",
            udfs,
            id=cid,
            companyName=name,
            companyType=ctype,
            phone=phone,
            ownerResourceID=owner,
            isActive=True,
            isSample=False,
            isTaxExempt=False,
            isClientPortalActive=False,
            isEnabledForComanaged=False,
            isTaskFireActive=False,
            countryID=237,
            createDate=SEED_TIMESTAMP,
            lastActivityDate=SEED_TIMESTAMP,
            lastTrackedModifiedDateTime=SEED_TIMESTAMP,
            createdByResourceID=owner,
        )
    out["Contacts"][30001] = _rec(
        "Contacts",
        udfs,
        id=30001,
        companyID=180,
        firstName="Alex",
        lastName="Morgan",
        emailAddress="alex.morgan@contoso.example",
        isActive=1,
        primaryContact=True,
        createDate=SEED_TIMESTAMP,
        lastModifiedDate=SEED_TIMESTAMP,
    )
    products = [
        (210, "Microsoft 365 Business Premium", 29682804, 174, 22.0, 18.7, "CFQ7TTC0LCHC"),
        (211, "Datto SIRIS 3 Appliance", 29682803, 175, 2499.0, 1899.0, "SIRIS3-S2"),
        (212, "Refund / Credit", 29682805, None, 0.0, 0.0, "REFUND"),
        (213, "Sophos Intercept X Endpoint", 29682804, 177, 4.5, 3.1, "SOPH-IX-EP"),
    ]
    for pid, name, code, vendor, price, cost, sku in products:
        out["Products"][pid] = _rec(
            "Products",
            udfs,
            id=pid,
            name=name,
            description=name,
            productBillingCodeID=code,
            defaultVendorID=vendor,
            manufacturerName=out["Companies"][vendor]["companyName"] if vendor is not None else None,
            isActive=True,
            isSerialized=False,
            isEligibleForRma=False,
            doesNotRequireProcurement=pid == 212,
            unitPrice=price,
            unitCost=cost,
            msrp=price,
            sku=sku,
            periodType=1,
            billingType=1,
            priceCostMethod=1,
            createdTime=SEED_TIMESTAMP,
            createdByResourceID=owner,
        )
    for pvid, (pid, vendor) in enumerate([(210, 174), (211, 175), (213, 177)], start=400):
        out["ProductVendors"][pvid] = _rec(
            "ProductVendors",
            udfs,
            id=pvid,
            productID=pid,
            vendorID=vendor,
            isActive=True,
            isDefault=True,
            vendorCost=out["Products"][pid]["unitCost"],
        )
    out["Services"][310] = _rec(
        "Services",
        udfs,
        id=310,
        name="Managed Workstation",
        description="Per-device monitoring and patching",
        unitPrice=45.0,
        unitCost=12.0,
        periodType=2,
        billingCodeID=29682810,
        isActive=True,
        createDate=SEED_TIMESTAMP,
        creatorResourceID=owner,
        lastModifiedDate=SEED_TIMESTAMP,
    )
    out["Contracts"][500] = _rec(
        "Contracts",
        udfs,
        id=500,
        companyID=181,
        contractName="Northwind - Time and Materials",
        contractType=1,
        status=1,
        startDate="2026-01-01T00:00:00Z",
        endDate="2026-12-31T00:00:00Z",
        billingPreference=1,
        timeReportingRequiresStartAndStopTimes=1,
        isDefaultContract=True,
        isCompliant=True,
        lastModifiedDateTime=SEED_TIMESTAMP,
    )
    return out
