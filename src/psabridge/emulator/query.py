"""Autotask's query language: compile a ``filter`` list into a predicate over stored records.

Quirks kept on purpose (they are what the client must cope with): a missing filter is a 500
(``Value cannot be null.\r\nParameter name: filters``, captured from a real tenant) while ``"filter": []``
matches nothing (200, no items); an unknown field is a 500 ``Unable to find <field> in the <Singular>
Entity.``; an unknown operator is silently dropped (so the query may return everything); at most one UDF
condition and at most 500 OR-conditions (each ``in`` value counts). Boolean values are JSON true/false
only. String comparisons are case-insensitive, like Autotask's SQL collation.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.schema import EntityDef, FieldDef
from psabridge.emulator.values import parse_datetime

Predicate = Callable[[dict[str, Any]], bool]
MAX_OR_CONDITIONS = 500
OPERATORS = {
    "eq",
    "noteq",
    "gt",
    "gte",
    "lt",
    "lte",
    "beginswith",
    "endswith",
    "contains",
    "exist",
    "notexist",
    "in",
    "notin",
}
_UDF_FIELD = FieldDef(name="udf", kind="string")


MISSING_FILTER = "Value cannot be null.\r\nParameter name: filters"


def _always(_: dict[str, Any]) -> bool:
    return True


def never(_: dict[str, Any]) -> bool:
    """The predicate of `"filter": []`: matches no record (callers may skip the scan)."""
    return False


def unknown_field(name: str, entity: EntityDef) -> str:
    """Autotask's message for a field the entity does not have (real for filters, applied to bodies too)."""
    return f"Unable to find {name} in the {entity.singular} Entity."


def lower_keys(obj: dict[str, Any]) -> dict[str, Any]:
    """JSON keys the way Autotask binds them: case-insensitively."""
    return {str(k).lower(): v for k, v in obj.items()}


class _Compiler:
    def __init__(self, entity: EntityDef, udf_names: set[str]) -> None:
        self.entity = entity
        self.udf_names = {n.lower(): n for n in udf_names}
        self.udf_conditions = 0
        self.or_conditions = 0

    def compile_list(self, items: Any, *, conjunction: str, inside_or: bool) -> Predicate:
        if not isinstance(items, list):
            raise EmulatorError(500, ["The filter must be an array of conditions."])
        pairs = [(i, p) for i in items if (p := self.compile_one(i, inside_or=inside_or)) is not None]
        preds = [p for _, p in pairs]
        if not preds:
            return _always
        if len(preds) == 1:
            return preds[0]
        if conjunction == "or":
            return _routed_or(self.entity, pairs) or (lambda r: any(p(r) for p in preds))
        return lambda r: all(p(r) for p in preds)

    def compile_one(self, cond: Any, *, inside_or: bool) -> Predicate | None:
        if not isinstance(cond, dict):
            raise EmulatorError(500, ["Each filter condition must be an object."])
        c = lower_keys(cond)
        op = str(c.get("op") or "").lower()
        if op in ("and", "or"):
            return self.compile_list(c.get("items") or [], conjunction=op, inside_or=inside_or or op == "or")
        if op not in OPERATORS:
            return None  # Autotask ignores operators it does not know
        if inside_or:
            self.or_conditions += 1
        name = str(c.get("field") or "")
        is_udf = bool(c.get("udf"))
        if is_udf:
            self.udf_conditions += 1
            if self.udf_conditions > 1:
                raise EmulatorError(500, ["Only one user-defined field condition is allowed per query."])
            real = self.udf_names.get(name.lower())
            if real is None:
                raise EmulatorError(500, [unknown_field(name, self.entity)])
            fdef = _UDF_FIELD

            def getter(r: dict[str, Any], _n: str = real) -> Any:
                for udf in r.get("userDefinedFields") or []:
                    if udf.get("name") == _n:
                        return udf.get("value")
                return None
        else:
            found = self.entity.find(name)
            if found is None or found.kind == "udf":
                raise EmulatorError(500, [unknown_field(name, self.entity)])
            fdef = found

            def getter(r: dict[str, Any], _n: str = found.name) -> Any:
                return r.get(_n)

            fast = _fast_leaf(op, fdef, c.get("value"))
            if fast is not None:
                if op in ("in", "notin"):
                    self.or_conditions += len(c.get("value") or [])
                return fast

        return self._leaf(op, fdef, getter, c.get("value"))

    def _leaf(self, op: str, fdef: FieldDef, get: Callable[[dict[str, Any]], Any], raw: Any) -> Predicate:
        if op == "exist":
            return lambda r: get(r) not in (None, "")
        if op == "notexist":
            return lambda r: get(r) in (None, "")
        norm = _normalizer(fdef)
        if op in ("in", "notin"):
            if not isinstance(raw, list):
                raise EmulatorError(
                    500, [f"The value of an '{op}' condition on {fdef.name} must be an array."]
                )
            self.or_conditions += len(raw)
            wanted = {_convert(norm, fdef, v) for v in raw}
            if op == "in":
                return lambda r: (v := get(r)) is not None and norm(v) in wanted
            return lambda r: (v := get(r)) is not None and norm(v) not in wanted
        if raw is None:
            if op == "eq":
                return lambda r: get(r) is None
            if op == "noteq":
                return lambda r: get(r) is not None
            raise EmulatorError(500, [f"A value is required for the '{op}' condition on {fdef.name}."])
        target = _convert(norm, fdef, raw)
        if op in ("beginswith", "endswith", "contains"):
            text = str(target).lower()

            def string_test(r: dict[str, Any]) -> bool:
                v = get(r)
                if v is None:
                    return False
                s = str(v).lower()
                if op == "beginswith":
                    return s.startswith(text)
                if op == "endswith":
                    return s.endswith(text)
                return text in s

            return string_test
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "eq": lambda a, b: a == b,
            "noteq": lambda a, b: a != b,
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
        }
        fn = compare[op]

        def test(r: dict[str, Any]) -> bool:
            v = get(r)
            if v is None:
                return False
            try:
                return fn(norm(v), target)
            except TypeError:
                return False

        return test


