"""Token usage and completion text, read from provider responses.

Where each provider puts them is its dialect's knowledge (``Dialect.usage``,
``Dialect.track_event``, ``Dialect.body_text`` in :mod:`leash_cli.dialects`);
the :class:`UsageTracker` here holds one response's state and asks the dialect.

One normalisation for every provider (what lands in ``Exchange.usage`` and in
the ``requests`` table):

===================== ==========================================================
``input_tokens``      every prompt token, cached and cache-write ones included.
                      OpenAI ``prompt_tokens`` / Responses ``input_tokens``;
                      Anthropic ``input_tokens + cache_read_input_tokens +
                      cache_creation_input_tokens``; Gemini ``promptTokenCount
                      + toolUsePromptTokenCount``.
``cached_input_tokens`` the part of the input read from a prompt cache (OpenAI
                      ``*_tokens_details.cached_tokens``, Anthropic
                      ``cache_read_input_tokens``, Gemini
                      ``cachedContentTokenCount``).
``cache_write_tokens`` the part of the input written to a cache (Anthropic
                      ``cache_creation_input_tokens``; others report none).
``output_tokens``     every generated token, reasoning included.  OpenAI
                      ``completion_tokens`` / ``output_tokens``; Anthropic
                      ``output_tokens``; Gemini ``candidatesTokenCount +
                      thoughtsTokenCount``.  Embeddings report no output (None).
``reasoning_tokens``  the reasoning part of ``output_tokens`` (OpenAI
                      ``reasoning_tokens``, Gemini ``thoughtsTokenCount``;
                      Anthropic does not report it separately: None).
===================== ==========================================================

So ``input_tokens - cached_input_tokens - cache_write_tokens`` is the input
billed at the plain input price (see ``pricing.py``).  A count the provider did
not report stays None; it is never guessed.

Streams: usage is updated as events arrive (Anthropic ``message_start`` then
cumulative ``message_delta``; Gemini cumulative ``usageMetadata`` in every
chunk; OpenAI the final usage chunk or ``response.completed``), so a stream cut
off early keeps the usage seen so far.  Each SSE data payload is parsed once
with orjson; ``[DONE]`` and non-JSON payloads are skipped.

OpenAI Chat Completions streams report usage only when the client asks with
``stream_options.include_usage``.  :func:`prepare_request` asks on the
client's behalf and :meth:`UsageTracker.on_event` then hides the extra
usage-only chunk from the client, so the client sees the stream it asked for.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from leash_cli.dialects import for_api
from leash_cli.dialects.base import Usage
from leash_cli.dialects.openai import INCLUDE_USAGE_ANNOTATION
from leash_cli.exchange import Exchange

__all__ = ["UsageTracker", "prepare_request", "prompt_text", "usage_from_json"]


# -- request side --------------------------------------------------------------


def prepare_request(ex: Exchange) -> None:
    """Ask a stream for its usage when the client did not (the dialect knows how: an OpenAI
    Chat Completions stream gets ``stream_options.include_usage`` and
    ``ex.annotations["leash_include_usage"] = True``, so the tracker hides the usage-only chunk)."""
    ex.dialect.prepare_request(ex)


def usage_from_json(api: str, obj: Any) -> Usage | None:
    """The usage reported by one parsed response object (None: none reported)."""
    return for_api(api).usage(obj)


# -- the tracker ---------------------------------------------------------------


_UNPARSED = object()


class UsageTracker:
    """Follows one response, buffered or streamed, and fills the exchange.

    ``on_json(body)`` for a buffered body; ``on_event(event, data, raw)`` for
    each SSE event; ``finish()`` once at the end (also after an error or a
    cancelled stream).  What each event means is the dialect's
    (``Dialect.track_event``, ``Dialect.body_text``); the tracker holds the state.
    """

    __slots__ = ("ex", "api", "dialect", "keep_events", "events", "_text", "_choices", "hide_usage", "_seen_text")

    def __init__(self, ex: Exchange, keep_events: bool = False):
        self.ex = ex
        self.api = ex.api
        self.dialect = ex.dialect
        self.keep_events = keep_events
        self.events: list[bytes] | None = [] if keep_events else None
        self._text: list[str] = []
        self._choices: dict[int, list[str]] | None = None  # chat streams with n > 1
        self.hide_usage = bool(ex.annotations.get(INCLUDE_USAGE_ANNOTATION))
        self._seen_text = False

    # buffered ---------------------------------------------------------------
    def on_json(self, body: bytes, parsed: Any = _UNPARSED) -> None:
        """A buffered JSON response body (a JSON array for Gemini's non-SSE stream); ``parsed``:
        the body already parsed (the response modules did), not parsed again."""
        if parsed is not _UNPARSED:
            obj = parsed
        else:
            try:
                obj = orjson.loads(body) if body else None
            except orjson.JSONDecodeError:
                return
        objs = obj if isinstance(obj, list) else [obj]
        ex = self.ex
        d = self.dialect
        for o in objs:
            if not isinstance(o, dict):
                continue
            u = d.usage(o)
            if u is not None:
                ex.usage.merge(u)
            if ex.model is None:
                ex.model = d.response_model(o)
            t = d.body_text(o)
            if t is not None:
                self._text.extend(t)
                self._seen_text = True
        if self._seen_text:
            ex.response_text = "".join(self._text)

    # streamed ---------------------------------------------------------------
    def on_event(self, event: str | None, data: bytes, raw: bytes) -> bool:
        """One SSE event.  False: do not pass it to the client."""
        if self.events is not None:
            self.events.append(raw)
        if not data or data[:1] not in (b"{", b"["):
            return True  # [DONE], comments, keep-alives
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return True
        if not isinstance(obj, dict):
            return True
        return self.dialect.track_event(self, obj)

    def text_seen(self, text: str) -> None:
        """Answer text (the first choice's): the first one stamps ``t_first_token``."""
        if not self._seen_text:
            self._seen_text = True
            if self.ex.t_first_token is None:
                self.ex.t_first_token = time.perf_counter()
        self._text.append(text)

    def choice_text(self, index: int, text: str) -> None:
        """Answer text of another choice (``n > 1``), appended after the first one's."""
        if self._choices is None:
            self._choices = {}
        self._choices.setdefault(index, []).append(text)

    # end --------------------------------------------------------------------
    def finish(self) -> None:
        """Set ``ex.response_text`` and ``ex.stream_events`` (usage is already up to date)."""
        ex = self.ex
        if self._seen_text or self._choices:
            text = "".join(self._text)
            if self._choices:
                text = "\n\n".join([text, *("".join(self._choices[i]) for i in sorted(self._choices))])
            ex.response_text = text
        if self.events is not None:
            d = self.dialect
            ex.stream_events = [d.recorded_event(e) for e in self.events] if d.binary_stream else self.events


# -- prompt text (for search) --------------------------------------------------


def prompt_text(body: Any) -> str | None:
    """The prompt of a request body (OpenAI, Anthropic or Gemini shape) as plain text.

    Joins ``system``/``instructions``/``systemInstruction``, every message's
    text (``messages``, ``input``, ``contents``, ``prompt``) with newlines.
    Images, tool schemas and other non-text parts are left out.
    """
    if not isinstance(body, dict):
        return None
    out: list[str] = []
    for key in ("system", "instructions", "systemInstruction", "system_instruction"):
        _collect(body.get(key), out)
    for key in ("messages", "input", "contents", "prompt"):
        _collect(body.get(key), out)
    text = "\n".join(t for t in out if t)
    return text or None


def _collect(v: Any, out: list[str], depth: int = 0) -> None:
    if v is None or depth > 6:
        return
    if isinstance(v, str):
        out.append(v)
    elif isinstance(v, list):
        for item in v:
            _collect(item, out, depth + 1)
    elif isinstance(v, dict):
        t = v.get("text")
        if isinstance(t, str):  # a part: {"type": "text", "text": ...} / {"text": ...}
            out.append(t)
            return
        for key in ("content", "parts", "input", "output"):  # output: a Responses function call's result
            if key in v:
                _collect(v[key], out, depth + 1)
                return
