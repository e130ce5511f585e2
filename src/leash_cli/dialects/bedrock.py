"""AWS Bedrock runtime (``model/{modelId}/converse``, ``converse-stream``, ``invoke``,
``invoke-with-response-stream``).

The model and the call are in the path (the id percent-encoded as boto3 sends it:
``anthropic.claude-3-5-sonnet-20240620-v1%3A0``); a stream is ``converse-stream`` or
``invoke-with-response-stream``, answered as AWS event-stream messages
(``application/vnd.amazon.eventstream``, see :mod:`leash_cli.dialects.eventstream`), not SSE.

Converse texts: ``system[]`` blocks, ``messages[].content[]`` blocks: ``text``, ``toolUse``
input leaves (tool calls), ``toolResult`` content (``text``, ``json`` leaves, documents, search
results; tool results), ``document`` (``source.text``, ``source.content``, and ``source.bytes`` of
the text formats, base64-decoded: a redaction is written back base64-encoded; ``context``),
``searchResult`` (``content[].text``, ``title``, ``source``), ``citationsContent``,
``reasoningContent``, ``guardContent``; ``toolConfig.tools[].toolSpec`` ``description`` and
``inputSchema.json`` descriptions; ``promptVariables``.
Invoke bodies are the model vendor's own: Anthropic Messages (``anthropic_version``,
``messages``, ``system``: the Anthropic dialect reads them); Amazon Nova's, read as Converse;
OpenAI chat messages (gpt-oss, Mistral, Jamba: string content, a ``name``, ``tool_calls``
arguments, ``role: tool`` content as tool results, ``tools`` descriptions, read as the OpenAI
dialect reads them; a redacted ``name`` stays a valid name); Cohere Command R's ``preamble``,
``chat_history[].message``, ``message``, ``documents`` (every string), ``tool_results`` (the call's
parameters, the outputs' leaves), ``tools[].description`` and ``parameter_definitions``
descriptions; the plain ``prompt`` (Llama, Mistral, DeepSeek) and ``inputText`` (Titan).

Usage: Converse ``usage`` (``inputTokens`` excludes the cache parts, added back:
``cacheReadInputTokens``, ``cacheWriteInputTokens``); an Anthropic invoke answer's own
``usage``; Llama's ``prompt_token_count`` / ``generation_token_count``; Titan's counts;
streams: Converse ``metadata.usage``, Anthropic ``message_start`` / ``message_delta``,
``amazon-bedrock-invocationMetrics`` in the last chunk.

Stream events, as this dialect hands them to the pipeline (``parse_event``): one JSON object
named by its event type, the shape boto3 yields -- ``{"contentBlockDelta": {"delta": {"text":
...}, "contentBlockIndex": 0}}``, ``{"metadata": {"usage": ...}}``; an invoke stream's
``chunk`` decoded from its base64 ``bytes`` to the model's own event (``{"chunk":
{"type": "content_block_delta", ...}}``).  ``encode_event`` writes such an object back as a
message (re-encoding the chunk).  A stream stopped mid-way ends with an exception message
(``:message-type: exception``) that boto3 raises as ``EventStreamError``.

The history keeps each message in that form as an SSE-shaped text event (``recorded_event``).

Errors: ``{"message": ...}`` with the ``x-amzn-ErrorType`` header (``ValidationException``,
``AccessDeniedException``, ``ThrottlingException`` ...), which botocore turns into the
``ClientError`` code.  Keys: a Bedrock API key as ``Authorization: Bearer``; SigV4 is
``leash_cli.credentials.bedrock``'s.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, ClassVar
from urllib.parse import quote, unquote

import orjson

from leash_cli.dialects import eventstream
from leash_cli.dialects.anthropic import DIALECT as ANTHROPIC
from leash_cli.dialects.anthropic import usage_of as anthropic_usage
from leash_cli.dialects.base import (
    Dialect,
    Path,
    Splitter,
    StreamState,
    Text,
    Usage,
    as_int,
    cached_usage,
    chat_turns,
    error_type,
    leaves,
    schema_texts,
    set_at,
    tool_descriptions,
)
from leash_cli.dialects.openai import chat_message, message_extras, message_name
from leash_cli.sse import parse_event

__all__ = ["DIALECT", "STREAM_TYPE", "Bedrock", "bare_model", "usage_of"]

STREAM_TYPE = "application/vnd.amazon.eventstream"

#: status -> the exception name botocore reports as the ClientError code
ERROR_TYPES: dict[int, str] = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    405: "ValidationException",
    408: "ModelTimeoutException",
    413: "ValidationException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    502: "ServiceUnavailableException",
    503: "ServiceUnavailableException",
    504: "ModelTimeoutException",
}

#: status -> the exception event both stream shapes (Converse and invoke) define
STREAM_ERRORS: dict[int, str] = {
    400: "validationException",
    429: "throttlingException",
    500: "internalServerException",
    502: "modelStreamErrorException",
    503: "serviceUnavailableException",
    504: "modelStreamErrorException",
}

_PATH = re.compile(r"model/([^/?]+)/(converse-stream|converse|invoke-with-response-stream|invoke|count-tokens)\Z")
_STREAMS = frozenset({"converse-stream", "invoke-with-response-stream"})
#: cross-region inference-profile prefixes (``us.anthropic...``, ``global.amazon...``)
_PROFILE = re.compile(r"^(?:us|eu|apac|jp|au|ca|us-gov|global|regional)\.(?=[a-z0-9-]+\.)")
_VERSION = re.compile(r"(?:-v\d+(?::\d+)?|:\d+)$")
_TEXT_FORMATS = frozenset({"txt", "md", "csv", "html"})
_MAX_DOC_B64 = 8 * 1024 * 1024  # larger base64 documents are not decoded here (the scan caps apply)
#: Bedrock's model-id vendor prefix -> genai-prices provider id
_VENDORS = {
    "anthropic": "anthropic",
    "cohere": "cohere",
    "mistral": "mistral",
    "meta": "meta",
    "deepseek": "deepseek",
    "openai": "openai",
    "moonshotai": "moonshotai",
    "zai": "zai",
}
_EVENT_HEADERS = {":content-type": "application/json", ":message-type": "event"}


def bare_model(model: str) -> str:
    """A Bedrock model id without its inference-profile prefix, ARN or version suffix
    (``us.anthropic.claude-3-5-sonnet-20240620-v1:0`` -> ``anthropic.claude-3-5-sonnet-20240620``)."""
    if model.startswith("arn:"):
        model = model.rsplit("/", 1)[-1]
    return _VERSION.sub("", _PROFILE.sub("", model))


class Bedrock(Dialect):
    name: ClassVar[str] = "bedrock"
    key_header: ClassVar[str] = "authorization"
    key_prefix: ClassVar[str] = "Bearer "
    pricing_id: ClassVar[str | None] = "aws"
    stream_types: ClassVar[tuple[str, ...]] = (STREAM_TYPE, "text/event-stream")
    binary_stream: ClassVar[bool] = True

    # -- request --------------------------------------------------------------------
    def request_texts(self, body: Any) -> list[Text]:
        if not isinstance(body, dict):
            return []
        if "anthropic_version" in body:
            return ANTHROPIC.request_texts(body)
        out: list[Text] = []
        system = body.get("system")
        if isinstance(system, list):
            _blocks(system, ("system",), "system", out)
        elif isinstance(system, str):
            out.append(Text("system", system, ("system",)))
        messages = body.get("messages")
        if isinstance(messages, list):
            for i, msg in enumerate(messages):
                if not isinstance(msg, dict):
                    continue
                role = str(msg.get("role") or "user")
                content = msg.get("content")
                if isinstance(content, list) and len(msg) == 2 and role in _CONVERSE_ROLES:
                    # Converse and Nova: {"role": "user" | "assistant", "content": [blocks]} (typed blocks, an
                    # OpenAI message's parts or Anthropic's, are read by their own dialect: see _blocks)
                    _blocks(content, ("messages", i, "content"), role, out)
                else:
                    _other_message(msg, ("messages", i), role, content, out)
        tc = body.get("toolConfig")
        tools = tc.get("tools") if isinstance(tc, dict) else None
        if isinstance(tools, list):
            for k, tool in enumerate(tools):
                spec = tool.get("toolSpec") if isinstance(tool, dict) else None
                if not isinstance(spec, dict):
                    continue
                at = ("toolConfig", "tools", k, "toolSpec")
                if isinstance(spec.get("description"), str):
                    out.append(Text("system", spec["description"], (*at, "description"), "tool_spec"))
                schema = spec.get("inputSchema")
                if isinstance(schema, dict) and "json" in schema:  # the parameters' descriptions
                    schema_texts(schema["json"], (*at, "inputSchema", "json"), out)
        pv = body.get("promptVariables")
        if isinstance(pv, dict):
            for key, v in pv.items():
                if isinstance(v, dict) and isinstance(v.get("text"), str):
                    out.append(Text("user", v["text"], ("promptVariables", key, "text")))
        if not _INVOKE_KEYS.isdisjoint(body):  # another family's body (read even beside messages)
            _family_request(body, out)
            tool_descriptions(body, out)  # an OpenAI body's tools and response format; Cohere's tools
            if isinstance(body.get("tools"), list):
                for k, tool in enumerate(body["tools"]):
                    if isinstance(tool, dict) and "parameter_definitions" in tool:  # Cohere's parameters
                        schema_texts(tool["parameter_definitions"], ("tools", k, "parameter_definitions"), out)
        return out

    def request_model(self, rest: str, body: Any, query: str | None = None) -> tuple[str | None, bool]:
        m = _PATH.search(rest)
        if m is None:
            return None, False
        return unquote(m.group(1)), m.group(2) in _STREAMS

    def upstream_rest(self, rest: str) -> str:
        """The model id encoded as boto3 encodes it (``:`` as ``%3A``), whichever way the client
        wrote it (the anthropic SDK leaves ``:`` as it is): what is signed is what AWS decodes."""
        m = _PATH.match(rest)
        if m is None:
            return rest
        return f"model/{_quote(unquote(m.group(1)))}/{m.group(2)}"

    def cap_output_tokens(self, body: dict[str, Any], rest: str, cap: int) -> bool:
        if "anthropic_version" in body or "max_tokens" in body:
            body["max_tokens"] = cap
            return True
        if "messages" in body:
            ic = body.get("inferenceConfig")
            if not isinstance(ic, dict):
                ic = body["inferenceConfig"] = {}
            ic["maxTokens"] = cap
            return True
        return False

    def with_model(self, rest: str, body: bytes | None, model: str) -> tuple[str, bytes | None]:
        return self.path_with_model(rest, model), body

    def path_with_model(self, path: str, model: str) -> str:
        m = _PATH.search(path)
        if m is None:
            return path
        return path[: m.start(1)] + _quote(model) + path[m.end(1) :]

    def build_request(
        self, model: str, turns: list[dict[str, Any]], system: str | None, stream: bool
    ) -> tuple[str, str, dict[str, Any]]:
        body: dict[str, Any] = {"messages": chat_turns(turns, "assistant", "content")}
        if system is not None:
            body["system"] = [{"text": system}]
        return f"model/{_quote(model)}/{'converse-stream' if stream else 'converse'}", "", body

    def price_fallbacks(self, model: str) -> list[tuple[str, str]]:
        """A model genai-prices does not list under AWS: its vendor's own price, by the bare name
        (``cohere.command-r-plus-v1:0`` -> cohere's ``command-r-plus``)."""
        vendor, _, name = bare_model(model).partition(".")
        pid = _VENDORS.get(vendor)
        return [(pid, name)] if pid and name else []

    def write_text(self, body: Any, path: Path, value: str) -> None:
        if len(path) >= 3 and path[-3:] == ("document", "source", "bytes"):
            value = base64.b64encode(value.encode("utf-8")).decode("ascii")  # a document stays base64
        elif len(path) == 3 and path[2] == "name" and path[0] == "messages":  # an OpenAI message's name
            value = message_name(value)
        set_at(body, path, value)

    # -- response -------------------------------------------------------------------
    def _response_texts(self, body: dict[str, Any], out: list[Text]) -> None:
        output = body.get("output")
        msg = output.get("message") if isinstance(output, dict) else None
        if isinstance(msg, dict):
            content = msg.get("content")
            if isinstance(content, list):
                _blocks(content, ("output", "message", "content"), "assistant", out)
            return
        if isinstance(body.get("content"), list):  # Anthropic invoke
            ANTHROPIC._response_texts(body, out)
            return
        choices = body.get("choices")
        if isinstance(choices, list):  # an OpenAI chat completion (gpt-oss)
            for ci, ch in enumerate(choices):
                if isinstance(ch, dict) and isinstance(ch.get("message"), dict):
                    chat_message(ch["message"], ("choices", ci, "message"), "assistant", out)
            return
        _family_texts(body, (), out)

    def usage(self, obj: Any) -> Usage | None:
        if not isinstance(obj, dict):
            return None
        u = obj.get("usage")
        if isinstance(u, dict):
            return usage_of(u) if "inputTokens" in u or "outputTokens" in u else anthropic_usage(u)
        if "prompt_token_count" in obj or "generation_token_count" in obj:  # Llama
            return Usage(as_int(obj.get("prompt_token_count")), as_int(obj.get("generation_token_count")))
        if "inputTextTokenCount" in obj:  # Titan
            res = obj.get("results")
            first = res[0] if isinstance(res, list) and res and isinstance(res[0], dict) else {}
            return Usage(as_int(obj.get("inputTextTokenCount")), as_int(first.get("tokenCount")))
        m = obj.get("amazon-bedrock-invocationMetrics")
        if isinstance(m, dict):
            return _metrics_usage(m)
        return None

    def body_text(self, obj: dict[str, Any]) -> list[str] | None:
        output = obj.get("output")
        msg = output.get("message") if isinstance(output, dict) else None
        if isinstance(msg, dict):
            content = msg.get("content")
            if not isinstance(content, list):
                return None
            return ["".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))]
        if isinstance(obj.get("content"), list):
            return ANTHROPIC.body_text(obj)
        found: list[Text] = []
        if isinstance(obj.get("choices"), list):  # an OpenAI chat completion (gpt-oss)
            self._response_texts(obj, found)
            return [t.text for t in found if t.kind == "text"] if found else None
        _family_texts(obj, (), found)
        return [t.text for t in found] if found else None

    # -- stream ----------------------------------------------------------------------
    def splitter(self) -> Splitter:
        return eventstream.FrameSplitter()

    def parse_event(self, raw: bytes) -> tuple[str | None, bytes]:
        """One event-stream message as ``(event type, {"<event type>": payload})``; an invoke
        stream's chunk decoded; an exception as ``{"<exception type>": {"message": ...}}``.
        Raises :class:`~leash_cli.dialects.eventstream.FrameError` on unreadable headers."""
        if raw[:1] >= b" ":  # the history's text form of a message (``recorded_event``), e.g. in a replay
            return parse_event(raw)
        h = eventstream.headers_of(raw)
        payload = eventstream.payload_of(raw)
        mt = h.get(":message-type")
        if mt == "error":
            code = str(h.get(":error-code") or "")
            return code, orjson.dumps({"error": {"code": code, "message": str(h.get(":error-message") or "")}})
        name = h.get(":exception-type" if mt == "exception" else ":event-type")
        if not isinstance(name, str) or not name:
            return None, b""
        if name == "chunk" and mt == "event":
            payload = _chunk_bytes(payload)
        return name, b"{" + orjson.dumps(name) + b":" + (payload or b"{}") + b"}"

    def recorded_event(self, raw: bytes) -> bytes:
        """``event: <type>`` and ``data: {"<type>": payload}``: readable, and free of the NUL bytes of
        the binary prelude (which a PostgreSQL text column refuses)."""
        try:
            name, data = self.parse_event(raw)
        except eventstream.FrameError:
            return b""
        return b"event: " + (name or "").encode() + b"\ndata: " + data + b"\n\n"

    def encode_event(self, name: str | None, obj: Any) -> bytes:
        (key, inner), *_ = obj.items()
        if key == "chunk":
            payload = orjson.dumps({"bytes": base64.b64encode(orjson.dumps(inner)).decode("ascii")})
        else:
            payload = orjson.dumps(inner)
        return eventstream.encode({":event-type": key, **_EVENT_HEADERS}, payload)

    def stream_end(self, raw: bytes) -> bool:
        """Converse streams end with ``metadata`` (after ``messageStop``); an invoke stream with the
        model's own last event (Anthropic's ``message_stop``) in a ``chunk``."""
        try:
            name, data = self.parse_event(raw)
        except eventstream.FrameError:
            return False
        return name == "metadata" or (name == "chunk" and b'"message_stop"' in data)

    def track_event(self, state: StreamState, obj: dict[str, Any]) -> bool:
        ex = state.ex
        d = obj.get("contentBlockDelta")
        if isinstance(d, dict):
            delta = d.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("text"), str):
                state.text_seen(delta["text"])
            return True
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            u = meta.get("usage")
            if isinstance(u, dict):
                ex.usage.merge(usage_of(u))
            return True
        chunk = obj.get("chunk")
        if isinstance(chunk, dict):
            if "type" in chunk:  # Anthropic
                ANTHROPIC.track_event(state, chunk)
            else:
                for t in _stream_family_texts(chunk, ()):
                    state.text_seen(t.text)
                u = self.usage(chunk)
                if u is not None:
                    ex.usage.merge(u)
            m = chunk.get("amazon-bedrock-invocationMetrics")
            if isinstance(m, dict) and not ex.usage.known:
                ex.usage.merge(_metrics_usage(m))
        return True

    def stream_texts(self, event: Any) -> list[Text]:
        out: list[Text] = []
        if not isinstance(event, dict):
            return out
        d = event.get("contentBlockDelta")
        if isinstance(d, dict):
            delta = d.get("delta")
            if isinstance(delta, dict):
                base = ("contentBlockDelta", "delta")
                if isinstance(delta.get("text"), str):
                    out.append(Text("assistant", delta["text"], (*base, "text")))
                tu = delta.get("toolUse")
                if isinstance(tu, dict) and isinstance(tu.get("input"), str):
                    out.append(Text("assistant", tu["input"], (*base, "toolUse", "input"), "tool_call"))
                rc = delta.get("reasoningContent")
                if isinstance(rc, dict) and isinstance(rc.get("text"), str):
                    out.append(Text("assistant", rc["text"], (*base, "reasoningContent", "text")))
            return out
        chunk = event.get("chunk")
        if isinstance(chunk, dict):
            if "type" in chunk:
                for t in ANTHROPIC.stream_texts(chunk):
                    out.append(Text(t.role, t.text, ("chunk", *t.path), t.kind))
            else:
                out.extend(_stream_family_texts(chunk, ("chunk",)))
        return out

    def stream_key(self, event: dict[str, Any], t: Text) -> tuple[Any, ...]:
        if t.path[0] == "contentBlockDelta":
            return ("b", event["contentBlockDelta"].get("contentBlockIndex"), t.path[-1])
        if len(t.path) > 2 and t.path[1] == "choices":  # an OpenAI chunk: per choice (and tool call)
            return ("c", *t.path[2:])
        chunk = event.get("chunk")
        return ("c", chunk.get("index") if isinstance(chunk, dict) else None, t.path[-1])

    def clear_finish(self, event: dict[str, Any]) -> None:
        chunk = event.get("chunk")
        if isinstance(chunk, dict):  # a final Llama / Titan chunk copied as a template: no second stop or count
            for key in (
                "stop_reason",
                "completionReason",
                "amazon-bedrock-invocationMetrics",
                "prompt_token_count",
                "generation_token_count",
                "inputTextTokenCount",
                "totalOutputTextTokenCount",
            ):
                chunk.pop(key, None)
            for ch in chunk.get("choices") or ():  # an OpenAI chunk (gpt-oss): no second finish or usage
                if isinstance(ch, dict):
                    ch["finish_reason"] = None
            if "choices" in chunk:
                chunk.pop("usage", None)

    # -- errors -----------------------------------------------------------------------
    def error_body(self, status: int, message: str, code: str | None = None) -> bytes:
        return orjson.dumps({"message": message})

    def error_headers(self, status: int, code: str | None = None) -> dict[str, str]:
        return {"x-amzn-errortype": error_type(ERROR_TYPES, status)}

    def error_event(self, body: bytes) -> bytes:
        return _exception("validationException", body)

    def stream_error(self, rest: str, status: int, message: str, code: str | None = None) -> bytes:
        name = STREAM_ERRORS.get(status) or (STREAM_ERRORS[500] if status >= 500 else STREAM_ERRORS[400])
        return _exception(name, orjson.dumps({"message": message}))


