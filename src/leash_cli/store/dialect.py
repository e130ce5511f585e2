"""What differs between SQLite's and PostgreSQL's SQL in the store's queries.

A query is written once, with the few places where the two dialects differ
spelled through a :class:`SqlDialect`.  Everything a dialect adds to SQL is
fixed text from this module; values are always parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SqlDialect", "SQLITE", "POSTGRES"]


@dataclass(frozen=True, slots=True)
class SqlDialect:
    """The SQL spellings one backend's driver and server need (code constants only, never user text)."""

    #: the driver's parameter placeholder
    ph: str
    #: the NULL-safe equality operator (true for NULL = NULL)
    is_: str
    #: a cast that makes a sum of integer columns an integer (PostgreSQL's ``sum(bigint)`` is numeric)
    int_sum: str
    #: counts with the aggregate FILTER clause (else with ``sum`` of the condition)
    filter_clause: bool
    #: a list travels as one array parameter (``= ANY(...)``; else one placeholder per value)
    array_params: bool

    def count_if(self, cond: str) -> str:
        """How many rows of the group ``cond`` holds for (SQLite: NULL for an empty group, as ``sum``)."""
        return f"count(*) FILTER (WHERE {cond})" if self.filter_clause else f"sum({cond})"

    def total(self, column: str) -> str:
        """The integer sum of ``column``, 0 without rows."""
        return f"coalesce(sum({column}), 0){self.int_sum}"

    def in_list(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values``: the condition and its parameters."""
        if self.array_params:
            return f"{column} = ANY({self.ph})", [list(values)]
        return f"{column} IN ({', '.join([self.ph] * len(values))})", list(values)


SQLITE = SqlDialect(ph="?", is_="IS", int_sum="", filter_clause=False, array_params=False)
POSTGRES = SqlDialect(ph="%s", is_="IS NOT DISTINCT FROM", int_sum="::bigint", filter_clause=True, array_params=True)
