"""Schemas of accounts and their contacts: create, update, import row and public shapes.

Why together: a contact belongs to one account and the account's primary contact is one of its
contacts, so the two are created, imported and shown together.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import EmailStr, Field

from psabridge.hub.schemas.boundary import InputModel, LongText, OutputModel, ShortText, Timestamp
from psabridge.hub.validation import DbId, ExternalId, Name, Phone

AccountStatus = Literal["active", "inactive"]


# --- Accounts -------------------------------------------------------------------------------------------
class AccountFields(InputModel):
    name: Name
    phone: Phone | None = None
    address_line1: LongText | None = None
    address_line2: LongText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    country: ShortText | None = None
    owner_email: EmailStr | None = None
    status: AccountStatus = "active"


class AccountCreate(AccountFields):
    """The primary contact is chosen later (``is_primary`` on a contact, or an update)."""

    external_id: ExternalId | None = None


class AccountUpdate(InputModel):
    name: Name | None = None
    phone: Phone | None = None
    address_line1: LongText | None = None
    address_line2: LongText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    country: ShortText | None = None
    owner_email: EmailStr | None = None
    status: AccountStatus | None = None
    primary_contact_id: DbId | None = None


class AccountRow(AccountFields):
    external_id: ExternalId
    primary_contact_external_id: ExternalId | None = None


class AccountPublic(OutputModel):
    id: int
    external_id: str
    name: str
    phone: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None
    owner_email: str | None
    primary_contact_id: int | None
    status: str
    created_at: Timestamp
    updated_at: Timestamp


# --- Contacts -------------------------------------------------------------------------------------------
class ContactFields(InputModel):
    first_name: Annotated[str, Field(min_length=1, max_length=100)]
    last_name: Annotated[str, Field(min_length=1, max_length=100)]
    email: EmailStr | None = None
    phone: Phone | None = None
    is_active: bool = True


class ContactCreate(ContactFields):
    external_id: ExternalId | None = None
    account_id: DbId
    is_primary: bool = Field(default=False, description="Make this the account's primary contact.")


class ContactUpdate(InputModel):
    first_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    last_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    is_active: bool | None = None


class ContactRow(ContactFields):
    external_id: ExternalId
    account_external_id: ExternalId
    is_primary: bool = False


class ContactPublic(OutputModel):
    id: int
    external_id: str
    account_id: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp
