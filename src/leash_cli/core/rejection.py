"""Rejections: leash answering the client itself, in the calling provider's own error shape.

A :class:`Rejection` is what admission, a module's block or a failed upstream
call decide; :func:`reject` writes it onto the exchange (status, outcome,
error, the body as recorded) and gives the adapter the body and headers to
send.  The messages of the core's own rejections live here, so the local
proxy and the ext_proc host cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from leash_cli.errors import error_body
from leash_cli.exchange import Exchange
from leash_cli.pipeline import Block

JSON_CONTENT_TYPE = "application/json"


@dataclass(slots=True, frozen=True)
class Rejection:
    status: int
    code: str
    message: str
    headers: dict[str, str] | None = None  # extra response headers (a module's retry-after, ...)
    outcome: str = "error"  # the exchange's outcome when it was still "ok"
    block: Block | None = None  # set when a module decided it
    api: str | None = None  # the error shape to answer in, when not the call's (a vertex project check)

    @classmethod
    def of_block(cls, block: Block) -> Rejection:
        return cls(block.status, block.code, block.message, block.headers, "blocked", block)


def reject(ex: Exchange, rej: Rejection) -> tuple[bytes, dict[str, str]]:
    """End `ex` with `rej`: the body (the provider's error shape) and headers to send (leash's own not included)."""
    body = error_body(rej.api or ex.api, rej.status, rej.message, rej.code)
    ex.status = rej.status
    if ex.outcome == "ok":
        ex.outcome = rej.outcome
    ex.error = ex.error or f"{rej.code}: {rej.message}"
    ex.response_body = body
    headers = {"content-type": JSON_CONTENT_TYPE, **ex.dialect.error_headers(rej.status, rej.code)}
    if rej.headers:
        for k, v in rej.headers.items():
            headers[k.lower()] = str(v)
    ex.response_headers = dict(headers)
    return body, headers


# -- the core's own rejections -------------------------------------------------------------


def invalid_api_key(why: str) -> Rejection:
    return Rejection(401, "invalid_api_key", why)


def no_gateway_key(provider: str) -> Rejection:
    return Rejection(
        403,
        "no_gateway_key",
        f"provider {provider!r} holds no api_key on the gateway, so leash keys cannot be used with it",
    )


VIRTUAL_KEY_REQUIRED = Rejection(
    401,
    "virtual_key_required",
    "this gateway requires a leash key (lk-...) in place of the provider key; "
    "ask its operator for one (`leash keys create`)",
)

HISTORY_UNAVAILABLE = Rejection(
    503,
    "history_unavailable",
    "the gateway cannot write its audit history, so it refuses traffic (storage.on_error: block)",
)


def unknown_provider(name: str, configured: list[str]) -> Rejection:
    names = ", ".join(sorted(configured)) or "(none)"
    return Rejection(404, "unknown_provider", f"unknown provider {name!r}; configured providers: {names}")


def mock_not_routed(name: str) -> Rejection:
    return Rejection(501, "mock_not_routed", f"provider {name!r} is a mock; it is not served behind Envoy")


def too_large(limit: int, declared: str | None = None) -> Rejection:
    if declared is not None:
        return Rejection(
            413, "request_too_large", f"request body of {declared} bytes exceeds the limit of {limit} bytes"
        )
    return Rejection(413, "request_too_large", f"request body exceeds the limit of {limit} bytes")


def headers_too_large(size: int, limit: int) -> Rejection:
    return Rejection(
        431,
        "headers_too_large",
        f"request headers of {size} bytes exceed the limit of {limit} bytes (gateway.max_header_bytes)",
    )


def invalid_json(error: str) -> Rejection:
    return Rejection(400, "invalid_json", f"request body is not valid JSON: {error}")


INTERNAL_ERROR = Rejection(500, "internal_error", "leash internal error")


def upstream_timeout(provider: str, error: BaseException | None = None, started: bool = False) -> Rejection:
    what = "stopped sending its response" if started else "did not answer in time"
    return Rejection(
        504, "upstream_timeout", f"provider {provider!r} {what}{_because(error)}", outcome="upstream_error"
    )


def upstream_unreachable(provider: str, error: BaseException, connect: bool) -> Rejection:
    what = "cannot reach" if connect else "lost the connection to"
    return Rejection(
        502, "upstream_unreachable", f"{what} provider {provider!r}{_because(error)}", outcome="upstream_error"
    )


def upstream_reset(provider: str, error: BaseException) -> Rejection:
    return Rejection(
        502,
        "upstream_reset",
        f"provider {provider!r} broke off its response{_because(error)}",
        outcome="upstream_error",
    )


def upstream_not_resent(provider: str) -> Rejection:
    """The connection dropped after the request was written, before any answer (RFC 9110 §9.2.2)."""
    return Rejection(
        502,
        "upstream_reset",
        f"provider {provider!r} closed the connection after the request was "
        "sent, before answering; not resent, since it may have been processed",
        outcome="upstream_error",
    )


def upstream_too_large(provider: str, error: BaseException) -> Rejection:
    return Rejection(
        502,
        "upstream_response_too_large",
        f"provider {provider!r} sent a response over a limit{_because(error)}",
        outcome="upstream_error",
    )


def upstream_unavailable(provider: str, retry_after: float) -> Rejection:
    """Every deployment of the provider and of its fallbacks is open or cooling down."""
    secs = str(max(int(retry_after), 1))
    return Rejection(
        503,
        "upstream_unavailable",
        f"provider {provider!r} is unavailable: every deployment and fallback has an open circuit "
        f"breaker or is cooling down; retry in {secs}s",
        headers={"retry-after": secs},
        outcome="upstream_error",
    )


def upstream_cause(error: BaseException) -> str:
    """What went wrong toward the provider, as the transport said it (host, port, the OS's reason),
    credential-looking strings masked and the length bounded; never the request itself."""
    text = str(error).strip() or type(error).__name__
    from leash_cli.store import mask_credentials  # a failed upstream call is rare: no import on the hot path

    text = mask_credentials(text)
    return text if len(text) <= _CAUSE_MAX else text[:_CAUSE_MAX] + "..."


_CAUSE_MAX = 300


def _because(error: BaseException | None) -> str:
    return "" if error is None else f": {upstream_cause(error)}"
