"""Normalized text of requests and responses, for all three provider schemas.

Every string a model reads or writes is listed as a :class:`Text` with its
role and its path in the JSON body, so a module can scan ``text`` and a
redaction can write back to exactly that place (never to a JSON key):

- OpenAI Chat Completions: ``messages[].content`` (string or array of parts),
  tool calls' ``function.arguments``, ``name``; Completions ``prompt``;
  Responses ``instructions`` and ``input`` (string or items with parts);
  Embeddings ``input``.
- Anthropic Messages: ``system`` (string or blocks), ``messages[].content``
  (string or blocks: text, tool_use input leaves, tool_result content).
- Gemini: ``systemInstruction.parts[].text``, ``contents[].parts[]`` (text,
  functionCall args leaves, functionResponse response leaves).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

Path = tuple[Any, ...]


class Text(NamedTuple):
    """One string of a body the model reads (immutable: a NamedTuple is built at twice the speed
    of a frozen dataclass, and a request makes a few of these on every call)."""

    role: str  # system | user | assistant | tool | developer | model
    text: str
    path: Path  # where the string lives in the body
    kind: str = "text"  # text | tool_call | tool_result | name

    @property
    def field(self) -> str:
        return ".".join(str(p) for p in self.path)


def request_texts(api: str, body: Any) -> list[Text]:
    if not isinstance(body, dict):
        return []
    out: list[Text] = []
    if api == "google":
        _google_request(body, out)
    elif api == "anthropic":
        _anthropic_request(body, out)
    else:
        _openai_request(body, out)
    _tool_descriptions(body, out)
    return out


def _tool_descriptions(body: dict, out: list[Text]) -> None:
    """Tool and schema descriptions the model reads: OpenAI ``tools[].function`` (and the
    Responses API's flat tools), Anthropic ``tools[]``, Gemini ``tools[].functionDeclarations[]``;
    OpenAI's ``prediction.content`` and ``response_format`` schema description."""
    for i, tool in enumerate(body.get("tools") or ()):
        if not isinstance(tool, dict):
            continue
        fn = tool.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("description"), str):
            out.append(Text("system", fn["description"], ("tools", i, "function", "description"), "tool_spec"))
        if isinstance(tool.get("description"), str):
            out.append(Text("system", tool["description"], ("tools", i, "description"), "tool_spec"))
        for key in ("functionDeclarations", "function_declarations"):
            for j, decl in enumerate(tool.get(key) or ()):
                if isinstance(decl, dict) and isinstance(decl.get("description"), str):
                    out.append(Text("system", decl["description"], ("tools", i, key, j, "description"),
                                    "tool_spec"))
    pred = body.get("prediction")
    if isinstance(pred, dict) and isinstance(pred.get("content"), str):
        out.append(Text("user", pred["content"], ("prediction", "content")))
    rf = body.get("response_format")
    js = rf.get("json_schema") if isinstance(rf, dict) else None
    if isinstance(js, dict) and isinstance(js.get("description"), str):
        out.append(Text("system", js["description"], ("response_format", "json_schema", "description"), "tool_spec"))


def response_texts(api: str, body: Any) -> list[Text]:
    out: list[Text] = []
    if isinstance(body, list):  # Gemini non-SSE stream: a JSON array of responses
        for i, item in enumerate(body):
            for t in response_texts(api, item):
                out.append(Text(t.role, t.text, (i, *t.path), t.kind))
        return out
    if not isinstance(body, dict):
        return out
    if api == "google":
        for ci, cand in enumerate(body.get("candidates") or ()):
            parts = (cand.get("content") or {}).get("parts") if isinstance(cand, dict) else None
            _gemini_parts(parts, ("candidates", ci, "content", "parts"), "model", out)
    elif api == "anthropic":
        _anthropic_blocks(body.get("content"), ("content",), "assistant", out)
    else:
        for ci, ch in enumerate(body.get("choices") or ()):
            if not isinstance(ch, dict):
                continue
            msg = ch.get("message")
            if isinstance(msg, dict):
                _openai_message(msg, ("choices", ci, "message"), "assistant", out)
            elif isinstance(ch.get("text"), str):
                out.append(Text("assistant", ch["text"], ("choices", ci, "text")))
        for oi, item in enumerate(body.get("output") or ()):
            if isinstance(item, dict):
                _responses_item(item, ("output", oi), "assistant", out)
    return out


def set_at(body: Any, path: Path, value: Any) -> None:
    """Write `value` at `path` in `body` (in place)."""
    cur = body
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value


def get_at(body: Any, path: Path) -> Any:
    cur = body
    for p in path:
        cur = cur[p]
    return cur


def joined(texts: list[Text]) -> str:
    return "\n".join(t.text for t in texts)