def usage_of(u: dict[str, Any]) -> Usage:
    """A Converse ``usage`` object: ``inputTokens`` excludes the cache parts, they are added back."""
    return cached_usage(
        as_int(u.get("inputTokens")),
        as_int(u.get("cacheReadInputTokens")),
        as_int(u.get("cacheWriteInputTokens")),
        as_int(u.get("outputTokens")),
    )


def _metrics_usage(m: dict[str, Any]) -> Usage:
    """``amazon-bedrock-invocationMetrics`` of an invoke stream's last chunk."""
    base = as_int(m.get("inputTokenCount"))
    read = as_int(m.get("cacheReadInputTokenCount"))
    write = as_int(m.get("cacheWriteInputTokenCount"))
    out = Usage(output_tokens=as_int(m.get("outputTokenCount")))
    if base is not None:
        out.input_tokens = base + (read or 0) + (write or 0)
    out.cached_input_tokens = read
    out.cache_write_tokens = write
    return out


def _quote(model: str) -> str:
    return quote(model, safe="-_.~")


def _exception(name: str, payload: bytes) -> bytes:
    return eventstream.encode(
        {":exception-type": name, ":content-type": "application/json", ":message-type": "exception"}, payload
    )


def _chunk_bytes(payload: bytes) -> bytes:
    """The model's own event inside an invoke stream's ``{"bytes": "<base64>"}`` chunk."""
    try:
        b = orjson.loads(payload).get("bytes")
        return base64.b64decode(b, validate=True) if isinstance(b, str) else b"{}"
    except (orjson.JSONDecodeError, AttributeError, binascii.Error):
        return b"{}"


