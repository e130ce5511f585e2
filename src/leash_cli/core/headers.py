"""The headers leash adds to every answer it gives or passes on, and the overhead clock behind one of them.

x-leash-request-id    the exchange's id (the history's key)
x-leash-overhead-ms   leash's own time on this request: wall time minus the time spent
                      waiting on the provider
(and whatever headers modules asked for, e.g. rate-limit headers)
"""

from __future__ import annotations

from leash_cli.exchange import Exchange

REQUEST_ID = b"x-leash-request-id"
OVERHEAD_MS = b"x-leash-overhead-ms"


def overhead(ex: Exchange, now: float, waited: float | None = None) -> float:
    """Seconds leash itself spent on `ex` up to `now`: `waited` (default: the upstream time so far) excluded."""
    if waited is None:
        waited = ex.upstream_seconds or 0.0
    ov = now - ex.t_start - waited
    return ov if ov > 0.0 else 0.0


def leash_headers(ex: Exchange, seconds: float, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Append leash's headers to `headers` (wire form, lower-case names) and return it.

    Headers modules asked for (``ex.annotations["response_headers"]``) are added unless
    the answer already carries one of that name."""
    extra = ex.annotations.get("response_headers")
    if extra:
        present = {k for k, _ in headers}
        for k, v in extra.items():
            name = str(k).lower().encode("latin-1")
            if name not in present:
                headers.append((name, str(v).encode("latin-1")))
    headers.append((REQUEST_ID, ex.id.encode()))
    headers.append((OVERHEAD_MS, f"{seconds * 1000:.3f}".encode()))
    return headers
