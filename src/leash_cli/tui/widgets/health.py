"""The health strip: gateway up/down and the last minute of traffic (one line)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from leash_cli.tui.format import fmt_ms
from leash_cli.tui.source import Health


@dataclass(frozen=True, slots=True)
class HealthState:
    gateway: str  # "up", "down", "unknown"
    stats: Health | None
    url: str | None = None
    #: (provider, deployment, breaker state) of every deployment whose breaker is not closed,
    #: from the gateway's ``GET /health``
    breakers: tuple[tuple[str, str, str], ...] = ()
    deployments: int = 0  # deployments the gateway reported


def breakers_of(payload: object) -> tuple[tuple[tuple[str, str, str], ...], int]:
    """The deployments whose circuit breaker is open or half-open, and how many there are,
    from a ``/health`` body (anything unexpected in it counts as none)."""
    out: list[tuple[str, str, str]] = []
    n = 0
    providers = payload.get("providers") if isinstance(payload, dict) else None
    if not isinstance(providers, dict):
        return (), 0
    for pname, p in providers.items():
        deps = p.get("deployments") if isinstance(p, dict) else None
        if not isinstance(deps, dict):
            continue
        for dname, d in deps.items():
            n += 1
            state = d.get("state") if isinstance(d, dict) else None
            if state in ("open", "half-open"):
                out.append((str(pname), str(dname), state))
    return tuple(out), n


class HealthStrip(Static):
    """Shows the app's ``health`` reactive; its parts are styled by classes in leash.tcss."""

    DEFAULT_CSS = """
    HealthStrip { height: 1; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "health", self.show, init=True)

    def show(self, state: HealthState | None) -> None:
        self.remove_class("-up", "-down", "-unknown")
        if state is None:
            self.update("leash")
            return
        self.add_class(f"-{state.gateway}")
        t = Text()
        label = {"up": "● gateway up", "down": "✖ gateway DOWN", "unknown": "○ gateway ?"}[state.gateway]
        t.append(label)
        h = state.stats
        if h is not None:
            t.append(
                f"  │ {h.rps:.1f} req/s  err {h.error_rate * 100:.0f}%  "
                f"p50 {fmt_ms(h.p50_latency_ms)}  p95 {fmt_ms(h.p95_latency_ms)}  "
                f"leash p50 {fmt_ms(h.p50_overhead_ms)}  p95 {fmt_ms(h.p95_overhead_ms)}  (last min)"
            )
        if state.breakers:
            t.append("  │ ")
            t.append(
                "breaker " + ", ".join(f"{p}/{d} {s}" for p, d, s in state.breakers),
                style="bold red" if any(s == "open" for _, _, s in state.breakers) else "bold yellow",
            )
        self.update(t)
