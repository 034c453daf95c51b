"""Distil the official Autotask REST description into the digest the conformance tests need.

Why: the description (3 MB, ``../shared/autotask``) is not part of the repository, and a clean clone (CI)
may not have it beside it. Conformance tests must never skip, so they read this digest: every route with
its verbs, the 200-response model of each route, and the closure of definitions those models reference.
The digest records the SHA-256 of the description it came from; when the description is present the
suite regenerates the digest and fails if the committed one is stale. Re-run after the description
changes:

    .venv/bin/python scripts/gen_description_digest.py [path/to/autotask-rest-v1.swagger.json]
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_emulator_spec import build as build_spec

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SWAGGER = ROOT.parent / "shared" / "autotask" / "autotask-rest-v1.swagger.json"
OUT = ROOT / "tests" / "fixtures" / "autotask_description_digest.json"


def _refs(node: Any) -> set[str]:
    """Names of the definitions a schema node references (directly)."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            found.add(ref[len("#/definitions/") :])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def build(raw: bytes) -> dict[str, Any]:
    """The digest of one description (``raw`` is the file's bytes, hashed as they are).

    Every route keeps its verbs; only routes of emulated entities (and the two entity-less routes the
    emulator serves) keep their response model, so the digest holds the models the emulator must
    answer with and nothing else of the description.
    """
    swagger: dict[str, Any] = json.loads(raw)
    spec = build_spec(swagger)
    emulated = {"/V1.0" + template.lower() for template, _verbs, entity in spec["routes"] if entity} | {
        "/V1.0/thresholdinformation",
        "/V1.0/zoneinformation",
    }
    routes: dict[str, dict[str, str | None]] = {}
    wanted: set[str] = {model["model"] for model in spec["models"].values()}
    for path, ops in sorted(swagger["paths"].items()):
        verbs: dict[str, str | None] = {}
        for method, op in sorted(ops.items()):
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            ref = op.get("responses", {}).get("200", {}).get("schema", {}).get("$ref")
            keep = ref if "/V1.0" + path[len("/V1.0") :].lower() in emulated else None
            verbs[method.upper()] = keep
            if keep:
                wanted |= _refs({"$ref": keep})
        routes[path] = verbs
    definitions: dict[str, Any] = {}
    todo = sorted(wanted)
    while todo:
        name = todo.pop()
        if name in definitions:
            continue
        schema = swagger["definitions"][name]
        definitions[name] = schema
        todo.extend(sorted(_refs(schema) - set(definitions)))
    return {
        "source": "autotask-rest-v1.swagger.json",
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "routes": routes,
        "definitions": dict(sorted(definitions.items())),
    }


def render(digest: dict[str, Any]) -> str:
    return json.dumps(digest, separators=(",", ":"), sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else DEFAULT_SWAGGER
    out = Path(argv[2]) if len(argv) > 2 and argv[1] == "-o" else OUT
    digest = build(source.read_bytes())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(digest), encoding="utf-8")
    print(f"wrote {out} ({len(digest['routes'])} routes, {len(digest['definitions'])} definitions)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
