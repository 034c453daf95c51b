"""Generate the compact Autotask entity registry from the official REST description.

Why: the client must refuse calls Autotask does not offer (e.g. reading a ContractServiceAdjustment,
deleting a Company) *before* spending an API call, and must know which child entities are written
through their parent's route. The official swagger (3 MB) is the source of truth; this script distils
it into ``src/psabridge/autotask/registry.json`` (entity -> root verbs, parent routes, field names).

Usage: ``python scripts/gen_autotask_registry.py [SWAGGER] [-o OUTPUT]``
(default SWAGGER: ../shared/autotask/autotask-rest-v1.swagger.json next to the repository).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SWAGGER = REPO.parent / "shared" / "autotask" / "autotask-rest-v1.swagger.json"
DEFAULT_OUTPUT = REPO / "src" / "psabridge" / "autotask" / "registry.json"
PREFIX = "/V1.0/"

# (path suffix pattern relative to the entity route, HTTP method) -> verb name.
ROOT_VERBS: dict[tuple[str, str], str] = {
    ("/{id}", "get"): "get",
    ("/query", "post"): "query",
    ("/query/count", "post"): "count",
    ("", "post"): "create",
    ("", "patch"): "update",
    ("", "put"): "replace",
    ("/{id}", "delete"): "delete",
    ("/entityInformation/fields", "get"): "fields",
    ("/entityInformation/userDefinedFields", "get"): "udfs",
}
CHILD_VERBS: dict[tuple[str, str], str] = {
    ("", "get"): "list",
    ("/{id}", "get"): "get",
    ("", "post"): "create",
    ("", "patch"): "update",
    ("", "put"): "replace",
    ("/{id}", "delete"): "delete",
}
VERB_ORDER = ["get", "list", "query", "count", "create", "update", "replace", "delete", "fields", "udfs"]

ROOT_RE = re.compile(r"^(?P<entity>[A-Za-z]+)(?P<rest>(/\{id\}|/query|/query/count|/entityInformation.*)?)$")
CHILD_RE = re.compile(
    r"^(?P<parent>[A-Za-z]+)/\{parentId\}/(?P<child>[A-Za-z]+)(?P<rest>(/\{id\}|/entityInformation.*)?)$"
)


def _model_of(op: dict[str, Any]) -> str | None:
    """The entity model an operation reads or writes (``ContractServiceModel``), from body or response."""
    for param in op.get("parameters", []):
        ref = param.get("schema", {}).get("$ref", "")
        if param.get("in") == "body" and ref and not ref.endswith("/QueryModel"):
            return str(ref.rsplit("/", 1)[-1])
    ref = op.get("responses", {}).get("200", {}).get("schema", {}).get("$ref", "")
    match = re.search(r"\[(\w+Model),", ref)
    return match.group(1) if match else None


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("sses") or name.endswith("xes"):
        return name[:-2]
    if name.endswith("s"):
        return name[:-1]
    return name


def build_registry(swagger: dict[str, Any]) -> dict[str, Any]:
    """Distil the swagger into {entity: {model, verbs, parents, fields}}."""
    definitions: dict[str, Any] = swagger["definitions"]
    root_verbs: dict[str, set[str]] = defaultdict(set)
    root_models: dict[str, str] = {}
    child_routes: dict[tuple[str, str], dict[str, Any]] = {}
    for path, ops in swagger["paths"].items():
        if not path.startswith(PREFIX):
            continue
        rel = path[len(PREFIX) :]
        for method, op in ops.items():
            if not isinstance(op, dict) or "tags" not in op:
                continue
            tag = op["tags"][0]
            model = _model_of(op)
            child = CHILD_RE.match(rel)
            if child:
                key = (child["parent"], child["child"])
                route = child_routes.setdefault(
                    key, {"tag": tag, "parent": child["parent"], "segment": child["child"], "verbs": set()}
                )
                if model:
                    route.setdefault("model", model)
                verb = CHILD_VERBS.get((child["rest"] or "", method))
                if verb:
                    route["verbs"].add(verb)
                continue
            root = ROOT_RE.match(rel)
            if not root or root["entity"] in {"ThresholdInformation", "ZoneInformation"}:
                continue
            entity = root["entity"]
            verb = ROOT_VERBS.get((root["rest"] or "", method))
            if verb:
                root_verbs[entity].add(verb)
            if model and entity not in root_models:
                root_models[entity] = model

    model_to_entities: dict[str, list[str]] = defaultdict(list)
    for entity, model in root_models.items():
        model_to_entities[model].append(entity)

    entities: dict[str, dict[str, Any]] = {}
    for entity in sorted(root_verbs):
        entities[entity] = {
            "model": root_models.get(entity),
            "verbs": sorted(root_verbs[entity], key=VERB_ORDER.index),
            "parents": [],
        }

    for (parent, segment), route in sorted(child_routes.items()):
        tag_entity = route["tag"].removesuffix("Child")
        model = route.get("model")
        candidates = model_to_entities.get(model or "", [])
        if tag_entity in entities:
            entity = tag_entity
        elif len(candidates) == 1:
            entity = candidates[0]
        else:
            entity = tag_entity
        info = entities.setdefault(entity, {"model": model, "verbs": [], "parents": []})
        if info.get("model") is None:
            info["model"] = model
        fields = definitions.get(model or "", {}).get("properties", {})
        wanted = (_singular(parent) + "ID").lower()
        parent_field = next((f for f in fields if f.lower() == wanted), None)
        info["parents"].append(
            {
                "parent": parent,
                "route": f"{parent}/{{parentId}}/{segment}",
                "verbs": sorted(route["verbs"], key=VERB_ORDER.index),
                "parent_field": parent_field,
            }
        )

    for info in entities.values():
        props = definitions.get(info.get("model") or "", {}).get("properties", {})
        info["fields"] = sorted(props)
    return {
        "source": "autotask-rest-v1.swagger.json",
        "api_version": swagger.get("info", {}).get("version"),
        "entities": entities,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("swagger", nargs="?", type=Path, default=DEFAULT_SWAGGER)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    swagger = json.loads(args.swagger.read_text(encoding="utf-8"))
    registry = build_registry(swagger)
    text = json.dumps(registry, separators=(",", ":"), sort_keys=False)
    # One entity per line keeps diffs readable while the file stays compact.
    text = text.replace('},"', '},\n"')
    args.output.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(registry['entities'])} entities to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
