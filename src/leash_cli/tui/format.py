"""Pure helpers of the TUI: cell formatting, chat extraction, curl, JSON."""

from __future__ import annotations

import shlex
import time
from typing import Any

import orjson

from leash_cli.money import usd
from leash_cli.store import clean_headers, mask_credentials

__all__ = [
    "fmt_time",
    "fmt_ms",
    "fmt_tokens",
    "fmt_cost",
    "fmt_usd",
    "verdict_label",
    "pretty_json",
    "chat_messages",
    "as_curl",
    "REPLAY_DROP_HEADERS",
]

#: headers never re-sent (hop-by-hop, computed by the client, or leash's own)
REPLAY_DROP_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
        "accept-encoding",
    }
)


def _epoch(iso: str) -> float:
    # "2025-05-01T12:00:00.123Z"
    import calendar

    base = calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))
    frac = iso[19:].rstrip("Z")
    return base + (float(frac) if frac.startswith(".") and len(frac) > 1 else 0.0)


def fmt_time(iso: str | None, now: float) -> str:
    """``HH:MM:SS.mmm`` today (UTC), else ``MM-DD HH:MM``."""
    if not iso:
        return "-"
    if iso[:10] == time.strftime("%Y-%m-%d", time.gmtime(now)):
        return iso[11:23]
    return f"{iso[5:10]} {iso[11:16]}"


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "-"
    if ms >= 10_000:
        return f"{ms / 1000:.1f}s"
    if ms >= 1000:
        return f"{ms / 1000:.2f}s"
    if ms >= 10:
        return f"{ms:.0f}ms"
    return f"{ms:.1f}ms"


def fmt_count(n: int | float | None) -> str:
    if n is None:
        return "-"
    n = float(n)
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return f"{n:.0f}"


def fmt_tokens(inp: int | None, out: int | None) -> str:
    if inp is None and out is None:
        return "-"
    return f"{fmt_count(inp)}/{fmt_count(out)}"


def fmt_usd(v: float | None) -> str:
    """Whole dollars from $100, cents from a cent (more below $1 when needed: $0.015), four decimals
    below a cent and more when the amount needs them ($0.00002, never $0.0000)."""
    if v is None:
        return "-"
    if abs(v) >= 100:
        return usd(v, decimals=0)
    if abs(v) < 0.01:
        return usd(v, decimals=4, sig=1)
    return usd(v)


def fmt_cost(v: float | None) -> str:
    """A stored ``cost_usd``: NULL means unpriced (never zero)."""
    return "unpriced" if v is None else fmt_usd(v)


def verdict_label(v: str | None) -> str:
    return (v or "allowed").replace("_", "-")


def pretty_json(text: Any) -> str:
    """Pretty-print JSON text (or a parsed value); other text comes back as it is."""
    if text is None:
        return ""
    if isinstance(text, (dict, list)):
        return orjson.dumps(text, option=orjson.OPT_INDENT_2, default=str).decode()
    try:
        return orjson.dumps(orjson.loads(text), option=orjson.OPT_INDENT_2).decode()
    except (orjson.JSONDecodeError, TypeError):
        return str(text)


def _loads(text: Any) -> Any:
    if isinstance(text, (dict, list)):
        return text
    if not text:
        return None
    try:
        return orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError):
        return None