_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "noteq": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _fast_leaf(op: str, fdef: FieldDef, raw: Any) -> Predicate | None:
    """Specialised predicates for the hot cases (plain numeric, boolean and text fields compared with
    a value): stored values already have the field's type, so only text needs lower-casing.
    Returns None when the generic path must handle the condition (and raise its errors)."""
    kind = fdef.kind
    if kind not in ("integer", "long", "double", "boolean", "string") or raw is None:
        return None
    if op not in _CMP and op not in ("in", "notin"):
        return None
    name = fdef.name
    norm = _normalizer(fdef)
    if op in ("in", "notin"):
        if not isinstance(raw, list):
            return None
        wanted = {_convert(norm, fdef, v) for v in raw}
        if kind == "string":
            if op == "in":
                return lambda r: (v := r.get(name)) is not None and v.lower() in wanted
            return lambda r: (v := r.get(name)) is not None and v.lower() not in wanted
        if op == "in":
            return lambda r: (v := r.get(name)) is not None and v in wanted
        return lambda r: (v := r.get(name)) is not None and v not in wanted
    target = _convert(norm, fdef, raw)
    fn = _CMP[op]
    if kind == "string":
        return lambda r: (v := r.get(name)) is not None and fn(v.lower(), target)
    if kind == "boolean" and op not in ("eq", "noteq"):
        return None
    return lambda r: (v := r.get(name)) is not None and fn(v, target)


def _normalizer(fdef: FieldDef) -> Callable[[Any], Any]:
    kind = fdef.kind
    if kind in ("integer", "long", "double"):
        return lambda v: float(v) if not isinstance(v, bool) else float(int(v))
    if kind == "boolean":

        def to_bool(v: Any) -> bool:
            if not isinstance(v, bool):
                raise ValueError(v)
            return v

        return to_bool
    if kind == "datetime":
        return parse_datetime
    return lambda v: str(v).lower()


def _convert(norm: Callable[[Any], Any], fdef: FieldDef, raw: Any) -> Any:
    try:
        if isinstance(raw, dict | list):
            raise ValueError(raw)
        return norm(raw)
    except (ValueError, TypeError):
        raise EmulatorError(
            500, [f"Unable to convert value '{raw}' for field {fdef.name} to {fdef.kind}."]
        ) from None


