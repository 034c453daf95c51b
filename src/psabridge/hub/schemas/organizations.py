"""Schemas of the organization (the tenant of the hub): what is shown of it and what an admin may change.

Why a module of its own: the organization is not a billing record; its time zone decides the calendar
dates pushed to Autotask.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from psabridge.hub.schemas.boundary import OutputModel, Timestamp

Role = Literal["admin", "viewer"]


class OrganizationPublic(OutputModel):
    id: int
    name: str
    slug: str
    time_zone: str | None = Field(
        default=None, description="IANA time zone of the dates pushed to Autotask; null: the server's."
    )
    created_at: Timestamp


class OrganizationUpdate(BaseModel):
    """What an admin may change of their organization."""

    model_config = ConfigDict(extra="forbid")
    time_zone: str | None = Field(
        default=None, max_length=64, description="IANA time zone name; null for the server's local zone."
    )
