"""The query builder refuses what Autotask would misread, and emits exactly Autotask's wire format."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psabridge.autotask.errors import InvalidQueryError
from psabridge.autotask.query import (
    MAX_OR_CONDITIONS,
    Condition,
    F,
    Group,
    check_limits,
    chunk_in_values,
    normalize_filter,
    parse_filter,
    query_body,
    to_wire,
)


def test_every_operator_has_its_wire_spelling() -> None:
    built = [
        F.eq("a", 1),
        F.noteq("a", 1),
        F.gt("a", 1),
        F.gte("a", 1),
        F.lt("a", 1),
        F.lte("a", 1),
        F.begins_with("a", "x"),
        F.ends_with("a", "x"),
        F.contains("a", "x"),
        F.exist("a"),
        F.not_exist("a"),
        F.in_("a", [1, 2]),
        F.not_in("a", [1, 2]),
    ]
    ops = [c.to_json()["op"] for c in built]
    assert ops == [
        "eq",
        "noteq",
        "gt",
        "gte",
        "lt",
        "lte",
        "beginsWith",
        "endsWith",
        "contains",
        "exist",
        "notExist",
        "in",
        "notIn",
    ]
    assert F.exist("a").to_json() == {"op": "exist", "field": "a"}
    assert F.in_("a", (1, 2)).to_json() == {"op": "in", "field": "a", "value": [1, 2]}


def test_nested_groups() -> None:
    f = F.and_(F.eq("isActive", True), F.or_(F.begins_with("companyName", "Acme"), F.eq("id", 7)))
    assert f.to_json() == {
        "op": "and",
        "items": [
            {"op": "eq", "field": "isActive", "value": True},
            {
                "op": "or",
                "items": [
                    {"op": "beginsWith", "field": "companyName", "value": "Acme"},
                    {"op": "eq", "field": "id", "value": 7},
                ],
            },
        ],
    }


@pytest.mark.parametrize("raw", [{"op": "equals", "field": "id", "value": 1}, {"op": "like", "field": "x"}])
def test_unknown_operator_is_refused(raw: dict[str, object]) -> None:
    # Autotask would ignore it and return every record: never send it.
    with pytest.raises(InvalidQueryError, match="unknown filter operator"):
        parse_filter(raw)


def test_raw_dicts_are_validated_recursively() -> None:
    with pytest.raises(InvalidQueryError):
        normalize_filter([{"op": "or", "items": [{"op": "eq", "field": "id", "value": 1}, {"op": "bogus"}]}])


def test_missing_value_and_empty_in_list_are_refused() -> None:
    with pytest.raises(InvalidQueryError, match="needs a value"):
        F.eq("id", None)
    with pytest.raises(InvalidQueryError, match="at least one value"):
        F.in_("id", [])
    with pytest.raises(InvalidQueryError, match="list of values"):
        parse_filter({"op": "in", "field": "id", "value": "1,2"})


def test_only_one_udf_condition() -> None:
    normalize_filter([F.eq("Sync Key", "x", udf=True), F.eq("id", 1)])
    with pytest.raises(InvalidQueryError, match="one UDF"):
        normalize_filter([F.eq("A", "x", udf=True), F.or_(F.eq("B", "y", udf=True))])


def test_condition_limit_counts_each_in_value() -> None:
    normalize_filter([F.in_("id", range(499)), F.eq("isActive", True)])
    with pytest.raises(InvalidQueryError, match="query_in"):
        normalize_filter([F.in_("id", range(500)), F.eq("isActive", True)])


def test_empty_filter_means_every_record() -> None:
    # Autotask answers a query without a filter with a 500.
    assert [f.to_json() for f in normalize_filter(None)] == [{"op": "gte", "field": "id", "value": 0}]
    assert [f.to_json() for f in normalize_filter([])] == [{"op": "gte", "field": "id", "value": 0}]


def test_query_body_include_fields_and_max_records() -> None:
    body = query_body(normalize_filter(F.eq("a", 1)), include_fields=["companyName"], max_records=2000)
    assert body == {
        "filter": [{"op": "eq", "field": "a", "value": 1}],
        "IncludeFields": ["id", "companyName"],
        "MaxRecords": 500,
    }


def test_values_are_serialised_like_autotask_wants() -> None:
    assert to_wire(date(2026, 1, 31)) == "2026-01-31T00:00:00"
    assert to_wire(datetime(2026, 1, 31, 12, 30, tzinfo=UTC)) == "2026-01-31T12:30:00"
    assert to_wire(Decimal("12.50")) == 12.5
    assert F.gte("startDate", date(2026, 1, 1)).to_json()["value"] == "2026-01-01T00:00:00"


def test_chunks_are_distinct_and_bounded() -> None:
    chunks = list(chunk_in_values([1, 2, 2, 3, 4, 5], 2))
    assert chunks == [[1, 2], [3, 4], [5]]
    with pytest.raises(InvalidQueryError):
        list(chunk_in_values([1], 0))


# --- property: whatever the builder makes survives the wire round trip and the limits are exact ---------
_fields = st.sampled_from(["id", "companyName", "phone", "isActive", "createDate"])
_values = st.one_of(st.integers(-5, 10**6), st.text(min_size=1, max_size=8), st.booleans())
_conditions = st.one_of(
    st.builds(
        Condition,
        st.sampled_from(["eq", "noteq", "gt", "gte", "lt", "lte", "beginsWith", "endsWith", "contains"]),
        _fields,
        _values,
    ),
    st.builds(Condition, st.sampled_from(["exist", "notExist"]), _fields),
    st.builds(
        Condition, st.sampled_from(["in", "notIn"]), _fields, st.lists(_values, min_size=1, max_size=30)
    ),
)
_filters = st.recursive(
    _conditions,
    lambda children: st.builds(
        Group, st.sampled_from(["and", "or"]), st.lists(children, min_size=1, max_size=4).map(tuple)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_filters, min_size=1, max_size=4))
def test_round_trip_and_limit(items: list[Condition | Group]) -> None:
    wire = [i.to_json() for i in items]
    assert [parse_filter(w).to_json() for w in wire] == wire
    total = sum(i.condition_count() for i in items)
    if total <= MAX_OR_CONDITIONS:
        check_limits(items)
    else:
        with pytest.raises(InvalidQueryError):
            check_limits(items)
