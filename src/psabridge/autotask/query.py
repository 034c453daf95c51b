"""Query builder: Autotask filters that are valid by construction.

Why: Autotask silently *ignores* unknown operators (the query then returns every record), allows at
most one UDF condition and at most 500 OR-conditions per query (each ``in`` value counts). The builder
checks all three before anything is sent, so a typo can never turn into "update every company".

>>> from psabridge.autotask.query import F
>>> F.and_(F.eq("isActive", True), F.or_(F.begins_with("companyName", "Acme"), F.in_("id", [1, 2])))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeAlias, Union

from psabridge.autotask.errors import InvalidQueryError

#: Condition operators Autotask understands (exact spelling on the wire).
CONDITION_OPS = frozenset(
    {
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
    }
)
#: Grouping operators.
GROUP_OPS = frozenset({"and", "or"})
#: Operators that take no value.
VALUELESS_OPS = frozenset({"exist", "notExist"})
#: Operators whose value is a list.
LIST_OPS = frozenset({"in", "notIn"})
#: Autotask refuses queries with more OR-conditions than this (each ``in`` value counts).
MAX_OR_CONDITIONS = 500
#: Autotask refuses more than one UDF condition per query.
MAX_UDF_CONDITIONS = 1
#: Page size of Autotask queries (and the largest MaxRecords it accepts).
PAGE_SIZE = 500


def to_wire(value: Any) -> Any:
    """A Python value as Autotask expects it in a filter or body.

    Dates/datetimes become naive UTC ``YYYY-MM-DDTHH:MM:SS`` (Autotask stores UTC and wants no offset);
    Decimals become floats; enums their value.
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00"
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return to_wire(value.value)
    if isinstance(value, list | tuple | set | frozenset):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class Condition:
    """One field condition, e.g. ``{"op": "eq", "field": "companyName", "value": "Acme"}``."""

    op: str
    field: str
    value: Any = None
    udf: bool = False

    def __post_init__(self) -> None:
        if self.op not in CONDITION_OPS:
            raise InvalidQueryError(
                f"unknown filter operator {self.op!r}: Autotask would ignore it and return every record "
                f"(valid: {', '.join(sorted(CONDITION_OPS))})"
            )
        if not isinstance(self.field, str) or not self.field.strip():
            raise InvalidQueryError(f"filter condition {self.op!r} needs a field name")
        if self.op in LIST_OPS:
            if isinstance(self.value, str | bytes) or not isinstance(self.value, Iterable):
                raise InvalidQueryError(f"{self.op!r} on {self.field!r} needs a list of values")
            values = list(self.value)
            if not values:
                raise InvalidQueryError(f"{self.op!r} on {self.field!r} needs at least one value")
            object.__setattr__(self, "value", tuple(values))
        elif self.op not in VALUELESS_OPS and self.value is None:
            raise InvalidQueryError(
                f"{self.op!r} on {self.field!r} needs a value (use exist/notExist to test for null)"
            )

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        out: dict[str, Any] = {"op": self.op, "field": self.field}
        if self.op not in VALUELESS_OPS:
            out["value"] = to_wire(list(self.value) if self.op in LIST_OPS else self.value)
        if self.udf:
            out["udf"] = True
        return out

    def condition_count(self, inside_or: bool = False) -> int:
        """How many OR-conditions Autotask counts for this condition: every value of an ``in`` list, and
        (the strict reading, as the emulator counts) the ``in`` condition itself when it sits in an
        ``or`` group."""
        if self.op in LIST_OPS:
            return len(self.value) + (1 if inside_or else 0)
        return 1

    def udf_count(self) -> int:
        return 1 if self.udf else 0


@dataclass(frozen=True, slots=True)
class Group:
    """An ``and``/``or`` group of conditions and groups."""

    op: str
    items: tuple[Filter, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.op not in GROUP_OPS:
            raise InvalidQueryError(f"unknown group operator {self.op!r} (valid: and, or)")
        if not self.items:
            raise InvalidQueryError(f"an {self.op!r} group needs at least one item")

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "items": [item.to_json() for item in self.items]}

    def condition_count(self, inside_or: bool = False) -> int:
        inside = inside_or or self.op == "or"
        return sum(item.condition_count(inside) for item in self.items)

    def udf_count(self) -> int:
        return sum(item.udf_count() for item in self.items)


Filter: TypeAlias = Union[Condition, Group]  # noqa: UP007 - runtime alias used in isinstance-free code
FilterInput: TypeAlias = Union[Filter, dict[str, Any], Sequence[Union[Filter, dict[str, Any]]], None]  # noqa: UP007


def parse_filter(raw: Filter | dict[str, Any]) -> Filter:
    """A :data:`Filter` from its wire form (validating it), or the filter itself."""
    if isinstance(raw, Condition | Group):
        return raw
    if not isinstance(raw, dict):
        raise InvalidQueryError(
            f"a filter item must be a dict or a Condition/Group, not {type(raw).__name__}"
        )
    op = raw.get("op")
    if not isinstance(op, str):
        raise InvalidQueryError(f"filter item {raw!r} has no 'op'")
    if op in GROUP_OPS:
        items = raw.get("items") or []
        return Group(op, tuple(parse_filter(i) for i in items))
    return Condition(op, raw.get("field", ""), raw.get("value"), bool(raw.get("udf", False)))


