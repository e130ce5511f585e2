"""Decisions are data: what a module says about an exchange.

    allow()                          nothing to say
    block(message, status=403, ...)  answer the client instead of the upstream
    redact(body=..., violations=...) replace the body (request or response)
    annotate(**values)               attach values to the exchange (and findings)

A module returns one of these (or None, which means allow).  The pipeline
applies it; a module never raises to say no.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leash_cli.exchange import Violation


@dataclass(slots=True)
class Decision:
    action: str = "allow"  # allow | block | redact | annotate
    status: int = 403
    code: str = "policy_violation"
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # the new JSON body (request: before upstream; response: to the client)
    text: str | None = None  # the new text of a streamed chunk
    violations: list[Violation] = field(default_factory=list)
    annotations: dict[str, Any] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)  # added to the client's response

    @property
    def blocks(self) -> bool:
        return self.action == "block"


def allow(**annotations: Any) -> Decision:
    return Decision("allow", annotations=annotations)


def block(
    message: str,
    *,
    status: int = 403,
    code: str = "policy_violation",
    retry_after: float | None = None,
    violations: list[Violation] | None = None,
    headers: dict[str, str] | None = None,
) -> Decision:
    h = dict(headers or {})
    if retry_after is not None:
        h["retry-after"] = str(max(1, int(retry_after + 0.999)))
    return Decision("block", status=status, code=code, message=message, headers=h, violations=violations or [])


def redact(body: Any = None, *, text: str | None = None, violations: list[Violation] | None = None) -> Decision:
    return Decision("redact", body=body, text=text, violations=violations or [])


def annotate(violations: list[Violation] | None = None, **annotations: Any) -> Decision:
    return Decision("annotate", violations=violations or [], annotations=annotations)
