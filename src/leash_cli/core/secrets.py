"""The configured secrets of one config generation, and one matcher that masks them.

Every secret the gateway holds — provider and deployment ``api_key``, values of
``providers.*.headers`` that carry keys, ``providers.*.query`` keys, a proxy URL's
password, and any other ``SecretStr`` of the config — is masked wherever it shows
up in what leash returns, logs or stores: an upstream that echoes the request's
headers must not hand the gateway's key to a client or into the history.

Each secret is looked for as it is, JSON-escaped and percent-encoded.  The
matcher (Aho-Corasick over bytes, from ``ahocorasick_rs``) is built once per
config generation; a body without a hit costs one linear pass (~0.15 ms per MB).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import orjson
from pydantic import BaseModel, SecretStr

from leash_cli.config import Config
from leash_cli.exchange import CREDENTIAL_PARAMS, Exchange

__all__ = ["MASK", "SecretMask", "configured_secrets", "secret_bearing"]

MASK = "[leash:masked]"
_MASK_B = MASK.encode()
_MIN_LEN = 8  # shorter values are no secrets worth matching (and would mask ordinary words)
_KEY_WORDS = ("key", "token", "secret", "password", "auth", "signature", "session", "credential", "sig")


def secret_bearing(name: str) -> bool:
    """Whether a header or query parameter of this name carries a secret (``api-key``, ``key``,
    ``x-auth-token``, ``authorization``, ``sig`` ...)."""
    low = name.lower()
    return low in CREDENTIAL_PARAMS or any(w in low for w in _KEY_WORDS)


def _secret_strs(value: Any, depth: int = 0) -> Iterator[str]:
    """Every ``SecretStr`` value anywhere in a config model (future fields included)."""
    if depth > 12:
        return
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secret_strs(getattr(value, name, None), depth + 1)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _secret_strs(v, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _secret_strs(v, depth + 1)


def configured_secrets(cfg: Config) -> list[str]:
    """The secret values of a config (provider keys, key-bearing headers and query parameters ...)."""
    out: list[str] = list(_secret_strs(cfg))
    for pc in cfg.providers.values():
        for name, v in (pc.headers or {}).items():
            if isinstance(v, str) and (
                secret_bearing(name) or name.lower() in ("authorization", "proxy-authorization")
            ):
                out.append(v)
                head, _, token = v.partition(" ")
                if token and head.lower() in ("bearer", "basic", "token"):
                    out.append(token)
        for name, v in (pc.query or {}).items():
            if isinstance(v, str) and secret_bearing(name):
                out.append(v)
        if pc.proxy:
            pw = urlsplit(pc.proxy).password
            if pw:
                out.append(pw)
        if pc.endpoint and "?" in pc.endpoint:
            out += [v for k, v in parse_qsl(urlsplit(pc.endpoint).query) if secret_bearing(k)]
    return sorted({s for s in out if isinstance(s, str) and len(s.strip()) >= _MIN_LEN}, key=len, reverse=True)


def _forms(secret: str) -> Iterable[str]:
    yield secret
    yield orjson.dumps(secret).decode()[1:-1]  # inside a JSON string
    yield quote(secret, safe="")  # in a URL
    yield quote(secret, safe="/:")


class SecretMask:
    """Masks the configured secrets in bytes and text.  Falsy when the config holds none."""

    __slots__ = ("literals", "_ac", "_bytes")

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {f for s in secrets for f in _forms(s) if len(f) >= _MIN_LEN}
        self.literals = sorted(forms, key=len, reverse=True)
        self._bytes = [lit.encode("utf-8") for lit in self.literals]
        self._ac: Any = None
        if self._bytes:
            try:
                from ahocorasick_rs import BytesAhoCorasick, MatchKind

                self._ac = BytesAhoCorasick(self._bytes, matchkind=MatchKind.LeftmostLongest)
            except ImportError:  # pragma: no cover - a declared dependency
                self._ac = None

    @classmethod
    def of(cls, cfg: Config) -> SecretMask:
        return cls(configured_secrets(cfg))

    def __bool__(self) -> bool:
        return bool(self._bytes)

    def bytes(self, data: bytes) -> bytes:
        """`data` with every configured secret replaced by ``[leash:masked]``."""
        if not self._bytes or not data:
            return data
        ac = self._ac
        if ac is not None:
            hits = ac.find_matches_as_indexes(data)
            if not hits:
                return data
            out = bytearray()
            pos = 0
            for _, start, end in hits:
                out += data[pos:start]
                out += _MASK_B
                pos = end
            out += data[pos:]
            return bytes(out)
        for lit in self._bytes:  # pragma: no cover - without ahocorasick_rs
            if lit in data:
                data = data.replace(lit, _MASK_B)
        return data

    def text(self, s: str) -> str:
        if not self._bytes or not s:
            return s
        for lit in self.literals:
            if lit in s:
                s = s.replace(lit, MASK)
        return s

    def headers(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if not self._bytes:
            return pairs
        return [(k, self.text(v)) for k, v in pairs]

    def exchange(self, ex: Exchange) -> None:
        """What the history and the module sinks read of an exchange, masked (the request body a
        client sent with the gateway's key in it, the error text, the query)."""
        if not self._bytes:
            return
        body = ex.request_body
        if body:
            masked = self.bytes(body)
            if masked is not body:
                ex.request_body = masked
                ex._json, ex._json_parsed, ex._json_error, ex._texts, ex._dirty = None, False, None, None, False
        if ex.error:
            ex.error = self.text(ex.error)
        if ex.query:
            ex.query = self.text(ex.query)
        if ex.response_body:
            ex.response_body = self.bytes(ex.response_body)
        if ex.response_text:
            ex.response_text = self.text(ex.response_text)
        if ex.stream_events:
            ex.stream_events = [self.bytes(e) for e in ex.stream_events]
        for v in ex.violations:
            if v.detail:
                v.detail = self.text(v.detail)