def _content_text(content: Any) -> str:
    """Text of a message content in any of the three shapes (str, parts, blocks)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    out: list[str] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                kind = part.get("type")
                if "text" in part and isinstance(part["text"], str):
                    out.append(part["text"])
                elif kind in ("image_url", "image", "input_image") or "inlineData" in part or "inline_data" in part:
                    out.append("[image]")
                elif kind == "tool_use" or "functionCall" in part:
                    call = part.get("functionCall") or part
                    args = call.get("input", call.get("args"))
                    out.append(
                        f"[tool call {call.get('name')}] {orjson.dumps(args).decode() if args is not None else ''}"
                    )
                elif kind == "tool_result" or "functionResponse" in part:
                    out.append(f"[tool result] {_content_text(part.get('content') or part.get('functionResponse'))}")
                elif kind:
                    out.append(f"[{kind}]")
    return "\n".join(s for s in out if s)


def chat_messages(body: Any) -> list[tuple[str, str]]:
    """(role, text) for an OpenAI (chat or responses), Anthropic or Gemini request body."""
    data = _loads(body)
    if not isinstance(data, dict):
        return []
    out: list[tuple[str, str]] = []
    # Anthropic system / OpenAI Responses instructions / Gemini systemInstruction
    system = data.get("system")
    if system:
        out.append(("system", _content_text(system)))
    if isinstance(data.get("instructions"), str):
        out.append(("system", data["instructions"]))
    si = data.get("systemInstruction") or data.get("system_instruction")
    if isinstance(si, dict):
        out.append(("system", _content_text(si.get("parts"))))
    if isinstance(data.get("messages"), list):
        for m in data["messages"]:
            if isinstance(m, dict):
                text = _content_text(m.get("content"))
                if m.get("tool_calls"):
                    calls = [
                        f"[tool call {c.get('function', {}).get('name')}] {c.get('function', {}).get('arguments', '')}"
                        for c in m["tool_calls"]
                        if isinstance(c, dict)
                    ]
                    text = "\n".join([text, *calls]).strip()
                out.append((str(m.get("role", "?")), text))
    elif isinstance(data.get("contents"), list):
        for c in data["contents"]:
            if isinstance(c, dict):
                out.append((str(c.get("role", "user")), _content_text(c.get("parts"))))
            elif isinstance(c, str):
                out.append(("user", c))
    elif "input" in data:
        inp = data["input"]
        if isinstance(inp, str):
            out.append(("user", inp))
        elif isinstance(inp, list):
            for m in inp:
                if isinstance(m, dict) and "role" in m:
                    out.append((str(m["role"]), _content_text(m.get("content"))))
                elif isinstance(m, str):
                    out.append(("user", m))
    return out


def replay_headers(stored: dict[str, Any] | None) -> dict[str, str]:
    """The stored request headers fit to re-send: credentials, hop-by-hop and leash's own removed."""
    out: dict[str, str] = {}
    for k, v in clean_headers({str(k): str(v) for k, v in (stored or {}).items()}).items():
        lk = k.lower()
        if lk in REPLAY_DROP_HEADERS or (lk.startswith("x-leash-") and lk != "x-leash-tenant"):
            continue
        out[lk] = v
    return out


def request_url(base: str | None, row: dict[str, Any]) -> str:
    base = (base or "http://127.0.0.1:8080").rstrip("/")
    url = f"{base}/v1/{row.get('provider') or ''}/{row.get('path') or ''}"
    if row.get("query"):
        url += "?" + row["query"]
    return url


def as_curl(row: dict[str, Any], base: str | None) -> str:
    """The stored request as a curl command through the gateway (no credentials: add your own)."""
    parts = ["curl", "-X", row.get("method") or "POST", shlex.quote(request_url(base, row))]
    for k, v in replay_headers(
        row.get("request_headers")
        if isinstance(row.get("request_headers"), dict)
        else _loads(row.get("request_headers"))
    ).items():
        parts += ["-H", shlex.quote(f"{k}: {v}")]
    body = row.get("request_body")
    if body:
        parts += ["--data-raw", shlex.quote(mask_credentials(body))]
    return " \\\n  ".join(_group(parts))


def _group(parts: list[str]) -> list[str]:
    """['curl', '-X', 'POST', url, '-H', h, ...] -> one flag and its value per line."""
    lines = [" ".join(parts[:4])]
    i = 4
    while i < len(parts):
        lines.append(f"{parts[i]} {parts[i + 1]}")
        i += 2
    return lines
