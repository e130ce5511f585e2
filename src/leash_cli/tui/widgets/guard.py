"""Results of workers may arrive after their screen went away (or before it is composed)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from textual.css.query import NoMatches
from textual.message_pump import MessagePump

S = TypeVar("S", bound=MessagePump)
P = ParamSpec("P")
R = TypeVar("R")


def mounted_only(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R | None]:
    """Drop a late or early result instead of failing when the widgets it updates are not there."""

    @functools.wraps(method)
    def wrapper(self: S, *args: P.args, **kw: P.kwargs) -> R | None:
        if not self.is_attached:
            return None
        try:
            return method(self, *args, **kw)
        except NoMatches:
            return None

    return wrapper
