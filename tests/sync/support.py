"""Helpers for the sync engine's end-to-end tests: a connector on the emulator, hub records, state reads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.autotask import AutotaskClient, AutotaskCredentials
from psabridge.config import Settings
from psabridge.connectors import service as connectors
from psabridge.connectors.settings import AutotaskConnectorSettings
from psabridge.emulator.testing import EmulatorHandle
from psabridge.hub import models as hub
from psabridge.hub import models as hub_models
from psabridge.hub.orgs import create_organization
from psabridge.sync import service
from psabridge.sync.models import SyncRun
from psabridge.sync.tenant_defaults import recommended_settings


def tenant_settings(emu: EmulatorHandle, **overrides: Any) -> AutotaskConnectorSettings:
    """Connector settings chosen by label from the emulator's tenant, as a user would."""
    client = AutotaskClient(AutotaskCredentials(*emu.credentials), zone_url=emu.zone_url)
    try:
        return recommended_settings(client, **overrides)
    finally:
        client.close()


@dataclass
class SyncEnv:
    """An organization with an Autotask connector on the emulator, and shortcuts to sync it."""

    emu: EmulatorHandle
    factory: sessionmaker[Session]
    app_settings: Settings
    org_id: int
    connector_id: int
    clients: list[AutotaskClient] = field(default_factory=list)

    def client(self) -> AutotaskClient:
        with self.factory() as s:
            connector = connectors.get_autotask_connector(s, self.org_id)
            assert connector is not None
            c = connectors.build_client(connector, self.app_settings)
        self.clients.append(c)
        return c

    def set_settings(self, **overrides: Any) -> None:
        with self.factory() as s:
            connector = connectors.get_autotask_connector(s, self.org_id)
            assert connector is not None
            current = connectors.connector_settings(connector)
            connector.settings_json = current.model_copy(update=overrides).model_dump(mode="json")
            s.commit()

    def plan(self, **kw: Any) -> service.PlanResult:
        return service.make_plan(
            self.factory, self.org_id, app_settings=self.app_settings, client=self.client(), **kw
        )

    def sync(self, **kw: Any) -> SyncRun:
        return service.run_sync(
            self.factory, self.org_id, app_settings=self.app_settings, client=self.client(), **kw
        )

    def records(self, entity: str) -> list[dict[str, Any]]:
        return self.emu.control.records(entity)

    def adjustments(self) -> list[dict[str, Any]]:
        state = self.emu.control.state()
        adj = state.get("adjustments") or state["entities"].get("ContractServiceAdjustments", [])
        return list(adj.values()) if isinstance(adj, dict) else list(adj)

    def writes(self) -> int:
        """Write calls the emulator served so far (create/update/replace/delete)."""
        calls = self.emu.control.calls()
        return count_calls(calls, writes_only=True)

    def statuses(self) -> dict[tuple[str, int], dict[str, Any]]:
        with self.factory() as s:
            return {(r["record_type"], r["hub_id"]): r for r in service.record_statuses(s, self.org_id)}

    def close(self) -> None:
        for c in self.clients:
            c.close()


def count_calls(calls: dict[str, Any], *, writes_only: bool = False) -> int:
    """Sum the emulator's call counters (shape ``{"calls": {entity: {verb: n}}}`` or ``{entity: {verb: n}}``)."""
    data = calls.get("calls", calls)
    total = 0
    for _entity, verbs in data.items():
        if not isinstance(verbs, dict):
            continue
        for verb, n in verbs.items():
            if not isinstance(n, int):
                continue
            if writes_only and verb.lower() not in (
                "create",
                "update",
                "replace",
                "delete",
                "post",
                "patch",
                "put",
            ):
                continue
            total += n
    return total


def make_env(
    emu: EmulatorHandle,
    factory: sessionmaker[Session],
    app_settings: Settings,
    slug: str = "acme",
    **overrides: Any,
) -> SyncEnv:
    with factory() as s:
        org = create_organization(s, slug.title(), slug)
        s.commit()
        connector = connectors.create_or_update_connector(
            s,
            org.id,
            username=emu.credentials.username,
            secret=emu.credentials.secret,
            integration_code=emu.credentials.integration_code,
            app_settings=app_settings,
        )
        connector.settings_json = tenant_settings(emu, **overrides).model_dump(mode="json")
        s.commit()
        return SyncEnv(emu, factory, app_settings, org.id, connector.id)


