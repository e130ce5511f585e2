"""Money as people read it: US dollars with the precision the amount needs.

A nonzero amount never shows as ``$0.00``: below a cent as many decimals are
shown as it takes to give ``sig`` significant digits (``$0.00002``, ``$0.0073``);
from a cent up, ``decimals`` decimals (``$12.35``).  A configured amount (a
budget limit) is shown exactly as written (``usd_exact(0.015)`` -> ``$0.015``).
"""

from __future__ import annotations

import math

MAX_DECIMALS = 12


def amount(v: float, *, decimals: int = 2, sig: int = 2) -> str:
    """`v` with at least `decimals` decimals and, below 1, at least `sig` significant digits (no ``$``)."""
    a = abs(v)
    d = decimals
    if 0 < a < 1:
        d = max(decimals, sig - 1 - math.floor(math.log10(a)))
    d = min(d, MAX_DECIMALS)
    text = f"{a:,.{d}f}"
    if d > decimals:  # the digits past `decimals` were for significance: no trailing zeros
        whole, _, frac = text.partition(".")
        text = whole + "." + (frac.rstrip("0").ljust(decimals, "0"))
    return ("-" if v < 0 and float(text.replace(",", "")) != 0 else "") + text


def usd(v: float, *, decimals: int = 2, sig: int = 2) -> str:
    """``$12.35``, ``$0.0073``, ``$0.00002``; zero is ``$0``."""
    if v == 0:
        return "$0"
    text = amount(v, decimals=decimals, sig=sig)
    if float(text.replace(",", "")) == 0:  # below what MAX_DECIMALS can show
        return ("-" if v < 0 else "") + "<$0." + "0" * (MAX_DECIMALS - 1) + "1"
    return ("-$" + text[1:]) if text.startswith("-") else "$" + text


def usd_exact(v: float) -> str:
    """A configured amount as written, at least to the cent: ``$0.00002``, ``$0.015``, ``$100.00``."""
    text = repr(float(v))
    if "e" in text or "E" in text:  # 2e-05
        text = f"{float(v):.{MAX_DECIMALS}f}".rstrip("0")
    decimals = len(text.partition(".")[2])
    return usd(v, decimals=max(2, min(decimals, MAX_DECIMALS)), sig=1) if v else "$0"