# -- OpenAI ---------------------------------------------------------------------
def _openai_request(body: dict, out: list[Text]) -> None:
    for i, msg in enumerate(body.get("messages") or ()):
        if isinstance(msg, dict):
            _openai_message(msg, ("messages", i), str(msg.get("role") or "user"), out)
    if isinstance(body.get("instructions"), str):
        out.append(Text("system", body["instructions"], ("instructions",)))
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


def _openai_message(msg: dict, base: Path, role: str, out: list[Text]) -> None:
    content = msg.get("content")
    if isinstance(content, str):
        out.append(Text(role, content, (*base, "content"), "tool_result" if role == "tool" else "text"))
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if isinstance(part, dict):
                for key in ("text", "refusal"):
                    if isinstance(part.get(key), str):
                        out.append(Text(role, part[key], (*base, "content", j, key)))
            elif isinstance(part, str):
                out.append(Text(role, part, (*base, "content", j)))
    for k, call in enumerate(msg.get("tool_calls") or ()):
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
            out.append(Text(role, fn["arguments"], (*base, "tool_calls", k, "function", "arguments"), "tool_call"))
    fc = msg.get("function_call")
    if isinstance(fc, dict) and isinstance(fc.get("arguments"), str):
        out.append(Text(role, fc["arguments"], (*base, "function_call", "arguments"), "tool_call"))


def _responses_item(item: dict, base: Path, role: str, out: list[Text]) -> None:
    content = item.get("content")
    if isinstance(content, str):
        out.append(Text(role, content, (*base, "content")))
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(Text(role, part["text"], (*base, "content", j, "text")))
    if isinstance(item.get("arguments"), str):
        out.append(Text(role, item["arguments"], (*base, "arguments"), "tool_call"))
    if isinstance(item.get("output"), str):
        out.append(Text("tool", item["output"], (*base, "output"), "tool_result"))
    for j, s in enumerate(item.get("summary") or () if isinstance(item.get("summary"), list) else ()):
        if isinstance(s, dict) and isinstance(s.get("text"), str):
            out.append(Text(role, s["text"], (*base, "summary", j, "text")))


# -- Anthropic ------------------------------------------------------------------
def _anthropic_request(body: dict, out: list[Text]) -> None:
    system = body.get("system")
    if isinstance(system, str):
        out.append(Text("system", system, ("system",)))
    elif isinstance(system, list):
        _anthropic_blocks(system, ("system",), "system", out)
    for i, msg in enumerate(body.get("messages") or ()):
        if not isinstance(msg, dict):
            continue
        role = str(msg.get("role") or "user")
        content = msg.get("content")
        if isinstance(content, str):
            out.append(Text(role, content, ("messages", i, "content")))
        else:
            _anthropic_blocks(content, ("messages", i, "content"), role, out)


def _anthropic_blocks(blocks: Any, base: Path, role: str, out: list[Text]) -> None:
    if not isinstance(blocks, list):
        return
    for j, b in enumerate(blocks):
        if not isinstance(b, dict):
            continue
        t = b.get("type")
        if isinstance(b.get("text"), str):
            out.append(Text(role, b["text"], (*base, j, "text")))
        elif t == "document":
            src = b.get("source")
            if isinstance(src, dict) and src.get("type") == "text" and isinstance(src.get("data"), str):
                out.append(Text(role, src["data"], (*base, j, "source", "data"), "document"))
            elif isinstance(src, dict) and src.get("type") == "content":
                _anthropic_blocks(src.get("content"), (*base, j, "source", "content"), role, out)
            for key in ("title", "context"):
                if isinstance(b.get(key), str):
                    out.append(Text(role, b[key], (*base, j, key), "document"))
        elif t == "tool_use":
            for path, s in _leaves(b.get("input"), (*base, j, "input")):
                out.append(Text(role, s, path, "tool_call"))
        elif t == "tool_result":
            c = b.get("content")
            if isinstance(c, str):
                out.append(Text("tool", c, (*base, j, "content"), "tool_result"))
            elif isinstance(c, list):
                for k, cb in enumerate(c):
                    if isinstance(cb, dict) and isinstance(cb.get("text"), str):
                        out.append(Text("tool", cb["text"], (*base, j, "content", k, "text"), "tool_result"))
        elif t == "thinking" and isinstance(b.get("thinking"), str):
            out.append(Text(role, b["thinking"], (*base, j, "thinking")))