def normalize_filter(spec: FilterInput) -> list[Filter]:
    """A validated list of top-level filter items (implicitly AND-ed by Autotask).

    ``None`` or an empty list means "every record", expressed as ``id gte 0`` because Autotask answers
    a query without a filter with a 500.
    """
    if spec is None:
        items: list[Filter] = []
    elif isinstance(spec, Condition | Group | dict):
        items = [parse_filter(spec)]
    else:
        items = [parse_filter(item) for item in spec]
    if not items:
        items = [F.all()]
    check_limits(items)
    return items


def check_limits(items: Sequence[Filter]) -> None:
    """Refuse filters with more than one UDF condition or more than 500 OR-conditions."""
    udfs = sum(item.udf_count() for item in items)
    if udfs > MAX_UDF_CONDITIONS:
        raise InvalidQueryError(
            f"Autotask allows at most one UDF condition per query; this filter has {udfs}"
        )
    conditions = sum(item.condition_count() for item in items)
    if conditions > MAX_OR_CONDITIONS:
        raise InvalidQueryError(
            f"Autotask allows at most {MAX_OR_CONDITIONS} conditions per query; this filter has {conditions} "
            "(use AutotaskClient.query_in to split long 'in' lists)"
        )


def filter_json(items: Sequence[Filter]) -> list[dict[str, Any]]:
    """The wire form of a list of filter items."""
    return [item.to_json() for item in items]


def query_body(
    items: Sequence[Filter], include_fields: Sequence[str] | None = None, max_records: int | None = None
) -> dict[str, Any]:
    """The JSON body of ``POST /{Entity}/query`` (and ``/query/count`` without the extras)."""
    body: dict[str, Any] = {"filter": filter_json(items)}
    if include_fields:
        fields = list(dict.fromkeys(include_fields))
        if "id" not in fields:
            fields.insert(0, "id")  # records without their id are useless to every caller
        body["IncludeFields"] = fields
    if max_records is not None:
        if max_records < 1:
            raise InvalidQueryError("max_records must be at least 1")
        body["MaxRecords"] = min(int(max_records), PAGE_SIZE)
    return body


def chunk_in_values(values: Iterable[Any], chunk_size: int) -> Iterator[list[Any]]:
    """Distinct values (first occurrence order) in chunks of at most ``chunk_size``."""
    if chunk_size < 1:
        raise InvalidQueryError("the other conditions leave no room for 'in' values under the 500 limit")
    unique = list(dict.fromkeys(to_wire(v) for v in values))
    for start in range(0, len(unique), chunk_size):
        yield unique[start : start + chunk_size]


class F:
    """Factory of filter conditions and groups (``F.eq("id", 5)``, ``F.or_(...)``)."""

    @staticmethod
    def eq(field: str, value: Any, *, udf: bool = False) -> Condition:
        return Condition("eq", field, value, udf)

    @staticmethod
    def noteq(field: str, value: Any, *, udf: bool = False) -> Condition:
        return Condition("noteq", field, value, udf)

    @staticmethod
    def gt(field: str, value: Any, *, udf: bool = False) -> Condition:
        return Condition("gt", field, value, udf)

    @staticmethod
    def gte(field: str, value: Any, *, udf: bool = False) -> Condition:
        return Condition("gte", field, value, udf)

    @staticmethod
    def lt(field: str, value: Any, *, udf: bool = False) -> Condition:
        return Condition("lt", field, value, udf)

    @staticmethod
    def lte(field: str, value: Any, *, udf: bool = False) -> Condition:
        return Condition("lte", field, value, udf)

    @staticmethod
    def begins_with(field: str, value: str, *, udf: bool = False) -> Condition:
        return Condition("beginsWith", field, value, udf)

    @staticmethod
    def ends_with(field: str, value: str, *, udf: bool = False) -> Condition:
        return Condition("endsWith", field, value, udf)

    @staticmethod
    def contains(field: str, value: str, *, udf: bool = False) -> Condition:
        return Condition("contains", field, value, udf)

    @staticmethod
    def exist(field: str, *, udf: bool = False) -> Condition:
        return Condition("exist", field, None, udf)

    @staticmethod
    def not_exist(field: str, *, udf: bool = False) -> Condition:
        return Condition("notExist", field, None, udf)

    @staticmethod
    def in_(field: str, values: Iterable[Any], *, udf: bool = False) -> Condition:
        return Condition("in", field, tuple(values), udf)

    @staticmethod
    def not_in(field: str, values: Iterable[Any], *, udf: bool = False) -> Condition:
        return Condition("notIn", field, tuple(values), udf)

    @staticmethod
    def and_(*items: Filter | dict[str, Any]) -> Group:
        return Group("and", tuple(parse_filter(i) for i in items))

    @staticmethod
    def or_(*items: Filter | dict[str, Any]) -> Group:
        return Group("or", tuple(parse_filter(i) for i in items))

    @staticmethod
    def all() -> Condition:
        """Every record (``id gte 0``; id 0 is the tenant's own company): Autotask needs *some* filter."""
        return Condition("gte", "id", 0)


__all__ = [
    "CONDITION_OPS",
    "GROUP_OPS",
    "MAX_OR_CONDITIONS",
    "PAGE_SIZE",
    "Condition",
    "F",
    "Filter",
    "FilterInput",
    "Group",
    "check_limits",
    "chunk_in_values",
    "filter_json",
    "normalize_filter",
    "parse_filter",
    "query_body",
    "to_wire",
]
