"""What every dialect shares: the :class:`Text` a scanner reads, the normalised :class:`Usage`,
JSON path helpers, and the :class:`Dialect` base class each wire format implements.

A dialect is a stateless singleton (one per wire format); per-exchange state (a stream's text so
far, its usage) lives in the caller (``usage.UsageTracker``, ``pipeline.ResponseFlow``), which
hands itself to the dialect where the dialect must update it (:class:`StreamState`).

Nothing here imports a web framework, the pipeline or the exchange: a dialect sees an exchange
through the :class:`Call` protocol, so ``exchange`` can hold a dialect without an import cycle.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol

import orjson

from leash_cli.sse import SSESplitter, parse_event

__all__ = [
    "BodyUnreadable",
    "Call",
    "Dialect",
    "Encoded",
    "MAX_DOCUMENT_BYTES",
    "Path",
    "Splitter",
    "StreamState",
    "Text",
    "Usage",
    "as_int",
    "cap_max_tokens",
    "error_type",
    "get_at",
    "leaves",
    "row_fields",
    "set_at",
    "text_document",
    "tool_descriptions",
    "tool_texts",
]

#: Where a string lives in a JSON body: keys and indexes from the root.
Path = tuple[Any, ...]


class BodyUnreadable(ValueError):
    """A request body that is valid JSON but whose text a dialect will not read (content blocks nested past
    what it walks): the client's error, answered 400 by the request stage that first reads the text, whatever
    that module's mode -- never read as no text."""


class Text(NamedTuple):
    """One string of a body the model reads (immutable: a NamedTuple is built at twice the speed
    of a frozen dataclass, and a request makes a few of these on every call)."""

    role: str  # system | user | assistant | tool | developer | model
    text: str
    path: Path  # where the string lives in the body
    kind: str = "text"  # text | tool_call | tool_result | tool_spec | document | name

    @property
    def field(self) -> str:
        return ".".join(str(p) for p in self.path)


