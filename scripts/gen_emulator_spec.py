"""Generate ``src/psabridge/emulator/spec.json`` from the official Autotask REST description.

Why a generated file: the description is 3 MB and lives outside the repository (../shared); the
emulator needs only the route/verb table (to answer 404/405 exactly like the description says) and the
field lists of the entities it emulates. Re-run after the description changes:

    .venv/bin/python scripts/gen_emulator_spec.py [path/to/autotask-rest-v1.swagger.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SWAGGER = ROOT.parent / "shared" / "autotask" / "autotask-rest-v1.swagger.json"
OUT = ROOT / "src" / "psabridge" / "emulator" / "spec.json"

EMULATED = [
    "Companies",
    "Contacts",
    "Contracts",
    "Services",
    "Products",
    "ProductVendors",
    "ContractServices",
    "ContractServiceAdjustments",
    "ContractServiceUnits",
    "ContractCharges",
    "BillingCodes",
    "Resources",
]


def _model_of(op: dict[str, Any]) -> str | None:
    """The entity model an operation reads or writes (``CompanyModel`` ...), from body or response."""
    for param in op.get("parameters", []):
        if param.get("in") == "body":
            ref = param.get("schema", {}).get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            if name and name != "QueryModel":
                return name
    ref = op.get("responses", {}).get("200", {}).get("schema", {}).get("$ref", "")
    name = ref.rsplit("/", 1)[-1]
    if name.startswith(("QueryActionResult[", "ItemQueryResultModel[")):
        return name.split("[", 1)[1].split(",", 1)[0]
    return None


def build(swagger: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = swagger["paths"]
    # entity model of each emulated root entity, from its /{Entity}/query (or create) route
    model_to_entity: dict[str, str] = {}
    for entity in EMULATED:
        for candidate in (f"/V1.0/{entity}/query", f"/V1.0/{entity}"):
            ops = paths.get(candidate)
            if ops:
                model = next((m for m in map(_model_of, ops.values()) if m), None)
                if model:
                    model_to_entity[model] = entity
                    break
    routes: list[list[Any]] = []
    for path, ops in paths.items():
        if not path.startswith("/V1.0/"):
            continue
        template = path[len("/V1.0") :]
        segments = template.strip("/").split("/")
        entity: str | None = None
        if segments[0] in EMULATED and (len(segments) < 2 or segments[1] != "{parentId}"):
            entity = segments[0]
            if len(segments) >= 2 and segments[1] == "{id}" and len(segments) > 2:
                entity = None  # e.g. Companies/{id}/invoiceSettings: another entity
        elif len(segments) >= 3 and segments[1] == "{parentId}":
            models = {m for m in map(_model_of, ops.values()) if m}
            hits = {model_to_entity[m] for m in models if m in model_to_entity}
            entity = hits.pop() if len(hits) == 1 else None
            if entity is None and segments[2] == "Services" and segments[0] == "Contracts":
                entity = "ContractServices"
        routes.append([template, sorted(ops), entity])
    models: dict[str, Any] = {}
    for model, entity in sorted(model_to_entity.items(), key=lambda kv: kv[1]):
        props = swagger["definitions"][model]["properties"]
        fields: dict[str, list[str | None]] = {}
        for name, prop in props.items():
            if name == "soapParentPropertyId":
                continue
            if name == "userDefinedFields":
                fields[name] = ["udf", None]
                continue
            fields[name] = [prop.get("type", "object"), prop.get("format")]
        models[entity] = {"model": model, "fields": fields}
    missing = [e for e in EMULATED if e not in models]
    if missing:
        raise SystemExit(f"no model found for {missing}")
    return {"source": "autotask-rest-v1.swagger.json", "routes": routes, "models": models}


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else DEFAULT_SWAGGER
    spec = build(json.loads(source.read_text(encoding="utf-8")))
    OUT.write_text(json.dumps(spec, separators=(",", ":"), sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(spec['routes'])} routes, {len(spec['models'])} entity models)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