class Hub:
    """Tiny builder of hub records (direct ORM: the sync reads them, not the hub's API)."""

    def __init__(self, factory: sessionmaker[Session], org_id: int) -> None:
        self.factory = factory
        self.org_id = org_id
        self.n = 0

    def _ext(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"

    def add(self, obj: Any) -> Any:
        with self.factory() as s:
            s.add(obj)
            s.commit()
            s.refresh(obj)
            s.expunge(obj)
            return obj

    def account(
        self,
        name: str = "Fabrikam Dental",
        phone: str | None = "+1 555 0100",
        contact: bool = True,
        **kw: Any,
    ) -> hub.Account:
        with self.factory() as s:
            acc = hub.Account(
                organization_id=self.org_id, external_id=self._ext("acc"), name=name, phone=phone, **kw
            )
            s.add(acc)
            s.flush()
            if contact:
                c = hub.Contact(
                    organization_id=self.org_id,
                    external_id=self._ext("con"),
                    account_id=acc.id,
                    first_name="Ada",
                    last_name=name.split()[0],
                    email=f"ada@{name.split()[0].lower()}.example",
                    phone=phone,
                )
                s.add(c)
                s.flush()
                acc.primary_contact_id = c.id
            s.commit()
            s.refresh(acc)
            s.expunge(acc)
            return acc

    def product(
        self, name: str = "Microsoft 365 Business Premium", kind: str = "service", **kw: Any
    ) -> hub.Product:
        kw.setdefault("manufacturer", "Microsoft")
        kw.setdefault("unit_price", Decimal("22.00"))
        kw.setdefault("unit_cost", Decimal("18.00"))
        kw.setdefault("sku", f"SKU-{self.n + 1}")
        return self.add(
            hub.Product(organization_id=self.org_id, external_id=self._ext("prd"), name=name, kind=kind, **kw)
        )  # type: ignore[no-any-return]

    def contract(
        self, account: hub.Account, start: date = date(2026, 1, 1), **kw: Any
    ) -> hub.BillingContract:
        kw.setdefault("name", f"{account.name} Monthly")
        kw.setdefault("billing_frequency", "monthly")
        return self.add(  # type: ignore[no-any-return]
            hub.BillingContract(
                organization_id=self.org_id,
                external_id=self._ext("bc"),
                account_id=account.id,
                start_date=start,
                **kw,
            )
        )

    def subscription(
        self,
        contract: hub.BillingContract,
        product: hub.Product,
        quantity: int = 10,
        start: date | None = None,
        **kw: Any,
    ) -> hub.Subscription:
        kw.setdefault("unit_price", Decimal("22.00"))
        return self.add(  # type: ignore[no-any-return]
            hub.Subscription(
                organization_id=self.org_id,
                external_id=self._ext("sub"),
                billing_contract_id=contract.id,
                product_id=product.id,
                quantity=quantity,
                start_date=start or contract.start_date,
                **kw,
            )
        )

    def change(
        self, sub: hub.Subscription, when: date, after: int, *, unit_price: Decimal | None = None, **kw: Any
    ) -> hub.LicenseChangeLog:
        """A seat change: the log, and the subscription's quantity moved with it (as the hub does)."""
        with self.factory() as s:
            current = s.get(hub.Subscription, sub.id)
            assert current is not None
            log = hub.LicenseChangeLog(
                organization_id=self.org_id,
                external_id=self._ext("lcl"),
                subscription_id=sub.id,
                effective_date=when,
                quantity_before=current.quantity,
                quantity_after=after,
                unit_price=unit_price,
                **kw,
            )
            current.quantity = after
            s.add(log)
            s.commit()
            s.refresh(log)
            s.expunge(log)
            return log


def units_on(env: SyncEnv, contract_service_id: int, day: str) -> int | None:
    from psabridge.sync.reader import units_at

    rows = [r for r in env.records("ContractServiceUnits") if r["contractServiceID"] == contract_service_id]
    return units_at(rows, day)


def by_key(rows: list[dict[str, Any]], field_name: str) -> dict[str, dict[str, Any]]:
    return {str(r[field_name]): r for r in rows if r.get(field_name)}


def iter_ours(rows: list[dict[str, Any]], field_name: str, org_id: int) -> Iterator[dict[str, Any]]:
    prefix = f"PSB{org_id}-"
    return (r for r in rows if str(r.get(field_name) or "").startswith(prefix))


@dataclass
class Fixture:
    """One of everything the engine writes, with the Autotask state it must end in."""

    ids: dict[str, int]

    def expected(self, org_id: int) -> dict[str, Any]:
        i = self.ids
        p = f"PSB{org_id}-"
        return {
            "Products": [f"{p}P{i['one_time']}"],
            "Services": sorted([f"{p}SM{i['product']}", f"{p}SM{i['backup']}"]),
            "Companies": sorted([f"{p}A{i['account']}", f"{p}A{i['account2']}"]),
            "Contacts": sorted([f"{p}C{i['contact']}", f"{p}C{i['contact2']}"]),
            "Contracts": sorted([f"{p}K{i['contract']}", f"{p}K{i['contract2']}"]),
            "ContractServices": sorted([f"{p}U{i['sub']}", f"{p}U{i['sub2']}", f"{p}U{i['sub3']}"]),
            "ContractCharges": [f"{p}R{i['refund']}"],
            # every seat comes from an adjustment: initial units at the start, then the changes
            "adjustments": sorted(
                [
                    (f"{p}U{i['sub']}", "2026-01-01", 10),
                    (f"{p}U{i['sub3']}", "2026-01-01", 6),
                    (f"{p}U{i['sub2']}", "2026-01-15", 4),
                    (f"{p}U{i['sub']}", "2026-02-15", 5),
                    (f"{p}U{i['sub']}", "2026-03-01", -2),
                    (f"{p}U{i['sub3']}", "2026-02-01", -1),
                ]
            ),
            "setup_fees": [150.0],
        }


def build_fixture(hub: Hub) -> Fixture:
    """Two customers, a setup fee, a later-starting subscription, seat changes (two merged), a refund."""
    acc = hub.account("Wingtip Toys")
    acc2 = hub.account("Humongous Insurance", phone="+44 20 7946 0000")
    one_time = hub.product("Firewall appliance", kind="product", manufacturer="Sophos")
    product = hub.product("Microsoft 365 E3")
    backup = hub.product("Datto SaaS Protection", manufacturer="Datto")
    contract = hub.contract(acc, setup_fee=Decimal("150.00"))
    contract2 = hub.contract(acc2, name="Humongous Monthly")
    sub = hub.subscription(contract, product, quantity=10)
    sub2 = hub.subscription(contract, backup, quantity=4, start=date(2026, 1, 15))
    sub3 = hub.subscription(contract2, product, quantity=6)
    hub.change(sub, date(2026, 2, 15), 17)
    hub.change(sub, date(2026, 2, 15), 15)  # same day: merged into +5
    hub.change(sub, date(2026, 3, 1), 13)
    hub.change(sub3, date(2026, 2, 1), 5)
    refund = hub.change(sub3, date(2026, 2, 1), 5, is_refund=True, refund_amount=Decimal("12.50"))
    with hub.factory() as s:
        a, a2 = s.get(hub_models.Account, acc.id), s.get(hub_models.Account, acc2.id)
        assert a is not None and a2 is not None
        contact, contact2 = a.primary_contact_id, a2.primary_contact_id
    assert contact is not None and contact2 is not None
    return Fixture(
        dict(
            account=acc.id,
            account2=acc2.id,
            contact=contact,
            contact2=contact2,
            one_time=one_time.id,
            product=product.id,
            backup=backup.id,
            contract=contract.id,
            contract2=contract2.id,
            sub=sub.id,
            sub2=sub2.id,
            sub3=sub3.id,
            refund=refund.id,
        )
    )


def name_repeats(env: SyncEnv, contract_services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``contract_services`` with each repeat contract service (Allow Duplicated Services: it carries no
    key in Autotask, whose internalDescription cannot be updated) named by the key of the subscription
    linked to it, as if it carried that key."""
    from psabridge.sync.keys import matching_key
    from psabridge.sync.models import SyncLink

    with env.factory() as session:
        linked = {
            int(link.autotask_id): matching_key(env.org_id, "subscription", link.hub_id)
            for link in session.scalars(
                select(SyncLink).where(
                    SyncLink.connector_id == env.connector_id, SyncLink.record_type == "subscription"
                )
            )
            if link.autotask_id is not None
        }
    out = []
    for row in contract_services:
        if not row.get("internalDescription") and row["id"] in linked:
            row = {**row, "internalDescription": linked[row["id"]]}
        out.append(row)
    return out


def signature(env: SyncEnv) -> dict[str, Any]:
    """Our records in Autotask by matching key (duplicates show as repeated keys), and adjustments
    (repeat contract services named by their subscription's key, see :func:`name_repeats`)."""
    state = env.emu.control.state()["entities"]
    p = f"PSB{env.org_id}-"
    state["ContractServices"] = name_repeats(env, state["ContractServices"])
    fields = {
        "Products": "externalProductID",
        "Services": "externalID",
        "Companies": "companyNumber",
        "Contacts": "externalID",
        "Contracts": "contractNumber",
        "ContractServices": "internalDescription",
        "ContractCharges": "purchaseOrderNumber",
    }
    out: dict[str, Any] = {}
    for entity, f in fields.items():
        out[entity] = sorted(str(r[f]) for r in state[entity] if str(r.get(f) or "").startswith(p))
    cs_key = {r["id"]: r.get("internalDescription") for r in state["ContractServices"]}
    out["adjustments"] = sorted(
        (str(cs_key.get(a["contractServiceID"])), str(a["effectiveDate"])[:10], int(a["unitChange"]))
        for a in state["ContractServiceAdjustments"]
        if str(cs_key.get(a["contractServiceID"]) or "").startswith(p)
    )
    out["setup_fees"] = [
        float(c["setupFee"])
        for c in state["Contracts"]
        if str(c.get("contractNumber") or "").startswith(p) and c.get("setupFee")
    ]
    return out
