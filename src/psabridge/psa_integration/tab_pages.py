"""One page of a PSA Integration tab, whatever the organization's size.

Counts per status come from the database (one ``GROUP BY`` per section, see
:mod:`psabridge.psa_integration.sections`), the page's keys from one ordered ``LIMIT/OFFSET`` query per
section it spans, and everything a row shows — its link (status, reason, Autotask id, suggestions), its
hub names, the linked Autotask record's name — from one query per kind for the page's ids only. The
number of statements per page does not grow with the organization.

The Products tab is the exception that proves the rule: its rows are the catalog (products, and each
service once per billing frequency it is sold at), small whatever the number of subscriptions, so its
rows are listed, counted and paged in Python after two queries (the catalog, and the distinct
product/frequency pairs of the subscriptions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.hub import models as hub
from psabridge.psa_integration import count_cache
from psabridge.psa_integration.labels import labels
from psabridge.psa_integration.rows import NOT_PLANNED, TABS_BY_KEY, Row, TabView, name_rows
from psabridge.psa_integration.sections import PENDING, sections
from psabridge.sync.keys import RECORD_TYPES
from psabridge.sync.models import SyncLink

Key = tuple[str, int]
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def links_of(session: Session, organization_id: int, keys: Sequence[Key]) -> dict[Key, SyncLink]:
    """The sync links of these records (one query; the newest link wins if a record had two)."""
    if not keys:
        return {}
    wanted = set(keys)
    found: dict[Key, SyncLink] = {}
    for link in session.scalars(
        select(SyncLink)
        .where(
            SyncLink.organization_id == organization_id,
            SyncLink.record_type.in_(sorted({rt for rt, _ in wanted})),
            SyncLink.hub_id.in_(sorted({i for _, i in wanted})),
        )
        .order_by(SyncLink.id)
    ):
        key = (link.record_type, link.hub_id)
        if key in wanted:
            found[key] = link
    return found


def build_rows(
    session: Session, organization_id: int, keys: Sequence[Key], links: dict[Key, SyncLink] | None = None
) -> list[Row]:
    """The rows of these records, in this order: link, hub names and Autotask names, one query per kind."""
    links = links_of(session, organization_id, keys) if links is None else links
    names = labels(session, organization_id, keys)
    rows: list[Row] = []
    for record_type, hub_id in keys:
        label, detail = names.get((record_type, hub_id), (f"{record_type} {hub_id}", ""))
        entity = RECORD_TYPES[record_type].entity
        link = links.get((record_type, hub_id))
        if link is None:
            rows.append(Row(record_type, hub_id, label, detail, PENDING, NOT_PLANNED, entity))
            continue
        rows.append(
            Row(
                record_type,
                hub_id,
                label,
                detail,
                link.status,
                link.reason,
                link.autotask_entity or entity,
                link.autotask_id,
                link.decision,
                list(link.candidates or []),
            )
        )
    name_rows(session, organization_id, rows)
    return rows


def _clamp(page: int, total: int, size: int) -> int:
    return min(max(1, page), max(1, -(-total // size)))


def tab_view(
    session: Session,
    organization_id: int,
    tab_key: str,
    *,
    status: str | None = None,
    page: int = 1,
    size: int = PAGE_SIZE,
    row: Key | None = None,
) -> TabView:
    """One page of a tab (optionally only one status), with counts per status over the whole tab.

    ``row`` ("account", 12): the page that holds that row instead of ``page`` (when it is a row)."""
    tab = TABS_BY_KEY[tab_key]
    size = min(max(1, size), MAX_PAGE_SIZE)
    if tab_key == "products":
        return _products_view(session, organization_id, status=status, page=page, size=size, row=row)
    secs = sections(tab_key, organization_id)
    sec_counts = count_cache.cached(
        session, organization_id, f"counts:{tab_key}", lambda: [sec.counts(session) for sec in secs]
    )
    counts: Counter[str] = Counter()
    for c in sec_counts:
        counts.update(c)
    shown = [c.get(status, 0) if status else sum(c.values()) for c in sec_counts]
    total = sum(shown)
    if row is not None:
        before = 0
        for sec, n in zip(secs, shown, strict=True):
            at = sec.position(session, status, *row)
            if at is not None:
                page = (before + at) // size + 1
                break
            before += n
    page = _clamp(page, total, size)
    offset, start = (page - 1) * size, 0
    keys: list[Key] = []
    for sec, n in zip(secs, shown, strict=True):
        if n and offset < start + n and offset + size > start:
            local = max(0, offset - start)
            keys += sec.page(session, status, local, min(size - len(keys), n - local))
        start += n
    rows = build_rows(session, organization_id, keys)
    return TabView(tab, rows, {k: v for k, v in counts.items() if v}, total, page, size)


def product_keys(session: Session, organization_id: int) -> list[Key]:
    """The Products tab's rows in order: by product name; a one-time product once, a service once per
    billing frequency its subscriptions are sold at (alphabetically)."""
    used: dict[int, set[str]] = {}
    for product_id, freq in session.execute(
        select(hub.Subscription.product_id, hub.BillingContract.billing_frequency)
        .join(hub.BillingContract, hub.BillingContract.id == hub.Subscription.billing_contract_id)
        .where(hub.Subscription.organization_id == organization_id)
        .distinct()
    ):
        used.setdefault(product_id, set()).add(freq)
    keys: list[Key] = []
    for pid, kind in session.execute(
        select(hub.Product.id, hub.Product.kind)
        .where(hub.Product.organization_id == organization_id)
        .order_by(hub.Product.name, hub.Product.id)
    ):
        if kind == "product":
            keys.append(("product", pid))
        elif kind == "service":
            keys += [(f"service.{freq}", pid) for freq in sorted(used.get(pid, ()))]
    return keys


def _products_view(
    session: Session, organization_id: int, *, status: str | None, page: int, size: int, row: Key | None
) -> TabView:
    keys = count_cache.cached(
        session, organization_id, "products", lambda: product_keys(session, organization_id)
    )
    links = links_of(session, organization_id, keys)
    status_of = {k: links[k].status if k in links else PENDING for k in keys}
    counts = Counter(status_of.values())
    if status:
        keys = [k for k in keys if status_of[k] == status]
    if row is not None and row in keys:
        page = keys.index(row) // size + 1
    page = _clamp(page, len(keys), size)
    shown = keys[(page - 1) * size : page * size]
    rows = build_rows(session, organization_id, shown, links)
    return TabView(TABS_BY_KEY["products"], rows, dict(counts), len(keys), page, size)
