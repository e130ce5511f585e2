"""Replay: re-send a stored request through the running gateway over HTTP.

The TUI never imports the proxy; it speaks to ``leash up`` like any client.
The user's key is not stored, so the request carries the key given with
``--key`` / ``LEASH_REPLAY_KEY`` (in the header the provider kind expects), or
none (the ``mock`` provider needs none; a gateway-side key also works).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from leash_cli.dialects import for_api, for_provider
from leash_cli.tui.format import replay_headers, request_url

__all__ = ["ReplayRequest", "ReplayResult", "build_replay", "send_replay"]


@dataclass(slots=True)
class ReplayRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


@dataclass(slots=True)
class ReplayResult:
    status: int | None
    request_id: str | None
    body: str
    error: str | None = None


def build_replay(
    row: dict[str, Any],
    base_url: str,
    *,
    provider: str | None = None,
    model: str | None = None,
    key: str | None = None,
) -> ReplayRequest:
    """The HTTP request that replays ``row`` (a full exchange), optionally to another provider/model."""
    target = dict(row)
    if provider:
        target["provider"] = provider
    path = target.get("path") or ""
    body = target.get("request_body")
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if model and model != row.get("model"):
        path = for_provider(row.get("kind"), path).path_with_model(path, model)  # (Gemini names it in the path)
        if raw:
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                data = None
            if isinstance(data, dict) and "model" in data:
                data["model"] = model
                raw = orjson.dumps(data)
    target["path"] = path
    headers = replay_headers(
        row.get("request_headers") if isinstance(row.get("request_headers"), dict) else None
    )
    headers["x-leash-replay-of"] = str(row.get("id"))
    if raw and "content-type" not in headers:
        headers["content-type"] = "application/json"
    if key:
        name, value = for_api(row.get("kind")).auth_header(key)  # the header the provider kind's SDK uses
        headers[name] = value
    return ReplayRequest(target.get("method") or "POST", request_url(base_url, target), headers, raw or None)


def send_replay(req: ReplayRequest, *, timeout: float = 120.0, transport: httpx.BaseTransport | None = None) -> ReplayResult:
    """Send it (blocking; run it in a worker).  Network errors come back in ``error``."""
    try:
        with httpx.Client(timeout=timeout, transport=transport, trust_env=False) as client:
            resp = client.request(req.method, req.url, headers=req.headers, content=req.body)
            return ReplayResult(resp.status_code, resp.headers.get("x-leash-request-id"), resp.text)
    except httpx.HTTPError as e:
        return ReplayResult(None, None, "", f"{type(e).__name__}: {e}")
