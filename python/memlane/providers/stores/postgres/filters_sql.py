"""The filter language compiled to a parameterised SQL ``WHERE`` clause.

The filter is parsed and validated once, by the same Rust parser the embedded store uses
(``memlane._native.canonical_filter``), so both stores accept and reject exactly the same
filters. Its canonical tree (documented in ``rust/core/src/filter/canonical.rs``) becomes
SQL here; every key and value travels as a bound parameter, never as SQL text.

The semantics are those of ``rust/core/src/filter/eval.rs``:

- a missing key (or JSON null) fails every condition except ``ne``, ``nin`` and
  ``eq null``;
- numbers compare numerically (as float8, like Rust's f64), strings by code point
  (``COLLATE "C"``: UTF-8 byte order, which is what Rust's ``str`` ordering is), and a
  number never compares as ordered with a string;
- ``contains`` on a list means "has this element"; ``icontains`` lower-cases the value
  (with the Unicode collation the server has; see :class:`SqlDialect`).

Every predicate compiled here is TRUE or FALSE, never NULL: SQL's three-valued logic
would otherwise make ``NOT`` drop rows whose key is missing, where Rust keeps them.
Comparisons on columns are written ``(col = %s AND col IS NOT NULL)`` rather than wrapped
in ``COALESCE`` so that the planner still uses the scope indexes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from memlane import _native
from memlane.errors import ValidationError

from .rows import escape_json

__all__ = ["CompiledFilter", "SqlDialect", "compile_filter"]

#: Built-in fields a filter may name; each is a text column of the memories table.
FIELDS = frozenset(
    {"user_id", "agent_id", "run_id", "actor_id", "role", "created_at", "updated_at"}
)
#: Fields with an index on their first SCOPE_PREFIX characters (schema.py; a btree entry
#: must fit in a third of a page, and 512 characters take at most 2,048 bytes).
SCOPE_FIELDS = frozenset({"user_id", "agent_id", "run_id"})
SCOPE_PREFIX = 512
_PREFIX = sql.Literal(SCOPE_PREFIX)
_ORDERED = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_TRUE = sql.SQL("TRUE")
_FALSE = sql.SQL("FALSE")


@dataclass(frozen=True)
class SqlDialect:
    """What the compiled SQL may rely on in this database.

    Attributes:
        lower_collation: collation that makes ``lower()`` Unicode-aware:
            ``pg_unicode_fast`` (PostgreSQL 18, full case mapping, as Rust's
            ``to_lowercase``), ``pg_c_utf8`` (17, simple case mapping), or None to use the
            database default (older servers: exact only for what its locale folds).
    """

    lower_collation: str | None = None


@dataclass
class CompiledFilter:
    """A ``WHERE`` clause and its named parameters (``f0``, ``f1``, ...)."""

    where: sql.Composable
    params: dict[str, Any] = field(default_factory=dict)


class _Compiler:
    def __init__(self, dialect: SqlDialect) -> None:
        self.dialect = dialect
        self.params: dict[str, Any] = {}

    def param(self, value: Any, cast: str) -> sql.Composable:
        name = f"f{len(self.params)}"
        self.params[name] = value
        return sql.SQL("{}::{}").format(sql.Placeholder(name), sql.SQL(cast))

    def lower(self, text_expr: sql.Composable) -> sql.Composable:
        if self.dialect.lower_collation is None:
            return sql.SQL("lower({})").format(text_expr)
        return sql.SQL("lower({} COLLATE {})").format(
            text_expr, sql.Identifier(self.dialect.lower_collation)
        )

    # --- tree --------------------------------------------------------------------------

    def node(self, node: dict[str, Any]) -> sql.Composable:
        if "all" in node:
            return _TRUE
        for logic, joiner in (("and", " AND "), ("or", " OR ")):
            if logic in node:
                parts = [self.node(child) for child in node[logic]]
                return sql.SQL("({})").format(sql.SQL(joiner).join(parts))
        if "not" in node:
            parts = [self.node(child) for child in node["not"]]
            return sql.SQL("(NOT ({}))").format(sql.SQL(" OR ").join(parts))
        if "field" in node:
            return self.field_condition(node["field"], node["op"], node.get("value"))
        if "meta" in node:
            return self.meta_condition(node["meta"], node["op"], node.get("value"))
        raise ValidationError(f"unexpected canonical filter node {node!r}")

    # --- built-in text columns -----------------------------------------------------------

    def field_condition(self, name: str, op: str, value: Any) -> sql.Composable:
        if name not in FIELDS:
            raise ValidationError(f"unexpected filter field {name!r}")
        col = sql.Identifier(name)
        if op in ("ne", "nin"):
            return sql.SQL("(NOT {})").format(
                self.field_condition(name, op[1:] if op == "nin" else "eq", value)
            )
        if op == "exists":
            return sql.SQL("({} IS NOT NULL)").format(col)
        if op == "eq" and value is None:
            return sql.SQL("({} IS NULL)").format(col)
        test: sql.Composed | None  # None: the value's kind can never match a text column
        if op == "eq" and isinstance(value, str) and name in SCOPE_FIELDS:
            # the scope indexes hold a prefix of each id: compare it first, so they are used
            v = self.param(value, "text")
            test = sql.SQL("left({c}, {n}) = left({v}, {n}) AND {c} = {v}").format(
                c=col, v=v, n=_PREFIX
            )
        elif op == "eq":
            test = (
                sql.SQL("{} = {}").format(col, self.param(value, "text"))
                if isinstance(value, str)
                else None
            )
        elif op == "in":
            texts = [v for v in value if isinstance(v, str)]
            test = (
                sql.SQL("{} = ANY({})").format(col, self.param(texts, "text[]")) if texts else None
            )
            if texts and name in SCOPE_FIELDS:
                prefixes = self.param([t[:SCOPE_PREFIX] for t in texts], "text[]")
                test = sql.SQL("left({}, {}) = ANY({}) AND {}").format(col, _PREFIX, prefixes, test)
        elif op in _ORDERED:
            test = (
                sql.SQL('{} COLLATE "C" {} {}').format(
                    col, sql.SQL(_ORDERED[op]), self.param(value, "text")
                )
                if isinstance(value, str)
                else None
            )
        elif op == "contains":
            test = sql.SQL('strpos({} COLLATE "C", {}) > 0').format(col, self.param(value, "text"))
        elif op == "icontains":
            test = sql.SQL("strpos({}, {}) > 0").format(self.lower(col), self.param(value, "text"))
        else:
            raise ValidationError(f"unexpected filter operator {op!r}")
        if test is None:  # a value of another kind: a text column never matches it
            return _FALSE
        # `AND col IS NOT NULL` turns NULL into FALSE while keeping `col = $1` indexable.
        return sql.SQL("({} AND {} IS NOT NULL)").format(test, col)

    # --- metadata keys (jsonb) -----------------------------------------------------------

    def meta_condition(self, key: str, op: str, value: Any) -> sql.Composable:
        if op in ("ne", "nin"):
            return sql.SQL("(NOT {})").format(
                self.meta_condition(key, op[1:] if op == "nin" else "eq", value)
            )
        k = self.param(key, "text")
        j = sql.SQL("(metadata -> {})").format(k)  # jsonb, or SQL NULL when missing
        t = sql.SQL("(metadata ->> {})").format(k)  # the value as text
        kind = sql.SQL("jsonb_typeof({})").format(j)
        absent = sql.SQL("(COALESCE({}, 'null') = 'null')").format(kind)
        if op == "exists":
            return sql.SQL("(NOT {})").format(absent)
        if op == "eq" and value is None:
            return absent
        if op == "eq":
            op, value = "in", [value]
        if op == "in":
            return self.meta_in(j, kind, value)
        if op in _ORDERED:
            if isinstance(value, str):
                test = sql.SQL("CASE WHEN {} = 'string' THEN {} COLLATE \"C\" {} {} END").format(
                    kind, t, sql.SQL(_ORDERED[op]), self.param(value, "text")
                )
            else:
                test = sql.SQL("CASE WHEN {} = 'number' THEN {}::float8 {} {} END").format(
                    kind, j, sql.SQL(_ORDERED[op]), self.param(float(value), "float8")
                )
        elif op == "contains":
            needle = self.param(value, "text")
            test = sql.SQL(
                "CASE {} WHEN 'string' THEN strpos({} COLLATE \"C\", {}) > 0 "
                "WHEN 'array' THEN {} @> jsonb_build_array({}) END"
            ).format(kind, t, needle, j, needle)
        elif op == "icontains":
            needle = self.param(value, "text")
            element = sql.SQL("(e #>> '{}')")  # not .format(): the braces are SQL
            test = sql.SQL(
                "CASE {} WHEN 'string' THEN strpos({}, {}) > 0 "
                "WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements({}) AS e "
                "WHERE jsonb_typeof(e) = 'string' AND {} = {}) END"
            ).format(kind, self.lower(t), needle, j, self.lower(element), needle)
        else:
            raise ValidationError(f"unexpected filter operator {op!r}")
        return sql.SQL("COALESCE({}, FALSE)").format(test)

    def meta_in(self, j: sql.Composable, kind: sql.Composable, values: list[Any]) -> sql.Composable:
        """Any of ``values`` equals the key's value (a null in the list matches nothing)."""
        numbers = [
            float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        others = [json.dumps(v) for v in values if isinstance(v, (str, bool))]
        tests = []
        if others:  # jsonb equality of strings and booleans is exact
            tests.append(
                sql.SQL("COALESCE({} = ANY({}), FALSE)").format(j, self.param(others, "jsonb[]"))
            )
        if numbers:  # 1 and 1.0 are equal, as in Rust (f64 comparison)
            tests.append(
                sql.SQL(
                    "COALESCE(CASE WHEN {} = 'number' THEN {}::float8 = ANY({}) END, FALSE)"
                ).format(kind, j, self.param(numbers, "float8[]"))
            )
        if not tests:
            return _FALSE
        return sql.SQL("({})").format(sql.SQL(" OR ").join(tests))


def compile_filter(filters_json: str | None, dialect: SqlDialect) -> CompiledFilter:
    """Validates a filter (JSON text or None) and compiles it to SQL.

    Args:
        filters_json: the filter as the API layer serialised it; None or "" = no filter.
        dialect: what the target database supports.

    Returns:
        The ``WHERE`` clause (``TRUE`` for no filter) and its parameters, named ``f0``...

    Raises:
        ValidationError: the filter is malformed (same message as the embedded store).

    Example:
        >>> compiled = compile_filter('{"user_id": "alice"}', SqlDialect())
        >>> sql.SQL("SELECT id FROM t WHERE {}").format(compiled.where)
    """
    if not filters_json:
        return CompiledFilter(_TRUE)
    # Stored text is escaped (rows.escape): so are the keys and strings compared with it.
    canonical = escape_json(json.loads(_native.canonical_filter(filters_json)))
    compiler = _Compiler(dialect)
    where = compiler.node(canonical)
    return CompiledFilter(where, compiler.params)
