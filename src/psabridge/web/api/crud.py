"""The create / read / update routes every billing-hub resource has, declared once.

Each resource differs only in its model, its schemas and its service functions; the shape of the three
routes (admin writes, any token reads, scoped to the caller's organization, commit after the service
call, problem+json errors) is the same, so it is written here once and the resource modules only list
their own list filters and extra routes.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations as objects,
and the body schema of each generated endpoint is a variable of this factory.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path
from sqlalchemy.orm import Session

from psabridge.hub.records import get_record
from psabridge.hub.validation import MAX_ID
from psabridge.web.deps import DbSession
from psabridge.web.principal import Admin, Reader


@dataclass(frozen=True)
class CrudResource:
    """One billing-hub resource: where it lives, its model, schemas and service functions."""

    path: str
    name: str
    model: type[Any]
    public: type[Any]
    create_schema: type[Any]
    update_schema: type[Any]
    create: Callable[[Session, int, Any], Any]
    update: Callable[[Session, int, int, Any], Any]
    create_doc: str = ""
    update_doc: str = ""

    @property
    def id_name(self) -> str:
        """The path parameter naming the record, e.g. ``account_id`` (what errors name)."""
        return "contract_id" if self.name == "billing_contract" else f"{self.name}_id"


def add_crud_routes(
    router: APIRouter, resource: CrudResource, *, responses: dict[int | str, dict[str, Any]]
) -> None:
    """``POST {path}``, ``GET {path}/{id}`` and ``PATCH {path}/{id}`` for one resource (the id parameter
    named after the resource, e.g. ``account_id``, so errors name it as clients know it)."""
    path, name, model = resource.path, resource.name, resource.model
    create, update = resource.create, resource.update
    create_schema, update_schema = resource.create_schema, resource.update_schema
    create_doc, update_doc = resource.create_doc, resource.update_doc

    def create_record(body: create_schema, db: DbSession, principal: Admin) -> Any:  # type: ignore[valid-type]
        record = create(db, principal.organization_id, body)
        db.commit()
        return record

    record_id_param = Annotated[int, Path(alias=resource.id_name, ge=1, le=MAX_ID, description="Record id.")]

    def read_record(record_id: record_id_param, db: DbSession, principal: Reader) -> Any:
        return get_record(db, model, principal.organization_id, record_id)

    def update_record(
        record_id: record_id_param,
        body: update_schema,  # type: ignore[valid-type]
        db: DbSession,
        principal: Admin,
    ) -> Any:
        record = update(db, principal.organization_id, record_id, body)
        db.commit()
        return record

    common: dict[str, Any] = {"response_model": resource.public, "responses": responses}
    router.add_api_route(
        path,
        create_record,
        methods=["POST"],
        status_code=201,
        name=f"create_{name}",
        description=create_doc,
        **common,
    )
    router.add_api_route(
        f"{path}/{{{resource.id_name}}}", read_record, methods=["GET"], name=f"read_{name}", **common
    )
    router.add_api_route(
        f"{path}/{{{resource.id_name}}}",
        update_record,
        methods=["PATCH"],
        name=f"update_{name}",
        description=update_doc,
        **common,
    )
