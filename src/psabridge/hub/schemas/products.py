"""Schemas of products (the catalog subscriptions are billed from): create, update, import row, public.

Why a module of its own: products belong to no account and are referenced by subscriptions; their
prices are the defaults a subscription starts from.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from psabridge.hub.schemas.boundary import InputModel, LongText, OutputModel, ShortText, Timestamp
from psabridge.hub.validation import ExternalId, Money, Name

ProductKind = Literal["service", "product"]


# --- Products -------------------------------------------------------------------------------------------
class ProductFields(InputModel):
    name: Name
    sku: ShortText | None = None
    manufacturer: LongText | None = None
    kind: ProductKind = "service"
    unit_price: Money = Field(default=Decimal("0"))
    unit_cost: Money | None = None
    is_active: bool = True
    description: Annotated[str, Field(max_length=4000)] | None = None


class ProductCreate(ProductFields):
    external_id: ExternalId | None = None


class ProductUpdate(InputModel):
    name: Name | None = None
    sku: ShortText | None = None
    manufacturer: LongText | None = None
    kind: ProductKind | None = None
    unit_price: Money | None = None
    unit_cost: Money | None = None
    is_active: bool | None = None
    description: Annotated[str, Field(max_length=4000)] | None = None


class ProductRow(ProductFields):
    external_id: ExternalId


class ProductPublic(OutputModel):
    id: int
    external_id: str
    name: str
    sku: str | None
    manufacturer: str | None
    kind: str
    unit_price: Money
    unit_cost: Money | None
    is_active: bool
    description: str | None
    created_at: Timestamp
    updated_at: Timestamp