def _blocks(blocks: list[Any], base: Path, role: str, out: list[Text]) -> None:
    """Converse content blocks (messages, the system prompt, an answer); Anthropic-typed blocks too."""
    for j, b in enumerate(blocks):
        if not isinstance(b, dict):
            continue
        at = (*base, j)
        if isinstance(b.get("text"), str):
            out.append(Text(role, b["text"], (*at, "text")))
            continue
        if b.get("type") in _OPENAI_PARTS:  # an OpenAI-shaped invoke body's part (gpt-oss)
            part: list[Text] = []
            chat_message({"content": [b]}, (), role, part)
            out.extend(Text(t.role, t.text, (*at, *t.path[2:]), t.kind) for t in part)
            continue
        if "type" in b:  # an Anthropic block in a Converse-shaped list: its own dialect reads it
            for t in ANTHROPIC.request_texts({"messages": [{"role": role, "content": [b]}]}):
                out.append(Text(t.role, t.text, (*at, *t.path[4:]), t.kind))
            continue
        tu = b.get("toolUse")
        if isinstance(tu, dict):
            for path, s in leaves(tu.get("input"), (*at, "toolUse", "input")):
                out.append(Text(role, s, path, "tool_call"))
            continue
        tr = b.get("toolResult")
        if isinstance(tr, dict):
            content = tr.get("content")
            if isinstance(content, list):
                for k, c in enumerate(content):
                    if not isinstance(c, dict):
                        continue
                    cat = (*at, "toolResult", "content", k)
                    if isinstance(c.get("text"), str):
                        out.append(Text("tool", c["text"], (*cat, "text"), "tool_result"))
                    elif "json" in c:
                        for path, s in leaves(c["json"], (*cat, "json")):
                            out.append(Text("tool", s, path, "tool_result"))
                    elif isinstance(c.get("document"), dict):
                        _document(c["document"], (*cat, "document"), "tool", out)
                    elif isinstance(c.get("searchResult"), dict):
                        _search_result(c["searchResult"], (*cat, "searchResult"), "tool", out)
            continue
        doc = b.get("document")
        if isinstance(doc, dict):
            _document(doc, (*at, "document"), role, out)
            continue
        sr = b.get("searchResult")
        if isinstance(sr, dict):
            _search_result(sr, (*at, "searchResult"), role, out)
            continue
        cc = b.get("citationsContent")  # an answer with citations, sent back as history
        if isinstance(cc, dict):
            parts = cc.get("content")
            for k, c in enumerate(parts if isinstance(parts, list) else ()):
                if isinstance(c, dict) and isinstance(c.get("text"), str):
                    out.append(Text(role, c["text"], (*at, "citationsContent", "content", k, "text")))
            continue
        rc = b.get("reasoningContent")
        if isinstance(rc, dict):
            rt = rc.get("reasoningText")
            if isinstance(rt, dict) and isinstance(rt.get("text"), str):
                out.append(Text(role, rt["text"], (*at, "reasoningContent", "reasoningText", "text")))
            continue
        gc = b.get("guardContent")
        if isinstance(gc, dict):
            gt = gc.get("text")
            if isinstance(gt, dict) and isinstance(gt.get("text"), str):
                out.append(Text(role, gt["text"], (*at, "guardContent", "text", "text")))