# -- Gemini ---------------------------------------------------------------------
def _google_request(body: dict, out: list[Text]) -> None:
    si = body.get("systemInstruction") or body.get("system_instruction")
    key = "systemInstruction" if "systemInstruction" in body else "system_instruction"
    if isinstance(si, dict):
        _gemini_parts(si.get("parts"), (key, "parts"), "system", out)
    elif isinstance(si, str):
        out.append(Text("system", si, (key,)))
    for i, c in enumerate(body.get("contents") or ()):
        if isinstance(c, dict):
            _gemini_parts(c.get("parts"), ("contents", i, "parts"), str(c.get("role") or "user"), out)


def _gemini_parts(parts: Any, base: Path, role: str, out: list[Text]) -> None:
    if not isinstance(parts, list):
        return
    for j, p in enumerate(parts):
        if not isinstance(p, dict):
            continue
        if isinstance(p.get("text"), str):
            out.append(Text(role, p["text"], (*base, j, "text")))
        for key, kind in (("functionCall", "tool_call"), ("function_call", "tool_call"),
                          ("functionResponse", "tool_result"), ("function_response", "tool_result")):
            v = p.get(key)
            if isinstance(v, dict):
                inner = "args" if "Call" in key or "call" in key else "response"
                for path, s in _leaves(v.get(inner), (*base, j, key, inner)):
                    out.append(Text(role, s, path, kind))


def _leaves(value: Any, base: Path) -> Iterator[tuple[Path, str]]:
    """Every string leaf of a JSON value (tool arguments), with its path."""
    if isinstance(value, str):
        yield base, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*base, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*base, i))


def stream_texts(api: str, event: Any) -> list[Text]:
    """The text deltas of one parsed streamed event (answer, reasoning, refusals, tool arguments)."""
    out: list[Text] = []
    if not isinstance(event, dict):
        return out
    if api == "google":
        for ci, cand in enumerate(event.get("candidates") or ()):
            parts = (cand.get("content") or {}).get("parts") if isinstance(cand, dict) else None
            if isinstance(parts, list):
                for j, part in enumerate(parts):
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        out.append(Text("model", part["text"], ("candidates", ci, "content", "parts", j, "text")))
    elif api == "anthropic":
        d = event.get("delta")
        if event.get("type") == "content_block_delta" and isinstance(d, dict):
            for key, kind in (("text", "text"), ("thinking", "text"), ("partial_json", "tool_call")):
                if isinstance(d.get(key), str):
                    out.append(Text("assistant", d[key], ("delta", key), kind))
    else:
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
                        out.append(Text("assistant", fn["arguments"],
                                        ("choices", ci, "delta", "tool_calls", k, "function", "arguments"),
                                        "tool_call"))
    return out


def stream_key(api: str, event: dict, t: Text) -> tuple:
    """Which stream of a response a delta belongs to: a choice's content, one tool call's
    arguments, one content block, one output item.  Deltas of one key are contiguous text."""
    path = t.path
    if api == "anthropic":
        return ("a", event.get("index"), path[-1])
    if api == "google":
        return ("g", path[1], t.kind, path[-1])
    if "type" in event:  # Responses API
        return ("r", event.get("item_id") or event.get("output_index"), event.get("content_index"), event["type"])
    ci = path[1]
    choice = event["choices"][ci]
    index = choice.get("index", ci) if isinstance(choice, dict) else ci
    if len(path) > 4 and path[3] == "tool_calls":  # ("choices", ci, "delta", "tool_calls", k, ...)
        call = choice["delta"]["tool_calls"][path[4]]
        return ("c", index, "tool", call.get("index", path[4]) if isinstance(call, dict) else path[4])
    return ("c", index, path[-1])


def aggregate_texts(api: str, event: dict) -> list[Text]:
    """Whole texts that a stream repeats after its deltas (the Responses API's
    ``response.output_text.done``, ``content_part.done``, ``output_item.done`` and
    ``response.completed``): what the deltas said, again, in full."""
    out: list[Text] = []
    if api == "google":  # function calls arrive whole, never as deltas
        for ci, cand in enumerate(event.get("candidates") or ()):
            parts = (cand.get("content") or {}).get("parts") if isinstance(cand, dict) else None
            if isinstance(parts, list):
                for t in response_texts("google", {"candidates": [{"content": {"parts": parts}}]}):
                    if t.kind != "text":
                        out.append(Text(t.role, t.text, ("candidates", ci, *t.path[2:]), t.kind))
        return out
    if api != "openai" or not isinstance(event.get("type"), str):
        return []
    t = event["type"]
    if t in ("response.output_text.done", "response.reasoning_summary_text.done") and isinstance(
            event.get("text"), str):
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
    elif t in ("response.completed", "response.incomplete", "response.failed") and isinstance(
            event.get("response"), dict):
        for oi, item in enumerate(event["response"].get("output") or ()):
            if isinstance(item, dict):
                _responses_item(item, ("response", "output", oi), "assistant", out)
    return out
