"""Vertex AI's upstream auth: an OAuth access token from a key file or application-default credentials.

``credentials_file`` names a credentials JSON file (a service-account key, or any other type
google-auth loads: an authorized user, workload identity federation); without it, the
application-default credentials (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's ADC file, the
metadata server on Google Cloud) are looked up at the first request.  A provider with an
``api_key`` (Vertex express mode) needs none of this: its key goes in ``x-goog-api-key``.

google-auth mints and refreshes the token (a JWT assertion signed with the service account's
key, exchanged at its ``token_uri``); its refresh is blocking, so it runs in a worker thread,
behind a :class:`CachedToken` that every request shares and that refreshes five minutes
before expiry.  The token is sent as ``authorization: Bearer ...`` and never logged or stored;
the client's own ``authorization`` / ``x-goog-api-key`` / ``x-goog-user-project`` never reach
Google.  The token endpoint is reached through ``requests`` (its proxy variables and CA
bundle), not through the provider's ``proxy`` / ``tls`` settings.

google-auth is the optional extra ``leash-cli[vertex]``: without it, a vertex provider is a
config error that says so.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leash_cli.credentials import CredentialError
from leash_cli.credentials.token import CachedToken, TokenError

if TYPE_CHECKING:
    from leash_cli.config import ProviderConfig

__all__ = ["SCOPES", "GoogleAuth", "build"]

#: the one scope Vertex AI needs
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
#: seconds one token request may take (google-auth's own default is 120)
TOKEN_TIMEOUT = 30.0
EXTRA_HINT = "kind vertex needs google-auth: pip install 'leash-cli[vertex]'"


def build(name: str, pc: ProviderConfig) -> GoogleAuth | None:
    """The auth of a vertex provider (None: it holds an express-mode API key)."""
    if pc.api_key is not None:
        return None
    try:
        import google.auth
        import google.auth.exceptions
        import google.auth.transport.requests
    except ImportError as e:
        raise CredentialError(f"{EXTRA_HINT} ({e})") from None
    if pc.credentials_file:
        path = pc.credentials_file
        try:
            creds, _ = google.auth.load_credentials_from_file(path, scopes=list(SCOPES))
        except (google.auth.exceptions.GoogleAuthError, OSError, ValueError) as e:
            raise CredentialError(f"credentials_file {path}: not a usable Google credentials file ({e})") from None
        who = getattr(creds, "service_account_email", None)
        source = f"service account {who} ({path})" if who else f"credentials file {path}"
        return GoogleAuth(creds, source, path)
    return GoogleAuth(None, "application-default credentials", None)


class _Request:
    """google-auth's requests transport with a timeout of our choosing (one session, reused)."""

    def __init__(self) -> None:
        import google.auth.transport.requests

        self._inner = google.auth.transport.requests.Request()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", TOKEN_TIMEOUT)
        return self._inner(*args, **kwargs)

    def close(self) -> None:
        session = getattr(self._inner, "session", None)
        if session is not None:
            session.close()


class GoogleAuth:
    """``authorization: Bearer <token>`` on every try; the token shared, cached and refreshed."""

    client_headers = frozenset({"authorization", "x-goog-api-key", "x-goog-user-project"})
    #: the token does not depend on the request (the ext_proc host may add it in the headers phase)
    signs_body = False

    def __init__(self, creds: Any, source: str, path: str | None) -> None:
        self._creds = creds  # None: application-default credentials, found at the first request
        self._source = source
        self._path = path
        self._request: _Request | None = None
        self.token = CachedToken(self._fetch)

    async def apply(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
        token = await self.token.get()
        headers["authorization"] = "Bearer " + token
        quota = getattr(self._creds, "quota_project_id", None)
        if quota:
            headers["x-goog-user-project"] = quota

    async def aclose(self) -> None:
        """Close the token endpoint's session (the generation holding this provider has ended)."""
        request, self._request = self._request, None
        if request is not None:
            await asyncio.to_thread(request.close)

    def invalidate(self) -> None:
        """Vertex answered 401 to the token (revoked, the key disabled): fetch a new one next time."""
        self.token.invalidate()

    async def _fetch(self) -> tuple[str, float]:
        return await asyncio.to_thread(self._refresh)

    def _refresh(self) -> tuple[str, float]:
        """Mint a token (blocking: in a worker thread, one at a time through the CachedToken)."""
        import google.auth
        import google.auth.exceptions

        try:
            if self._request is None:
                self._request = _Request()
            if self._creds is None:
                self._creds, _ = google.auth.default(scopes=list(SCOPES))
            self._creds.refresh(self._request)
        except google.auth.exceptions.DefaultCredentialsError as e:
            raise TokenError(f"no Google application-default credentials: {e}") from None
        except google.auth.exceptions.GoogleAuthError as e:  # RefreshError, TransportError
            raise TokenError(f"Google token request failed ({self._source}): {e}") from None
        token = self._creds.token
        if not isinstance(token, str) or not token:
            raise TokenError(f"Google token request gave no token ({self._source})")
        expiry = self._creds.expiry  # naive UTC (google-auth's convention), or None
        if isinstance(expiry, _dt.datetime):
            expires = expiry.replace(tzinfo=_dt.UTC).timestamp()
        else:
            expires = time.time() + 3600.0
        return token, expires

    def describe(self) -> str:
        return f"OAuth token from {self._source}, cached and refreshed"

    def check(self) -> str | None:
        if self._path is not None:
            return None if os.access(self._path, os.R_OK) else f"credentials_file {self._path} is not readable"
        env = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        if env:
            return None if Path(env).is_file() else f"GOOGLE_APPLICATION_CREDENTIALS names a missing file: {env}"
        config = os.environ.get("CLOUDSDK_CONFIG") or str(Path("~/.config/gcloud").expanduser())
        if (Path(config) / "application_default_credentials.json").is_file():
            return None
        return (
            "no application-default credentials found locally (GOOGLE_APPLICATION_CREDENTIALS unset, no "
            "`gcloud auth application-default login` file); on Google Cloud the metadata server is asked "
            "at the first request"
        )
