"""Anthropic Messages (``v1/messages``, ``v1/messages/count_tokens``).

Texts: ``system`` (string or blocks), ``messages[].content`` (string or blocks: ``text``,
``tool_use`` / ``server_tool_use`` / ``mcp_tool_use`` input leaves as tool calls, ``tool_result``
/ ``mcp_tool_result`` content (text, documents, search results, a browser tool's
``browser_state``: tab titles and URLs, downloads) and server tools' results as tool results,
``document`` text sources, titles and context, ``search_result`` blocks, ``thinking``).

Usage: ``usage.input_tokens`` excludes the cache parts, which are added back
(``cache_read_input_tokens``, ``cache_creation_input_tokens``); no separate reasoning count.
Streams: named events ``message_start`` (input usage), ``content_block_delta`` (``text_delta``,
``thinking_delta``, ``input_json_delta``), cumulative ``message_delta`` usage, ``message_stop``;
an error mid-stream is ``event: error``.

Errors: ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from leash_cli.dialects.base import (
    BodyUnreadable,
    Dialect,
    Encoded,
    Path,
    StreamState,
    Text,
    Usage,
    as_int,
    cached_usage,
    cap_max_tokens,
    error_type,
    leaves,
    row_fields,
    text_document,
    tool_descriptions,
)

__all__ = ["DIALECT", "Anthropic", "usage_of"]

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
}

_DELTA_KEYS = (("text", "text"), ("thinking", "text"), ("partial_json", "tool_call"))


class Anthropic(Dialect):
    name: ClassVar[str] = "anthropic"
    operations: ClassVar[tuple[tuple[str, str], ...]] = (("messages", "chat"), ("complete", "text_completion"))
    key_header: ClassVar[str] = "x-api-key"
    key_prefix: ClassVar[str] = ""
    path_prefixes: ClassVar[tuple[str, ...]] = ("v1/",)
    pricing_id: ClassVar[str | None] = "anthropic"

    # -- request --------------------------------------------------------------------
    def request_texts(self, body: Any) -> list[Text]:
        if not isinstance(body, dict):
            return []
        out: list[Text] = []
        system = body.get("system")
        if isinstance(system, str):
            out.append(Text("system", system, ("system",)))
        elif isinstance(system, list):
            _blocks(system, ("system",), "system", out)
        messages = body.get("messages")
        if messages:
            for i, msg in enumerate(messages):
                if not isinstance(msg, dict):
                    continue
                role = str(msg.get("role") or "user")
                content = msg.get("content")
                if isinstance(content, str):
                    out.append(Text(role, content, ("messages", i, "content")))
                elif isinstance(content, list):
                    _blocks(content, ("messages", i, "content"), role, out)
        tool_descriptions(body, out)
        return out

    def cap_output_tokens(self, body: dict[str, Any], rest: str, cap: int) -> bool:
        return cap_max_tokens(body, rest, cap)

    def hidden_inputs(self, body: Any) -> list[str]:
        """Content blocks whose source is an uploaded file (``source.type: file``), and a ``container``
        (its files are read by the code execution tool)."""
        if not isinstance(body, dict):
            return []
        out = ["container"] if body.get("container") else []
        msgs = body.get("messages")
        for i, m in enumerate(msgs if isinstance(msgs, list) else ()):
            content = m.get("content") if isinstance(m, dict) else None
            for j, b in enumerate(content if isinstance(content, list) else ()):
                src = b.get("source") if isinstance(b, dict) else None
                if isinstance(src, dict) and src.get("type") == "file":
                    out.append(f"messages.{i}.content.{j}")
        return out

    def build_request(
        self, model: str, turns: list[dict[str, Any]], system: str | None, stream: bool
    ) -> tuple[str, str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": 256,
            "messages": [{"role": t.get("role", "user"), "content": t.get("content", "")} for t in turns],
        }
        if system is not None:
            body["system"] = system
        if stream:
            body["stream"] = True
        return "v1/messages", "", body

    # -- response -------------------------------------------------------------------
    def _response_texts(self, body: dict[str, Any], out: list[Text]) -> None:
        content = body.get("content")
        if isinstance(content, list):
            _blocks(content, ("content",), "assistant", out)

    def usage(self, obj: Any) -> Usage | None:
        if not isinstance(obj, dict):
            return None
        u = obj.get("usage")
        if not isinstance(u, dict):
            resp = obj.get("response")
            u = resp.get("usage") if isinstance(resp, dict) else None
            if not isinstance(u, dict):
                return None
        return usage_of(u)

    def body_text(self, obj: dict[str, Any]) -> list[str] | None:
        content = obj.get("content")
        if not isinstance(content, list):
            return None
        return [
            "".join(
                c["text"]
                for c in content
                if isinstance(c, dict) and c.get("type") == "text" and isinstance(c.get("text"), str)
            )
        ]

    # -- stream ----------------------------------------------------------------------
    def stream_end(self, raw: bytes) -> bool:
        return self.parse_event(raw)[0] == "message_stop"

    def track_event(self, state: StreamState, obj: dict[str, Any]) -> bool:
        ex = state.ex
        typ = obj.get("type")
        if typ == "content_block_delta":
            d = obj.get("delta")
            if isinstance(d, dict) and d.get("type") == "text_delta" and isinstance(d.get("text"), str):
                state.text_seen(d["text"])
        elif typ == "message_start":
            msg = obj.get("message")
            if isinstance(msg, dict):
                u = msg.get("usage")
                if isinstance(u, dict):
                    ex.usage.merge(usage_of(u))
                if ex.model is None:
                    ex.model = self.response_model(msg)
        elif typ == "message_delta":
            u = obj.get("usage")
            if isinstance(u, dict):
                # cumulative: output_tokens always; the input counts only when present
                delta = Usage(output_tokens=as_int(u.get("output_tokens")))
                if u.get("input_tokens") is not None:
                    delta = usage_of(u)
                ex.usage.merge(delta)
        return True

    def stream_texts(self, event: Any) -> list[Text]:
        out: list[Text] = []
        if not isinstance(event, dict):
            return out
        d = event.get("delta")
        if event.get("type") == "content_block_delta" and isinstance(d, dict):
            for key, kind in _DELTA_KEYS:
                if isinstance(d.get(key), str):
                    out.append(Text("assistant", d[key], ("delta", key), kind))
        return out

    def stream_key(self, event: dict[str, Any], t: Text) -> tuple[Any, ...]:
        return ("a", event.get("index"), t.path[-1])

    # -- errors -----------------------------------------------------------------------
    def error_body(self, status: int, message: str, code: str | None = None) -> bytes:
        return orjson.dumps({"type": "error", "error": {"type": error_type(ERROR_TYPES, status), "message": message}})

    def error_event(self, body: bytes) -> bytes:
        return b"event: error\ndata: " + body + b"\n\n"


def usage_of(u: dict[str, Any]) -> Usage:
    """An Anthropic ``usage`` object: input_tokens excludes the cache parts, they are added back."""
    return cached_usage(
        as_int(u.get("input_tokens")),
        as_int(u.get("cache_read_input_tokens")),
        as_int(u.get("cache_creation_input_tokens")),
        as_int(u.get("output_tokens")),
    )


#: blocks whose ``input`` the model wrote: a client tool's, a server tool's, an MCP server's
_TOOL_USES = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


#: how deep blocks may nest in blocks (a tool result's document's content is three): the API takes far
#: less, and a body nested deeper is refused here rather than read by a recursion Python cannot finish
MAX_BLOCK_DEPTH = 32


def _blocks(blocks: list[Any], base: Path, role: str, out: list[Text], kind: str = "text", depth: int = 0) -> None:
    """Content blocks (request messages, the system prompt, a response's content); a text block
    counts as `kind` (a tool result's, a document's)."""
    for j, b in enumerate(blocks):
        if isinstance(b, dict):
            _block(b, (*base, j), role, out, kind, depth)


def _block(b: dict[str, Any], at: Path, role: str, out: list[Text], kind: str = "text", depth: int = 0) -> None:
    if depth > MAX_BLOCK_DEPTH:
        raise BodyUnreadable(f"content blocks nested more than {MAX_BLOCK_DEPTH} deep at {'.'.join(map(str, at))}")
    t = b.get("type")
    if isinstance(b.get("text"), str):
        out.append(Text(role, b["text"], (*at, "text"), kind))
    elif t == "document":
        src = b.get("source")
        if isinstance(src, dict) and src.get("type") == "text" and isinstance(src.get("data"), str):
            out.append(Text(role, src["data"], (*at, "source", "data"), "document"))
        elif isinstance(src, dict) and src.get("type") == "base64":
            doc = text_document(src.get("data"), src.get("media_type"))
            if doc is not None:
                out.append(Text(role, doc[0], (*at, "source", "data", Encoded(doc[1])), "document"))
        elif isinstance(src, dict) and src.get("type") == "content" and isinstance(src.get("content"), list):
            _blocks(src["content"], (*at, "source", "content"), role, out, "document", depth + 1)
        for key in ("title", "context"):
            if isinstance(b.get(key), str):
                out.append(Text(role, b[key], (*at, key), "document"))
    elif t == "search_result":  # {"source", "title", "content": [text blocks]}
        if isinstance(b.get("content"), list):
            _blocks(b["content"], (*at, "content"), role, out, "document", depth + 1)
        for key in ("title", "source"):
            if isinstance(b.get(key), str):
                out.append(Text(role, b[key], (*at, key), "document"))
    elif t in _TOOL_USES:
        for path, s in leaves(b.get("input"), (*at, "input")):
            out.append(Text(role, s, path, "tool_call"))
    elif t in ("tool_result", "mcp_tool_result"):
        c = b.get("content")
        if isinstance(c, str):
            out.append(Text("tool", c, (*at, "content"), "tool_result"))
        elif isinstance(c, list):  # text, documents, search results (images: no text)
            _blocks(c, (*at, "content"), "tool", out, "tool_result", depth + 1)
    elif t == "browser_state":  # in a browser tool's result: the model reads its tabs' titles and URLs
        _browser_state(b, at, role, out, kind)
    elif isinstance(t, str) and t.endswith("_tool_result"):  # a server tool's result, sent back
        _server_result(b.get("content"), (*at, "content"), out, depth + 1)
    elif t == "thinking" and isinstance(b.get("thinking"), str):
        out.append(Text(role, b["thinking"], (*at, "thinking"), kind))


#: what the model is shown of a ``browser_state`` block: each tab's and each state change's fields
_BROWSER_STATE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tabs", ("title", "url")),
    ("state_changes", ("url", "path", "error")),
)


def _browser_state(b: dict[str, Any], at: Path, role: str, out: list[Text], kind: str) -> None:
    """The browser's state after a browser tool call: open tabs (``title``, ``url``: a page's title
    is the page author's text) and downloads (``url``, ``path``, ``error``)."""
    row_fields(b, _BROWSER_STATE, at, role, kind, out)


def _server_result(c: Any, at: Path, out: list[Text], depth: int) -> None:
    """A server tool's result (``web_search_tool_result``, ``web_fetch_tool_result``,
    ``code_execution_tool_result``, ``bash_...``, ``text_editor_...``): page titles, a fetched
    document, a command's output, a file's text."""
    if isinstance(c, list):  # web search results: {"title", "url", "encrypted_content"}
        for k, r in enumerate(c):
            if isinstance(r, dict):
                if isinstance(r.get("title"), str):
                    out.append(Text("tool", r["title"], (*at, k, "title"), "tool_result"))
                else:
                    _block(r, (*at, k), "tool", out, "tool_result", depth)
    elif isinstance(c, dict):
        for key in ("stdout", "stderr", "content"):
            v = c.get(key)
            if isinstance(v, str):
                out.append(Text("tool", v, (*at, key), "tool_result"))
            elif isinstance(v, dict):  # a fetched page: a document block
                _block(v, (*at, key), "tool", out, "tool_result", depth)
        lines = c.get("lines")  # a text editor's str_replace result
        for k, line in enumerate(lines if isinstance(lines, list) else ()):
            if isinstance(line, str):
                out.append(Text("tool", line, (*at, "lines", k), "tool_result"))


DIALECT = Anthropic()
