"""Moved: the filter language is :mod:`leash_cli.store.filters`; this name stays importable."""

from leash_cli.store.filters import OPERATORS, Filter, FilterError, compile_filter, parse

__all__ = ["FilterError", "Filter", "compile_filter", "parse", "OPERATORS"]
