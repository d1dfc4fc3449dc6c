"""SQL expressions the two databases spell differently: seconds between timestamps, floor to an integer.

PostgreSQL subtracts timestamps exactly; SQLite stores UTC text, so it goes through julianday() and rounds to the
millisecond (a double holds a julian day to ~50 µs; rounding makes a 15-minute arrival read exactly 900.000 s).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


class seconds_between(FunctionElement[float]):  # noqa: N801 - reads like the SQL function it stands for
    """``later − earlier`` in seconds (NULL if either is NULL)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_default(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"round((julianday({later}) - julianday({earlier})) * 86400.0, 3)"


class floor_int(FunctionElement[int]):  # noqa: N801
    """Largest integer ≤ x, as an integer (SQLite's CAST truncates, which is the floor for x ≥ 0 only)."""

    type = Integer()
    inherit_cache = True
    name = "floor_int"


@compiles(floor_int)
def _floor_default(element: floor_int, compiler: SQLCompiler, **kw: Any) -> str:
    (x,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(floor({x}) AS INTEGER)"


@compiles(floor_int, "sqlite")
def _floor_sqlite(element: floor_int, compiler: SQLCompiler, **kw: Any) -> str:
    (x,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({x} AS INTEGER) - (({x}) < CAST({x} AS INTEGER)))"


def flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """1 where the condition holds, else 0 (NULL counts as 0): summable."""
    from sqlalchemy import case

    return case((condition, 1), else_=0)


class json_len(FunctionElement[int]):  # noqa: N801
    """Length of a JSON array column (0 for an empty list)."""

    type = Integer()
    inherit_cache = True
    name = "json_len"


@compiles(json_len)
def _json_len_default(element: json_len, compiler: SQLCompiler, **kw: Any) -> str:
    (x,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"jsonb_array_length({x})"


@compiles(json_len, "sqlite")
def _json_len_sqlite(element: json_len, compiler: SQLCompiler, **kw: Any) -> str:
    (x,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"json_array_length({x})"
