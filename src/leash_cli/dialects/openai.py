"""OpenAI: Chat Completions, legacy Completions, the Responses API, Embeddings (and every
OpenAI-compatible server).

Texts: ``messages[].content`` (string or parts: ``text``, ``refusal``), a message's ``name`` and
``refusal``, tool calls' ``function.arguments`` and ``custom.input`` (and the legacy
``function_call``), ``role: tool`` (and the legacy ``role: function``) contents as tool results;
Completions ``prompt``; Responses ``instructions``, a stored prompt's ``variables`` and ``input``
(string or items with content parts, what tools were called with -- ``arguments`` (a string,
or an object's leaves), ``input``, ``code``, ``queries``, shell commands, a web search's query and
find-in-page pattern, a patch -- and what they gave back: ``output`` as a string or parts, MCP
errors, file search hits, code interpreter logs, shell output, the safety checks a computer call's
output acknowledges; reasoning ``summary``; the tools an item lists); tools' descriptions and
parameter and output schemas; Embeddings ``input``.  A redacted message ``name`` is written back
within the characters OpenAI allows there.

Usage: ``usage.prompt_tokens`` / ``completion_tokens`` with ``*_tokens_details`` (chat,
completions, embeddings) or ``input_tokens`` / ``output_tokens`` (Responses).  Chat streams
report usage only when asked with ``stream_options.include_usage``: :meth:`prepare_request`
asks on the client's behalf and the extra usage-only chunk is hidden from it.

Streams: unnamed ``data:`` events (chat chunks with ``choices[].delta``, ending in
``data: [DONE]``) or named Responses events (``response.output_text.delta``,
``response.function_call_arguments.delta``, ``*.done``, ``response.completed`` ...).

Errors: ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import orjson

from leash_cli.dialects.base import (
    Call,
    Dialect,
    Encoded,
    Path,
    StreamState,
    Text,
    Usage,
    as_int,
    cap_max_tokens,
    error_type,
    leaves,
    row_fields,
    set_at,
    text_document,
    tool_descriptions,
    tool_texts,
)

__all__ = [
    "DIALECT",
    "INCLUDE_USAGE_ANNOTATION",
    "OpenAI",
    "chat_message",
    "message_extras",
    "message_name",
    "usage_of",
]

#: set on an exchange whose stream leash asked for usage (the client did not)
INCLUDE_USAGE_ANNOTATION = "leash_include_usage"

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    504: "server_error",
}

_DONE_EVENTS = ("response.completed", "response.incomplete", "response.failed")


class OpenAI(Dialect):
    name: ClassVar[str] = "openai"
    operations: ClassVar[tuple[tuple[str, str], ...]] = (
        ("chat/completions", "chat"),
        ("completions", "text_completion"),
        ("embeddings", "embeddings"),
        ("responses", "chat"),
    )
    pricing_id: ClassVar[str | None] = "openai"

    # -- request --------------------------------------------------------------------
    def request_texts(self, body: Any) -> list[Text]:
        if not isinstance(body, dict):
            return []
        out: list[Text] = []
        messages = body.get("messages")
        if messages:
            for i, msg in enumerate(messages):
                if isinstance(msg, dict):
                    role = str(msg.get("role") or "user")
                    if role == "function":  # the legacy function result: a tool result by another name
                        role = "tool"
                    content = msg.get("content")
                    if len(msg) == 2 and isinstance(content, str) and "role" in msg:
                        # the common message, {"role", "content": str}: nothing else to look for
                        out.append(
                            Text(role, content, ("messages", i, "content"), "tool_result" if role == "tool" else "text")
                        )
                    else:
                        chat_message(msg, ("messages", i), role, out)
        instructions = body.get("instructions")
        if isinstance(instructions, str):
            out.append(Text("system", instructions, ("instructions",)))
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            out.append(Text("user", prompt, ("prompt",)))
        elif isinstance(prompt, list):
            for i, p in enumerate(prompt):
                if isinstance(p, str):
                    out.append(Text("user", p, ("prompt", i)))
        inp = body.get("input")
        if isinstance(inp, str):
            out.append(Text("user", inp, ("input",)))
        elif isinstance(inp, list):
            for i, item in enumerate(inp):
                if isinstance(item, str):
                    out.append(Text("user", item, ("input", i)))
                elif isinstance(item, dict):
                    _responses_item(item, ("input", i), str(item.get("role") or "user"), out)
        prompt_vars = prompt.get("variables") if isinstance(prompt, dict) else None
        if isinstance(prompt_vars, dict):  # a stored prompt's variables, filled into it
            for key, v in prompt_vars.items():
                vat = ("prompt", "variables", key)
                if isinstance(v, str):
                    out.append(Text("user", v, vat))
                elif isinstance(v, dict):  # an input_text, or an input_file sent inline
                    if isinstance(v.get("text"), str):
                        out.append(Text("user", v["text"], (*vat, "text")))
                    elif "file_data" in v:
                        _file(v, vat, "user", out)
        tool_descriptions(body, out)
        return out

    def prepare_request(self, ex: Call) -> None:
        """Ask a Chat Completions stream for its usage when the client did not; sets
        ``ex.annotations["leash_include_usage"]`` so the usage-only chunk is hidden again."""
        if not ex.stream or not ex.path.rstrip("/").endswith("chat/completions"):
            return
        if ex.annotations.get("leash_no_stream_usage"):  # the provider's `stream_usage: false`
            return
        body = ex.json()
        if not isinstance(body, dict):
            return
        opts = body.get("stream_options")
        if isinstance(opts, dict) and opts.get("include_usage") is True:
            return
        new_opts = dict(opts) if isinstance(opts, dict) else {}
        new_opts["include_usage"] = True
        new_body = dict(body)
        new_body["stream_options"] = new_opts
        ex.set_json(new_body)
        ex.annotations[INCLUDE_USAGE_ANNOTATION] = True

    def cap_output_tokens(self, body: dict[str, Any], rest: str, cap: int) -> bool:
        return cap_max_tokens(body, rest, cap)

    def write_text(self, body: Any, path: Path, value: str) -> None:
        """A redacted message ``name`` is written back as a valid name (see :func:`message_name`)."""
        if len(path) == 3 and path[2] == "name" and path[0] == "messages":
            value = message_name(value)
        set_at(body, path, value)

    def hidden_inputs(self, body: Any) -> list[str]:
        """The Responses API's ``previous_response_id``, ``conversation`` and stored ``prompt``;
        ``item_reference`` items; files by ``file_id`` (chat ``file`` parts, ``input_file``)."""
        if not isinstance(body, dict):
            return []
        out = [k for k in ("previous_response_id", "conversation") if body.get(k)]
        prompt = body.get("prompt")
        if isinstance(prompt, dict) and prompt.get("id"):
            out.append("prompt")
        for key in ("messages", "input"):
            items = body.get(key)
            for i, item in enumerate(items if isinstance(items, list) else ()):
                if not isinstance(item, dict):
                    continue
                if item.get("type") == "item_reference":
                    out.append(f"{key}.{i}")
                content = item.get("content")
                for j, part in enumerate(content if isinstance(content, list) else ()):
                    if isinstance(part, dict):
                        f = part.get("file")
                        if part.get("file_id") or (isinstance(f, dict) and f.get("file_id")):
                            out.append(f"{key}.{i}.content.{j}")
        return out

    def build_request(
        self, model: str, turns: list[dict[str, Any]], system: str | None, stream: bool
    ) -> tuple[str, str, dict[str, Any]]:
        msgs: list[dict[str, Any]] = [{"role": "system", "content": system}] if system is not None else []
        msgs += [{"role": t.get("role", "user"), "content": t.get("content", "")} for t in turns]
        body: dict[str, Any] = {"model": model, "messages": msgs}
        if stream:
            body["stream"] = True
        return "chat/completions", "", body

    # -- response -------------------------------------------------------------------
    def _response_texts(self, body: dict[str, Any], out: list[Text]) -> None:
        for ci, ch in enumerate(body.get("choices") or ()):
            if not isinstance(ch, dict):
                continue
            msg = ch.get("message")
            if isinstance(msg, dict):
                chat_message(msg, ("choices", ci, "message"), "assistant", out)
            elif isinstance(ch.get("text"), str):
                out.append(Text("assistant", ch["text"], ("choices", ci, "text")))
        for oi, item in enumerate(body.get("output") or ()):
            if isinstance(item, dict):
                _responses_item(item, ("output", oi), "assistant", out)

    def usage(self, obj: Any) -> Usage | None:
        if not isinstance(obj, dict):
            return None
        u = obj.get("usage")
        if not isinstance(u, dict):
            resp = obj.get("response")  # Responses API stream events carry the response
            u = resp.get("usage") if isinstance(resp, dict) else None
            if not isinstance(u, dict):
                return None
        return usage_of(u)

    def body_text(self, obj: dict[str, Any]) -> list[str] | None:
        choices = obj.get("choices")
        if isinstance(choices, list):
            parts: list[str] = []
            for ch in choices:
                if not isinstance(ch, dict):
                    continue
                msg = ch.get("message")
                if isinstance(msg, dict):
                    c = msg.get("content")
                    if isinstance(c, str):
                        parts.append(c)
                    elif isinstance(c, list):
                        for p in c:
                            if isinstance(p, str):
                                parts.append(p)
                            elif isinstance(p, dict) and isinstance(p.get("text"), str):
                                parts.append(p["text"])
                    elif isinstance(msg.get("refusal"), str):
                        parts.append(msg["refusal"])
                elif isinstance(ch.get("text"), str):  # legacy completions
                    parts.append(ch["text"])
            return ["\n".join(parts)]
        output = obj.get("output")
        if isinstance(output, list):  # Responses API
            if isinstance(obj.get("output_text"), str):
                return [obj["output_text"]]
            texts: list[str] = []
            for item in output:
                if isinstance(item, dict) and item.get("type") == "message":
                    for c in item.get("content") or ():
                        if isinstance(c, dict) and c.get("type") in ("output_text", "refusal"):
                            t = c.get("text", c.get("refusal"))
                            if isinstance(t, str):
                                texts.append(t)
            return ["".join(texts)]
        return None

    # -- stream ----------------------------------------------------------------------
    def stream_end(self, raw: bytes) -> bool:
        """Chat and completions end with ``data: [DONE]``; the Responses API with
        ``response.completed`` (or ``.incomplete`` / ``.failed``)."""
        name, data = self.parse_event(raw)
        return data == b"[DONE]" or name in _DONE_EVENTS

    def track_event(self, state: StreamState, obj: dict[str, Any]) -> bool:
        ex = state.ex
        typ = obj.get("type")
        if isinstance(typ, str):  # Responses API
            if typ == "response.output_text.delta":
                d = obj.get("delta")
                if isinstance(d, str):
                    state.text_seen(d)
            elif typ in _DONE_EVENTS or typ == "response.created":
                resp = obj.get("response")
                if isinstance(resp, dict):
                    u = resp.get("usage")
                    if isinstance(u, dict):
                        ex.usage.merge(usage_of(u))
                    if ex.model is None:
                        ex.model = self.response_model(resp)
            return True
        # Chat Completions / legacy completions chunk
        if ex.model is None:
            ex.model = self.response_model(obj)
        choices = obj.get("choices")
        u = obj.get("usage")
        if isinstance(u, dict):
            ex.usage.merge(usage_of(u))
            if state.hide_usage and isinstance(choices, list) and not choices:
                return False
        if isinstance(choices, list):
            for ch in choices:
                if not isinstance(ch, dict):
                    continue
                delta = ch.get("delta")
                if isinstance(delta, dict):
                    t = delta.get("content")
                    if not isinstance(t, str):
                        t = delta.get("refusal")
                else:
                    t = ch.get("text")
                if isinstance(t, str) and t:
                    idx = ch.get("index") or 0
                    if idx == 0:
                        state.text_seen(t)
                    else:
                        state.choice_text(idx, t)
        return True

    def stream_texts(self, event: Any) -> list[Text]:
        out: list[Text] = []
        if not isinstance(event, dict):
            return out
        t = event.get("type")
        if isinstance(t, str):
            if t.endswith(".delta") and isinstance(event.get("delta"), str) and t.startswith("response."):
                kind = "tool_call" if "arguments" in t else "text"
                out.append(Text("assistant", event["delta"], ("delta",), kind))
            return out
        for ci, ch in enumerate(event.get("choices") or ()):
            d = ch.get("delta") if isinstance(ch, dict) else None
            if isinstance(d, dict):
                for key in ("content", "reasoning_content", "reasoning", "refusal"):
                    if isinstance(d.get(key), str):
                        out.append(Text("assistant", d[key], ("choices", ci, "delta", key)))
                for k, call in enumerate(d.get("tool_calls") or ()):
                    fn = call.get("function") if isinstance(call, dict) else None
                    if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                        out.append(
                            Text(
                                "assistant",
                                fn["arguments"],
                                ("choices", ci, "delta", "tool_calls", k, "function", "arguments"),
                                "tool_call",
                            )
                        )
        return out

    def stream_key(self, event: dict[str, Any], t: Text) -> tuple[Any, ...]:
        path = t.path
        if "type" in event:  # Responses API
            return ("r", event.get("item_id") or event.get("output_index"), event.get("content_index"), event["type"])
        ci = path[1]
        choice = event["choices"][ci]
        index = choice.get("index", ci) if isinstance(choice, dict) else ci
        if len(path) > 4 and path[3] == "tool_calls":  # ("choices", ci, "delta", "tool_calls", k, ...)
            call = choice["delta"]["tool_calls"][path[4]]
            return ("c", index, "tool", call.get("index", path[4]) if isinstance(call, dict) else path[4])
        return ("c", index, path[-1])

    def aggregate_texts(self, event: dict[str, Any]) -> list[Text]:
        """The Responses API's ``response.output_text.done``, ``content_part.done``,
        ``output_item.done`` and ``response.completed``: what the deltas said, again, in full."""
        t = event.get("type")
        if not isinstance(t, str):
            return []
        out: list[Text] = []
        if t in ("response.output_text.done", "response.reasoning_summary_text.done") and isinstance(
            event.get("text"), str
        ):
            out.append(Text("assistant", event["text"], ("text",)))
        elif t == "response.function_call_arguments.done" and isinstance(event.get("arguments"), str):
            out.append(Text("assistant", event["arguments"], ("arguments",), "tool_call"))
        elif t == "response.content_part.done" and isinstance(event.get("part"), dict):
            part = event["part"]
            for key in ("text", "refusal"):
                if isinstance(part.get(key), str):
                    out.append(Text("assistant", part[key], ("part", key)))
        elif t == "response.output_item.done" and isinstance(event.get("item"), dict):
            _responses_item(event["item"], ("item",), "assistant", out)
        elif t in _DONE_EVENTS and isinstance(event.get("response"), dict):
            for oi, item in enumerate(event["response"].get("output") or ()):
                if isinstance(item, dict):
                    _responses_item(item, ("response", "output", oi), "assistant", out)
        return out

    def clear_finish(self, event: dict[str, Any]) -> None:
        for ch in event.get("choices") or ():
            if isinstance(ch, dict):
                ch["finish_reason"] = None
        if "choices" in event:
            event.pop("usage", None)

    # -- errors -----------------------------------------------------------------------
    def error_body(self, status: int, message: str, code: str | None = None) -> bytes:
        return orjson.dumps(
            {"error": {"message": message, "type": error_type(ERROR_TYPES, status), "param": None, "code": code}}
        )

    def stream_error(self, rest: str, status: int, message: str, code: str | None = None) -> bytes:
        """A Responses API stream ends with its own ``event: error`` (``type``, ``code``, ``message``,
        ``param``), which also carries the ``error`` object the SDKs raise on; a chat stream with a
        ``data:`` line holding the error body."""
        if not rest.rstrip("/").endswith("responses"):
            return self.error_event(self.error_body(status, message, code))
        err = {"message": message, "type": error_type(ERROR_TYPES, status), "param": None, "code": code}
        ev = {"type": "error", "code": code, "message": message, "param": None, "error": err}
        return b"event: error\ndata: " + orjson.dumps(ev) + b"\n\n"


def usage_of(u: dict[str, Any]) -> Usage:
    """A Chat Completions, Responses or Embeddings ``usage`` object, normalised."""
    out = Usage()
    if "prompt_tokens" in u or "completion_tokens" in u:  # chat / completions / embeddings
        out.input_tokens = as_int(u.get("prompt_tokens"))
        out.output_tokens = as_int(u.get("completion_tokens"))
        in_details = u.get("prompt_tokens_details")
        out_details = u.get("completion_tokens_details")
    else:  # responses
        out.input_tokens = as_int(u.get("input_tokens"))
        out.output_tokens = as_int(u.get("output_tokens"))
        in_details = u.get("input_tokens_details")
        out_details = u.get("output_tokens_details")
    if isinstance(in_details, dict):
        out.cached_input_tokens = as_int(in_details.get("cached_tokens"))
    if isinstance(out_details, dict):
        out.reasoning_tokens = as_int(out_details.get("reasoning_tokens"))
    return out


_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64


def message_name(value: str) -> str:
    """A chat message's ``name`` as OpenAI takes it (``^[a-zA-Z0-9_-]+$``, at most 64 characters):
    a redaction written there (``[EMAIL]``) has its other characters as ``_`` (``_EMAIL_``), or
    the request would be refused upstream."""
    return _NOT_IN_NAME.sub("_", value)[:_MAX_NAME] or "_"


def chat_message(msg: dict[str, Any], base: Path, role: str, out: list[Text]) -> None:
    """One chat message (request) or choice message (response)."""
    kind = "tool_result" if role == "tool" else "text"
    content = msg.get("content")
    if isinstance(content, str):
        out.append(Text(role, content, (*base, "content"), kind))
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if isinstance(part, dict):
                for key in ("text", "refusal"):
                    if isinstance(part.get(key), str):
                        out.append(Text(role, part[key], (*base, "content", j, key), kind))
                f = part.get("file")
                if isinstance(f, dict) and "file_data" in f:  # {"type": "file", "file": {"file_data", "filename"}}
                    _file(f, (*base, "content", j, "file"), role, out)
            elif isinstance(part, str):
                out.append(Text(role, part, (*base, "content", j), kind))
    message_extras(msg, base, role, out)


def message_extras(msg: dict[str, Any], base: Path, role: str, out: list[Text]) -> None:
    """What a chat message holds beside its content: a name, a refusal, tool calls' arguments."""
    for key, kd in (("name", "name"), ("refusal", "text")):  # a participant's name; an assistant turn's refusal
        if isinstance(msg.get(key), str):
            out.append(Text(role, msg[key], (*base, key), kd))
    calls = msg.get("tool_calls")
    if calls:
        for k, call in enumerate(calls):
            if not isinstance(call, dict):
                continue
            fn = call.get("function")
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                out.append(Text(role, fn["arguments"], (*base, "tool_calls", k, "function", "arguments"), "tool_call"))
            custom = call.get("custom")  # a custom tool's free-form input
            if isinstance(custom, dict) and isinstance(custom.get("input"), str):
                out.append(Text(role, custom["input"], (*base, "tool_calls", k, "custom", "input"), "tool_call"))
    fc = msg.get("function_call")
    if isinstance(fc, dict) and isinstance(fc.get("arguments"), str):
        out.append(Text(role, fc["arguments"], (*base, "function_call", "arguments"), "tool_call"))


