"""A fake Google Vertex AI (and its OAuth token endpoint) on 127.0.0.1:0, checking what Google checks.

- ``POST /token``: the JWT-bearer grant a service account makes (RFC 7523).  The assertion's RS256
  signature is verified with the public key of a service account the fake trusts (its ``kid`` is
  the key id of the JSON key file), and its ``iss``, ``aud`` (Google's token endpoint), ``scope`` and
  ``exp`` are checked; then an opaque access token is issued with ``expires_in``.
- ``/{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent``,
  ``:streamGenerateContent`` (SSE with ``?alt=sse``, else one JSON array) and ``:countTokens``;
  ``/v1/projects/{p}/locations/{l}/publishers/anthropic/models/{m}:rawPredict`` /
  ``:streamRawPredict`` (Anthropic Messages, no ``model`` in the body, an ``anthropic_version``
  such as ``vertex-2023-10-16`` -- the SDK pins its own; Anthropic's SSE events).  Every one of them takes only
  ``authorization: Bearer <a token this fake issued and that has not expired>``; anything else
  is a 401 in Google's error shape, as Vertex answers.

Answers echo the prompt (``You said: ...``), so a test can put PII into an answer.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fake_server import ThreadedApp

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
#: the audience Google's token endpoint requires of an assertion (whatever URL it was posted to)
AUDIENCE = "https://oauth2.googleapis.com/token"
_CALL = re.compile(
    r"^/(v1|v1beta1)/projects/([^/]+)/locations/([^/]+)/publishers/(google|anthropic)/models/([^/:]+):([A-Za-z]+)$"
)


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


_KEYS: list[rsa.RSAPrivateKey] = []
_next_key = itertools.count()


def rsa_key() -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key, one of four made once per process and handed out in turn: making one costs
    ~0.1 s of CPU, and a test needs a few distinct ones at most (a service account's and another that
    does not match it); every key file still has a key id of its own."""
    i = next(_next_key) % 4
    while len(_KEYS) <= i:
        _KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEYS[i]


def new_service_account(token_uri: str, email: str = "leash-test@proj-test.iam.gserviceaccount.com") -> dict:
    """A service-account key file's content with a 2048-bit RSA key (as `gcloud iam keys create` writes)."""
    key = rsa_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "proj-test",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }


