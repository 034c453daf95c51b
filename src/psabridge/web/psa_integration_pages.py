"""PSA Integration tab of the Admin Hub: per-record sync status, linking, plan preview, push, run history.

Tabs Products, Customers, Agreements, Services and Changes, left to right in dependency order. Everyone
signed in can look; only admins can preview (it reads Autotask and uses the tenant's API budget), link,
choose Add New or push. Every query is scoped to the signed-in user's organization, and every form
carries the CSRF token (the middleware refuses it otherwise).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from psabridge.autotask.errors import AutotaskError
from psabridge.connectors import service as connectors
from psabridge.connectors.errors import explain_api_error
from psabridge.hub.validation import MAX_ID
from psabridge.psa_integration import rows as rowsmod
from psabridge.psa_integration import search as searchmod
from psabridge.psa_integration import tab_pages
from psabridge.psa_integration.push import (
    PlanChanged,
    PushBusy,
    cost_by_phase,
    plan_digest,
    start_push,
)
from psabridge.sync import service
from psabridge.sync.keys import RECORD_TYPES
from psabridge.web.auth import AdminUser, CurrentUser
from psabridge.web.deps import AppSettings, DbSession, FormId
from psabridge.web.templating import templates

router = APIRouter(prefix="/psa-integration", include_in_schema=False)

PAGE_SIZE = tab_pages.PAGE_SIZE
#: ``?page=`` of the tabs and run pages (past the last page shows the last page)
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
#: a record status as a filter (``needs_link``, ``written``): anything else is refused (422), not searched
STATUS_PATTERN = r"^[a-z_]{0,40}$"
PageSize = Annotated[int, Query(ge=1, le=tab_pages.MAX_PAGE_SIZE)]
NOTICES = {
    "linked": "Linked. The next push writes the hub's fields and the matching key into that Autotask record.",
    "add_new": "Add New chosen. The next push creates a new Autotask record.",
    "bulk_add_new": "Add New chosen for the selected rows.",
    "bulk_linked": "Suggested links confirmed for the selected rows.",
}


def render_psa_page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return templates.TemplateResponse(
        request, name, {"active_tab": "psa", "tabs_psa": rowsmod.TABS, **context}, status_code=status_code
    )


def _tab_url(tab: str, notice: str | None = None, error: str | None = None) -> str:
    from urllib.parse import urlencode

    params = {k: v for k, v in (("notice", notice), ("error", error)) if v}
    return f"/psa-integration/{tab}" + (f"?{urlencode(params)}" if params else "")


def _safe_tab(tab: str) -> str:
    return tab if tab in rowsmod.TABS_BY_KEY else "products"


@router.get("")
def index(user: CurrentUser) -> Response:
    return RedirectResponse("/psa-integration/products", status_code=303)


# --- run history (declared before /{tab} so "runs" is not taken for a tab) ----------------------------


# --- the tabs ----------------------------------------------------------------------------------------


def _row_key(row: str | None) -> tuple[str, int] | None:
    """``"account:12"`` -> ``("account", 12)`` (None for anything else)."""
    record_type, _, raw_id = (row or "").rpartition(":")
    if record_type not in RECORD_TYPES or not raw_id.isdigit() or len(raw_id) > 10:
        return None
    hub_id = int(raw_id)
    return (record_type, hub_id) if 1 <= hub_id <= MAX_ID else None


@router.get("/{tab}")
def tab_page(
    request: Request,
    tab: str,
    db: DbSession,
    user: CurrentUser,
    page: PageNumber = 1,
    size: PageSize = PAGE_SIZE,
    status: Annotated[str | None, Query(max_length=40)] = None,
    notice: Annotated[str | None, Query(max_length=100)] = None,
    error: Annotated[str | None, Query(max_length=2000)] = None,
    row: Annotated[str | None, Query(max_length=60)] = None,
) -> Response:
    """One tab, a page of rows at a time; ``row`` ("account:12", from the Billing Hub account page) opens
    the page that holds that row."""
    if tab not in rowsmod.TABS_BY_KEY:
        raise HTTPException(status_code=404, detail="No such tab")
    status = status if status in rowsmod.STATUS_LABELS else None
    view = tab_pages.tab_view(
        db, user.organization_id, tab, status=status, page=page, size=size, row=_row_key(row)
    )
    attention, failed = rowsmod.attention_and_failed(db, user.organization_id)
    connector = connectors.get_autotask_connector(db, user.organization_id)
    runs = service.list_runs(db, user.organization_id, limit=5)
    return render_psa_page(
        request,
        "psa_integration/tab.html",
        {
            "tab": view.tab,
            "rows": view.rows,
            # Bulk actions only where a row can take one: Services and Changes rows are never linked by hand.
            "selectable": any(r.linkable and r.status != "synced" for r in view.rows),
            "counts": view.counts,
            "total": sum(view.counts.values()),
            "attention": attention,
            "status_filter": status,
            "status_labels": rowsmod.STATUS_LABELS,
            "page_number": view.page,
            "pages": view.pages,
            "page_size": view.size if view.size != PAGE_SIZE else None,
            "notice": NOTICES.get(notice or ""),
            "error": error,
            "connector": connector,
            "is_admin": user.is_admin,
            "recent_runs": runs,
            "failed_total": failed,
        },
    )


# --- linking -----------------------------------------------------------------------------------------


def _client(db: DbSession, organization_id: int, settings: AppSettings) -> Any:
    connector = connectors.get_autotask_connector(db, organization_id)
    if connector is None:
        raise service.SyncError("This organization has no Autotask connector: set one up under Integrations")
    return connectors.build_client(connector, settings)


@router.get("/search/results")
def search_results(
    request: Request,
    db: DbSession,
    user: AdminUser,
    settings: AppSettings,
    record_type: str,
    hub_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    q: str = "",
    tab: str = "products",
) -> Response:
    """htmx fragment: Autotask records matching ``q`` for one row, each with a Link button."""
    if not rowsmod.hub_record_exists(db, user.organization_id, record_type, hub_id):
        raise HTTPException(status_code=404, detail="No such record")
    matches: list[searchmod.Match] = []
    message = None
    if len(q.strip()) < searchmod.MIN_QUERY:
        message = f"Type at least {searchmod.MIN_QUERY} characters to search Autotask."
    else:
        try:
            client = _client(db, user.organization_id, settings)
            try:
                matches = searchmod.search(client, record_type, q)
            finally:
                client.close()
        except (AutotaskError, service.SyncError) as exc:
            message = f"Autotask search failed: {exc}"
        if not matches and message is None:
            message = f"No Autotask record matches {q.strip()!r}."
    return templates.TemplateResponse(
        request,
        "psa_integration/_search_results.html",
        {
            "matches": matches,
            "message": message,
            "record_type": record_type,
            "hub_id": hub_id,
            "tab": _safe_tab(tab),
        },
    )


@router.post("/link")
def link(
    db: DbSession,
    user: AdminUser,
    settings: AppSettings,
    record_type: Annotated[str, Form()],
    hub_id: FormId,
    autotask_id: FormId,
    tab: Annotated[str, Form()] = "products",
) -> Response:
    """The user confirmed a link (a suggestion or a search result)."""
    tab = _safe_tab(tab)
    org = user.organization_id
    if not rowsmod.hub_record_exists(db, org, record_type, hub_id):
        raise HTTPException(status_code=404, detail="No such record")
    try:
        service.decide_link(db, org, record_type, hub_id, autotask_id=autotask_id, app_settings=settings)
    except (service.SyncError, AutotaskError) as exc:
        db.rollback()
        return RedirectResponse(_tab_url(tab, error=_link_error(exc)), status_code=303)
    return RedirectResponse(_tab_url(tab, notice="linked"), status_code=303)


@router.post("/add-new")
def add_new(
    db: DbSession,
    user: AdminUser,
    record_type: Annotated[str, Form()],
    hub_id: FormId,
    tab: Annotated[str, Form()] = "products",
) -> Response:
    """The user chose "Add New": the next push creates a new Autotask record."""
    tab = _safe_tab(tab)
    if not rowsmod.hub_record_exists(db, user.organization_id, record_type, hub_id):
        raise HTTPException(status_code=404, detail="No such record")
    try:
        service.decide_link(db, user.organization_id, record_type, hub_id, add_new=True)
    except service.SyncError as exc:
        db.rollback()
        return RedirectResponse(_tab_url(tab, error=str(exc)), status_code=303)
    return RedirectResponse(_tab_url(tab, notice="add_new"), status_code=303)


@router.post("/bulk")
def bulk(
    db: DbSession,
    user: AdminUser,
    settings: AppSettings,
    action: Annotated[str, Form()],
    tab: Annotated[str, Form()] = "products",
    selected: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Add New, or confirm the single suggested link, for every selected row."""
    tab = _safe_tab(tab)
    org = user.organization_id
    keys = selected or []
    if not keys:
        return RedirectResponse(_tab_url(tab, error="Select at least one row first."), status_code=303)
    if action not in ("add_new", "accept_suggestion"):
        return RedirectResponse(_tab_url(tab, error="Unknown bulk action."), status_code=303)
    parsed = [_row_key(key) for key in keys[: tab_pages.MAX_PAGE_SIZE]]
    links = tab_pages.links_of(db, org, [k for k in parsed if k is not None])
    skipped: list[str] = [key for key in keys[tab_pages.MAX_PAGE_SIZE :]]
    for key, parsed_key in zip(keys, parsed, strict=False):
        if parsed_key is None or not rowsmod.hub_record_exists(db, org, *parsed_key):
            skipped.append(key)
            continue
        record_type, hub_id = parsed_key
        try:
            if action == "add_new":
                service.decide_link(db, org, record_type, hub_id, add_new=True)
            else:
                link = links.get((record_type, hub_id))
                candidates = (link.candidates if link is not None else None) or []
                if len(candidates) != 1:
                    skipped.append(key)
                    continue
                # A suggestion of the last plan: decide_link checks it without an API call.
                service.decide_link(
                    db, org, record_type, hub_id, autotask_id=int(candidates[0]["id"]), app_settings=settings
                )
        except (service.SyncError, AutotaskError):
            db.rollback()
            skipped.append(key)
    notice = "bulk_add_new" if action == "add_new" else "bulk_linked"
    if skipped:
        return RedirectResponse(
            _tab_url(
                tab,
                notice=notice,
                error=f"{len(skipped)} selected row(s) were left as they were "
                "(not linkable, already synced, or not exactly one suggestion).",
            ),
            status_code=303,
        )
    return RedirectResponse(_tab_url(tab, notice=notice), status_code=303)


