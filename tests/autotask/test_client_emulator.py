"""The client against the running emulator over HTTP: operators, pagination, CRUD through the right
routes, metadata, every error class, retries under injected faults, the concurrency limit and the budget."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from psabridge.autotask import (
    AuthenticationError,
    AutotaskClient,
    AutotaskConnectionError,
    AutotaskCredentials,
    AutotaskPermissionError,
    AutotaskServerError,
    AutotaskValidationError,
    BudgetExhaustedError,
    F,
    InvalidQueryError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ReferenceNotFoundError,
    RetryPolicy,
    UnsupportedOperationError,
    ZoneDiscoveryError,
)
from psabridge.autotask.registry import EntityRegistry, load_registry
from tests.autotask.conftest import DEMO_CODE, DEMO_SECRET, DEMO_USER, FAST_RETRY, Emu
from tests.support.servers import free_port


def _company(client: AutotaskClient, name: str, **extra: Any) -> dict[str, Any]:
    owner = next(client.query("Resources", F.eq("isActive", True), max_records=1))
    return {
        "companyName": name,
        "companyType": client.picklist_value("Companies", "companyType", "customer"),
        "phone": "555 0100",
        "ownerResourceID": owner["id"],
        **extra,
    }


def _names(rows: Any) -> set[str]:
    return {r["companyName"] for r in rows}


# --- queries --------------------------------------------------------------------------------------------
def test_every_operator(client: AutotaskClient) -> None:
    ids = {
        name: client.create("Companies", _company(client, name, webAddress=web))
        for name, web in [("Alpha Co", "alpha.example"), ("Beta Ltd", None), ("Gamma Co", "gamma.example")]
    }
    mine = F.in_("id", ids.values())

    def q(*cond: Any) -> set[str]:
        return _names(client.query("Companies", [mine, *cond]))

    assert q(F.eq("companyName", "beta ltd")) == {"Beta Ltd"}  # case-insensitive like Autotask
    assert q(F.noteq("companyName", "Beta Ltd")) == {"Alpha Co", "Gamma Co"}
    assert q(F.gt("id", ids["Alpha Co"])) == {"Beta Ltd", "Gamma Co"}
    assert q(F.gte("id", ids["Beta Ltd"])) == {"Beta Ltd", "Gamma Co"}
    assert q(F.lt("id", ids["Beta Ltd"])) == {"Alpha Co"}
    assert q(F.lte("id", ids["Beta Ltd"])) == {"Alpha Co", "Beta Ltd"}
    assert q(F.begins_with("companyName", "Al")) == {"Alpha Co"}
    assert q(F.ends_with("companyName", " Co")) == {"Alpha Co", "Gamma Co"}
    assert q(F.contains("companyName", "et")) == {"Beta Ltd"}
    assert q(F.exist("webAddress")) == {"Alpha Co", "Gamma Co"}
    assert q(F.not_exist("webAddress")) == {"Beta Ltd"}
    assert q(F.in_("companyName", ["Alpha Co", "Gamma Co", "Nope"])) == {"Alpha Co", "Gamma Co"}
    assert q(F.not_in("companyName", ["Alpha Co"])) == {"Beta Ltd", "Gamma Co"}
    nested = F.or_(
        F.eq("companyName", "Alpha Co"), F.and_(F.begins_with("companyName", "G"), F.exist("webAddress"))
    )
    assert q(nested) == {"Alpha Co", "Gamma Co"}
    assert client.count("Companies", [mine, F.ends_with("companyName", "co")]) == 2


def test_udf_condition(client: AutotaskClient) -> None:
    cid = client.create(
        "Companies",
        _company(client, "Udf Co", userDefinedFields=[{"name": "Billing Account ID", "value": "BA-7"}]),
    )
    rows = list(client.query("Companies", F.eq("Billing Account ID", "BA-7", udf=True)))
    assert [r["id"] for r in rows] == [cid]
    with pytest.raises(InvalidQueryError):
        client.query(
            "Companies", [F.eq("Billing Account ID", "x", udf=True), F.eq("Customer Segment", "y", udf=True)]
        )


def test_pagination_past_1000_records_include_fields_and_max_records(
    emu: Emu, client: AutotaskClient
) -> None:
    base = _company(client, "x")
    with ThreadPoolExecutor(max_workers=6) as pool:
        created = list(
            pool.map(
                lambda i: client.create("Companies", {**base, "companyName": f"Bulk {i:04d}"}), range(1150)
            )
        )
    assert len(set(created)) == 1150
    before = client.stats.get("Companies", "query")
    rows = list(
        client.query("Companies", F.begins_with("companyName", "Bulk "), include_fields=["companyName"])
    )
    assert len(rows) == 1150 and {r["id"] for r in rows} == set(created)
    assert set(rows[0]) == {"id", "companyName"}  # IncludeFields honoured
    assert client.stats.get("Companies", "query") - before == 3  # 500 + 500 + 150: next pages POSTed
    assert client.count("Companies", F.begins_with("companyName", "Bulk ")) == 1150
    limited = list(client.query("Companies", F.begins_with("companyName", "Bulk "), max_records=700))
    assert len(limited) == 700
    # query_in: 1150 ids in three queries (500-condition limit), every record once
    before = client.stats.get("Companies", "query")
    found = list(
        client.query_in("Companies", "id", created, extra=F.eq("isActive", True), include_fields=["id"])
    )
    assert sorted(r["id"] for r in found) == sorted(created)
    assert client.stats.get("Companies", "query") - before == 3


# --- CRUD -----------------------------------------------------------------------------------------------
def test_crud_and_null_item(emu: Emu, client: AutotaskClient) -> None:
    cid = client.create("Companies", _company(client, "Crud Co", city="Leeds"))
    got = client.get("Companies", cid)
    assert got is not None and got["companyName"] == "Crud Co"
    assert client.update("Companies", {"id": cid, "phone": "555 0199"}) == cid
    after = client.get("Companies", cid)
    assert after is not None and (after["phone"], after["city"]) == ("555 0199", "Leeds")  # PATCH is partial
    assert client.get("Companies", 987654) is None  # {"item": null}


def test_child_entities_are_written_through_parent_routes(emu: Emu, client: AutotaskClient) -> None:
    cid = client.create("Companies", _company(client, "Parent Co"))
    # Contacts: create through Companies/{id}/Contacts with the parent taken from companyID
    contact_id = client.create(
        "Contacts", {"companyID": cid, "firstName": "Ann", "lastName": "Lee", "isActive": 1}
    )
    contact = client.get("Contacts", contact_id)  # root GET
    assert contact is not None and contact["companyID"] == cid
    client.update("Contacts", {"id": contact_id, "lastName": "Leigh"}, parent_id=cid)
    assert client.get("Contacts", contact_id)["lastName"] == "Leigh"  # type: ignore[index]
    assert [c["id"] for c in client.query("Contacts", F.eq("companyID", cid))] == [contact_id]
    client.delete("Contacts", contact_id, parent_id=cid)
    assert client.get("Contacts", contact_id) is None
    calls = emu.calls()["calls"]["Contacts"]
    assert calls["create"] == 1 and calls["update"] == 1 and calls["delete"] == 1


def test_unsupported_calls_are_refused_without_a_request(emu: Emu, client: AutotaskClient) -> None:
    client.discover_zone()
    before = emu.calls()["total"]
    with pytest.raises(UnsupportedOperationError):
        client.get("ContractServiceAdjustments", 1)
    with pytest.raises(UnsupportedOperationError):
        client.delete("Companies", 1)
    with pytest.raises(UnsupportedOperationError):
        client.create("BillingCodes", {"name": "x"})
    with pytest.raises(UnsupportedOperationError):
        client.update("ContractServiceUnits", {"id": 1, "units": 3})
    assert emu.calls()["total"] == before and client.stats.total == 1  # only the zone lookup


# --- metadata -------------------------------------------------------------------------------------------
def test_picklists_and_metadata_cache(emu: Emu, client: AutotaskClient) -> None:
    types = client.picklist("Companies", "companyType")
    labels = {v.label for v in types}
    assert {"Customer", "Vendor"} <= labels and all(v.is_active for v in types)
    vendor = client.picklist_value("Companies", "companyType", "VENDOR")
    assert client.picklist_label("Companies", "companyType", vendor) == "Vendor"
    assert client.picklist_value("Contracts", "contractType", "recurring service") > 0
    periods = {v.label for v in client.picklist("Services", "periodType")}
    assert {"Monthly", "Quarterly", "Yearly"} <= periods
    everything = client.picklist("Companies", "companyType", include_inactive=True)
    assert len(everything) >= len(types)
    with pytest.raises(LookupError, match="Customer"):
        client.picklist_value("Companies", "companyType", "No Such Type")
    fields = {f.name: f for f in client.field_info("Companies")}
    assert fields["companyName"].is_required and fields["companyType"].is_picklist
    assert {u.name for u in client.udfs("Companies")} >= {"Billing Account ID"}
    assert client.stats.get("Companies", "fields") == 1  # cached per tenant
    other = AutotaskClient(client.credentials, zone_url=emu.zone_url)
    other.picklist("Companies", "companyType")
    assert other.stats.get("Companies", "fields") == 0  # shared across client objects
    other.refresh_metadata("Companies")
    other.picklist("Companies", "companyType")
    assert other.stats.get("Companies", "fields") == 1
    other.close()
    info = client.threshold_information()
    assert info["externalRequestThreshold"] == 10000 and info["currentTimeframeRequestCount"] > 0


# --- errors ---------------------------------------------------------------------------------------------
def test_authentication_error(emu: Emu) -> None:
    bad = AutotaskClient(AutotaskCredentials(DEMO_USER, "wrong-secret", DEMO_CODE), zone_url=emu.zone_url)
    with pytest.raises(AuthenticationError) as info:
        bad.count("Companies")
    assert "wrong-secret" not in str(info.value)
    assert bad.stats.get("ZoneInformation", "get") == 2  # re-discovered once after the 401
    bad.close()


def test_zone_discovery_error(emu: Emu) -> None:
    c = AutotaskClient(AutotaskCredentials("nobody@nowhere.example", "x", DEMO_CODE), zone_url=emu.zone_url)
    with pytest.raises(ZoneDiscoveryError):
        c.count("Companies")


def test_connection_error() -> None:
    c = AutotaskClient(
        AutotaskCredentials(DEMO_USER, DEMO_SECRET, DEMO_CODE),
        base_url=f"http://127.0.0.1:{free_port()}/ATServicesRest/",
        retry=FAST_RETRY,
    )
    with pytest.raises(AutotaskConnectionError):
        c.count("Companies")
    assert c.stats.get("Companies", "count") == FAST_RETRY.max_attempts


def test_validation_reference_and_permission_errors(emu: Emu, client: AutotaskClient) -> None:
    with pytest.raises(AutotaskValidationError) as info:
        client.create("Companies", {"companyName": "Incomplete"})
    assert any("companyType" in m for m in info.value.messages)
    with pytest.raises(ReferenceNotFoundError):
        list(client.query("Companies", F.eq("noSuchField", 1)))
    emu.deny("Companies")
    with pytest.raises(AutotaskPermissionError):
        client.create("Companies", _company(client, "Denied Co"))


def test_not_found_and_405_from_the_server(emu: Emu, client: AutotaskClient) -> None:
    # A registry that claims more than the description, to see the server's own answers mapped.
    raw = {"entities": {"Companies": {"verbs": ["get", "delete", "query"]}, "Tickets": {"verbs": ["get"]}}}
    loose = AutotaskClient(client.credentials, zone_url=emu.zone_url, registry=EntityRegistry(raw))
    with pytest.raises(UnsupportedOperationError) as info:
        loose.delete("Companies", 5)
    assert info.value.status_code == 405
    with pytest.raises(NotFoundError):
        loose.get("Tickets", 1)
    loose.close()


# --- retries under injected faults ----------------------------------------------------------------------
def test_reads_are_retried_through_server_errors(emu: Emu, client: AutotaskClient) -> None:
    emu.add_fault(action="500", method="POST", entity="Companies", count=2)
    assert client.count("Companies") >= 1
    assert emu.calls()["calls"]["Companies"]["count"] == 3 and client.stats.retries == 2
    emu.add_fault(action="500", method="GET", entity="Companies", count=None)
    with pytest.raises(AutotaskServerError):
        client.get("Companies", 0)


def test_rejected_writes_are_retried_and_applied_once(emu: Emu, client: AutotaskClient) -> None:
    body = _company(client, "Retry Co")
    emu.add_fault(action="429", method="POST", entity="Companies", path="/Companies$", count=1)
    emu.add_fault(action="thread_limit", method="POST", entity="Companies", path="/Companies$", count=1)
    cid = client.create("Companies", body)
    assert [c["id"] for c in emu.state()["Companies"] if c["companyName"] == "Retry Co"] == [cid]
    emu.add_fault(action="429", method="GET", entity="Companies", count=None)
    with pytest.raises(RateLimitError):
        client.get("Companies", cid)


def test_write_failures_after_sending_are_outcome_unknown_and_not_retried(
    emu: Emu, client: AutotaskClient
) -> None:
    body = _company(client, "Dropped Co")
    emu.add_fault(action="drop_after_commit", method="POST", entity="Companies", path="/Companies$", count=1)
    with pytest.raises(OutcomeUnknownError) as info:
        client.create("Companies", body)
    assert (info.value.entity, info.value.verb, info.value.body) == ("Companies", "create", body)
    assert (
        len([c for c in emu.state()["Companies"] if c["companyName"] == "Dropped Co"]) == 1
    )  # it did commit
    assert emu.calls()["calls"]["Companies"]["create"] == 1  # never blindly retried
    cid = next(client.query("Companies", F.eq("companyName", "Dropped Co")))["id"]
    emu.add_fault(action="500", method="PATCH", entity="Companies", count=1)
    with pytest.raises(OutcomeUnknownError):
        client.update("Companies", {"id": cid, "phone": "1"})
    assert emu.calls()["calls"]["Companies"]["update"] == 1


# --- concurrency and budget -----------------------------------------------------------------------------
def test_no_429_reaches_the_caller_under_parallel_load(emu: Emu, credentials: AutotaskCredentials) -> None:
    emu.set_latency(40)
    no_retry = RetryPolicy(max_attempts=1)
    clients = [AutotaskClient(credentials, zone_url=emu.zone_url, retry=no_retry) for _ in range(3)]
    errors: list[BaseException] = []

    def work(c: AutotaskClient) -> None:
        try:
            for i in range(4):
                c.get("Companies", i)
                c.count("Contracts")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients for _ in range(4)]  # 12 threads
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []  # not even one attempt was refused: retries are disabled
    assert sum(c.stats.get("Companies", "get") for c in clients) == 48

    # Control: without the shared limiter the same load does hit the thread limit.
    wide = [
        AutotaskClient(credentials, zone_url=emu.zone_url, retry=no_retry, max_in_flight_per_endpoint=12)
        for _ in range(3)
    ]
    threads = [threading.Thread(target=work, args=(c,)) for c in wide for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert any(isinstance(e, RateLimitError) for e in errors)


def test_budget_cap_and_tenant_block(emu: Emu, credentials: AutotaskCredentials) -> None:
    capped = AutotaskClient(credentials, zone_url=emu.zone_url, hourly_budget_cap=5, retry=FAST_RETRY)
    for _ in range(4):
        capped.count("Companies")  # ThresholdInformation + 4 counts = 5 own calls
    with pytest.raises(BudgetExhaustedError) as info:
        capped.count("Companies")
    assert info.value.resume_at is not None
    assert capped.budget_usage()["cap"] == 5
    capped.close()
    # The tenant itself is over its threshold: Autotask blocks; the client pauses instead of hammering.
    emu.limits(hourly_limit=3, reset_counter=True)
    plain = AutotaskClient(credentials, zone_url=emu.zone_url, retry=FAST_RETRY)
    with pytest.raises(BudgetExhaustedError):
        for _ in range(5):
            plain.count("Companies")
    assert plain.stats.get("Companies", "count") == 4  # the 4th was refused by Autotask, not retried
    plain.close()


def test_registry_and_emulator_agree_on_billing_entities() -> None:
    reg = load_registry()
    for name in ["Companies", "Contacts", "Contracts", "ContractServices", "ContractCharges", "Products"]:
        assert reg.entity(name).supports("query")


def test_replace_and_more_parent_routes(emu: Emu, client: AutotaskClient) -> None:
    cid = client.create("Companies", _company(client, "Replace Co", city="York"))
    full = {**_company(client, "Replaced Co"), "id": cid}
    assert client.replace("Companies", full) == cid
    after = client.get("Companies", cid)
    assert after is not None and after["companyName"] == "Replaced Co" and after["city"] is None  # PUT clears
    # ContractCharges: created and deleted through Contracts/{id}/Charges (parent from contractID)
    contract = next(client.query("Contracts", None, max_records=1))
    charge_id = client.create(
        "ContractCharges",
        {
            "contractID": contract["id"],
            "name": "Setup fee",
            "datePurchased": date(2026, 2, 1),  # Python values are serialised the Autotask way
            "unitCost": Decimal("12.50"),
            "chargeType": client.picklist_value("ContractCharges", "chargeType", "operational"),
            "unitQuantity": 1,
            "productID": next(client.query("Products", None, max_records=1))["id"],
        },
    )
    charge = client.get("ContractCharges", charge_id)
    assert (
        charge is not None and charge["datePurchased"].startswith("2026-02-01") and charge["unitCost"] == 12.5
    )
    client.delete("ContractCharges", charge_id, parent_id=contract["id"])
    assert client.get("ContractCharges", charge_id) is None
    # ProductVendors: through Products/{id}/Vendors
    product = next(client.query("Products", F.eq("name", "Datto SIRIS 3 Appliance")))
    vendor = next(client.query("Companies", F.eq("companyName", "Datto")))
    pv = client.create(
        "ProductVendors",
        {"isActive": True, "isDefault": False, "vendorID": vendor["id"]},
        parent_id=product["id"],
    )
    got = client.get("ProductVendors", pv)
    assert got is not None and got["productID"] == product["id"]
    calls = emu.calls()["calls"]
    assert calls["ContractCharges"]["create"] == 1 and calls["ContractCharges"]["delete"] == 1
    assert calls["ProductVendors"]["create"] == 1


def test_retry_after_is_honoured_against_the_emulator(emu: Emu, credentials: AutotaskCredentials) -> None:
    emu.add_fault(action="429", method="POST", entity="Companies", count=1)  # answers Retry-After: 1
    c = AutotaskClient(
        credentials, zone_url=emu.zone_url, retry=RetryPolicy(initial_wait=0.01, max_wait=0.05)
    )
    start = time.monotonic()
    assert c.count("Companies") >= 1
    assert time.monotonic() - start >= 1.0
    assert c.stats.get("Companies", "count") == 2
    c.close()


def test_secret_stays_out_of_debug_logs(emu: Emu, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    c = AutotaskClient(
        AutotaskCredentials(DEMO_USER, DEMO_SECRET, DEMO_CODE), zone_url=emu.zone_url, retry=FAST_RETRY
    )
    emu.add_fault(action="500", method="POST", entity="Companies", count=1)
    c.count("Companies")
    with pytest.raises(AutotaskValidationError) as info:
        c.create("Companies", {"companyName": "x"})
    assert caplog.records, "debug logging was captured"
    assert DEMO_SECRET not in caplog.text
    assert (
        DEMO_SECRET not in repr(info.value)
        and DEMO_SECRET not in str(info.value)
        and DEMO_SECRET not in repr(c)
    )
    c.close()
