"""A deterministic, realistic MSP data set for the demo, the tests and the benchmarks.

Customers of a managed service provider with Microsoft 365 licences, security add-ons, Datto / Veeam
backup and the MSP's own managed services; mostly monthly contracts, some annual and a few quarterly; a
year of seat changes as license change logs; a few cancellations and refunds; a setup fee here and there.

The rows go through the importer (:mod:`psabridge.hub.imports`), so sample data obeys exactly the rules
a customer's file must, is written with bulk statements, and generating the same seed again into the
same organization changes nothing. Dates are anchored on ``as_of`` (not today) so a seed always yields
the same data. The catalog and the name tables it draws from are in :mod:`psabridge.hub.sample_catalog`.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from psabridge.hub.imports.formats import RawRow, Upload
from psabridge.hub.imports.runner import run_import
from psabridge.hub.models import Organization
from psabridge.hub.sample_catalog import (
    CITIES,
    COMPANY_SUFFIXES,
    COMPANY_TRADES,
    COMPANY_WORDS,
    FIRST_NAMES,
    LAST_NAMES,
    OWNERS,
    PRODUCTS,
    REASONS_DOWN,
    REASONS_UP,
    STREETS,
)

AS_OF = date(2025, 12, 31)

_CENT = Decimal("0.01")


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


class _Generator:
    def __init__(self, customers: int, seed: int, as_of: date) -> None:
        self.rng = random.Random(seed)
        self.customers = customers
        self.as_of = as_of
        self.rows: dict[str, list[dict[str, Any]]] = {
            name: [] for name in ("product", "account", "contact", "billing_contract", "subscription")
        }
        self.rows["license_change_log"] = []
        self.names: set[str] = set()

    def run(self) -> dict[str, list[dict[str, Any]]]:
        for ext, name, sku, maker, kind, price, cost, _per_user in PRODUCTS:
            self.rows["product"].append(
                {
                    "external_id": ext,
                    "name": name,
                    "sku": sku,
                    "manufacturer": maker,
                    "kind": kind,
                    "unit_price": price,
                    "unit_cost": cost,
                    "is_active": True,
                }
            )
        for n in range(1, self.customers + 1):
            self.customer(n)
        return self.rows

    def company_name(self) -> str:
        rng = self.rng
        base = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_TRADES)}{rng.choice(COMPANY_SUFFIXES)}"
        name, k = base, 2
        while name in self.names:
            name, k = f"{base} ({k})", k + 1
        self.names.add(name)
        return name

    def phone(self) -> str:
        rng = self.rng
        return f"+1 ({rng.randint(201, 989)}) 555-{rng.randint(100, 199):04d}"

    def customer(self, n: int) -> None:
        rng = self.rng
        acct = f"CUST-{n:05d}"
        name = self.company_name()
        city, state, postal = rng.choice(CITIES)
        domain = "".join(ch for ch in name.split(" ")[0].lower() if ch.isalpha()) + f"{n}.example.com"
        self.rows["account"].append(
            {
                "external_id": acct,
                "name": name,
                "phone": self.phone(),
                "address_line1": f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
                "address_line2": rng.choice([None, None, None, f"Suite {rng.randint(100, 900)}"]),
                "city": city,
                "state": state,
                "postal_code": postal,
                "country": "United States",
                "owner_email": rng.choice(OWNERS),
                "status": "active",
            }
        )
        for c in range(1, rng.choice([1, 2, 2, 3]) + 1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            self.rows["contact"].append(
                {
                    "external_id": f"{acct}-C{c}",
                    "account_external_id": acct,
                    "first_name": first,
                    "last_name": last,
                    "email": f"{first.lower()}.{last.lower()}@{domain}",
                    "phone": self.phone(),
                    "is_active": True,
                    "is_primary": c == 1,
                }
            )
        seats = rng.choice([3, 5, 8, 12, 15, 20, 25, 30, 40, 60, 85, 120])
        for k in range(1, rng.choice([1, 1, 1, 2]) + 1):
            self.contract(acct, k, seats)

    def contract(self, acct: str, k: int, seats: int) -> None:
        rng = self.rng
        ext = f"{acct}-K{k}"
        roll = rng.random()
        frequency = "monthly" if roll < 0.68 else "annual" if roll < 0.92 else "quarterly"
        start = self.as_of - timedelta(days=rng.randint(380, 1100))
        start = start.replace(day=1)
        cancelled = rng.random() < 0.04
        end = None
        if frequency == "annual":
            end = date(start.year + 3, start.month, 1) - timedelta(days=1)
        if cancelled:
            end = self.as_of - timedelta(days=rng.randint(5, 120))
        label = {"monthly": "Monthly", "annual": "Annual", "quarterly": "Quarterly"}[frequency]
        self.rows["billing_contract"].append(
            {
                "external_id": ext,
                "account_external_id": acct,
                "name": f"Managed Services {label}" if k == 1 else f"Cloud Backup {label}",
                "contract_type": "recurring",
                "billing_frequency": frequency,
                "start_date": start.isoformat(),
                "end_date": end.isoformat() if end else None,
                "status": "cancelled" if cancelled else "active",
                "setup_fee": rng.choice(["250.00", "500.00"]) if rng.random() < 0.12 else None,
            }
        )
        suite = rng.choice(["M365-BB", "M365-BS", "M365-BS", "M365-BP", "M365-BP", "M365-E3"])
        picks = [suite] if k == 1 else []
        extras = [
            "EXO-P1",
            "DEF-BIZ",
            "TEAMS-ESS",
            "DATTO-SP",
            "VEEAM-M365",
            "MS-USER",
            "MS-SERVER",
            "DATTO-BCDR",
            "VEEAM-VM",
        ]
        picks += rng.sample(extras, rng.randint(2 if k == 1 else 1, 4))
        for i, product in enumerate(picks, start=1):
            self.subscription(ext, i, product, seats, start, frequency, end if cancelled else None)

    def subscription(
        self,
        contract: str,
        i: int,
        product: str,
        seats: int,
        start: date,
        frequency: str,
        cancel: date | None,
    ) -> None:
        rng = self.rng
        ext = f"{contract}-S{i}"
        info = next(p for p in PRODUCTS if p[0] == product)
        per_user = info[7]
        quantity = max(1, seats + rng.randint(-2, 2)) if per_user else rng.randint(1, 4)
        price = Decimal(info[5])
        if frequency == "annual":
            price = (price * Decimal("0.95")).quantize(_CENT)  # annual commitment discount
        sub_start = start + timedelta(days=rng.choice([0, 0, 0, 14, 31, 45]))
        logs: list[dict[str, Any]] = []
        self._log(logs, ext, 0, sub_start, 0, quantity, price, "Initial quantity")
        year_ago = self.as_of - timedelta(days=365)
        changes = rng.choice([0, 1, 1, 2, 2, 3, 4]) if per_user else rng.choice([0, 0, 1])
        dates = []
        for _ in range(changes):
            when = max(sub_start + timedelta(days=1), year_ago) + timedelta(days=rng.randint(0, 330))
            dates.append(min(when, (cancel or self.as_of) - timedelta(days=1)))
        # each change starts from the quantity of the one before it in time, as a real history would
        for when in sorted(dates):
            if when <= sub_start:
                continue
            before = quantity
            change = rng.choice([-3, -2, -1, -1, 1, 1, 2, 3, 5]) if per_user else rng.choice([-1, 1])
            quantity = max(0 if not per_user else 1, quantity + change)
            if quantity == before:
                continue
            refund = quantity < before and rng.random() < 0.08
            self._log(
                logs,
                ext,
                len(logs),
                when,
                before,
                quantity,
                price,
                rng.choice(REASONS_UP if quantity > before else REASONS_DOWN),
                refund=_money(price * (before - quantity)) if refund else None,
            )
        status, end = "active", None
        if cancel is not None:
            status, end = "cancelled", cancel
            if quantity > 0:
                self._log(logs, ext, len(logs), cancel, quantity, 0, price, "Contract cancelled")
                quantity = 0
        elif rng.random() < 0.03:
            status = "suspended"
        logs.sort(key=lambda log: (log["effective_date"], log["external_id"]))
        self.rows["subscription"].append(
            {
                "external_id": ext,
                "billing_contract_external_id": contract,
                "product_external_id": product,
                "quantity": quantity,
                "unit_price": str(price),
                "unit_cost": info[6],
                "start_date": sub_start.isoformat(),
                "end_date": end.isoformat() if end else None,
                "status": status,
            }
        )
        self.rows["license_change_log"].extend(logs)

    def _log(
        self,
        logs: list[dict[str, Any]],
        sub: str,
        n: int,
        when: date,
        before: int,
        after: int,
        price: Decimal,
        reason: str,
        refund: str | None = None,
    ) -> None:
        logs.append(
            {
                "external_id": f"{sub}-L{n}",
                "subscription_external_id": sub,
                "effective_date": when.isoformat(),
                "quantity_before": before,
                "quantity_after": after,
                "unit_price": str(price),
                "reason": reason,
                "status": "active",
                "is_refund": refund is not None,
                "refund_amount": refund,
            }
        )


def build_rows(customers: int, seed: int = 1, as_of: date = AS_OF) -> dict[str, list[dict[str, Any]]]:
    """The sample data as import rows per record type (JSON-ready values), without touching a database."""
    return _Generator(customers, seed, as_of).run()


def generate(
    session: Session, organization: Organization, customers: int = 25, seed: int = 1, as_of: date = AS_OF
) -> dict[str, int]:
    """Write sample data for ``customers`` customers into ``organization`` (flushes; the caller commits).

    Returns the number of rows per record type. Same arguments, same data; running it again changes nothing.
    """
    rows = build_rows(customers, seed, as_of)
    upload = Upload(f"sample data (seed {seed})")
    for type_name, items in rows.items():
        upload.sections[type_name] = [
            RawRow(i, {k: v for k, v in item.items() if v is not None})
            for i, item in enumerate(items, start=1)
        ]
    run_import(session, organization.id, upload)
    return {name: len(items) for name, items in rows.items()}