#: the roles of an OpenAI message whose content is a tool's result
_OPENAI_RESULTS = frozenset({"tool", "function"})
#: the keys of the other families' invoke bodies that hold text the model reads (Converse and Nova
#: bodies have none of them)
_INVOKE_KEYS = frozenset(
    {
        "prompt",
        "inputText",
        "message",
        "texts",
        "preamble",
        "chat_history",
        "documents",
        "tool_results",
        "tools",
        "response_format",
        "prediction",
    }
)


_CONVERSE_ROLES = frozenset({"user", "assistant"})
#: typed parts only an OpenAI message has (the others, "text" included, read alike or are Anthropic's)
_OPENAI_PARTS = frozenset({"refusal", "file"})


def _other_message(msg: dict[str, Any], base: Path, role: str, content: Any, out: list[Text]) -> None:
    """A message that is not a plain Converse one: an OpenAI chat message (gpt-oss, Mistral, Jamba)
    -- string content, a tool result, a name, tool calls -- or blocks beside other keys."""
    if isinstance(content, list) and role not in _OPENAI_RESULTS:
        _blocks(content, (*base, "content"), role, out)  # blocks beside other keys
        message_extras(msg, base, role, out)
    else:
        chat_message(msg, base, "tool" if role == "function" else role, out)


