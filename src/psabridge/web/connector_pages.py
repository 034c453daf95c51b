"""Admin Hub pages of the Integrations tab: the Autotask connector setup flow as Work 365 users know it.

Integrations → Add New → Psa Connectors → "datto | Autotask" → Create → Username, Password, Integration
Code, Environment (discovered from the username, confirmed by the user) → Save (tested live) → re-open →
settings → save → re-open → Manufacturers. Everyone of the organization may look; only admins change.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from psabridge.auth.models import User
from psabridge.autotask.errors import AutotaskError
from psabridge.connectors import options as opts
from psabridge.connectors import permissions, service
from psabridge.connectors.errors import ConnectorError, SettingsValidationError, explain_api_error
from psabridge.connectors.forms import CATALOGUE, parse_settings_form, settings_form_view
from psabridge.connectors.models import Connector
from psabridge.web.auth import AdminUser, CurrentUser
from psabridge.web.deps import AppSettings, DbSession, PathId
from psabridge.web.templating import templates

log = logging.getLogger(__name__)
router = APIRouter(prefix="/integrations", include_in_schema=False)


def _connector_or_404(db: DbSession, organization_id: int, connector_id: int) -> Connector:
    connector = service.get_connector(db, organization_id, connector_id)
    if connector is None:
        raise HTTPException(status_code=404, detail="No such connector in your organization.")
    return connector


@router.get("")
def integrations_page(
    request: Request, db: DbSession, user: CurrentUser, notice: str | None = None
) -> Response:
    """The Integrations tab: the organization's connectors and their status."""
    return templates.TemplateResponse(
        request,
        "integrations/list.html",
        {
            "active_tab": "integrations",
            "connectors": service.list_connectors(db, user.organization_id),
            "notice": notice,
        },
    )


@router.get("/new")
def catalogue_page(request: Request, db: DbSession, user: AdminUser) -> Response:
    """Add New: the catalogue of connectors grouped by kind."""
    existing = service.get_autotask_connector(db, user.organization_id)
    return templates.TemplateResponse(
        request,
        "integrations/catalogue.html",
        {"active_tab": "integrations", "catalogue": CATALOGUE, "existing": existing},
    )


@router.get("/autotask/help")
def help_page(request: Request, user: CurrentUser) -> Response:
    """How to create the API-only security level and API user with the minimum permissions."""
    return templates.TemplateResponse(
        request,
        "integrations/autotask_help.html",
        {"active_tab": "integrations", "probes": permissions.PROBES, "login": permissions.LOGIN_PERMISSION},
    )


