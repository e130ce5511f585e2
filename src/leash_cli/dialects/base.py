"""What every dialect shares: the :class:`Text` a scanner reads, the normalised :class:`Usage`,
JSON path helpers, and the :class:`Dialect` base class each wire format implements.

A dialect is a stateless singleton (one per wire format); per-exchange state (a stream's text so
far, its usage) lives in the caller (``usage.UsageTracker``, ``pipeline.ResponseFlow``), which
hands itself to the dialect where the dialect must update it (:class:`StreamState`).

Nothing here imports a web framework, the pipeline or the exchange: a dialect sees an exchange
through the :class:`Call` protocol, so ``exchange`` can hold a dialect without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol

import orjson

__all__ = [
    "Call",
    "Dialect",
    "Path",
    "StreamState",
    "Text",
    "Usage",
    "as_int",
    "cap_max_tokens",
    "error_type",
    "get_at",
    "leaves",
    "set_at",
    "tool_descriptions",
]

#: Where a string lives in a JSON body: keys and indexes from the root.
Path = tuple[Any, ...]


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


def leaves(value: Any, base: Path) -> Iterator[tuple[Path, str]]:
    """Every string leaf of a JSON value (tool arguments), with its path."""
    if isinstance(value, str):
        yield base, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*base, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, (*base, i))


def as_int(v: Any) -> int | None:
    """A token count as reported (floats truncated; booleans and anything else: None)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    return None


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
    """Tool and schema descriptions the model reads: OpenAI ``tools[].function`` (and the
    Responses API's flat tools), Anthropic ``tools[]``, Gemini ``tools[].functionDeclarations[]``;
    OpenAI's ``prediction.content`` and ``response_format`` schema description.  (Every shape is
    looked for in every dialect's requests, as a client may send any of them.)"""
    tools = body.get("tools")
    if tools:
        for i, tool in enumerate(tools):
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
                        out.append(
                            Text("system", decl["description"], ("tools", i, key, j, "description"), "tool_spec")
                        )
    pred = body.get("prediction")
    if isinstance(pred, dict) and isinstance(pred.get("content"), str):
        out.append(Text("user", pred["content"], ("prediction", "content")))
    rf = body.get("response_format")
    js = rf.get("json_schema") if isinstance(rf, dict) else None
    if isinstance(js, dict) and isinstance(js.get("description"), str):
        out.append(Text("system", js["description"], ("response_format", "json_schema", "description"), "tool_spec"))


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
        return path

    def auth_header(self, key: str) -> tuple[str, str]:
        """(header, value) carrying a provider key the way this provider's SDK sends it."""
        return self.key_header, self.key_prefix + key

    def build_request(
        self, model: str, turns: list[dict[str, Any]], system: str | None, stream: bool
    ) -> tuple[str, str, dict[str, Any]]:
        """(path, query, body) of a plain chat request: `turns` as ``{"role", "content"}``."""
        raise NotImplementedError

    # -- response -------------------------------------------------------------------
    def response_texts(self, body: Any) -> list[Text]:
        """Every string of a response body the model wrote (a JSON array: each element's)."""
        out: list[Text] = []
        if isinstance(body, list):  # Gemini non-SSE stream: a JSON array of responses
            for i, item in enumerate(body):
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

    def __repr__(self) -> str:
        return f"<dialect {self.name}>"