@dataclass(slots=True)
class Usage:
    """Token counts as the provider reported them (None: not reported); see ``usage.py``."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None

    def merge(self, other: Usage) -> None:
        """Take every count the other usage reports (later reports win)."""
        for name in _USAGE_FIELDS:
            v = getattr(other, name)
            if v is not None:
                setattr(self, name, v)

    @property
    def known(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None

    def as_dict(self) -> dict[str, int | None]:
        return {n: getattr(self, n) for n in _USAGE_FIELDS}


_USAGE_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens")


class Call(Protocol):
    """What a dialect reads and writes of one exchange (``leash_cli.exchange.Exchange`` is one)."""

    path: str
    stream: bool
    model: str | None
    usage: Usage
    annotations: dict[str, Any]

    def json(self) -> Any: ...

    def set_json(self, body: Any) -> None: ...


class Splitter(Protocol):
    """Cuts a streamed response into whole events as its bytes arrive (``sse.SSESplitter`` for
    server-sent events; Bedrock's event-stream messages have their own)."""

    def feed(self, chunk: bytes) -> list[bytes]: ...

    def flush(self) -> bytes: ...


class StreamState(Protocol):
    """What a dialect updates while it reads a response (``usage.UsageTracker``)."""

    @property
    def ex(self) -> Call: ...

    hide_usage: bool  # the client did not ask for the usage-only chunk: hide it

    def text_seen(self, text: str) -> None:
        """Answer text of the first choice / candidate / block."""

    def choice_text(self, index: int, text: str) -> None:
        """Answer text of another choice (``n > 1``)."""


# -- JSON helpers -----------------------------------------------------------------------------


class Encoded(str):
    """The last step of a :class:`Text` path whose string is stored base64-encoded (a text
    document or file sent inline): the text is the decoded document; writing it back
    (:func:`set_at`, a redaction) encodes it again, after ``prefix`` (a ``data:`` URL's head)."""

    prefix: str

    def __new__(cls, prefix: str = "") -> Encoded:
        self = super().__new__(cls, "base64")
        self.prefix = prefix
        return self


def set_at(body: Any, path: Path, value: Any) -> None:
    """Write `value` at `path` in `body` (in place); a path ending in :class:`Encoded` stores it encoded."""
    last = path[-1]
    if type(last) is Encoded:
        path = path[:-1]
        value = last.prefix + base64.b64encode(str(value).encode("utf-8")).decode("ascii")
        last = path[-1]
    cur = body
    for p in path[:-1]:
        cur = cur[p]
    cur[last] = value


#: Most bytes of one base64-encoded text document that are decoded and scanned (the rest of a
#: larger document is not decoded; a redaction of it keeps only the scanned part).
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-yaml", "application/yaml")
_TEXT_SUFFIXES = (".txt", ".md", ".csv", ".tsv", ".json", ".jsonl", ".xml", ".yaml", ".yml", ".html", ".htm", ".log")


def text_document(data: Any, media_type: Any = None, filename: Any = None) -> tuple[str, str] | None:
    """(decoded text, data-URL prefix) of a base64-encoded document a model reads as text: its
    media type (given, or in a ``data:...;base64,`` prefix) is text, or its file name says so.
    Binary types (PDF, images) and undecodable data give None.  At most
    :data:`MAX_DOCUMENT_BYTES` are decoded."""
    if not isinstance(data, str) or not data:
        return None
    prefix = ""
    if data.startswith("data:"):
        comma = data.find(",", 0, 256)
        if comma < 0 or not data[:comma].endswith(";base64"):
            return None
        prefix = data[: comma + 1]
        media_type = data[5 : comma - 7]
        data = data[comma + 1 :]
    mt = media_type.lower() if isinstance(media_type, str) else ""
    if not (
        mt.startswith(_TEXT_TYPES)
        or (not mt and isinstance(filename, str) and filename.lower().endswith(_TEXT_SUFFIXES))
    ):
        return None
    cut = MAX_DOCUMENT_BYTES // 3 * 4
    try:
        raw = base64.b64decode(data[:cut] if len(data) > cut else data, validate=False)
    except (binascii.Error, ValueError):
        return None
    if b"\x00" in raw[:4096]:
        return None  # binary, whatever its label says
    return raw.decode("utf-8", "replace"), prefix


_SCHEMA_TEXT_KEYS = ("description", "title")
_SCHEMA_LIST_KEYS = ("enum", "examples")
_MAX_SCHEMA_DEPTH = 64


def schema_texts(schema: Any, base: Path, out: list[Text], depth: int = 0) -> None:
    """The texts of a JSON schema the model reads: every ``description`` and ``title``, the
    string values of ``enum``, ``examples``, ``const`` and ``default``, at any depth
    (``properties.*``, ``items``, ``anyOf`` ..., ``$defs``)."""
    if depth > _MAX_SCHEMA_DEPTH:
        return
    if isinstance(schema, dict):
        for k, v in schema.items():
            if isinstance(v, str):
                if k in _SCHEMA_TEXT_KEYS or k in ("const", "default"):
                    out.append(Text("system", v, (*base, k), "tool_spec"))
            elif k in _SCHEMA_LIST_KEYS and isinstance(v, list):
                for i, e in enumerate(v):
                    if isinstance(e, str):
                        out.append(Text("system", e, (*base, k, i), "tool_spec"))
                    else:
                        schema_texts(e, (*base, k, i), out, depth + 1)
            elif isinstance(v, (dict, list)):
                schema_texts(v, (*base, k), out, depth + 1)
    elif isinstance(schema, list):
        for i, v in enumerate(schema):
            if isinstance(v, (dict, list)):
                schema_texts(v, (*base, i), out, depth + 1)


def get_at(body: Any, path: Path) -> Any:
    cur = body
    for p in path:
        cur = cur[p]
    return cur


def leaves(value: Any, base: Path) -> Iterator[tuple[Path, str]]:
    """Every string leaf of a JSON value (tool arguments), with its path, in document order. A loop over
    a stack, not a recursion: a body may nest as deep as the JSON parser allows (orjson: 1,024 levels),
    deeper than Python's recursion limit."""
    if isinstance(value, str):
        yield base, value
        return
    if not isinstance(value, (dict, list)):
        return
    stack: list[tuple[Path, Iterator[tuple[Any, Any]]]] = [
        (base, iter(value.items()) if isinstance(value, dict) else enumerate(value))
    ]
    while stack:
        path, items = stack[-1]
        for k, v in items:
            if isinstance(v, str):
                yield (*path, k), v
            elif isinstance(v, dict):
                stack.append(((*path, k), iter(v.items())))
                break
            elif isinstance(v, list):
                stack.append(((*path, k), enumerate(v)))
                break
        else:
            stack.pop()


def row_fields(
    obj: dict[str, Any], table: tuple[tuple[str, tuple[str, ...]], ...], at: Path, role: str, kind: str, out: list[Text]
) -> None:
    """For each ``(list key, fields)`` of `table`: the string `fields` of each dict in ``obj[list key]``
    (search hits' text, a browser's tabs, shell output rows)."""
    for key, fields in table:
        rows = obj.get(key)
        for k, row in enumerate(rows if isinstance(rows, list) else ()):
            if isinstance(row, dict):
                for f in fields:
                    if isinstance(row.get(f), str):
                        out.append(Text(role, row[f], (*at, key, k, f), kind))


def as_int(v: Any) -> int | None:
    """A token count as reported (floats truncated; booleans and anything else: None)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    return None


def cached_usage(inputs: int | None, read: int | None, write: int | None, output: int | None) -> Usage:
    """A usage whose input count excludes the cache's reads and writes (Anthropic, Converse): they are
    added back, and reported apart."""
    out = Usage()
    if inputs is not None:
        out.input_tokens = inputs + (read or 0) + (write or 0)
    out.cached_input_tokens = read
    out.cache_write_tokens = write
    out.output_tokens = output
    return out


def chat_turns(turns: list[dict[str, Any]], assistant: str, content: str) -> list[dict[str, Any]]:
    """Plain role/text turns as a provider's messages: ``{"role": user | assistant, content: [{"text"}]}``."""
    return [
        {
            "role": assistant if t.get("role") in ("assistant", "model") else "user",
            content: [{"text": str(t.get("content", ""))}],
        }
        for t in turns
    ]


def error_type(table: dict[int, str], status: int) -> str:
    """The provider's error type for `status` (an unknown status: that of 500 or 400)."""
    t = table.get(status)
    if t is None:
        t = table[500] if status >= 500 else table[400]
    return t


def cap_max_tokens(body: dict[str, Any], rest: str, cap: int) -> bool:
    """The output cap of an OpenAI- or Anthropic-shaped call set to `cap` (False: the call takes none)."""
    if rest.endswith("responses"):
        body["max_output_tokens"] = cap
    elif "max_completion_tokens" in body:
        body["max_completion_tokens"] = cap
    elif rest.endswith(("completions", "messages")):
        body["max_tokens"] = cap
    else:
        return False
    return True


def tool_descriptions(body: dict[str, Any], out: list[Text]) -> None:
    """Tool and schema descriptions the model reads: OpenAI ``tools[].function`` and
    ``tools[].custom`` (and the Responses API's flat tools, an MCP server's description, a
    namespace's own tools), Anthropic ``tools[]``, Gemini ``tools[].functionDeclarations[]``;
    OpenAI's ``prediction.content`` (a string or text parts) and the ``response_format`` /
    ``text.format`` schema description.  (Every shape is looked for in every dialect's requests,
    as a client may send any of them.)"""
    tools = body.get("tools")
    if tools:
        tool_texts(tools, ("tools",), out)
    pred = body.get("prediction")
    if isinstance(pred, dict):
        pc = pred.get("content")
        if isinstance(pc, str):
            out.append(Text("user", pc, ("prediction", "content")))
        elif isinstance(pc, list):
            for j, part in enumerate(pc):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    out.append(Text("user", part["text"], ("prediction", "content", j, "text")))
    rf = body.get("response_format")
    js = rf.get("json_schema") if isinstance(rf, dict) else None
    if isinstance(js, dict):
        if isinstance(js.get("description"), str):
            out.append(
                Text("system", js["description"], ("response_format", "json_schema", "description"), "tool_spec")
            )
        if "schema" in js:
            schema_texts(js["schema"], ("response_format", "json_schema", "schema"), out)
    text_fmt = body.get("text")  # the Responses API's structured output: text.format.schema
    fmt = text_fmt.get("format") if isinstance(text_fmt, dict) else None
    if isinstance(fmt, dict):
        if isinstance(fmt.get("description"), str):
            out.append(Text("system", fmt["description"], ("text", "format", "description"), "tool_spec"))
        if "schema" in fmt:
            schema_texts(fmt["schema"], ("text", "format", "schema"), out)
    for gkey in ("generationConfig", "generation_config"):  # Gemini's structured output
        gc = body.get(gkey)
        if isinstance(gc, dict):
            for skey in ("responseSchema", "response_schema", "responseJsonSchema", "response_json_schema"):
                if skey in gc:
                    schema_texts(gc[skey], (gkey, skey), out)


_MAX_TOOL_DEPTH = 8


def tool_texts(tools: Any, base: Path, out: list[Text], depth: int = 0) -> None:
    """The descriptions and parameter schemas of a list of tools at `base` (a request's ``tools``,
    or a list the Responses API carries in an item: ``mcp_list_tools``, ``additional_tools``,
    ``tool_search_output``): OpenAI ``function`` / ``custom`` tools, flat tools (and their
    ``output_schema``), an MCP tool's ``server_description``, a namespace's nested ``tools``, Gemini
    function declarations (their parameters' and response's schemas)."""
    if not isinstance(tools, list) or depth > _MAX_TOOL_DEPTH:
        return
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            continue
        at = (*base, i)
        for key in ("function", "custom"):
            fn = tool.get(key)
            if isinstance(fn, dict):
                if isinstance(fn.get("description"), str):
                    out.append(Text("system", fn["description"], (*at, key, "description"), "tool_spec"))
                _schemas(fn, (*at, key), out)
        for key in ("description", "server_description"):
            if isinstance(tool.get(key), str):
                out.append(Text("system", tool[key], (*at, key), "tool_spec"))
        _schemas(tool, at, out)
        for key in ("functionDeclarations", "function_declarations"):
            decls = tool.get(key)
            for j, decl in enumerate(decls if isinstance(decls, list) else ()):
                if isinstance(decl, dict):
                    if isinstance(decl.get("description"), str):
                        out.append(Text("system", decl["description"], (*at, key, j, "description"), "tool_spec"))
                    _schemas(decl, (*at, key, j), out, _DECLARATION_SCHEMA_KEYS)
        if isinstance(tool.get("tools"), list):  # a namespace's own tools
            tool_texts(tool["tools"], (*at, "tools"), out, depth + 1)


#: where a tool keeps its schemas: OpenAI ``parameters`` (and a Responses function tool's
#: ``output_schema``), Anthropic ``input_schema``, Gemini ``parameters`` / ``parametersJsonSchema``
#: (and the snake-case spellings)
_SCHEMA_KEYS = ("parameters", "input_schema", "parametersJsonSchema", "parameters_json_schema", "output_schema")
#: a Gemini function declaration's: its parameters' and its response's
_DECLARATION_SCHEMA_KEYS = (
    "parameters",
    "parametersJsonSchema",
    "parameters_json_schema",
    "response",
    "responseJsonSchema",
    "response_json_schema",
)


def _schemas(tool: dict[str, Any], base: Path, out: list[Text], keys: tuple[str, ...] = _SCHEMA_KEYS) -> None:
    for key in keys:
        if key in tool:
            schema_texts(tool[key], (*base, key), out)


# -- the dialect --------------------------------------------------------------------------------


class Dialect:
    """One provider wire format.  Subclasses override what differs; the defaults here are
    the neutral answers (no text, no usage).  Instances are stateless and shared."""

    #: the api name: ``Exchange.api``, the value ``for_api`` looks up
    name: ClassVar[str] = ""
    #: the header a client (or leash, upstream) sends the provider key in, and its prefix
    key_header: ClassVar[str] = "authorization"
    key_prefix: ClassVar[str] = "Bearer "
    #: whether the provider also takes its key as a ``?key=`` query parameter (stripped upstream)
    key_in_query: ClassVar[bool] = False
    #: path prefixes below the endpoint the provider serves; a path without one gets the first
    #: (``()``: the path is used as it is)
    path_prefixes: ClassVar[tuple[str, ...]] = ()
    #: genai-prices provider id (None: any provider whose model patterns match)
    pricing_id: ClassVar[str | None] = None
    #: a dialect that names the model in the path: (prefix, model, suffix) groups around it
    model_in_path: ClassVar[re.Pattern[str] | None] = None
    #: content types of a streamed answer (the proxy passes them through event by event)
    stream_types: ClassVar[tuple[str, ...]] = ("text/event-stream",)
    #: streamed events are binary (Bedrock's event-stream): the history keeps ``recorded_event`` of each
    binary_stream: ClassVar[bool] = False
    #: (path ending, OpenTelemetry ``gen_ai.operation.name``), the first match wins (see ``operation``)
    operations: ClassVar[tuple[tuple[str, str], ...]] = ()

    # -- request --------------------------------------------------------------------
    def request_texts(self, body: Any) -> list[Text]:
        """Every string of a request body the model reads, with role, path and kind."""
        return []

    def request_model(self, rest: str, body: Any, query: str | None = None) -> tuple[str | None, bool]:
        """(model, stream) of a request, from its body (or its path).  With `query`, `stream`
        says whether the answer comes as server-sent events."""
        if isinstance(body, dict):
            model = body.get("model")
            return (model if isinstance(model, str) else None), body.get("stream") is True
        return None, False

    def operation(self, rest: str) -> str:
        """What a call to `rest` does, in the OpenTelemetry GenAI conventions' words (``chat``,
        ``text_completion``, ``embeddings``, ``generate_content``); else the path's last word."""
        path = rest.partition("?")[0].rstrip("/")
        for ending, op in self.operations:
            if path.endswith(ending):
                return op
        return path.rpartition("/")[2].rpartition(":")[2] or "unknown"

    def prepare_request(self, ex: Call) -> None:
        """Last changes to a streamed request before it goes upstream (ask for usage)."""

    def hidden_inputs(self, body: Any) -> list[str]:
        """Input the provider adds to this request's prompt that its body does not hold (a stored
        conversation, an earlier response, an uploaded file, cached content), named by where it
        is referred to; the provider bills it as prompt tokens.  Budgets reserve for it."""
        return []

    def cap_output_tokens(self, body: dict[str, Any], rest: str, cap: int) -> bool:
        """Set the request's output-token limit to `cap`; False when this call takes none."""
        return False

    def upstream_rest(self, rest: str) -> str:
        """The path below the endpoint for a client path below the provider's route."""
        prefixes = self.path_prefixes
        if prefixes and not rest.startswith(prefixes):
            return prefixes[0] + rest
        return rest

    def with_model(self, rest: str, body: bytes | None, model: str) -> tuple[str, bytes | None]:
        """The call's path and body asking for `model` instead (a fallback's model rewrite): the
        body's ``model`` field here; a dialect that names the model in the path rewrites the path."""
        if self.model_in_path is not None:
            return self.path_with_model(rest, model), body
        if body:
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                return rest, body
            if isinstance(data, dict) and "model" in data:
                data["model"] = model
                body = orjson.dumps(data)
        return rest, body

    def path_with_model(self, path: str, model: str) -> str:
        """`path` naming `model` instead (for a dialect that names the model in the path)."""
        pattern = self.model_in_path
        if pattern is None:
            return path
        return pattern.sub(lambda m: f"{m.group(1)}{model}{m.group(3)}", path, count=1)

    def auth_header(self, key: str) -> tuple[str, str]:
        """(header, value) carrying a provider key the way this provider's SDK sends it."""
        return self.key_header, self.key_prefix + key

    def build_request(
        self, model: str, turns: list[dict[str, Any]], system: str | None, stream: bool
    ) -> tuple[str, str, dict[str, Any]]:
        """(path, query, body) of a plain chat request: `turns` as ``{"role", "content"}``."""
        raise NotImplementedError

    def price_fallbacks(self, model: str) -> list[tuple[str, str]]:
        """(genai-prices provider id, model) pairs to try when ``pricing_id`` does not list `model`
        (a cloud's id of another vendor's model: that vendor's own price)."""
        return []

    # -- response -------------------------------------------------------------------
    def response_texts(self, body: Any) -> list[Text]:
        """Every string of a response body the model wrote (a JSON array: each element's)."""
        out: list[Text] = []
        if isinstance(body, list):  # Gemini non-SSE stream: a JSON array of responses
            for i, item in enumerate(body):
                if isinstance(item, str):  # a body that is no JSON, as the pipeline wraps it: ``[text]``
                    out.append(Text("assistant", item, (i,)))
                    continue
                for t in self.response_texts(item):
                    out.append(Text(t.role, t.text, (i, *t.path), t.kind))
        elif isinstance(body, dict):
            self._response_texts(body, out)
        return out

    def _response_texts(self, body: dict[str, Any], out: list[Text]) -> None:
        pass

    def usage(self, obj: Any) -> Usage | None:
        """The usage one parsed response object (or stream event) reports (None: none)."""
        return None

    def response_model(self, obj: dict[str, Any]) -> str | None:
        """The model a response object says answered."""
        m = obj.get("model")
        if m is None:
            inner = obj.get("message") or obj.get("response")
            m = inner.get("model") if isinstance(inner, dict) else None
        return m if isinstance(m, str) and m else None

    def body_text(self, obj: dict[str, Any]) -> list[str] | None:
        """The answer text of a buffered response object, in pieces to join ("" each); None:
        this object is not an answer (an error, a count ...)."""
        return None

    # -- stream ----------------------------------------------------------------------
    def splitter(self) -> Splitter:
        """A fresh splitter for one streamed response (server-sent events here)."""
        return SSESplitter()

    def parse_event(self, raw: bytes) -> tuple[str | None, bytes]:
        """(event name, data) of one whole stream event: the data is what ``track_event`` and
        ``stream_texts`` read once parsed as JSON."""
        return parse_event(raw)

    def encode_event(self, name: str | None, obj: Any) -> bytes:
        """One stream event carrying `obj` (a rewritten or held-back delta), the inverse of ``parse_event``."""
        head = b"event: " + name.encode() + b"\n" if name else b""
        return head + b"data: " + orjson.dumps(obj) + b"\n\n"

    def recorded_event(self, raw: bytes) -> bytes:
        """One stream event as the history keeps it (text; a binary frame as an SSE-shaped event)."""
        return raw

    def stream_end(self, raw: bytes) -> bool:
        """Whether this whole event is the last one a complete answer carries (``[DONE]``,
        ``message_stop`` ...): a client that leaves after it had the whole answer.  False where the
        format has no such event."""
        return False

    def track_event(self, state: StreamState, obj: dict[str, Any]) -> bool:
        """Read one parsed stream event into `state` (usage, model, answer text).
        False: the client must not get this event (it asked for no usage chunk)."""
        return True

    def stream_texts(self, event: Any) -> list[Text]:
        """The text deltas of one parsed stream event (answer, reasoning, refusals, tool arguments)."""
        return []

    def stream_key(self, event: dict[str, Any], t: Text) -> tuple[Any, ...]:
        """Which stream of a response a delta belongs to (a choice's content, one tool call's
        arguments, one content block ...).  Deltas of one key are contiguous text."""
        return (t.path,)

    def aggregate_texts(self, event: dict[str, Any]) -> list[Text]:
        """Whole texts a stream repeats after its deltas (or sends whole, never as deltas)."""
        return []

    def clear_finish(self, event: dict[str, Any]) -> None:
        """Remove the end-of-stream markers of an event copied as a template for more text."""

    # -- errors -----------------------------------------------------------------------
    def error_body(self, status: int, message: str, code: str | None = None) -> bytes:
        """The JSON error body the provider's SDK turns into its typed exception."""
        raise NotImplementedError

    def error_event(self, body: bytes) -> bytes:
        """An error body as one server-sent event (a stream stopped mid-way)."""
        return b"data: " + body + b"\n\n"

    def stream_error(self, rest: str, status: int, message: str, code: str | None = None) -> bytes:
        """The event that ends a stream of a call to `rest` with an error its SDK raises."""
        return self.error_event(self.error_body(status, message, code))

    def error_headers(self, status: int, code: str | None = None) -> dict[str, str]:
        """Response headers an error of this provider carries besides its body (Bedrock's error type)."""
        return {}

    def write_text(self, body: Any, path: Path, value: str) -> None:
        """Write a rewritten (redacted) string back at `path` of a request body: in place, in the
        field's own encoding (a base64 document's bytes stay base64)."""
        set_at(body, path, value)

    def __repr__(self) -> str:
        return f"<dialect {self.name}>"