@router.get("/autotask/zone")
def zone_fragment(
    request: Request,
    app_settings: AppSettings,
    user: AdminUser,
    username: Annotated[str, Query(max_length=255)] = "",
    environment_url: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    """htmx fragment: the Environment (zone name and API URL) discovered for ``username``.

    ``environment_url`` is the environment already confirmed on the page: when the lookup is repeated
    (the username field fires again on blur) and finds the same zone, the confirmation is kept.
    """
    zone: Any = None
    error: str | None = None
    if username.strip():
        try:
            zone = service.discover_zone(username, app_settings)
        except ConnectorError as exc:
            error = exc.message
    return templates.TemplateResponse(
        request,
        "integrations/_environment.html",
        {
            "zone": zone,
            "error": error,
            "username": username,
            "confirmed": zone is not None and environment_url == zone.url,
        },
    )


def _credentials_page(
    request: Request,
    *,
    connector: Connector | None,
    form: dict[str, str],
    error: ConnectorError | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "integrations/autotask_new.html",
        {"active_tab": "integrations", "connector": connector, "form": form, "error": error},
        status_code=status_code,
    )


@router.get("/autotask/new")
def new_autotask_page(
    request: Request, db: DbSession, app_settings: AppSettings, user: AdminUser
) -> Response:
    """The create form (an organization has one Autotask connector: if it exists, open it instead)."""
    existing = service.get_autotask_connector(db, user.organization_id)
    if existing is not None:
        return RedirectResponse(f"/integrations/autotask/{existing.id}", status_code=303)
    form = {"username": "", "integration_code": app_settings.autotask_integration_code or ""}
    return _credentials_page(request, connector=None, form=form)


@router.post("/autotask")
def create_autotask(
    request: Request,
    db: DbSession,
    app_settings: AppSettings,
    user: AdminUser,
    username: Annotated[str, Form(max_length=255)] = "",
    secret: Annotated[str, Form(max_length=1000)] = "",
    integration_code: Annotated[str, Form(max_length=255)] = "",
    environment_url: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Save: test the credentials live; on success the connector exists and is re-opened from the list."""
    existing = service.get_autotask_connector(db, user.organization_id)
    form = {"username": username, "integration_code": integration_code, "environment_url": environment_url}
    try:
        if not environment_url and username.strip():
            raise ConnectorError(
                "Confirm the Environment discovered for this username before saving.", field="environment"
            )
        connector = service.create_or_update_connector(
            db,
            user.organization_id,
            username=username,
            secret=secret,
            integration_code=integration_code,
            app_settings=app_settings,
            expected_api_url=environment_url or None,
        )
    except ConnectorError as exc:
        db.rollback()
        return _credentials_page(request, connector=existing, form=form, error=exc, status_code=400)
    notice = "Autotask connector saved: the credentials work. Open it to fill in the settings."
    log.info("user %s saved the autotask connector %s", user.id, connector.id)
    return RedirectResponse(f"/integrations?notice={quote(notice)}", status_code=303)


def _connector_page(
    request: Request,
    user: User,
    db: DbSession,
    app_settings: AppSettings,
    connector: Connector,
    *,
    notice: str | None = None,
    credentials_error: ConnectorError | None = None,
    credentials_form: dict[str, str] | None = None,
    settings_errors: dict[str, str] | None = None,
    submitted: dict[str, Any] | None = None,
    report: permissions.PermissionReport | None = None,
    options_error: str | None = None,
    status_code: int = 200,
) -> Response:
    lists: dict[str, list[opts.Option]] = {}
    try:
        lists = service.load_option_lists(db, connector, app_settings)
    except ConnectorError as exc:
        options_error = exc.message
    view = settings_form_view(db, connector, lists, submitted=submitted)
    return templates.TemplateResponse(
        request,
        "integrations/autotask_connector.html",
        {
            "active_tab": "integrations",
            "connector": connector,
            "editable": user.is_admin,
            "notice": notice,
            "credentials_error": credentials_error,
            "form": credentials_form
            or {"username": connector.username, "integration_code": connector.integration_code},
            "settings_errors": settings_errors or {},
            "view": view,
            "report": report,
            "options_error": options_error,
            "fetched_at": opts.option_fetched_at(db, connector),
        },
        status_code=status_code,
    )


@router.get("/autotask/{connector_id}")
def connector_page(
    request: Request,
    connector_id: PathId,
    db: DbSession,
    app_settings: AppSettings,
    user: CurrentUser,
    notice: str | None = None,
) -> Response:
    """Re-open: the credentials (secret never shown) and the settings section."""
    connector = _connector_or_404(db, user.organization_id, connector_id)
    return _connector_page(request, user, db, app_settings, connector, notice=notice)


@router.post("/autotask/{connector_id}")
def update_credentials(
    request: Request,
    connector_id: PathId,
    db: DbSession,
    app_settings: AppSettings,
    user: AdminUser,
    username: Annotated[str, Form(max_length=255)] = "",
    secret: Annotated[str, Form(max_length=1000)] = "",
    integration_code: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    """Save new credentials (tested live); a blank Password keeps the stored secret."""
    connector = _connector_or_404(db, user.organization_id, connector_id)
    try:
        service.create_or_update_connector(
            db,
            user.organization_id,
            username=username,
            secret=secret,
            integration_code=integration_code,
            app_settings=app_settings,
        )
    except ConnectorError as exc:
        db.rollback()
        db.refresh(connector)
        form = {"username": username, "integration_code": integration_code}
        return _connector_page(
            request,
            user,
            db,
            app_settings,
            connector,
            credentials_error=exc,
            credentials_form=form,
            status_code=400,
        )
    return RedirectResponse(
        f"/integrations/autotask/{connector_id}?notice={quote('Credentials saved: they work.')}",
        status_code=303,
    )


@router.post("/autotask/{connector_id}/settings")
async def save_settings_form(
    request: Request,
    connector_id: PathId,
    db: DbSession,
    app_settings: AppSettings,
    user: AdminUser,
) -> Response:
    """Save the settings (validated against the tenant); the page is re-opened afterwards."""
    connector = _connector_or_404(db, user.organization_id, connector_id)
    form = await request.form()
    raw = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    parsed, errors = parse_settings_form(raw)
    dropped: list[str] = []
    if parsed is not None and not errors:
        try:
            dropped = await _run_sync(service.save_settings, db, connector, parsed, app_settings=app_settings)
        except SettingsValidationError as exc:
            errors = exc.errors
        except ConnectorError as exc:
            errors = {"_": exc.message}
        except ValidationError as exc:  # pragma: no cover - parse_settings_form validates already
            errors = {"_": str(exc)}
    if errors:
        db.rollback()
        db.refresh(connector)
        response: Response = await _run_sync(
            _connector_page,
            request,
            user,
            db,
            app_settings,
            connector,
            settings_errors=errors,
            submitted=raw,
            status_code=400,
        )
        return response
    settings = service.connector_settings(connector)
    notice = "Settings saved."
    if settings.default_vendor_type is not None and not settings.manufacturers:
        notice = "Settings saved. Manufacturers can now be chosen among the vendor companies."
    if dropped:
        kept = ", ".join(settings.manufacturers) or "none"
        notice = (
            f"Settings saved. Default Vendor Type changed: Manufacturers kept (their company is of the new "
            f"type): {kept}; removed (choose them again among the new type's companies): {', '.join(dropped)}."
        )
    return RedirectResponse(
        f"/integrations/autotask/{connector_id}?notice={quote(notice)}#settings", status_code=303
    )


async def _run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking call (Autotask over HTTP, the database) off the event loop."""
    from functools import partial

    from anyio import to_thread

    return await to_thread.run_sync(partial(func, *args, **kwargs))


@router.post("/autotask/{connector_id}/refresh-options")
def refresh_options(
    request: Request, connector_id: PathId, db: DbSession, app_settings: AppSettings, user: AdminUser
) -> Response:
    """Forget the cached dropdown options; the page reads them again from Autotask."""
    connector = _connector_or_404(db, user.organization_id, connector_id)
    service.refresh_options(db, connector, app_settings)
    return RedirectResponse(
        f"/integrations/autotask/{connector_id}?notice={quote('Options read again from Autotask.')}#settings",
        status_code=303,
    )


@router.post("/autotask/{connector_id}/check-permissions")
def check_permissions(
    request: Request, connector_id: PathId, db: DbSession, app_settings: AppSettings, user: AdminUser
) -> Response:
    """Probe each entity the connector needs and list the missing security-level permissions."""
    connector = _connector_or_404(db, user.organization_id, connector_id)
    client = service.build_client(connector, app_settings)
    report: permissions.PermissionReport | None = None
    error: ConnectorError | None = None
    try:
        report = permissions.check_permissions(client)
    except AutotaskError as exc:
        error = explain_api_error(exc, action="check the permissions")
    finally:
        client.close()
    return _connector_page(
        request,
        user,
        db,
        app_settings,
        connector,
        report=report,
        options_error=error.message if error else None,
    )


@router.get("/autotask/{connector_id}/products")
def product_search(
    request: Request,
    connector_id: PathId,
    db: DbSession,
    app_settings: AppSettings,
    user: CurrentUser,
    q: Annotated[str, Query(max_length=200)] = "",
    selected: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """htmx fragment: the ``<option>``s of the products matching ``q`` (Default Refund Product search)."""
    connector = _connector_or_404(db, user.organization_id, connector_id)
    lazy = service.LazyClient(connector, app_settings)
    try:
        products = opts.get_options(db, connector, opts.PRODUCTS, lazy)
    except ConnectorError as exc:
        raise HTTPException(status_code=502, detail=exc.message) from exc
    finally:
        lazy.close()
    hits = opts.search(products, q)
    chosen_id = int(selected) if selected.strip().isdigit() else None
    chosen = opts.find(products, chosen_id)
    if chosen is not None and chosen not in hits:
        hits.insert(0, chosen)
    return templates.TemplateResponse(
        request, "integrations/_product_options.html", {"products": hits, "selected": chosen_id}
    )
