"""REST API of connectors under ``/api/v1/connectors``: the Admin Hub's setup flow, for scripts.

Same service functions and validation as the pages. Reading needs any principal of the organization;
changing (and anything spending the tenant's API budget on purpose) needs an admin. A connector of
another organization answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, status
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError

from psabridge.autotask.errors import AutotaskError
from psabridge.connectors import options as opts
from psabridge.connectors import permissions, service
from psabridge.connectors.errors import ConnectorError, explain_api_error
from psabridge.connectors.models import Connector
from psabridge.connectors.schemas import ConnectorOut, CredentialsIn, OptionsOut, SettingsOut, ZoneOut
from psabridge.connectors.settings import AutotaskConnectorSettings
from psabridge.web.deps import AppSettings, DbSession, PathId
from psabridge.web.principal import Principal, get_principal, require_admin
from psabridge.web.problems import connector_problem, problem

router = APIRouter(prefix="/connectors", tags=["connectors"])

Reader = Annotated[Principal, Depends(get_principal)]
Admin = Annotated[Principal, Depends(require_admin)]


class ConnectorProblem(Exception):
    """Carries the problem+json answer of a refused request out of the route (see ``problem_response``)."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def connector_http_error(exc: ConnectorError) -> ConnectorProblem:
    """422 for what the caller must fix, 502 when Autotask failed (the API's one problem table)."""
    return ConnectorProblem(connector_problem(exc))


def _not_found(what: str) -> ConnectorProblem:
    return ConnectorProblem(problem(404, "Not found", what, errors=[{"field": "id", "message": what}]))


def _connector(db: DbSession, principal: Principal, connector_id: int) -> Connector:
    connector = service.get_connector(db, principal.organization_id, connector_id)
    if connector is None:
        raise _not_found("No such connector in this organization.")
    return connector


async def problem_response(_request: Request, exc: Exception) -> Response:
    """Exception handler turning ``ConnectorProblem`` into its response (installed by ``install``)."""
    assert isinstance(exc, ConnectorProblem)
    return exc.response


def install(app: FastAPI) -> None:
    """Mount the API under ``/api/v1`` with its error handler."""
    app.add_exception_handler(ConnectorProblem, problem_response)
    app.include_router(router, prefix="/api/v1")


@router.get("", response_model=list[ConnectorOut])
def list_connectors(db: DbSession, principal: Reader) -> list[ConnectorOut]:
    """The organization's connectors with their setup status."""
    return [ConnectorOut.of(c) for c in service.list_connectors(db, principal.organization_id)]


@router.get("/zone", response_model=ZoneOut)
def discover_zone(username: Annotated[str, Query()], app_settings: AppSettings, principal: Admin) -> ZoneOut:
    """The Autotask zone (environment) of ``username``, through the server's zone-discovery address."""
    try:
        zone = service.discover_zone(username, app_settings)
    except ConnectorError as exc:
        raise connector_http_error(exc) from exc
    return ZoneOut(zone_name=zone.zone_name, api_url=zone.url, web_url=zone.web_url or "")


@router.post("", response_model=ConnectorOut, status_code=status.HTTP_201_CREATED)
def create_connector(
    body: CredentialsIn, db: DbSession, app_settings: AppSettings, principal: Admin
) -> ConnectorOut:
    """Create the Autotask connector after testing the credentials live."""
    if service.get_autotask_connector(db, principal.organization_id) is not None:
        message = "This organization already has an Autotask connector; update its credentials."
        raise ConnectorProblem(
            problem(409, "Conflict", message, errors=[{"field": "kind", "message": message}])
        )
    return _save_credentials(body, db, app_settings, principal)


def _save_credentials(
    body: CredentialsIn, db: DbSession, app_settings: AppSettings, principal: Principal
) -> ConnectorOut:
    code = (
        body.integration_code if body.integration_code is not None else app_settings.autotask_integration_code
    )
    try:
        connector = service.create_or_update_connector(
            db,
            principal.organization_id,
            username=body.username,
            secret=body.secret,
            integration_code=code or "",
            app_settings=app_settings,
        )
    except ConnectorError as exc:
        raise connector_http_error(exc) from exc
    except IntegrityError as exc:  # a concurrent create won the race
        db.rollback()
        message = "The connector was created concurrently."
        raise ConnectorProblem(
            problem(409, "Conflict", message, errors=[{"field": "kind", "message": message}])
        ) from exc
    return ConnectorOut.of(connector)


