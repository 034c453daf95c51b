"""Answers of the billing-hub API that are not a record: quantity mismatches, import results, list pages.

Why a module of its own: these shapes are only ever output, computed from many records, and the list
page is generic over every resource's public shape.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class MismatchPublic(BaseModel):
    subscription_id: int
    subscription_external_id: str
    quantity: int
    logged_quantity: int
    difference: int
    active_log_count: int


class ImportResultPublic(BaseModel):
    record_type: str
    created: int
    updated: int
    unchanged: int
    logs_created: int = Field(description="License change logs recorded for new or changed quantities.")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` plus the ``total`` matching the filters, for offset pagination."""

    items: list[T]
    total: int
    limit: int
    offset: int
