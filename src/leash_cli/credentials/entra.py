"""Azure OpenAI with a Microsoft Entra ID token: the OAuth 2.0 client-credentials grant.

``POST {token_endpoint}`` with ``grant_type=client_credentials``, ``client_id``,
``client_secret`` and ``scope`` (form-encoded) answers ``{"access_token", "expires_in", ...}``;
the token goes upstream as ``Authorization: Bearer ...``.  One token is shared by every
request and fetched again before it expires (:class:`CachedToken`); a token endpoint that
refuses or does not answer is a :class:`TokenError` (502, recorded, nothing sent upstream).

The client secret and the token stay in this object: never logged, recorded or shown (an
error says the endpoint's ``error`` code and description, never what was sent).  A provider
with an ``api_key`` needs none of this: the dialect sends it in ``api-key``.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

import orjson

from leash_cli.credentials.token import CachedToken, TokenError
from leash_cli.upstream import UpstreamClient, UpstreamError, UpstreamOptions

if TYPE_CHECKING:
    from leash_cli.config import ProviderConfig

__all__ = ["DEFAULT_TOKEN_ENDPOINT", "EntraAuth", "build"]

DEFAULT_TOKEN_ENDPOINT = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
_TIMEOUT = 30.0  # seconds for the whole token request
_MAX_BODY = 1 << 20


class EntraAuth:
    """``Authorization: Bearer <token>`` from the client-credentials grant (see the module docstring)."""

    client_headers = frozenset({"api-key", "authorization"})

    def __init__(
        self, token_url: str, client_id: str, client_secret: str, scope: str, options: UpstreamOptions
    ) -> None:
        self.token_url = token_url
        self._form = urlencode(
            {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret, "scope": scope}
        ).encode()
        self._client_id = client_id
        self._options = options
        self._client: UpstreamClient | None = None
        self.token = CachedToken(self._fetch)

    def __repr__(self) -> str:  # never the secret
        return f"<EntraAuth {self.token_url} client_id={self._client_id}>"

    async def apply(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
        headers["authorization"] = "Bearer " + await self.token.get()

    def describe(self) -> str:
        return f"Entra ID token (client credentials, client {self._client_id}) from {_host(self.token_url)}"

    def check(self) -> str | None:
        return None  # every value is in the config (validated at load); the endpoint is asked on first use

    async def aclose(self) -> None:
        """Close the token endpoint's connections (the generation holding this provider has ended)."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _fetch(self) -> tuple[str, float]:
        if self._client is None:
            self._client = UpstreamClient(max_idle_per_origin=1)
        headers = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
        try:
            async with asyncio.timeout(_TIMEOUT):
                resp = await self._client.request("POST", self.token_url, headers, self._form, options=self._options)
                raw = await resp.read()
        except (UpstreamError, TimeoutError, OSError) as e:
            raise TokenError(
                f"Entra ID token endpoint {_host(self.token_url)} did not answer: {type(e).__name__}"
            ) from None
        try:
            data = orjson.loads(raw[:_MAX_BODY])
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise TokenError(f"Entra ID token endpoint {_host(self.token_url)} answered {resp.status} without JSON")
        token = data.get("access_token")
        if resp.status != 200 or not isinstance(token, str) or not token:
            why = str(data.get("error") or f"status {resp.status}")[:100]
            desc = data.get("error_description")
            detail = f" ({str(desc).splitlines()[0][:200]})" if desc else ""
            raise TokenError(f"Entra ID token endpoint refused: {why}{detail}")
        try:
            lifetime = float(data.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        return token, time.time() + lifetime


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def build(name: str, pc: ProviderConfig) -> EntraAuth | None:
    """The provider's Entra ID auth; None when it holds an ``api_key`` (or the clients send theirs)."""
    if pc.client_id is None or pc.client_secret is None:
        return None
    from leash_cli.credentials import CredentialError
    from leash_cli.netconfig import proxy_for, ssl_context

    url = pc.token_endpoint or DEFAULT_TOKEN_ENDPOINT.format(tenant=pc.tenant_id)
    # the token endpoint is another host than the resource: the gateway's trust, the provider's proxy
    try:
        options = UpstreamOptions(
            connect_timeout=10.0,
            first_byte_timeout=_TIMEOUT,
            idle_timeout=_TIMEOUT,
            total_timeout=_TIMEOUT,
            max_response_bytes=_MAX_BODY,
            ssl_context=ssl_context() if url.startswith("https:") else None,
            proxy=proxy_for(url, pc.proxy_setting()),
        )
    except ValueError as e:
        raise CredentialError(f"token_endpoint: {e}") from None
    return EntraAuth(url, pc.client_id, pc.client_secret.get_secret_value(), pc.token_scope, options)
