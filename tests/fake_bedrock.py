"""A fake AWS Bedrock runtime on 127.0.0.1:0 that checks what the real service checks.

Authentication: a SigV4 ``Authorization`` is recomputed with botocore from the credentials the
fake was given (the access key id, the credential scope's region and service, the signed
headers, the exact path and body, ``X-Amz-Date`` within 5 minutes); a wrong one is a 403
``InvalidSignatureException``, as AWS answers.  A bearer token must equal the Bedrock API key
the fake was given (else 403 ``UnrecognizedClientException``-like ``AccessDeniedException``).

It serves ``model/{modelId}/converse`` and ``converse-stream`` (Converse shapes, event-stream
frames), and ``invoke`` / ``invoke-with-response-stream`` with Anthropic Messages bodies (the
stream's chunks base64 inside ``{"bytes": ...}``), and records every request it receives.

The answer is ``"Hello from Bedrock: <the last user text>"``, unless the last user text names
a canned answer (``LEAKS``), which is then streamed a few characters per event so detectors
must see across event boundaries; ``corrupt-frame`` streams a message whose CRC does not match.  Frames are written by ``botocore``-independent code
(``leash_cli.dialects.eventstream``) and read back by botocore in the tests' clients.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import unquote

import orjson
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from fake_server import ThreadedApp
from leash_cli.dialects import eventstream

LEAKS = {
    "leak-key": "Sure. The deploy key is AKIAZ7Q4M2XK9WPLR3TD and that is all.",
    "leak-email": "Write to jane.doe.customer@examplecorp.com for the refund.",
}
EVENT_STREAM = "application/vnd.amazon.eventstream"


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeBedrock(ThreadedApp):
    access_key: str = "AKIALEASHHELD0000001"
    secret_key: str = "leash-held-secret-key-0123456789abcdefXYZ"
    session_token: str | None = None
    api_key: str | None = None  # a Bedrock API key accepted as a bearer token
    region: str = "us-east-1"
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # why each refused request was refused

    thread_name = "fake-bedrock"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self.handle)

    def last(self) -> Seen:
        return self.requests[-1]

    # -- authentication, as AWS checks it ---------------------------------------------------
    def _authenticate(self, request: web.Request, body: bytes) -> str | None:
        """None when the request is authentic, else why not."""
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            if self.api_key is not None and auth[7:] == self.api_key:
                return None
            return "AccessDeniedException:Invalid API Key format: Must start with pre-defined prefix"
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return "MissingAuthenticationTokenException:Missing Authentication Token"
        parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
        key_id, day, region, service, term = parts["Credential"].split("/")
        if key_id != self.access_key:
            return "UnrecognizedClientException:The security token included in the request is invalid."
        if (region, service, term) != (self.region, "bedrock", "aws4_request"):
            return f"InvalidSignatureException:Credential should be scoped to a valid region ({region}/{service})"
        amz_date = request.headers.get("x-amz-date", "")
        try:
            when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return "IncompleteSignatureException:X-Amz-Date is missing or malformed"
        if abs((dt.datetime.now(dt.UTC) - when).total_seconds()) > 300 or day != amz_date[:8]:
            return "InvalidSignatureException:Signature expired"
        if self.session_token is not None and request.headers.get("x-amz-security-token") != self.session_token:
            return "UnrecognizedClientException:The security token included in the request is invalid."
        signed = parts["SignedHeaders"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return "InvalidSignatureException:host and x-amz-date must be signed"
        headers = {h: request.headers.get(h, "") for h in signed}
        req = AWSRequest(
            method=request.method, url=f"http://{request.host}{request.raw_path}", data=body, headers=headers
        )
        req.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(self.access_key, self.secret_key, self.session_token), "bedrock", self.region)
        want = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
        if want != parts["Signature"]:
            return (
                "InvalidSignatureException:The request signature we calculated does not match the signature "
                "you provided. Check your AWS Secret Access Key and signing method."
            )
        return None

    # -- the service ------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Seen(request.method, request.raw_path, {k.lower(): v for k, v in request.headers.items()}, body)
        )
        why = self._authenticate(request, body)
        if why is not None:
            self.rejected.append(why)
            code, _, message = why.partition(":")
            return _error(403, code, message)
        parts = request.raw_path.split("?")[0].strip("/").split("/")
        if len(parts) != 3 or parts[0] != "model":
            return _error(404, "UnknownOperationException", f"no operation at {request.raw_path}")
        model, op = unquote(parts[1]), parts[2]
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error(
                400, "ValidationException", "Malformed input request, please reformat your input and try again."
            )
        if op in ("converse", "converse-stream"):
            prompt = _converse_prompt(payload)
        elif op in ("invoke", "invoke-with-response-stream"):
            if "anthropic_version" not in payload or "model" in payload:
                return _error(
                    400, "ValidationException", "Malformed input request: #: extraneous key [model] is not permitted"
                )
            prompt = _anthropic_prompt(payload)
        else:
            return _error(404, "UnknownOperationException", f"unknown operation {op}")
        answer = LEAKS.get(prompt.strip(), f"Hello from Bedrock: {prompt}")
        usage_in, usage_out = len(prompt.split()) + 3, len(answer.split())
        if op == "converse":
            return web.json_response(
                {
                    "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
                    "stopReason": "end_turn",
                    "usage": {"inputTokens": usage_in, "outputTokens": usage_out, "totalTokens": usage_in + usage_out},
                    "metrics": {"latencyMs": 12},
                }
            )
        if op == "invoke":
            return web.json_response(
                {
                    "id": "msg_bdrk_01",
                    "type": "message",
                    "role": "assistant",
                    "model": model.split(".", 1)[-1].rsplit("-v", 1)[0],
                    "content": [{"type": "text", "text": answer}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": usage_in, "output_tokens": usage_out},
                },
                headers={"x-amzn-bedrock-input-token-count": str(usage_in)},
            )
        resp = web.StreamResponse(status=200, headers={"content-type": EVENT_STREAM})
        await resp.prepare(request)
        events = (
            _converse_events(answer, usage_in, usage_out)
            if op == "converse-stream"
            else _invoke_events(answer, model, usage_in, usage_out)
        )
        if prompt.strip() == "corrupt-frame":  # two good frames, then one whose CRC does not match
            bad = bytearray(events[2])
            bad[-6] ^= 0x20
            events = [*events[:2], bytes(bad), *events[3:]]
        for frame in events:
            await resp.write(frame)
        await resp.write_eof()
        return resp


def _error(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"message": message}),
        headers={
            "content-type": "application/json",
            "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        },
    )


def _converse_prompt(payload: dict) -> str:
    for msg in reversed(payload.get("messages") or []):
        if msg.get("role") == "user":
            return " ".join(b["text"] for b in msg.get("content", []) if isinstance(b, dict) and "text" in b)
    return ""


def _anthropic_prompt(payload: dict) -> str:
    for msg in reversed(payload.get("messages") or []):
        if msg.get("role") == "user":
            c = msg.get("content")
            if isinstance(c, str):
                return c
            return " ".join(b.get("text", "") for b in c if isinstance(b, dict))
    return ""


def _pieces(text: str, n: int = 6) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


def event(kind: str, payload: dict) -> bytes:
    return eventstream.encode(
        {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}, orjson.dumps(payload)
    )


def _converse_events(answer: str, usage_in: int, usage_out: int) -> list[bytes]:
    out = [event("messageStart", {"role": "assistant", "p": "abcd"})]
    for piece in _pieces(answer):
        out.append(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}, "p": "abcdefgh"}))
    out.append(event("contentBlockStop", {"contentBlockIndex": 0, "p": "ab"}))
    out.append(event("messageStop", {"stopReason": "end_turn", "p": "abc"}))
    out.append(
        event(
            "metadata",
            {
                "usage": {"inputTokens": usage_in, "outputTokens": usage_out, "totalTokens": usage_in + usage_out},
                "metrics": {"latencyMs": 21},
                "p": "abcdef",
            },
        )
    )
    return out


def chunk(obj: dict) -> bytes:
    return event("chunk", {"bytes": base64.b64encode(orjson.dumps(obj)).decode(), "p": "abc"})


def _invoke_events(answer: str, model: str, usage_in: int, usage_out: int) -> list[bytes]:
    out = [
        chunk(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_bdrk_02",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": usage_in, "output_tokens": 1},
                },
            }
        ),
        chunk({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ]
    for piece in _pieces(answer):
        out.append(chunk({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}))
    out.append(chunk({"type": "content_block_stop", "index": 0}))
    out.append(
        chunk(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": usage_out},
            }
        )
    )
    out.append(
        chunk(
            {
                "type": "message_stop",
                "amazon-bedrock-invocationMetrics": {
                    "inputTokenCount": usage_in,
                    "outputTokenCount": usage_out,
                    "invocationLatency": 30,
                    "firstByteLatency": 10,
                },
            }
        )
    )
    return out
