"""Conformance: the committed registry matches the official description, and every route and verb the
client can emit exists there. The description is read from ../shared when it is there; otherwise its
committed digest (tests/fixtures, checked against the description whenever both exist) stands in, so
these tests never skip."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from psabridge.autotask import AutotaskClient, AutotaskCredentials, UnsupportedOperationError, load_registry
from tests.conftest import SWAGGER_PATH, description_digest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def routes() -> dict[str, set[str]]:
    """Path -> verbs (upper case) of the official description, or of its committed digest."""
    if SWAGGER_PATH.exists():
        data = json.loads(SWAGGER_PATH.read_text(encoding="utf-8"))
        return {
            path: {m.upper() for m in ops if m in {"get", "post", "put", "patch", "delete"}}
            for path, ops in data["paths"].items()
        }
    return {path: set(verbs) for path, verbs in description_digest()["routes"].items()}


def _templates(routes: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(METHOD, path with every {param} as {}) for every operation of the description."""
    out = set()
    for path, verbs in routes.items():
        norm = re.sub(r"\{[^}]+\}", "{}", path).lower()
        for method in verbs:
            out.add((method, norm))
    return out


def test_committed_registry_agrees_with_the_routes(routes: dict[str, set[str]]) -> None:
    """Every verb the registry offers has its route in the description (or its digest)."""
    allowed = _templates(routes)
    verb_method = {"get": "GET", "create": "POST", "update": "PATCH", "replace": "PUT", "delete": "DELETE"}
    for spec in load_registry():
        for verb in spec.verbs & set(verb_method):
            paths = []
            if spec.has_root(verb):
                paths.append(f"/v1.0/{spec.name}".lower() + ("/{}" if verb in ("get", "delete") else ""))
            route = spec.parent_route(verb)
            if route is not None:
                paths.append(
                    ("/v1.0/" + re.sub(r"\{[^}]+\}", "{}", route.route)).lower()
                    + ("/{}" if verb == "delete" else "")
                )
            assert any((verb_method[verb], p) in allowed for p in paths), (spec.name, verb, paths)


def test_committed_registry_is_up_to_date(tmp_path: Path) -> None:
    if not SWAGGER_PATH.exists():
        # a clean clone: the registry was generated from the same description as the digest; the
        # route agreement above is what can be checked without it
        assert description_digest()["source_sha256"]
        return
    out = tmp_path / "registry.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "gen_autotask_registry.py"),
            str(SWAGGER_PATH),
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    committed = (REPO / "src" / "psabridge" / "autotask" / "registry.json").read_text(encoding="utf-8")
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(committed)


def test_registry_knows_the_billing_entities() -> None:
    reg = load_registry()
    contacts = reg.entity("Contacts")
    assert not contacts.has_root("create") and contacts.has_root("query")
    route = contacts.parent_route("create")
    assert route is not None
    assert (route.route, route.parent_field) == ("Companies/{parentId}/Contacts", "companyID")
    assert reg.entity("ContractServices").parent_route("create").route == "Contracts/{parentId}/Services"  # type: ignore[union-attr]
    assert reg.entity("ContractCharges").parent_route("delete").route == "Contracts/{parentId}/Charges"  # type: ignore[union-attr]
    assert reg.entity("ProductVendors").parent_route("create").route == "Products/{parentId}/Vendors"  # type: ignore[union-attr]
    adjustments = reg.entity("ContractServiceAdjustments")
    assert adjustments.verbs == {"create", "fields", "udfs"}
    assert not adjustments.supports("get") and not adjustments.supports("query")
    assert not reg.entity("Companies").supports("delete")
    assert not reg.entity("BillingCodes").supports("create")
    assert {"companyName", "companyType", "phone", "ownerResourceID"} <= reg.entity("Companies").fields


class _Recorder:
    """A fake Autotask answering every call plausibly and recording (method, url)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        path = request.url.path.lower()
        if request.method == "GET" and path.endswith("/fields"):
            return httpx.Response(200, json={"fields": []})
        if path.endswith("/query/count"):
            return httpx.Response(200, json={"queryCount": 0})
        if path.endswith("/query"):
            return httpx.Response(200, json={"items": [], "pageDetails": {"count": 0, "nextPageUrl": None}})
        if request.method == "GET":
            return httpx.Response(200, json={"item": None})
        return httpx.Response(200, json={"itemId": 1})


def test_every_route_the_client_emits_exists_in_the_description(routes: dict[str, set[str]]) -> None:
    recorder = _Recorder()
    client = AutotaskClient(
        AutotaskCredentials("u@x.example", "s", "C"),
        base_url="https://at.example/ATServicesRest/",
        transport=httpx.MockTransport(recorder),
    )
    reg = load_registry()
    attempted = 0
    for spec in reg:
        e = spec.name
        body = {"id": 5, **({p.parent_field: 9 for p in spec.parents if p.parent_field})}
        actions: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
            (client.get, (e, 5), {}),
            (client.get, (e, 5), {"parent_id": 9}),
            (lambda name: list(client.query(name, None)), (e,), {}),
            (client.count, (e,), {}),
            (client.create, (e, body), {}),
            (client.create, (e, body), {"parent_id": 9}),
            (client.update, (e, body), {}),
            (client.update, (e, body), {"parent_id": 9}),
            (client.replace, (e, body), {}),
            (client.delete, (e, 5), {"parent_id": 9}),
            (client.delete, (e, 5), {}),
            (client.field_info, (e,), {}),
            (client.udfs, (e,), {}),
        ]
        for func, args, kwargs in actions:
            attempted += 1
            try:
                func(*args, **kwargs)
            except (UnsupportedOperationError, ValueError):
                continue
    client.threshold_information()
    client.close()
    allowed = _templates(routes)
    emitted = {
        (m, re.sub(r"/\d+(?=/|$)", "/{}", p[len("/ATServicesRest") :]).lower()) for m, p in recorder.calls
    }
    missing = sorted(c for c in emitted if c not in allowed)
    assert not missing, f"routes not in the official description: {missing[:20]}"
    assert len(emitted) > 1000, "the sweep should exercise most of the registry"
    assert attempted > 2000
