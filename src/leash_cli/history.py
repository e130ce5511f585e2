"""Moved: the history's queries are :mod:`leash_cli.store.queries` (with the full-text search in
:mod:`leash_cli.store.fts` and vacuum/backup in :mod:`leash_cli.store.retention`); these names stay
importable from here."""

from leash_cli.store.fts import fts_query, fts_watermark, search_clause, unindexed_matches
from leash_cli.store.queries import (
    JSON_COLUMNS,
    LIST_COLUMNS,
    STATS_GROUPS,
    export_rows,
    get_request,
    list_requests,
    max_rowid,
    new_requests,
    parse_since,
    stats,
)
from leash_cli.store.retention import backup, vacuum

__all__ = [
    "LIST_COLUMNS",
    "JSON_COLUMNS",
    "STATS_GROUPS",
    "parse_since",
    "fts_query",
    "fts_watermark",
    "search_clause",
    "unindexed_matches",
    "list_requests",
    "new_requests",
    "max_rowid",
    "get_request",
    "stats",
    "export_rows",
    "vacuum",
    "backup",
]
