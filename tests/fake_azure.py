"""A fake Azure OpenAI resource and a fake Microsoft Entra ID token endpoint, on 127.0.0.1:0.

It checks what the real service checks:

* ``POST /{tenant}/oauth2/v2.0/token`` takes the client-credentials grant (form-encoded
  ``grant_type``, ``client_id``, ``client_secret``, ``scope``) and issues an opaque token that
  expires after ``token_lifetime`` seconds; a wrong client id or secret is ``401
  invalid_client`` (AADSTS7000215), a wrong scope ``400 invalid_scope``.
* ``/openai/deployments/{deployment}/{chat/completions|completions|embeddings}`` need
  ``?api-version=``; ``/openai/responses`` too; ``/openai/v1/...`` does not and takes the
  deployment from the body's ``model``.  An unknown deployment is ``404 DeploymentNotFound``.
* Every resource call needs ``api-key: <the key>`` or ``Authorization: Bearer <a token it
  issued, not yet expired>``; else ``401`` in Azure's shape.

Answers are OpenAI's shapes (streamed and not) from leash's own mock, with the deployment's
*model* in them as Azure reports it.  Every request is recorded (``requests``, ``token_requests``).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import orjson
from aiohttp import web

from fake_server import ThreadedApp
from leash_cli import mock

SCOPE = "https://cognitiveservices.azure.com/.default"


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeAzure(ThreadedApp):
    api_key: str = "azure-key-0123456789abcdef"
    tenant: str = "tenant-1"
    client_id: str = "client-app-1"
    client_secret: str = "client-secret-XYZ-0123456789"
    #: deployment name -> the model it serves (what Azure puts in "model")
    deployments: dict[str, str] = field(
        default_factory=lambda: {"prod-4o": "gpt-4o-2024-08-06", "emb": "text-embedding-3-small", "mini": "gpt-4o-mini"}
    )
    token_lifetime: float = 3600.0
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    issued: dict[str, float] = field(default_factory=dict)  # token -> expires at (time.time())

    thread_name = "fake-azure"
    client_max_size = 1024 * 1024

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self.token)
        app.router.add_route("*", "/openai/{tail:.*}", self.resource)

    @property
    def token_url(self) -> str:
        return f"{self.url}/{self.tenant}/oauth2/v2.0/token"

    # -- what it saw --------------------------------------------------------------
    def last(self) -> Seen:
        return self.requests[-1]

    # -- Entra ID ------------------------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        form = {k: v[0] for k, v in parse_qs((await request.read()).decode()).items()}
        self.token_requests.append(form)
        if request.match_info["tenant"] != self.tenant:
            return _aad(400, "invalid_request", f"AADSTS90002: Tenant '{request.match_info['tenant']}' not found.")
        if request.content_type != "application/x-www-form-urlencoded":
            return _aad(400, "invalid_request", "AADSTS900144: The request body must contain 'grant_type'.")
        if form.get("grant_type") != "client_credentials":
            return _aad(400, "unsupported_grant_type", "AADSTS70003: unsupported grant type")
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _aad(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if form.get("scope") != SCOPE:
            return _aad(400, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid.")
        tok = "eyJ-fake-" + secrets.token_urlsafe(24)
        self.issued[tok] = time.time() + self.token_lifetime
        return web.json_response(
            {"token_type": "Bearer", "expires_in": int(self.token_lifetime), "ext_expires_in": 0, "access_token": tok}
        )

    # -- the resource ----------------------------------------------------------------------------
    async def resource(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(Seen(request.method, request.path, request.query_string, headers, body))
        if not self._authorized(headers):
            return _azure_error(
                401,
                "401",
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
                "key for an active subscription and use a correct regional API endpoint for your resource.",
            )
        tail = request.match_info["tail"]
        try:
            payload = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            return _azure_error(400, "BadRequest", "invalid JSON")
        v1 = tail.startswith("v1/")
        if v1:
            op = tail[3:]
            deployment = payload.get("model") if isinstance(payload, dict) else None
        elif tail.startswith("deployments/"):
            _, deployment, op = tail.split("/", 2)
        else:
            op, deployment = tail, payload.get("model") if isinstance(payload, dict) else None
        if not v1 and "api-version" not in request.query:
            return _azure_error(404, "404", "Resource not found")  # what Azure says without api-version
        if op == "models" and request.method == "GET":
            return web.json_response({"object": "list", "data": []})
        model = self.deployments.get(deployment or "")
        if model is None:
            return _azure_error(
                404,
                "DeploymentNotFound",
                f"The API deployment for this resource does not exist ({deployment!r}).",
            )
        if isinstance(payload, dict):
            payload = {**payload, "model": model}
        result = mock.respond("openai", request.method, op, request.query_string, payload)
        if result.events is None:
            return web.Response(status=result.status, body=result.body or b"", content_type="application/json")
        resp = web.StreamResponse(status=200, headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        for ev in result.events:
            await resp.write(ev)
        await resp.write_eof()
        return resp

    def _authorized(self, headers: dict[str, str]) -> bool:
        if "api-key" in headers:
            return secrets.compare_digest(headers["api-key"], self.api_key)
        auth = headers.get("authorization", "")
        if auth.startswith("Bearer "):
            exp = self.issued.get(auth[7:])
            return exp is not None and time.time() < exp
        return False


def _aad(status: int, error: str, description: str) -> web.Response:
    return web.json_response(
        {"error": error, "error_description": description, "error_codes": [0], "timestamp": "", "trace_id": ""},
        status=status,
    )


def _azure_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)
