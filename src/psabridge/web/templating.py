"""The one Jinja2 environment of the Admin Hub.

Every page extends ``base.html``. A context processor injects what the layout needs (the signed-in
user, their organization, the CSRF token, the tabs), so a router only passes its own data:

    templates.TemplateResponse(request, "integrations/list.html", {"active_tab": "integrations", ...})

Autoescaping is on for every template, so data from Autotask or the billing hub cannot inject markup.
Forms must include ``{{ csrf_field() }}``; htmx requests get the token as a header from ``<body hx-headers>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Tab:
    """A top-level tab of the Admin Hub; ``key`` is what pages pass as ``active_tab``."""

    key: str
    label: str
    href: str


#: The Admin Hub tabs, left to right. Owners: Integrations (connectors), PSA Integration (sync engine),
#: Billing Hub and Users (web shell).
TABS: tuple[Tab, ...] = (
    Tab("integrations", "Integrations", "/integrations"),
    Tab("psa", "PSA Integration", "/psa-integration"),
    Tab("billing", "Billing Hub", "/billing/accounts"),
    Tab("users", "Users", "/users"),
    Tab("jobs", "Jobs", "/jobs"),
)


@dataclass(frozen=True)
class OrganizationView:
    id: int
    name: str
    slug: str


@dataclass(frozen=True)
class SignedIn:
    """What the layout shows about the signed-in user: plain values, captured when the session was
    loaded, so error pages rendered after a rollback (which expires ORM objects) still work."""

    id: int
    email: str
    role: str
    organization: OrganizationView
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _layout_context(request: Request) -> dict[str, Any]:
    user: SignedIn | None = getattr(request.state, "signed_in", None)
    csrf = user.csrf_token if user is not None else getattr(request.state, "csrf_token", "")

    def csrf_field() -> Markup:
        return Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(csrf))

    return {
        "current_user": user,
        "organization": user.organization if user is not None else None,
        "csrf_token": csrf,
        "csrf_field": csrf_field,
        "tabs": TABS,
    }


env = Environment(
    loader=FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=env, context_processors=[_layout_context])
