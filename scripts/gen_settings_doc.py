"""Write docs/connector-settings.md from the one declaration of every connector setting.

    .venv/bin/python scripts/gen_settings_doc.py

tests/connectors/test_declarations.py fails when the committed page differs from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from psabridge.connectors.declarations import PERIOD_LABELS, SETTINGS, Kind

OUT = Path(__file__).resolve().parents[1] / "docs" / "connector-settings.md"

_CHOICES = {
    Kind.YES_NO: "Yes / No",
    Kind.OWNER_SOURCE: "the chosen resource, or the account owner's resource by e-mail",
    Kind.FREQUENCIES: "per hub frequency: a service period type and a contract period type",
    Kind.MANUFACTURERS: "per hub manufacturer: a vendor company of the saved Default Vendor Type",
}


def render() -> str:
    lines = [
        "# Autotask connector settings",
        "",
        "Generated from `psabridge.connectors.declarations` by `scripts/gen_settings_doc.py`: the settings",
        'form, its validation, "Still to choose" and the demo read the same declarations.',
        "",
        "| setting | choices from | required | recommended | what it does |",
        "|---|---|---|---|---|",
    ]
    for spec in SETTINGS:
        choices = (
            f"`{spec.option_key}` (live from the tenant)" if spec.option_key else _CHOICES.get(spec.kind, "")
        )
        if spec.name == "setup_fee_billing_code_id":
            choices = "product and service billing codes (live from the tenant)"
        recommended = ", ".join(spec.recommended) or ""
        lines.append(
            f"| {spec.label} (`{spec.name}`) | {choices} | {'yes' if spec.required else ''} | {recommended} "
            f"| {spec.help} |"
        )
    lines += ["", "Period-type labels recommended per hub billing frequency (a tenant's labels vary):", ""]
    lines += [f"- {freq}: {', '.join(labels)}" for freq, labels in PERIOD_LABELS.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else OUT
    out.write_text(render(), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