def _autotask_error(exc: Exception, action: str) -> str:
    """What to tell the person: Autotask failures explained with what to check, others as they are."""
    if isinstance(exc, AutotaskError):
        return explain_api_error(exc, action=action).message
    return str(exc)


def _link_error(exc: Exception) -> str:
    return _autotask_error(exc, "read the Autotask record to link")


# --- preview and push --------------------------------------------------------------------------------


@router.post("/preview")
async def preview(
    request: Request,
    user: AdminUser,
    settings: AppSettings,
    retry_failed: Annotated[bool, Form()] = False,
    tab: Annotated[str, Form()] = "products",
) -> Response:
    """The dry run: exactly the operations Push would perform, with their API-call cost.

    ``tab`` is the tab the preview was asked from: the preview's links and its Push form carry it, so a
    refused or failed push returns the user to where they were, not always to Products."""
    org = user.organization_id
    tab = _safe_tab(tab)
    try:
        result = await run_in_threadpool(
            service.make_plan,
            request.app.state.sessionmaker,
            org,
            app_settings=settings,
            retry_failed=retry_failed,
        )
    except (service.SyncError, AutotaskError) as exc:
        message = _autotask_error(exc, "preview the plan")
        return render_psa_page(
            request,
            "psa_integration/preview.html",
            {"error": message, "plan": None, "retry_failed": retry_failed, "from_tab": tab},
        )
    plan = result.plan
    problems = [r for r in plan.records if r.status in ("needs_link", "blocked", "waiting", "error", "drift")]
    return render_psa_page(
        request,
        "psa_integration/preview.html",
        {
            "plan": plan,
            "digest": plan_digest(plan),
            "by_phase": cost_by_phase(plan),
            "problems": problems,
            "error": None,
            "retry_failed": retry_failed,
            "from_tab": tab,
        },
    )


@router.post("/push")
async def push_now(
    request: Request,
    user: AdminUser,
    settings: AppSettings,
    digest: Annotated[str, Form()],
    retry_failed: Annotated[bool, Form()] = False,
    tab: Annotated[str, Form()] = "products",
) -> Response:
    """Apply the previewed plan (refused, writing nothing, if the plan changed since the preview)."""
    org = user.organization_id
    tab = _safe_tab(tab)
    try:
        run_id = await run_in_threadpool(
            start_push,
            request.app.state.sessionmaker,
            org,
            app_settings=settings,
            expected_digest=digest,
            retry_failed=retry_failed,
        )
    except (PlanChanged, PushBusy) as exc:
        return RedirectResponse(_tab_url(tab, error=str(exc)), status_code=303)
    except (service.SyncError, AutotaskError) as exc:
        return RedirectResponse(
            _tab_url(tab, error=f"Push failed: {_autotask_error(exc, 'push')}"), status_code=303
        )
    # The run goes on in the background; its page follows it until it finishes.
    return RedirectResponse(f"/psa-integration/runs/{run_id}", status_code=303)
