"""The strictness switchboard: Autotask rules the emulator enforces without public proof that Autotask does.

Where public evidence shows what Autotask does, the emulator simply does it (docs/autotask-fidelity.md
lists each rule with its evidence and confidence). Where evidence is missing, the emulator takes the
reading that would catch a wrong sync, and that reading is a switch here, so a test can check that
client code also copes with the lenient reading. Every default is the strict reading.

============================================  =======  ================================================
switch                                        default  strict reading when on
============================================  =======  ================================================
``one_adjustment_per_service_date``           True     a second ContractServiceAdjustment for the same
                                                       contract service and effective date is refused
``effective_date_within_contract``            True     an adjustment's effectiveDate must fall inside
                                                       the contract's startDate..endDate
``refuse_unknown_fields``                     True     a create/update body naming a field the entity
                                                       does not have is refused (off: ignored)
``refuse_read_only_fields``                   True     a read-only field in a create body, or changed in
                                                       an update body, is refused (off: ignored)
``refuse_null_on_create``                     True     a null value in a create body is refused
``refuse_duplicate_contract_service``         True     a second ContractService of a service already on
                                                       the contract is refused (repeats come from
                                                       adjustments with ``allowRepeatService``)
``contract_service_update_limited``           True     a ContractServices update may change only
                                                       ``unitPrice`` and ``invoiceDescription``
``thread_limit_500_every``                    3        every Nth thread-limit rejection is answered with
                                                       status 500 instead of 429 (0: always 429)
============================================  =======  ================================================

Set them through the control API (``GET /_emulator/rules`` reads them; ``POST /_emulator/rules`` with
``{"switch": value, ...}`` changes some, ``{"reset": true}`` restores the defaults) or the test helper
``EmulatorHandle.control.set_rules(...)``. ``POST /_emulator/reset`` restores them too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class RuleSwitches:
    """Unverified strict rules of the emulated tenant (see the module docstring); defaults are strict."""

    one_adjustment_per_service_date: bool = True
    effective_date_within_contract: bool = True
    refuse_unknown_fields: bool = True
    refuse_read_only_fields: bool = True
    refuse_null_on_create: bool = True
    refuse_duplicate_contract_service: bool = True
    contract_service_update_limited: bool = True
    thread_limit_500_every: int = 3

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def update(self, data: dict[str, Any]) -> None:
        """Change the switches named in ``data``; unknown names and wrong types raise ``ValueError``."""
        known = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown rule switch(es): {', '.join(unknown)}; known: {', '.join(known)}")
        for name, value in data.items():
            current = getattr(self, name)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0")
            setattr(self, name, value)

    def copy(self) -> RuleSwitches:
        return dataclasses.replace(self)
