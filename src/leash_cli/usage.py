"""Token usage and completion text, read from provider responses.

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

from leash_cli.exchange import Exchange, Usage

__all__ = ["UsageTracker", "prepare_request", "prompt_text", "usage_from_json"]

INCLUDE_USAGE_ANNOTATION = "leash_include_usage"


# -- request side --------------------------------------------------------------


def prepare_request(ex: Exchange) -> None:
    """Ask an OpenAI Chat Completions stream for its usage when the client did not.

    Sets ``ex.annotations["leash_include_usage"] = True`` when it did, so the
    tracker knows to hide the usage-only final chunk from the client.
    """
    if ex.api != "openai" or not ex.stream or not ex.path.rstrip("/").endswith("chat/completions"):
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


# -- usage blocks --------------------------------------------------------------


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    return None


def _openai_usage(u: dict) -> Usage:
    """Chat Completions, Responses and Embeddings usage objects."""
    out = Usage()
    if "prompt_tokens" in u or "completion_tokens" in u:  # chat / completions / embeddings
        out.input_tokens = _int(u.get("prompt_tokens"))
        out.output_tokens = _int(u.get("completion_tokens"))
        in_details = u.get("prompt_tokens_details")
        out_details = u.get("completion_tokens_details")
    else:  # responses
        out.input_tokens = _int(u.get("input_tokens"))
        out.output_tokens = _int(u.get("output_tokens"))
        in_details = u.get("input_tokens_details")
        out_details = u.get("output_tokens_details")
    if isinstance(in_details, dict):
        out.cached_input_tokens = _int(in_details.get("cached_tokens"))
    if isinstance(out_details, dict):
        out.reasoning_tokens = _int(out_details.get("reasoning_tokens"))
    return out


def _anthropic_usage(u: dict) -> Usage:
    """Anthropic ``usage``: input_tokens excludes the cache parts, we add them back."""
    out = Usage()
    base = _int(u.get("input_tokens"))
    read = _int(u.get("cache_read_input_tokens"))
    write = _int(u.get("cache_creation_input_tokens"))
    if base is not None:
        out.input_tokens = base + (read or 0) + (write or 0)
    if read is not None:
        out.cached_input_tokens = read
    if write is not None:
        out.cache_write_tokens = write
    out.output_tokens = _int(u.get("output_tokens"))
    return out


def _gemini_usage(u: dict) -> Usage:
    out = Usage()
    prompt = _int(u.get("promptTokenCount"))
    tool = _int(u.get("toolUsePromptTokenCount"))
    if prompt is not None or tool is not None:
        out.input_tokens = (prompt or 0) + (tool or 0)
    cands = _int(u.get("candidatesTokenCount"))
    thoughts = _int(u.get("thoughtsTokenCount"))
    if cands is not None or thoughts is not None:
        out.output_tokens = (cands or 0) + (thoughts or 0)
    out.reasoning_tokens = thoughts
    out.cached_input_tokens = _int(u.get("cachedContentTokenCount"))
    return out


def usage_from_json(api: str, obj: Any) -> Usage | None:
    """The usage reported by one parsed response object (None: none reported)."""
    if not isinstance(obj, dict):
        return None
    if api == "google":
        u = obj.get("usageMetadata")
        return _gemini_usage(u) if isinstance(u, dict) else None
    u = obj.get("usage")
    if not isinstance(u, dict):
        resp = obj.get("response")  # Responses API stream events carry the response
        u = resp.get("usage") if isinstance(resp, dict) else None
        if not isinstance(u, dict):
            return None
    if api == "anthropic":
        return _anthropic_usage(u)
    return _openai_usage(u)


# -- text ----------------------------------------------------------------------


def _openai_json_text(obj: dict) -> str | None:
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
                    parts.extend(_parts_text(c))
                elif isinstance(msg.get("refusal"), str):
                    parts.append(msg["refusal"])
            elif isinstance(ch.get("text"), str):  # legacy completions
                parts.append(ch["text"])
        return "\n".join(parts)
    output = obj.get("output")
    if isinstance(output, list):  # Responses API
        if isinstance(obj.get("output_text"), str):
            return obj["output_text"]
        parts = []
        for item in output:
            if isinstance(item, dict) and item.get("type") == "message":
                for c in item.get("content") or ():
                    if isinstance(c, dict) and c.get("type") in ("output_text", "refusal"):
                        t = c.get("text", c.get("refusal"))
                        if isinstance(t, str):
                            parts.append(t)
        return "".join(parts)
    return None


def _anthropic_json_text(obj: dict) -> str | None:
    content = obj.get("content")
    if not isinstance(content, list):
        return None
    return "".join(
        c["text"] for c in content if isinstance(c, dict) and c.get("type") == "text" and isinstance(c.get("text"), str)
    )


def _gemini_parts_text(obj: dict) -> list[str]:
    out: list[str] = []
    cands = obj.get("candidates")
    if not isinstance(cands, list):
        return out
    for cand in cands[:1]:  # the first candidate, like the SDKs' `.text`
        content = cand.get("content") if isinstance(cand, dict) else None
        parts = content.get("parts") if isinstance(content, dict) else None
        for p in parts if isinstance(parts, list) else ():
            if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought"):
                out.append(p["text"])
    return out


def _parts_text(parts: list) -> list[str]:
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        elif isinstance(p, dict) and isinstance(p.get("text"), str):
            out.append(p["text"])
    return out


def _response_model(api: str, obj: dict) -> str | None:
    if api == "google":
        m = obj.get("modelVersion")
    else:
        m = obj.get("model")
        if m is None:
            inner = obj.get("message") or obj.get("response")
            m = inner.get("model") if isinstance(inner, dict) else None
    return m if isinstance(m, str) and m else None


# -- the tracker ---------------------------------------------------------------


_UNPARSED = object()


class UsageTracker:
    """Follows one response, buffered or streamed, and fills the exchange.

    ``on_json(body)`` for a buffered body; ``on_event(event, data, raw)`` for
    each SSE event; ``finish()`` once at the end (also after an error or a
    cancelled stream).
    """

    __slots__ = ("ex", "api", "keep_events", "events", "_text", "_choices", "_hide_usage", "_seen_text")

    def __init__(self, ex: Exchange, keep_events: bool = False):
        self.ex = ex
        self.api = ex.api
        self.keep_events = keep_events
        self.events: list[bytes] | None = [] if keep_events else None
        self._text: list[str] = []
        self._choices: dict[int, list[str]] | None = None  # chat streams with n > 1
        self._hide_usage = bool(ex.annotations.get(INCLUDE_USAGE_ANNOTATION))
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
        for o in objs:
            if not isinstance(o, dict):
                continue
            u = usage_from_json(self.api, o)
            if u is not None:
                ex.usage.merge(u)
            if ex.model is None:
                ex.model = _response_model(self.api, o)
            if self.api == "google":
                t = _gemini_parts_text(o)
                if t:
                    self._text.extend(t)
                    self._seen_text = True
                elif "candidates" in o:
                    self._seen_text = True
            else:
                t = _anthropic_json_text(o) if self.api == "anthropic" else _openai_json_text(o)
                if t is not None:
                    self._text.append(t)
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
        api = self.api
        if api == "anthropic":
            self._anthropic_event(obj)
        elif api == "google":
            self._gemini_event(obj)
        else:
            return self._openai_event(obj)
        return True

    def _text_seen(self, text: str) -> None:
        if not self._seen_text:
            self._seen_text = True
            if self.ex.t_first_token is None:
                self.ex.t_first_token = time.perf_counter()
        self._text.append(text)

    def _openai_event(self, obj: dict) -> bool:
        ex = self.ex
        typ = obj.get("type")
        if isinstance(typ, str):  # Responses API
            if typ == "response.output_text.delta":
                d = obj.get("delta")
                if isinstance(d, str):
                    self._text_seen(d)
            elif typ in ("response.completed", "response.incomplete", "response.failed", "response.created"):
                resp = obj.get("response")
                if isinstance(resp, dict):
                    u = resp.get("usage")
                    if isinstance(u, dict):
                        ex.usage.merge(_openai_usage(u))
                    if ex.model is None:
                        ex.model = _response_model("openai", resp)
            return True
        # Chat Completions / legacy completions chunk
        if ex.model is None:
            ex.model = _response_model("openai", obj)
        choices = obj.get("choices")
        u = obj.get("usage")
        if isinstance(u, dict):
            ex.usage.merge(_openai_usage(u))
            if self._hide_usage and isinstance(choices, list) and not choices:
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
                        self._text_seen(t)
                    else:
                        if self._choices is None:
                            self._choices = {}
                        self._choices.setdefault(idx, []).append(t)
        return True

    def _anthropic_event(self, obj: dict) -> None:
        ex = self.ex
        typ = obj.get("type")
        if typ == "content_block_delta":
            d = obj.get("delta")
            if isinstance(d, dict) and d.get("type") == "text_delta" and isinstance(d.get("text"), str):
                self._text_seen(d["text"])
        elif typ == "message_start":
            msg = obj.get("message")
            if isinstance(msg, dict):
                u = msg.get("usage")
                if isinstance(u, dict):
                    ex.usage.merge(_anthropic_usage(u))
                if ex.model is None:
                    ex.model = _response_model("anthropic", msg)
        elif typ == "message_delta":
            u = obj.get("usage")
            if isinstance(u, dict):
                # cumulative: output_tokens always; the input counts only when present
                delta = Usage(output_tokens=_int(u.get("output_tokens")))
                if u.get("input_tokens") is not None:
                    delta = _anthropic_usage(u)
                ex.usage.merge(delta)

    def _gemini_event(self, obj: dict) -> None:
        ex = self.ex
        u = obj.get("usageMetadata")
        if isinstance(u, dict):
            ex.usage.merge(_gemini_usage(u))
        if ex.model is None:
            ex.model = _response_model("google", obj)
        for t in _gemini_parts_text(obj):
            self._text_seen(t)

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
            ex.stream_events = self.events


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
        for key in ("content", "parts", "input"):
            if key in v:
                _collect(v[key], out, depth + 1)
                return
