"""Results of workers may arrive after their screen went away (or before it is composed)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from textual.css.query import NoMatches

F = TypeVar("F", bound=Callable[..., Any])


def mounted_only(method: F) -> F:
    """Drop a late or early result instead of failing when the widgets it updates are not there."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kw: Any) -> Any:
        if not self.is_attached:
            return None
        try:
            return method(self, *args, **kw)
        except NoMatches:
            return None

    return wrapper  # type: ignore[return-value]