#: Cohere's chat_history roles
_COHERE_ROLES = {"USER": "user", "CHATBOT": "assistant", "SYSTEM": "system", "TOOL": "tool"}


def _family_request(body: dict[str, Any], out: list[Text]) -> None:
    """An invoke body of another family: Llama / Mistral / DeepSeek ``prompt``, Titan ``inputText``,
    Cohere embeddings' ``texts``; Cohere Command R's ``preamble``, ``chat_history``, ``message``,
    ``documents`` (every string of each), ``tool_results`` (the call's parameters, the outputs)."""
    if isinstance(body.get("preamble"), str):
        out.append(Text("system", body["preamble"], ("preamble",)))
    history = body.get("chat_history")
    for i, turn in enumerate(history if isinstance(history, list) else ()):
        if isinstance(turn, dict) and isinstance(turn.get("message"), str):
            role = _COHERE_ROLES.get(str(turn.get("role")).upper(), "user")
            out.append(Text(role, turn["message"], ("chat_history", i, "message")))
    for key in ("prompt", "inputText", "message"):
        if isinstance(body.get(key), str):
            out.append(Text("user", body[key], (key,)))
    texts = body.get("texts")
    if isinstance(texts, list):
        for i, t in enumerate(texts):
            if isinstance(t, str):
                out.append(Text("user", t, ("texts", i)))
    docs = body.get("documents")
    if isinstance(docs, list):
        for path, v in leaves(docs, ("documents",)):
            out.append(Text("user", v, path, "document"))
    results = body.get("tool_results")
    for i, r in enumerate(results if isinstance(results, list) else ()):
        if not isinstance(r, dict):
            continue
        call = r.get("call")
        if isinstance(call, dict):
            for path, v in leaves(call.get("parameters"), ("tool_results", i, "call", "parameters")):
                out.append(Text("assistant", v, path, "tool_call"))
        for path, v in leaves(r.get("outputs"), ("tool_results", i, "outputs")):
            out.append(Text("tool", v, path, "tool_result"))


