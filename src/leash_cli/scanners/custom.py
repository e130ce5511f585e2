"""Settings shared by the pattern scanners: which types to report, and users' own patterns."""

from __future__ import annotations

import re


def select_types(
    requested: list[str] | None, known: tuple[str, ...] | frozenset[str], custom: dict[str, str] | None, what: str
) -> frozenset[str]:
    """The types to report: all known ones by default; an unknown name is an error."""
    if requested is None:
        return frozenset(known)
    chosen = {t.upper() for t in requested}
    unknown = chosen - set(known) - set((custom or {}).keys())
    if unknown:
        raise ValueError(f"unknown {what} types: {sorted(unknown)}")
    return frozenset(chosen)


def compile_custom(patterns: dict[str, str] | None) -> list[tuple[str, re.Pattern[str]]]:
    """Users' own NAME -> regular expression patterns, compiled once."""
    out: list[tuple[str, re.Pattern[str]]] = []
    for name, pat in (patterns or {}).items():
        try:
            out.append((name, re.compile(pat)))
        except re.error as exc:
            raise ValueError(f"invalid custom pattern {name!r}: {exc}") from exc
    return out
