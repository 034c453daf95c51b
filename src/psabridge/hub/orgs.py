"""Organizations (tenants) and their API tokens.

A token is ``psab_`` + 43 random URL-safe characters (256 bits). Only its SHA-256 is stored: with that
much entropy a slow password hash adds nothing, and a digest can be looked up with one indexed query.
The plain token is returned once, at creation, and cannot be recovered afterwards."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.db import utcnow
from psabridge.hub.calendar import validate_time_zone
from psabridge.hub.errors import ConflictError, InvalidRecord, RecordNotFound
from psabridge.hub.models import ROLES, ApiToken, Organization
from psabridge.hub.validation import text_problem

TOKEN_PREFIX = "psab_"
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def slugify(name: str) -> str:
    """``"Contoso IT Ltd."`` -> ``"contoso-it-ltd"``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:100]


def create_organization(
    session: Session, name: str, slug: str | None = None, *, time_zone: str | None = None
) -> Organization:
    """A new tenant; the slug (used by the CLI's ``--org``) must be unique. ``time_zone``: the IANA zone
    of the organization's calendar (default: the server's local zone)."""
    name = name.strip()
    if not name:
        raise InvalidRecord.on("name", "must not be empty")
    problem = text_problem(name)
    if problem:
        raise InvalidRecord.on("name", problem)
    slug = slugify(slug or name)
    if not slug:
        raise InvalidRecord.on("slug", "must contain letters or digits")
    if session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise ConflictError.on("slug", f"an organization with slug {slug!r} already exists")
    org = Organization(name=name, slug=slug, time_zone=validate_time_zone(time_zone))
    session.add(org)
    session.flush()
    return org


def set_time_zone(session: Session, organization_id: int, time_zone: str | None) -> Organization:
    """Change the organization's calendar time zone (None: the server's local zone)."""
    org = session.get(Organization, organization_id)
    if org is None:
        raise RecordNotFound("Organization not found.")
    org.time_zone = validate_time_zone(time_zone)
    session.flush()
    return org


def get_organization(session: Session, slug: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise RecordNotFound(f"No organization with slug {slug!r}.")
    return org


def only_organization(session: Session) -> Organization:
    """The single organization of an installation, for commands run without ``--org``."""
    orgs = list(session.scalars(select(Organization).limit(2)))
    if len(orgs) != 1:
        raise InvalidRecord.on(
            "org", "pass --org SLUG" if orgs else "no organization yet: run `psabridge org create NAME`"
        )
    return orgs[0]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(
    session: Session, organization: Organization, *, role: str, name: str = "API token"
) -> tuple[ApiToken, str]:
    """A new token for ``organization``; returns the row and the plain token (shown once)."""
    if role not in ROLES:
        raise InvalidRecord.on("role", f"must be one of {', '.join(ROLES)}")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        organization_id=organization.id,
        name=name,
        role=role,
        token_hash=hash_token(plain),
        token_prefix=plain[:12],
    )
    session.add(token)
    session.flush()
    return token, plain


def authenticate_token(session: Session, plain: str) -> ApiToken | None:
    """The live token matching ``plain`` (its last use is recorded at one-minute resolution)."""
    if not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(plain), ApiToken.revoked.is_(False))
    )
    if token is None:
        return None
    now = utcnow()
    last = token.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    if last is None or now - last > _LAST_USED_RESOLUTION:
        token.last_used_at = now
        session.commit()
    return token


def revoke_api_token(session: Session, organization_id: int, token_id: int) -> None:
    token = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.organization_id == organization_id)
    )
    if token is None:
        raise RecordNotFound(f"No API token with id {token_id}.")
    token.revoked = True
