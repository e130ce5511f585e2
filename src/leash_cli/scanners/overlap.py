"""Overlap resolution for candidate spans, in O(n log n) (a sorted sweep).

A scanner produces candidates ``(type, start, end, score)`` that may overlap
(a card number inside an IBAN-shaped run, a phone inside a longer number ...).
The rule is greedy by rank: the best-ranked candidate is kept, every candidate
overlapping a kept one is dropped, and so on down the ranking.

Done naively (compare each candidate with every kept span) that is quadratic:
a 512 KiB prompt of IBAN-shaped numbers holds ~20k candidates, 200 M
comparisons, ~10 s.  Here one sweep over the candidates sorted by start cuts
them into *clusters* (maximal groups chained by overlaps).  Spans of different
clusters never overlap, so the greedy rule gives the same answer cluster by
cluster; almost every cluster has one member and is taken as is.  Inside a
larger cluster the kept spans are held sorted and a candidate is checked
against its two neighbours only (bisect), so a cluster of k costs
O(k log k) comparisons plus list inserts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence

Cand = tuple  # (type, start, end, score, ...)


def resolve(cands: Sequence[Cand], rank: Callable[[Cand], tuple]) -> list[Cand]:
    """The candidates kept by the greedy rule (lowest ``rank`` first wins), in start order.

    Identical to: ``for c in sorted(cands, key=rank): keep c unless it overlaps a kept one``
    (spans are half-open ``[start, end)``; ties in ``rank`` keep the input order)."""
    n = len(cands)
    if n <= 1:
        return list(cands)
    order = sorted(range(n), key=lambda i: (cands[i][1], cands[i][2]))
    out: list[Cand] = []
    i = 0
    while i < n:
        first = order[i]
        hi = cands[first][2]
        j = i + 1
        while j < n and cands[order[j]][1] < hi:
            e = cands[order[j]][2]
            hi = max(hi, e)
            j += 1
        if j == i + 1:
            out.append(cands[first])
        else:
            out.extend(_greedy([cands[k] for k in sorted(order[i:j])], rank))
        i = j
    return out


def _greedy(group: list[Cand], rank: Callable[[Cand], tuple]) -> list[Cand]:
    starts: list[int] = []
    kept: list[Cand] = []
    for c in sorted(group, key=rank):
        a, b = c[1], c[2]
        k = bisect_right(starts, a)
        if k > 0 and kept[k - 1][2] > a:
            continue
        if k < len(starts) and starts[k] < b:
            continue
        starts.insert(k, a)
        kept.insert(k, c)
    return kept
