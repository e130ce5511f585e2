"""Values and statements the PostgreSQL writer and the SQLite copier share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leash_cli.store.schema import REQUEST_COLUMNS

__all__ = ["STAGE", "clean_row", "keep_row"]

_REQ_COLS = ", ".join(REQUEST_COLUMNS)
# the staging table a batch of request rows is COPY-ed into (one per writer connection, emptied at commit)
STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS leash_stage ON COMMIT DELETE ROWS AS "
    f"SELECT {_REQ_COLS}, 0::integer AS ord FROM requests WITH NO DATA"
)


def _clean(value: Any) -> Any:
    """A value PostgreSQL can store: text without NUL characters."""
    if type(value) is str and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def clean_row(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_clean(v) for v in row)


def keep_row(row: Sequence[Any]) -> Sequence[Any]:
    return row
