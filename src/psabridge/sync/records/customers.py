"""Customers tab: each account -> an Autotask Company, and its primary contact -> a Contact under it.

Owned: company name and phone; contact names, e-mail, phone and active flag. Sent once on create: company
type (Default Company Type), owner (Default Owner Source: the fixed resource, or the active resource
whose e-mail is the account owner's), address. Blocked: no valid phone (the billing hub's own phone rule:
the same check decides both), no primary contact, settings missing. A same-name company is only ever a
suggestion ("Needs link"): a name alone never links.
"""

from __future__ import annotations

from typing import Any

from psabridge.connectors.settings import OwnerSource
from psabridge.hub.validation import check_phone
from psabridge.sync.records.base import Desired, RecordType, ref, without_none
from psabridge.sync.records.context import PlanContext, RecordModule
from psabridge.sync.snapshot import HubAccount, HubSnapshot

ACCOUNT = RecordType(
    "account", "customers", "Companies", "companyNumber", "A", owned=frozenset({"companyName", "phone"})
)
CONTACT = RecordType(
    "contact",
    "customers",
    "Contacts",
    "externalID",
    "C",
    owned=frozenset({"firstName", "lastName", "isActive", "emailAddress", "phone"}),
)


def valid_phone(phone: str | None) -> bool:
    """The billing hub's phone rule (7-15 digits, usual punctuation, an optional extension)."""
    if not phone:
        return False
    try:
        check_phone(phone)
    except ValueError:
        return False
    return True


def owner_of(ctx: PlanContext, account: HubAccount) -> int | None:
    """Default Owner Source: the chosen resource, or (when so set) the active, non-API resource whose
    e-mail is the account owner's, falling back to the chosen one."""
    fixed = ctx.settings.default_owner_resource_id
    if ctx.settings.owner_source != OwnerSource.ACCOUNT_OWNER_EMAIL or not account.owner_email:
        return fixed
    return ctx.view.facts.resources_by_email.get(account.owner_email.strip().lower(), fixed)


def plan(ctx: PlanContext) -> None:
    for account in sorted(ctx.hub.accounts, key=lambda a: a.id):
        _company(ctx, account)
        _contact(ctx, account)


def _company(ctx: PlanContext, a: HubAccount) -> None:
    s = ctx.settings
    d = Desired(
        ACCOUNT.name,
        a.id,
        a.name,
        owned={"companyName": a.name, "phone": a.phone},
        create_only=without_none(
            {
                "companyType": s.default_company_type,
                "ownerResourceID": owner_of(ctx, a),
                "address1": a.address_line1,
                "address2": a.address_line2,
                "city": a.city,
                "state": a.state,
                "postalCode": a.postal_code,
                "isActive": True,
            }
        ),
    )
    if not valid_phone(a.phone):
        ctx.block(d, f"Account has no valid phone number ({a.phone or 'empty'})")
    elif a.primary_contact is None:
        ctx.block(d, "Account has no primary contact")
    elif s.default_company_type is None or s.default_owner_resource_id is None:
        ctx.block(d, "Settings Default Company Type and Default Owner Source must be chosen")
    else:
        ctx.upsert(d, suggest=ctx.view.company_candidates.get(a.name.strip().lower()))


def _contact(ctx: PlanContext, a: HubAccount) -> None:
    contact = a.primary_contact
    if contact is None:
        return
    owned: dict[str, Any] = {
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "isActive": 1 if contact.is_active else 0,
    }
    if contact.email:
        owned["emailAddress"] = contact.email
    if contact.phone:
        owned["phone"] = contact.phone
    account_ref = ref(ACCOUNT.name, a.id)
    ctx.upsert(
        Desired(
            CONTACT.name,
            contact.id,
            f"{contact.first_name} {contact.last_name} ({a.name})",
            owned=owned,
            create_only={"companyID": {"$ref": account_ref}, "primaryContact": True},
            parent={"$ref": account_ref},
            depends=(account_ref,),
        )
    )


def _hub_ids(hub: HubSnapshot) -> dict[str, list[int]]:
    return {
        ACCOUNT.name: [a.id for a in hub.accounts],
        CONTACT.name: [a.primary_contact.id for a in hub.accounts if a.primary_contact],
    }


MODULE = RecordModule(
    name="customers",
    types=(ACCOUNT, CONTACT),
    plan=plan,
    include_fields={
        "Companies": ["id", "companyNumber", "companyName", "phone"],
        "Contacts": [
            "id",
            "externalID",
            "companyID",
            "firstName",
            "lastName",
            "emailAddress",
            "phone",
            "isActive",
        ],
    },
    hub_ids=_hub_ids,
)
