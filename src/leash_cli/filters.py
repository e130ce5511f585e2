"""Moved: the filter language is :mod:`leash_cli.store.filters`; these names stay importable."""

from leash_cli.store.filters import (
    OPERATORS,
    And,
    Filter,
    FilterError,
    Not,
    Or,
    Term,
    Token,
    compile_filter,
    parse,
    tokenize,
)

__all__ = [
    "FilterError",
    "Filter",
    "compile_filter",
    "parse",
    "OPERATORS",
    "And",
    "Or",
    "Not",
    "Term",
    "Token",
    "tokenize",
]