def compile_filter(entity: EntityDef, query: Any, udf_names: set[str]) -> Predicate:
    """Compile a query body (``{"filter": [...]}``); raises the Autotask-shaped errors."""
    if not isinstance(query, dict):
        raise EmulatorError(500, ["The query body must be a JSON object with a filter."])
    q = lower_keys(query)
    conditions = q.get("filter")
    if conditions is None:
        raise EmulatorError(500, [MISSING_FILTER])
    if conditions == []:
        return never  # Autotask matches records against the conditions: none match nothing
    compiler = _Compiler(entity, udf_names)
    predicate = compiler.compile_list(conditions, conjunction="and", inside_or=False)
    if compiler.or_conditions > MAX_OR_CONDITIONS:
        raise EmulatorError(
            500,
            [
                f"The query contains {compiler.or_conditions} OR conditions; at most {MAX_OR_CONDITIONS} are allowed."
            ],
        )
    return predicate


def index_hint(entity: EntityDef, query: Any) -> tuple[str, set[Any]] | None:
    """A field and the normalized values every match must have one of, so a hash index can narrow the
    scan: a top-level ``eq``/``in`` on a plain text, number or boolean field, or an ``or`` whose every
    branch has one on the same field (the union of their values; the reader's per-date unit queries are
    ``or`` groups of ``contractServiceID in (...)``). Only narrows: the full predicate still decides.
    Call only after :func:`compile_filter` accepted the query."""
    conditions = lower_keys(query).get("filter") if isinstance(query, dict) else None
    return _hint_all(entity, conditions)


def _hint_all(entity: EntityDef, conditions: Any) -> tuple[str, set[Any]] | None:
    """A hint of conditions joined by ``and``: the first condition that gives one."""
    if not isinstance(conditions, list):
        return None
    for cond in conditions:
        hint = _hint_one(entity, cond)
        if hint is not None:
            return hint
    return None


def _hint_one(entity: EntityDef, cond: Any) -> tuple[str, set[Any]] | None:
    if not isinstance(cond, dict):
        return None
    c = lower_keys(cond)
    op = str(c.get("op") or "").lower()
    if op == "and":
        return _hint_all(entity, c.get("items"))
    if op == "or":
        return _hint_any(entity, c.get("items"))
    if op not in ("eq", "in") or c.get("udf"):
        return None
    fdef = entity.find(str(c.get("field") or ""))
    if fdef is None or fdef.kind not in ("integer", "long", "double", "boolean", "string"):
        return None
    raw = c.get("value")
    values = raw if op == "in" else [raw]
    if not isinstance(values, list) or any(v is None for v in values):
        return None
    norm = _normalizer(fdef)
    return fdef.name, {_convert(norm, fdef, v) for v in values}


def _routed_or(entity: EntityDef, branches: list[tuple[Any, Predicate]]) -> Predicate | None:
    """An ``or`` whose every branch requires one of some values of the same plain field (the reader's
    per-date unit queries: ~160 groups of ``contractServiceID in (...)`` and two dates) tests a record
    only against the branches that name its value, instead of every branch: the same matches, without
    a scan of the groups per record. None when the branches do not all narrow one field."""
    if len(branches) < 4:
        return None
    field_name: str | None = None
    table: dict[Any, list[Predicate]] = {}
    for item, pred in branches:
        hint = _hint_one(entity, item)
        if hint is None or (field_name is not None and hint[0] != field_name):
            return None
        field_name = hint[0]
        for value in hint[1]:
            table.setdefault(value, []).append(pred)
    name = field_name

    def routed(r: dict[str, Any]) -> bool:
        v = r.get(name) if name is not None else None
        if isinstance(v, str):
            v = v.lower()
        elif isinstance(v, list | dict):
            return False  # not a plain value: no branch can match it
        return any(p(r) for p in table.get(v, ()))

    return routed


def _hint_any(entity: EntityDef, items: Any) -> tuple[str, set[Any]] | None:
    """A hint of conditions joined by ``or``: only when every branch narrows the same field."""
    if not isinstance(items, list) or not items:
        return None
    field_name: str | None = None
    values: set[Any] = set()
    for item in items:
        hint = _hint_one(entity, item)
        if hint is None or (field_name is not None and hint[0] != field_name):
            return None
        field_name = hint[0]
        values |= hint[1]
    return (field_name, values) if field_name is not None else None
