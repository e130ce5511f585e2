"""Google Gemini (``v1beta/models/{model}:generateContent``, ``:streamGenerateContent``,
``:countTokens``, ``:embedContent`` ...).

The model and the call are in the path, not the body; a stream is ``streamGenerateContent``,
as server-sent events with ``?alt=sse`` and as one JSON array without it.

Texts: ``systemInstruction.parts[].text`` (or ``system_instruction``, or a plain string),
``contents[].parts[]``: ``text``, ``functionCall`` args leaves (tool calls), ``functionResponse``
response leaves and inline text files (tool results), ``executableCode`` / ``codeExecutionResult``,
built-in tools' ``toolCall`` / ``toolResponse``, in camelCase or snake_case; ``embedContent``'s
``content`` and ``title`` (and each of ``batchEmbedContents``' ``requests``); each request of a
``batchGenerateContent`` body (``batch.inputConfig.requests.requests[].request``); function
declarations' parameter and response schemas.

Usage: ``usageMetadata``: ``promptTokenCount + toolUsePromptTokenCount`` in,
``candidatesTokenCount + thoughtsTokenCount`` out (``thoughtsTokenCount`` the reasoning),
``cachedContentTokenCount`` cached; cumulative in every stream chunk.  Stream events are unnamed.

Errors: ``{"error": {"code", "message", "status", "details"?}}`` (``details``: an
``ErrorInfo`` with leash's code as its reason).  Keys: ``x-goog-api-key`` or ``?key=``.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import unquote

import orjson

from leash_cli.dialects.base import (
    Dialect,
    Encoded,
    Path,
    StreamState,
    Text,
    Usage,
    as_int,
    chat_turns,
    error_type,
    leaves,
    text_document,
    tool_descriptions,
)

__all__ = ["DIALECT", "Google", "usage_of"]

ERROR_STATUS: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_MODEL = re.compile(r"models/([^/:]+)(?::([A-Za-z]+))?")
_MODEL_IN_PATH = re.compile(r"(models/)([^/:]+)(:)")
#: part key: (kind, the key of what the model reads) -- function calls and responses, the code
#: execution tool's code and output, a built-in (server-side) tool's call and response
_PART_KEYS = {
    "functionCall": ("tool_call", "args"),
    "function_call": ("tool_call", "args"),
    "functionResponse": ("tool_result", "response"),
    "function_response": ("tool_result", "response"),
    "executableCode": ("tool_call", "code"),
    "executable_code": ("tool_call", "code"),
    "codeExecutionResult": ("tool_result", "output"),
    "code_execution_result": ("tool_result", "output"),
    "toolCall": ("tool_call", "args"),
    "tool_call": ("tool_call", "args"),
    "toolResponse": ("tool_result", "response"),
    "tool_response": ("tool_result", "response"),
}


class Google(Dialect):
    name: ClassVar[str] = "google"
    model_in_path: ClassVar[re.Pattern[str] | None] = _MODEL_IN_PATH
    operations: ClassVar[tuple[tuple[str, str], ...]] = (
        (":generateContent", "generate_content"),
        (":streamGenerateContent", "generate_content"),
        (":embedContent", "embeddings"),
        (":batchEmbedContents", "embeddings"),
    )
    key_header: ClassVar[str] = "x-goog-api-key"
    key_prefix: ClassVar[str] = ""
    key_in_query: ClassVar[bool] = True
    path_prefixes: ClassVar[tuple[str, ...]] = ("v1beta/", "v1alpha/", "v1/", "upload/")
    pricing_id: ClassVar[str | None] = "google"

    # -- request --------------------------------------------------------------------
    def request_texts(self, body: Any) -> list[Text]:
        if not isinstance(body, dict):
            return []
        out: list[Text] = []
        for key in ("systemInstruction", "system_instruction"):  # each where it is (both: both)
            si = body.get(key)
            if isinstance(si, dict):
                parts = si.get("parts")
                if isinstance(parts, list):
                    _parts(parts, (key, "parts"), "system", out)
            elif isinstance(si, str):
                out.append(Text("system", si, (key,)))
        contents = body.get("contents")
        if contents:
            for i, c in enumerate(contents):
                if isinstance(c, dict):
                    parts = c.get("parts")
                    if isinstance(parts, list):
                        role = str(c.get("role") or "user")
                        if len(parts) == 1:
                            p = parts[0]
                            if isinstance(p, dict) and len(p) == 1 and isinstance(p.get("text"), str):
                                # the common turn, one plain text part
                                out.append(Text(role, p["text"], ("contents", i, "parts", 0, "text")))
                                continue
                        _parts(parts, ("contents", i, "parts"), role, out)
        # embedContent: {"content", "title"}; batchEmbedContents: {"requests": [{"content", "title"}]}
        requests = body.get("requests")
        for base, req in [((), body)] + [
            (("requests", i), r) for i, r in enumerate(requests if isinstance(requests, list) else ())
        ]:
            if isinstance(req, dict):
                content = req.get("content")
                if isinstance(content, dict) and isinstance(content.get("parts"), list):
                    _parts(content["parts"], (*base, "content", "parts"), str(content.get("role") or "user"), out)
                if isinstance(req.get("title"), str):
                    out.append(Text("user", req["title"], (*base, "title")))
        tool_descriptions(body, out)
        batch = body.get("batch")
        if isinstance(batch, dict):
            self._batch_texts(batch, out)
        return out

    def _batch_texts(self, batch: dict[str, Any], out: list[Text]) -> None:
        """``batchGenerateContent``: ``batch.inputConfig.requests.requests[].request``, each a
        generateContent request (an ``asyncBatchEmbedContent`` one's: an embedContent request)."""
        for key in ("inputConfig", "input_config"):
            ic = batch.get(key)
            reqs = ic.get("requests") if isinstance(ic, dict) else None
            items = reqs.get("requests") if isinstance(reqs, dict) else None
            for k, item in enumerate(items if isinstance(items, list) else ()):
                req = item.get("request") if isinstance(item, dict) else None
                if isinstance(req, dict) and "batch" not in req:
                    at = ("batch", key, "requests", "requests", k, "request")
                    for t in self.request_texts(req):
                        out.append(Text(t.role, t.text, (*at, *t.path), t.kind))

    def request_model(self, rest: str, body: Any, query: str | None = None) -> tuple[str | None, bool]:
        """The model and the call from the path, as the provider will see it (decoded); with
        `query`, a ``streamGenerateContent`` without ``alt=sse`` is no SSE stream (a JSON array)."""
        m = _MODEL.search(unquote(rest))
        if m:
            stream = m.group(2) == "streamGenerateContent"
            if stream and query is not None and "alt=sse" not in query:
                stream = False
            return m.group(1), stream
        return None, False

    def cap_output_tokens(self, body: dict[str, Any], rest: str, cap: int) -> bool:
        gc = body.get("generationConfig")
        if not isinstance(gc, dict):
            gc = body["generationConfig"] = {}
        gc["maxOutputTokens"] = cap
        return True

    def hidden_inputs(self, body: Any) -> list[str]:
        """``cachedContent`` and parts with ``fileData`` (an uploaded file by URI)."""
        if not isinstance(body, dict):
            return []
        out = [k for k in ("cachedContent", "cached_content") if body.get(k)]
        contents = body.get("contents")
        for i, c in enumerate(contents if isinstance(contents, list) else ()):
            parts = c.get("parts") if isinstance(c, dict) else None
            for j, p in enumerate(parts if isinstance(parts, list) else ()):
                if isinstance(p, dict) and (p.get("fileData") or p.get("file_data")):
                    out.append(f"contents.{i}.parts.{j}")
        return out

    def build_request(
        self, model: str, turns: list[dict[str, Any]], system: str | None, stream: bool
    ) -> tuple[str, str, dict[str, Any]]:
        body: dict[str, Any] = {"contents": chat_turns(turns, "model", "parts")}
        if system is not None:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        path = f"v1beta/models/{model}:{'streamGenerateContent' if stream else 'generateContent'}"
        return path, "alt=sse" if stream else "", body

    # -- response -------------------------------------------------------------------
    def _response_texts(self, body: dict[str, Any], out: list[Text]) -> None:
        for ci, cand in enumerate(body.get("candidates") or ()):
            parts = (cand.get("content") or {}).get("parts") if isinstance(cand, dict) else None
            if isinstance(parts, list):
                _parts(parts, ("candidates", ci, "content", "parts"), "model", out)

    def usage(self, obj: Any) -> Usage | None:
        if not isinstance(obj, dict):
            return None
        u = obj.get("usageMetadata")
        return usage_of(u) if isinstance(u, dict) else None

    def response_model(self, obj: dict[str, Any]) -> str | None:
        m = obj.get("modelVersion")
        return m if isinstance(m, str) and m else None

    def body_text(self, obj: dict[str, Any]) -> list[str] | None:
        texts = _answer_parts(obj)
        if texts or "candidates" in obj:
            return texts
        return None

    # -- stream ----------------------------------------------------------------------
    def stream_end(self, raw: bytes) -> bool:
        """Gemini has no end event: the last chunk is the one that carries a ``finishReason``."""
        return b'"finishReason"' in raw

    def track_event(self, state: StreamState, obj: dict[str, Any]) -> bool:
        ex = state.ex
        u = obj.get("usageMetadata")
        if isinstance(u, dict):
            ex.usage.merge(usage_of(u))
        if ex.model is None:
            ex.model = self.response_model(obj)
        for t in _answer_parts(obj):
            state.text_seen(t)
        return True

    def stream_texts(self, event: Any) -> list[Text]:
        out: list[Text] = []
        if not isinstance(event, dict):
            return out
        for ci, cand in enumerate(event.get("candidates") or ()):
            parts = (cand.get("content") or {}).get("parts") if isinstance(cand, dict) else None
            if isinstance(parts, list):
                for j, part in enumerate(parts):
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        out.append(Text("model", part["text"], ("candidates", ci, "content", "parts", j, "text")))
        return out

    def stream_key(self, event: dict[str, Any], t: Text) -> tuple[Any, ...]:
        path = t.path
        return ("g", path[1], t.kind, path[-1])

    def aggregate_texts(self, event: dict[str, Any]) -> list[Text]:
        """Function calls arrive whole, never as deltas."""
        out: list[Text] = []
        for ci, cand in enumerate(event.get("candidates") or ()):
            parts = (cand.get("content") or {}).get("parts") if isinstance(cand, dict) else None
            if isinstance(parts, list):
                found: list[Text] = []
                _parts(parts, ("candidates", ci, "content", "parts"), "model", found)
                out.extend(t for t in found if t.kind != "text")
        return out

    def clear_finish(self, event: dict[str, Any]) -> None:
        for cand in event.get("candidates") or ():
            if isinstance(cand, dict):
                cand.pop("finishReason", None)

    # -- errors -----------------------------------------------------------------------
    def error_body(self, status: int, message: str, code: str | None = None) -> bytes:
        err: dict[str, Any] = {"code": status, "message": message, "status": error_type(ERROR_STATUS, status)}
        if code:
            err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": code, "domain": "leash"}]
        return orjson.dumps({"error": err})


def usage_of(u: dict[str, Any]) -> Usage:
    """A Gemini ``usageMetadata`` object, normalised."""
    out = Usage()
    prompt = as_int(u.get("promptTokenCount"))
    tool = as_int(u.get("toolUsePromptTokenCount"))
    if prompt is not None or tool is not None:
        out.input_tokens = (prompt or 0) + (tool or 0)
    cands = as_int(u.get("candidatesTokenCount"))
    thoughts = as_int(u.get("thoughtsTokenCount"))
    if cands is not None or thoughts is not None:
        out.output_tokens = (cands or 0) + (thoughts or 0)
    out.reasoning_tokens = thoughts
    out.cached_input_tokens = as_int(u.get("cachedContentTokenCount"))
    return out


def _parts(parts: list[Any], base: Path, role: str, out: list[Text]) -> None:
    for j, p in enumerate(parts):
        if not isinstance(p, dict):
            continue
        text = p.get("text")
        if isinstance(text, str):
            out.append(Text(role, text, (*base, j, "text")))
            if len(p) == 1:
                continue  # a plain text part (the common case): no call or response in it
        _blob(p, (*base, j), role, out)
        for key, v in p.items():  # (a part has a key or two: cheaper than looking each kind up)
            spec = _PART_KEYS.get(key)
            if spec is not None and isinstance(v, dict):
                kind, inner = spec
                for path, s in leaves(v.get(inner), (*base, j, key, inner)):
                    out.append(Text(role, s, path, kind))
                fparts = v.get("parts")  # a function response's media: text files inline
                for k, fp in enumerate(fparts if isinstance(fparts, list) else ()):
                    if isinstance(fp, dict):
                        _blob(fp, (*base, j, key, "parts", k), role, out)


def _blob(p: dict[str, Any], at: Path, role: str, out: list[Text]) -> None:
    """A text file sent inline: ``{"inlineData": {"mimeType": "text/plain", "data": base64}}``."""
    for bkey in ("inlineData", "inline_data"):
        blob = p.get(bkey)
        if isinstance(blob, dict):
            doc = text_document(blob.get("data"), blob.get("mimeType") or blob.get("mime_type"))
            if doc is not None:
                out.append(Text(role, doc[0], (*at, bkey, "data", Encoded(doc[1])), "document"))


def _answer_parts(obj: dict[str, Any]) -> list[str]:
    """The answer text of the first candidate, like the SDKs' ``.text`` (thoughts left out)."""
    out: list[str] = []
    cands = obj.get("candidates")
    if not isinstance(cands, list):
        return out
    for cand in cands[:1]:
        content = cand.get("content") if isinstance(cand, dict) else None
        parts = content.get("parts") if isinstance(content, dict) else None
        for p in parts if isinstance(parts, list) else ():
            if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought"):
                out.append(p["text"])
    return out


DIALECT = Google()