@dataclass
class FakeVertex(ThreadedApp):
    host: str = "127.0.0.1"
    port: int = 0
    expires_in: int = 3600
    requests: list[Seen] = field(default_factory=list)  # Vertex calls (not token requests)
    token_requests: int = 0
    #: every access token issued, with its expiry (time.time())
    issued: dict[str, float] = field(default_factory=dict)
    #: key id -> (client_email, public key) of the service accounts whose assertions are accepted
    trusted: dict[str, tuple[str, Any]] = field(default_factory=dict)
    #: Vertex express-mode API keys accepted in x-goog-api-key (Gemini calls only)
    api_keys: set[str] = field(default_factory=set)

    thread_name = "fake-vertex"
    client_max_size = 1024 * 1024

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/token", self.token)
        app.router.add_route("*", "/{tail:.*}", self.handle)

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def service_account(self, path: Path, *, trusted: bool = True) -> dict:
        """Write a new service-account key file to `path` whose token_uri is this fake's.  The fake knows
        its key id; unless `trusted` is False it holds the matching public key, else another one (so the
        assertions' signatures fail the check, as a key file with a tampered private key would)."""
        sa = new_service_account(self.token_uri)
        path.write_text(json.dumps(sa))
        if trusted:
            public = serialization.load_pem_private_key(sa["private_key"].encode(), None).public_key()
        else:
            public = rsa_key().public_key()
        self.trusted[sa["private_key_id"]] = (sa["client_email"], public)
        return sa

    def last(self) -> Seen:
        return self.requests[-1]

    # -- the token endpoint ---------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = parse_qs((await request.read()).decode())
        if form.get("grant_type") != [JWT_BEARER] or len(form.get("assertion", [])) != 1:
            return _oauth_error("unsupported_grant_type", "expected a JWT-bearer grant with one assertion")
        why = self._check_assertion(form["assertion"][0])
        if why is not None:
            return _oauth_error("invalid_grant", why)
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.issued[token] = time.time() + self.expires_in
        return web.json_response({"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})

    def _check_assertion(self, assertion: str) -> str | None:
        try:
            h64, p64, s64 = assertion.split(".")
            header, claims, sig = json.loads(_unb64url(h64)), json.loads(_unb64url(p64)), _unb64url(s64)
        except ValueError:
            return "Invalid JWT: not a compact JWS."
        if header.get("alg") != "RS256":
            return "Invalid JWT: alg must be RS256."
        who = self.trusted.get(header.get("kid", ""))
        if who is None:
            return "Invalid grant: account not found (unknown key id)."
        email, public = who
        try:
            public.verify(sig, f"{h64}.{p64}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return "Invalid JWT Signature."
        now = time.time()
        if claims.get("iss") != email:
            return "Invalid JWT: iss is not the key's service account."
        if claims.get("aud") != AUDIENCE:
            return f"Invalid JWT: aud must be {AUDIENCE}."
        if SCOPE not in str(claims.get("scope", "")).split():
            return "Invalid JWT: the cloud-platform scope is missing."
        if not (claims.get("iat", 0) - 300 <= now < claims.get("exp", 0)):
            return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
        return None

    # -- Vertex -------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        seen = Seen(
            request.method, request.path, request.query_string, {k.lower(): v for k, v in request.headers.items()}, body
        )
        self.requests.append(seen)
        auth = seen.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        express = seen.headers.get("x-goog-api-key") in self.api_keys and "/publishers/google/" in request.path
        if not express and (not token or self.issued.get(token, 0) <= time.time()):
            return _google_error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential.",
                "UNAUTHENTICATED",
            )
        m = _CALL.match(request.path)
        if m is None or request.method != "POST":
            return _google_error(404, f"The requested URL {request.path} was not found.", "NOT_FOUND")
        _, _project, _location, publisher, model, call = m.groups()
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _google_error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
        if publisher == "google":
            return await self._gemini(request, model, call, req)
        return await self._anthropic(request, model, call, req)

    async def _gemini(self, request: web.Request, model: str, call: str, req: dict) -> web.StreamResponse:
        prompt = " ".join(
            p.get("text", "") for c in req.get("contents", []) for p in c.get("parts", []) if isinstance(p, dict)
        )
        n_in = max(1, len(prompt) // 4)
        if call == "countTokens":
            return web.json_response({"totalTokens": n_in, "totalBillableCharacters": len(prompt)})
        text = f"You said: {prompt}"
        n_out = max(1, len(text) // 4)
        usage = {"promptTokenCount": n_in, "candidatesTokenCount": n_out, "totalTokenCount": n_in + n_out}
        version = f"{model}-001"
        if call == "generateContent":
            return web.json_response(
                {
                    "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
                    "usageMetadata": usage,
                    "modelVersion": version,
                }
            )
        if call != "streamGenerateContent":
            return _google_error(400, f"unknown method {call}", "INVALID_ARGUMENT")
        words = text.split(" ")
        pieces = [" ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "") for i in range(0, len(words), 3)]
        chunks = []
        for i, p in enumerate(pieces):
            last = i == len(pieces) - 1
            cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": p}]}}
            if last:
                cand["finishReason"] = "STOP"
            u = usage if last else {"promptTokenCount": n_in, "totalTokenCount": n_in}
            chunks.append({"candidates": [cand], "usageMetadata": u, "modelVersion": version})
        if request.query.get("alt") != "sse":
            return web.json_response(chunks)
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        for c in chunks:
            await resp.write(b"data: " + orjson.dumps(c) + b"\r\n\r\n")
        await resp.write_eof()
        return resp

    async def _anthropic(self, request: web.Request, model: str, call: str, req: dict) -> web.StreamResponse:
        if "model" in req and model != "count-tokens":
            return _anthropic_error(400, "model: Extra inputs are not permitted")
        if not isinstance(req.get("anthropic_version"), str) or not req["anthropic_version"]:
            return _anthropic_error(400, "anthropic_version: Field required")
        prompt = " ".join(
            m["content"] if isinstance(m.get("content"), str) else " ".join(b.get("text", "") for b in m["content"])
            for m in req.get("messages", [])
        )
        n_in = max(1, len(prompt) // 4)
        if model == "count-tokens":
            return web.json_response({"input_tokens": n_in})
        text = f"You said: {prompt}"
        n_out = max(1, len(text) // 4)
        msg = {
            "id": "msg_vrtx_" + secrets.token_hex(8),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": n_in, "output_tokens": n_out},
        }
        if call == "rawPredict":
            return web.json_response(msg)
        if call != "streamRawPredict":
            return _google_error(400, f"unknown method {call}", "INVALID_ARGUMENT")
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)

        async def ev(name: str, data: dict) -> None:
            await resp.write(f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n")

        start = {**msg, "content": [], "stop_reason": None, "usage": {"input_tokens": n_in, "output_tokens": 1}}
        await ev("message_start", {"type": "message_start", "message": start})
        await ev(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
        words = text.split(" ")
        for i in range(0, len(words), 3):
            piece = " ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "")
            await ev(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
            )
        await ev("content_block_stop", {"type": "content_block_stop", "index": 0})
        await ev(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": n_out},
            },
        )
        await ev("message_stop", {"type": "message_stop"})
        await resp.write_eof()
        return resp


def _google_error(status: int, message: str, code: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message, "status": code}}, status=status)


def _anthropic_error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"type": "error", "error": {"type": "invalid_request_error", "message": message}}, status=status
    )


def _oauth_error(error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=400)