@router.get("/{connector_id}", response_model=ConnectorOut)
def read_connector(connector_id: PathId, db: DbSession, principal: Reader) -> ConnectorOut:
    return ConnectorOut.of(_connector(db, principal, connector_id))


@router.put("/{connector_id}/credentials", response_model=ConnectorOut)
def update_credentials(
    connector_id: PathId, body: CredentialsIn, db: DbSession, app_settings: AppSettings, principal: Admin
) -> ConnectorOut:
    """Replace the credentials (tested live first); an empty secret keeps the stored one."""
    _connector(db, principal, connector_id)
    return _save_credentials(body, db, app_settings, principal)


@router.get("/{connector_id}/settings", response_model=SettingsOut)
def read_settings(connector_id: PathId, db: DbSession, principal: Reader) -> SettingsOut:
    settings = service.connector_settings(_connector(db, principal, connector_id))
    return SettingsOut(
        settings=settings, is_set_up=settings.is_set_up, missing_settings=settings.missing_required()
    )


@router.put("/{connector_id}/settings", response_model=SettingsOut)
def write_settings(
    connector_id: PathId,
    body: AutotaskConnectorSettings,
    db: DbSession,
    app_settings: AppSettings,
    principal: Admin,
) -> SettingsOut:
    """Validate the settings against the tenant and save them; 422 with every reason otherwise."""
    connector = _connector(db, principal, connector_id)
    try:
        service.save_settings(db, connector, body, app_settings=app_settings)
    except ConnectorError as exc:
        db.rollback()
        raise connector_http_error(exc) from exc
    return SettingsOut(settings=body, is_set_up=body.is_set_up, missing_settings=body.missing_required())


@router.get("/{connector_id}/options", response_model=OptionsOut)
def read_options(
    connector_id: PathId, db: DbSession, app_settings: AppSettings, principal: Reader
) -> OptionsOut:
    """Every dropdown list (cached), plus the vendor companies once Default Vendor Type is saved."""
    connector = _connector(db, principal, connector_id)
    try:
        lists = service.load_option_lists(db, connector, app_settings)
    except ConnectorError as exc:
        raise connector_http_error(exc) from exc
    return OptionsOut.of(lists, opts.option_fetched_at(db, connector))


@router.get("/{connector_id}/options/{key}", response_model=list[opts.Option])
def read_option_list(
    connector_id: PathId,
    key: str,
    db: DbSession,
    app_settings: AppSettings,
    principal: Reader,
    q: Annotated[str, Query(max_length=200)] = "",
) -> list[opts.Option]:
    """One list, optionally searched (``q``), e.g. products for the Default Refund Product."""
    connector = _connector(db, principal, connector_id)
    if key not in opts.all_static_keys() and not key.startswith(opts.VENDORS_PREFIX):
        raise _not_found(f"Unknown option list '{key}'.")
    lazy = service.LazyClient(connector, app_settings)
    try:
        options = opts.get_options(db, connector, key, lazy)
    except ConnectorError as exc:
        raise connector_http_error(exc) from exc
    except ValueError as exc:
        raise _not_found(str(exc)) from exc
    finally:
        lazy.close()
    return opts.search(options, q, limit=1000) if q else options


@router.post("/{connector_id}/options/refresh", response_model=OptionsOut)
def refresh_options(
    connector_id: PathId, db: DbSession, app_settings: AppSettings, principal: Admin
) -> OptionsOut:
    """Forget the cached lists and read them again from Autotask."""
    connector = _connector(db, principal, connector_id)
    service.refresh_options(db, connector, app_settings)
    try:
        lists = service.load_option_lists(db, connector, app_settings)
    except ConnectorError as exc:
        raise connector_http_error(exc) from exc
    return OptionsOut.of(lists, opts.option_fetched_at(db, connector))


@router.post("/{connector_id}/check-permissions")
def check_permissions(
    connector_id: PathId, db: DbSession, app_settings: AppSettings, principal: Admin
) -> dict[str, object]:
    """Probe each entity the connector needs; say which security-level permission is missing."""
    connector = _connector(db, principal, connector_id)
    client = service.build_client(connector, app_settings)
    try:
        return permissions.check_permissions(client).as_dict()
    except AutotaskError as exc:
        raise connector_http_error(explain_api_error(exc, action="check the permissions")) from exc
    finally:
        client.close()