def _search_result(sr: dict[str, Any], at: Path, role: str, out: list[Text]) -> None:
    """A search result: ``{"source", "title", "content": [{"text"}]}``."""
    content = sr.get("content")
    for k, c in enumerate(content if isinstance(content, list) else ()):
        if isinstance(c, dict) and isinstance(c.get("text"), str):
            out.append(Text(role, c["text"], (*at, "content", k, "text"), "document"))
    for key in ("title", "source"):
        if isinstance(sr.get(key), str):
            out.append(Text(role, sr[key], (*at, key), "document"))


def _document(doc: dict[str, Any], at: Path, role: str, out: list[Text]) -> None:
    _document_source(doc, at, role, out)
    if isinstance(doc.get("context"), str):  # how the model is to read it (citations)
        out.append(Text(role, doc["context"], (*at, "context"), "document"))


def _document_source(doc: dict[str, Any], at: Path, role: str, out: list[Text]) -> None:
    src = doc.get("source")
    if not isinstance(src, dict):
        return
    if isinstance(src.get("text"), str):
        out.append(Text(role, src["text"], (*at, "source", "text"), "document"))
    elif isinstance(src.get("content"), list):
        for k, c in enumerate(src["content"]):
            if isinstance(c, dict) and isinstance(c.get("text"), str):
                out.append(Text(role, c["text"], (*at, "source", "content", k, "text"), "document"))
    elif isinstance(src.get("bytes"), str) and doc.get("format") in _TEXT_FORMATS:
        raw = src["bytes"]
        if len(raw) <= _MAX_DOC_B64:
            try:
                text = base64.b64decode(raw, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return
            out.append(Text(role, text, (*at, "source", "bytes"), "document"))


#: the other families' answers: (key, nested key) -- Llama ``generation``, Mistral ``outputs[].text``,
#: Titan ``results[].outputText``, Cohere ``text`` / ``generations[].text``, legacy ``completion`` (an
#: OpenAI-shaped answer, gpt-oss's, is read by its ``choices``)
_FAMILY_FIELDS = (("generation", None), ("completion", None), ("text", None), ("outputText", None))
_FAMILY_LISTS = (("outputs", "text"), ("results", "outputText"), ("generations", "text"))


def _family_texts(obj: dict[str, Any], base: Path, out: list[Text]) -> None:
    for key, _ in _FAMILY_FIELDS:
        if isinstance(obj.get(key), str):
            out.append(Text("assistant", obj[key], (*base, key)))
    for key, inner in _FAMILY_LISTS:
        items = obj.get(key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict) and isinstance(item.get(inner), str):
                    out.append(Text("assistant", item[inner], (*base, key, i, inner)))


def _stream_family_texts(chunk: dict[str, Any], base: Path) -> list[Text]:
    out: list[Text] = []
    choices = chunk.get("choices")
    if isinstance(choices, list):  # an OpenAI chat completion chunk (gpt-oss): each choice's delta
        for ci, ch in enumerate(choices):
            delta = ch.get("delta") if isinstance(ch, dict) else None
            if isinstance(delta, dict):
                at = (*base, "choices", ci, "delta")
                for key in ("content", "reasoning_content", "refusal"):
                    if isinstance(delta.get(key), str):
                        out.append(Text("assistant", delta[key], (*at, key)))
                calls = delta.get("tool_calls")
                for k, call in enumerate(calls if isinstance(calls, list) else ()):
                    fn = call.get("function") if isinstance(call, dict) else None
                    if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                        path = (*at, "tool_calls", k, "function", "arguments")
                        out.append(Text("assistant", fn["arguments"], path, "tool_call"))
        return out
    _family_texts(chunk, base, out)
    return out


DIALECT = Bedrock()
