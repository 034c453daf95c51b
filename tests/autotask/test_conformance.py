"""Conformance: the committed registry matches the official description, and every route and verb the
client can emit exists there (read from /work/shared at test time, never copied into the repo)."""

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
from tests.conftest import SWAGGER_PATH

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def swagger() -> dict[str, Any]:
    if not SWAGGER_PATH.exists():
        pytest.skip(f"official description not found at {SWAGGER_PATH}")
    data: dict[str, Any] = json.loads(SWAGGER_PATH.read_text(encoding="utf-8"))
    return data


def _templates(swagger: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path with every {param} as {}) for every operation of the description."""
    out = set()
    for path, ops in swagger["paths"].items():
        norm = re.sub(r"\{[^}]+\}", "{}", path).lower()
        for method in ops:
            if method in {"get", "post", "put", "patch", "delete"}:
                out.add((method.upper(), norm))
    return out


def test_committed_registry_is_up_to_date(tmp_path: Path, swagger: dict[str, Any]) -> None:
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


def test_every_route_the_client_emits_exists_in_the_description(swagger: dict[str, Any]) -> None:
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
    allowed = _templates(swagger)
    emitted = {
        (m, re.sub(r"/\d+(?=/|$)", "/{}", p[len("/ATServicesRest") :]).lower()) for m, p in recorder.calls
    }
    missing = sorted(c for c in emitted if c not in allowed)
    assert not missing, f"routes not in the official description: {missing[:20]}"
    assert len(emitted) > 1000, "the sweep should exercise most of the registry"
    assert attempted > 2000
