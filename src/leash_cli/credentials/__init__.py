"""Upstream credentials that a static key header cannot express.

Most providers take a key in one header (``Provider.apply_credentials`` writes it).  Some
need more, computed per request or refreshed over time:

=============  ==================================================================
``bedrock``    AWS SigV4 over the exact method, URL, headers and body
``azure``      an ``api-key``, or a Microsoft Entra ID token (client credentials)
``vertex``     an OAuth token from a service-account file or application-default
               credentials
=============  ==================================================================

Each is an :class:`UpstreamAuth`, built once per config generation by :func:`auth_for`
and applied to every try right before it is sent (after transforms, retries' model
rewrites and the deployment's URL are final), so a signature covers what is really sent.
Secrets stay inside the auth object: nothing here is logged, recorded or shown.

Optional dependencies (botocore, google-auth) are imported when a provider that needs
them is configured; a missing one is a config error that names the extra to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from leash_cli.credentials.token import CachedToken, TokenError

if TYPE_CHECKING:
    from leash_cli.config import ProviderConfig

__all__ = ["BUILDERS", "CachedToken", "CredentialError", "TokenError", "UpstreamAuth", "auth_for"]


class CredentialError(Exception):
    """Credentials that cannot be set up (a missing extra, an unreadable key file): a config error."""


class UpstreamAuth(Protocol):
    """Authenticates requests to one provider.  Implementations keep their secrets private.

    One that holds connections of its own (a token endpoint's) may also have ``async def aclose()``:
    it is called when no live config generation holds its provider any more, and at shutdown."""

    #: request headers a client may have sent for its own auth; removed before :meth:`apply`
    client_headers: frozenset[str]

    async def apply(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
        """Add this provider's auth to ``headers`` (in place) for exactly this request.

        Raises :class:`TokenError` when credentials cannot be obtained right now (a token
        endpoint down): the gateway answers 502 and records it, never sending unauthenticated.
        """
        ...

    def describe(self) -> str:
        """How credentials are obtained, for ``leash providers`` (never the secret itself)."""
        ...

    def check(self) -> str | None:
        """None when credentials resolve locally (a file readable, variables set), else why not.
        Must not call the network."""
        ...


#: kind -> "module:function"; the function takes (provider name, its config) and returns an
#: UpstreamAuth, or None when the kind's static key header is enough for this config.  Imported
#: only when a provider of that kind is configured (optional dependencies stay optional).
BUILDERS: dict[str, str] = {
    "azure": "leash_cli.credentials.entra:build",
    "bedrock": "leash_cli.credentials.bedrock:build",  # bedrock: SigV4 (botocore) or a Bedrock API key
    "vertex": "leash_cli.credentials.google:build",
}


def auth_for(name: str, pc: ProviderConfig) -> UpstreamAuth | None:
    """The auth of provider ``name`` (None: a static key header, or the client's own key).

    Raises :class:`CredentialError` when its credentials cannot be set up.
    """
    spec = BUILDERS.get(pc.kind or name)
    if spec is None:
        return None
    module, _, func = spec.partition(":")
    build = getattr(importlib.import_module(module), func)
    auth: UpstreamAuth | None = build(name, pc)
    return auth