#: Responses API items: what a tool was called with (strings, or lists of strings) and what it gave back
_ITEM_CALL_KEYS = ("arguments", "input", "code", "queries")
_ITEM_RESULT_KEYS = ("output", "error")
#: a built-in tool call's action: (key, fields) -- shell commands, a local shell's argv, a web
#: search's query (or queries) and a find-in-page pattern; a patch
_ITEM_ACTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("action", ("commands", "command", "query", "queries", "pattern")),
    ("operation", ("diff",)),
)
#: built-in tool results inside an item: (list key, string fields) -- file search hits, code
#: interpreter logs, shell output, the safety checks a computer call's output acknowledges
_ITEM_RESULT_LISTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("results", ("text",)),
    ("outputs", ("logs",)),
    ("output", ("stdout", "stderr")),
    ("acknowledged_safety_checks", ("message",)),
)


def _responses_item(item: dict[str, Any], base: Path, role: str, out: list[Text]) -> None:
    """One Responses API item: a message, a tool call (function, custom, MCP, built-in), a tool's
    output (a string or content parts), a reasoning summary, a list of tools."""
    content = item.get("content")
    if isinstance(content, str):
        out.append(Text(role, content, (*base, "content")))
    elif isinstance(content, list):
        _parts(content, base, role, "text", out, "content")
    if item.get("type", "message") == "message":
        return  # a message (most items, and the one without a type) holds nothing more the model reads
    for key in _ITEM_CALL_KEYS:  # a string, a list of them, or an object (a tool search call's arguments)
        v = item.get(key)
        if v is not None:
            out.extend(Text(role, s, path, "tool_call") for path, s in leaves(v, (*base, key)))
    for akey, fields in _ITEM_ACTIONS:
        action = item.get(akey)
        if isinstance(action, dict):
            for field in fields:
                v = action.get(field)
                if v is not None:
                    out.extend(Text(role, s, path, "tool_call") for path, s in leaves(v, (*base, akey, field)))
    for key in _ITEM_RESULT_KEYS:
        v = item.get(key)
        if isinstance(v, str):
            out.append(Text("tool", v, (*base, key), "tool_result"))
        elif isinstance(v, list):  # output content parts (input_text, input_file)
            _parts(v, base, "tool", "tool_result", out, key)
        elif isinstance(v, dict):  # an MCP call's error: a message, or the tool's own content
            if isinstance(v.get("message"), str):
                out.append(Text("tool", v["message"], (*base, key, "message"), "tool_result"))
            c = v.get("content")
            if isinstance(c, str):
                out.append(Text("tool", c, (*base, key, "content"), "tool_result"))
            elif isinstance(c, list):
                _parts(c, (*base, key), "tool", "tool_result", out, "content")
    if item.get("type") == "program_output" and isinstance(item.get("result"), str):
        # (only here: an image generation call's ``result`` is the image, base64-encoded)
        out.append(Text("tool", item["result"], (*base, "result"), "tool_result"))
    row_fields(item, _ITEM_RESULT_LISTS, base, "tool", "tool_result", out)
    if isinstance(item.get("reason"), str):  # an MCP approval response's reason
        out.append(Text(role, item["reason"], (*base, "reason")))
    summary = item.get("summary")
    if isinstance(summary, list):
        for j, s in enumerate(summary):
            if isinstance(s, dict) and isinstance(s.get("text"), str):
                out.append(Text(role, s["text"], (*base, "summary", j, "text")))
    if isinstance(item.get("tools"), list):  # mcp_list_tools, additional_tools, tool_search_output
        tool_texts(item["tools"], (*base, "tools"), out)


def _parts(parts: list[Any], base: Path, role: str, kind: str, out: list[Text], key: str) -> None:
    """Content parts at ``base + (key, j)``: ``text`` (input_text, output_text), ``refusal``, an
    inline ``input_file``'s text."""
    for j, part in enumerate(parts):
        if isinstance(part, dict):
            if isinstance(part.get("text"), str):
                out.append(Text(role, part["text"], (*base, key, j, "text"), kind))
            elif isinstance(part.get("refusal"), str):
                out.append(Text(role, part["refusal"], (*base, key, j, "refusal"), kind))
            elif "file_data" in part:  # {"type": "input_file", "file_data", "filename"}
                _file(part, (*base, key, j), role, out)
        elif isinstance(part, str):
            out.append(Text(role, part, (*base, key, j), kind))


def _file(f: dict[str, Any], base: Path, role: str, out: list[Text]) -> None:
    """A file sent inline (``file_data``, a base64 ``data:`` URL): its text, when it is a text file."""
    doc = text_document(f.get("file_data"), None, f.get("filename"))
    if doc is not None:
        out.append(Text(role, doc[0], (*base, "file_data", Encoded(doc[1])), "document"))


DIALECT = OpenAI()
