"""AWS Bedrock: SigV4 over each try's exact method, URL, headers and body, or a Bedrock API key.

Credentials, in the order a provider's config names them:

=====================================  ==============================================================
``api_key``                            a Bedrock API key, sent as ``Authorization: Bearer`` (no
                                       botocore needed; the provider's static key path writes it)
``aws_access_key_id`` +                static keys (``aws_session_token`` for temporary ones)
``aws_secret_access_key``
``profile``                            a named profile of ``~/.aws/config`` / ``~/.aws/credentials``
                                       (SSO, assume-role, credential_process: botocore resolves them)
(none of these)                        the standard AWS credential chain: environment, shared files,
                                       web identity, container and instance metadata
=====================================  ==============================================================

Signing uses botocore's ``SigV4Auth`` and its credential providers (the optional extra
``leash[bedrock]``); a missing botocore is a config error naming the extra.  Whatever the client
sent to authenticate itself to leash (its own SigV4 ``Authorization``, ``X-Amz-Date``,
``X-Amz-Security-Token``, a Bedrock API key or a leash key as a bearer token) never reaches AWS:
leash's own signature replaces it.  The signing region is the endpoint's
(``bedrock-runtime.{region}.amazonaws.com``, so deployments in several regions each sign for
theirs), else the provider's ``region``.

Credentials that must be fetched or refreshed (the chain, SSO, assume-role) are resolved off the
event loop; one that cannot be had is a :class:`TokenError` (a 502, recorded, never sent unsigned).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from typing import TYPE_CHECKING, Any

from leash_cli.credentials import CredentialError, TokenError

if TYPE_CHECKING:
    from leash_cli.config import ProviderConfig

__all__ = ["CLIENT_AUTH_HEADERS", "BearerKeyAuth", "SigV4", "build", "region_of"]

#: what a client's own AWS authentication adds besides ``Authorization``
CLIENT_AUTH_HEADERS = frozenset({"x-amz-date", "x-amz-security-token", "x-amz-content-sha256"})
_HOST = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?::443)?\Z")
_RETRY_CHAIN = 30.0  # seconds before an empty credential chain is asked again
_EXTRA = "pip install 'leash-cli[bedrock]'"


def region_of(host: str) -> str | None:
    """The region of a Bedrock runtime endpoint host (None: another host, e.g. a test server)."""
    m = _HOST.search(host)
    return m.group(1) if m else None


class BearerKeyAuth:
    """A configured Bedrock API key: the provider's static key path sends it as a bearer token;
    this only removes the client's own AWS authentication headers."""

    client_headers = CLIENT_AUTH_HEADERS

    def __init__(self, provider: str) -> None:
        self.provider = provider

    async def apply(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
        return None

    def describe(self) -> str:
        return "Bedrock API key (bearer)"

    def check(self) -> str | None:
        return None


class SigV4:
    """Signs each try with SigV4 for service ``bedrock`` using botocore."""

    # ``authorization`` is not removed up front: without any AWS credentials, a client's own bearer
    # token (a real Bedrock API key) is passed on; otherwise ``apply`` replaces it
    client_headers = CLIENT_AUTH_HEADERS

    def __init__(self, provider: str, region: str, source: str, resolve: Any, credentials: Any = None) -> None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import RefreshableCredentials

        self.provider = provider
        self.region = region
        self.source = source  # how the credentials are found, for describe()
        self._resolve = resolve  # () -> botocore Credentials | None, blocking (files, processes, the network)
        self._creds = credentials
        self._tried_at = 0.0
        self._lock: asyncio.Lock | None = None
        self._regions: dict[str, str] = {}
        self._SigV4Auth = SigV4Auth
        self._AWSRequest = AWSRequest
        self._Refreshable = RefreshableCredentials

    # -- UpstreamAuth --------------------------------------------------------------
    async def apply(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
        creds = await self._frozen()
        if creds is None:
            auth = headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                return  # no credentials of its own: the client's Bedrock API key goes through
            headers.pop("authorization", None)
            raise TokenError(
                f"leash holds no AWS credentials for provider {self.provider!r} ({self.source}); set "
                "aws_access_key_id / aws_secret_access_key, a profile, or api_key in its config"
            )
        headers.pop("authorization", None)
        # signed: what AWS requires (host, x-amz-*) and the content type; the rest (user-agent,
        # accept-encoding, amz-sdk-*) goes unsigned, so nothing on the way can break the signature
        signed = {k: v for k, v in headers.items() if k.startswith("x-amz") or k in ("content-type", "accept")}
        req = self._AWSRequest(method=method, url=url, data=body or b"", headers=signed)
        self._SigV4Auth(creds, "bedrock", self._region(url)).add_auth(req)
        h = req.headers
        headers["authorization"] = h["Authorization"]
        headers["x-amz-date"] = h["X-Amz-Date"]
        token = h.get("X-Amz-Security-Token")
        if token:
            headers["x-amz-security-token"] = token

    def describe(self) -> str:
        return f"AWS SigV4 ({self.source}; region {self.region})"

    def check(self) -> str | None:
        if self._creds is not None:
            return None
        if self.source.startswith("profile"):
            return None  # its existence was checked when the config was loaded
        env = os.environ
        if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            return None
        if env.get("AWS_WEB_IDENTITY_TOKEN_FILE") or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
            return None
        if env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
            return None
        home = os.path.expanduser("~/.aws")
        for name, var in (("credentials", "AWS_SHARED_CREDENTIALS_FILE"), ("config", "AWS_CONFIG_FILE")):
            if os.path.exists(env.get(var) or os.path.join(home, name)):
                return None
        return "no AWS credentials in the environment or ~/.aws (instance metadata is tried at the first request)"

    # -- internals -------------------------------------------------------------------
    def _region(self, url: str) -> str:
        host = url.split("/", 3)[2] if "://" in url else ""
        r = self._regions.get(host)
        if r is None:
            r = region_of(host) or self.region
            if len(self._regions) < 64:
                self._regions[host] = r
        return r

    async def _frozen(self) -> Any:
        creds = self._creds
        if creds is None:
            if time.monotonic() - self._tried_at < _RETRY_CHAIN and self._tried_at:
                return None
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._creds is None and not (self._tried_at and time.monotonic() - self._tried_at < _RETRY_CHAIN):
                    self._tried_at = time.monotonic()
                    self._creds = await asyncio.to_thread(self._resolve_safely)
            creds = self._creds
            if creds is None:
                return None
        try:
            if isinstance(creds, self._Refreshable) and (creds.refresh_needed() or creds._expiry_time is None):
                # may call STS, SSO or the metadata service: not on the event loop
                frozen = await asyncio.to_thread(creds.get_frozen_credentials)
            else:
                frozen = creds.get_frozen_credentials()
        except Exception as e:  # botocore's own errors (expired SSO token, STS refused ...)
            raise TokenError(f"AWS credentials for provider {self.provider!r} could not be refreshed: {e}") from None
        if not frozen.access_key or not frozen.secret_key:
            return None
        return frozen

    def _resolve_safely(self) -> Any:
        try:
            return self._resolve()
        except Exception as e:
            log.warning("provider %r: AWS credentials could not be resolved: %s", self.provider, e)
            return None


log = logging.getLogger("leash.credentials")


def build(name: str, pc: ProviderConfig) -> BearerKeyAuth | SigV4:
    """The auth of a ``kind: bedrock`` provider (see the module docstring for the order)."""
    if pc.api_key is not None:
        return BearerKeyAuth(name)
    try:
        import botocore.session
        from botocore.credentials import Credentials
    except ImportError:
        raise CredentialError(
            "kind bedrock signs requests with AWS SigV4 through botocore, which is not installed: "
            f"{_EXTRA} (or set api_key to a Bedrock API key)"
        ) from None
    # botocore.auth logs the canonical request at DEBUG, security token included: never let that out
    logging.getLogger("botocore.auth").setLevel(logging.INFO)
    region = pc.region or ""
    key_id = pc.aws_access_key_id.get_secret_value() if pc.aws_access_key_id is not None else None
    if key_id:
        assert pc.aws_secret_access_key is not None  # the config checked the pair
        token = pc.aws_session_token.get_secret_value() if pc.aws_session_token is not None else None
        creds = Credentials(key_id, pc.aws_secret_access_key.get_secret_value(), token or None)
        kind = "temporary keys" if token else "static keys"
        return SigV4(name, region, f"{kind} ...{key_id[-4:]}", lambda: creds, creds)
    profile = pc.profile
    if profile:
        session = botocore.session.Session(profile=profile)
        if profile not in session.available_profiles:
            raise CredentialError(f"profile: AWS profile {profile!r} is not in ~/.aws/config or ~/.aws/credentials")
        return SigV4(name, region, f"profile {profile}", session.get_credentials)
    return SigV4(name, region, "the AWS credential chain", lambda: botocore.session.Session().get_credentials())
