"""The upstream-auth seam (leash_cli.credentials): an auth object sees each try's final URL, headers
and body right before it is sent, the client's own credentials never reach the provider, a token
that cannot be obtained is a 502 that is recorded, and a virtual key works with such a provider."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import httpx
import openai
import pytest

from leash_cli import credentials
from leash_cli.credentials import CachedToken, TokenError

SIGNED: list[tuple[str, str, bytes | None]] = []


class DigestAuth:
    """Signs the body like SigV4 would: a header that only matches the exact bytes sent."""

    client_headers = frozenset({"authorization", "x-test-signature"})

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    async def apply(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
        if self.fail:
            raise TokenError("token endpoint refused: invalid_client")
        SIGNED.append((method, url, body))
        headers["x-test-signature"] = hashlib.sha256((method + url).encode() + (body or b"")).hexdigest()

    def describe(self) -> str:
        return "digest (test)"

    def check(self) -> str | None:
        return None


def build(name: str, pc: Any) -> DigestAuth:
    return DigestAuth(fail=pc.description == "fail")


@pytest.fixture
def digest(monkeypatch: pytest.MonkeyPatch) -> None:
    SIGNED.clear()
    monkeypatch.setitem(credentials.BUILDERS, "openai", f"{__name__}:build")


def test_each_request_is_signed_over_what_is_really_sent(digest, start_gateway, upstream):
    gw = start_gateway()
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="client-own-key", max_retries=0)
    c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    seen = upstream.last()
    method, url, body = SIGNED[-1]
    assert body == seen.body and url.endswith("/v1/chat/completions")
    want = hashlib.sha256((method + url).encode() + body).hexdigest()
    assert seen.headers["x-test-signature"] == want
    assert "client-own-key" not in str(seen.headers)  # the client's credential was removed


def test_a_token_that_cannot_be_obtained_is_a_502_in_the_providers_shape_and_recorded(digest, start_gateway, upstream):
    gw = start_gateway(
        {"providers": {"openai": {"kind": "openai", "endpoint": f"{upstream.url}/v1", "description": "fail"}}}
    )
    before = len(upstream.requests)
    r = httpx.post(
        f"{gw.base('openai')}/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": "Bearer k"},
    )
    assert r.status_code == 502
    assert r.json()["error"]["type"] and "invalid_client" in r.json()["error"]["message"]
    assert len(upstream.requests) == before  # nothing went out unauthenticated
    gw.flush()
    from leash_cli.store import open_readonly

    db = open_readonly(gw.db_path)
    try:
        row = next(iter(db.query("select status from requests order by started_at desc limit 1")))
    finally:
        db.close()
    assert row["status"] == 502


def test_a_cached_token_is_fetched_once_for_concurrent_callers_and_refreshed_near_expiry():
    asyncio.run(_fetched_once())


async def _fetched_once() -> None:
    calls: list[float] = []

    async def fetch() -> tuple[str, float]:
        calls.append(time.time())
        await asyncio.sleep(0.01)
        return f"t{len(calls)}", time.time() + 3600

    tok = CachedToken(fetch, margin=300)
    got = await asyncio.gather(*(tok.get() for _ in range(20)))
    assert set(got) == {"t1"} and len(calls) == 1
    tok._expires = time.time() + 100  # inside the margin: refreshed
    assert await tok.get() == "t2"


def test_a_failed_refresh_keeps_serving_a_still_valid_token_and_a_dead_endpoint_is_not_hammered():
    asyncio.run(_stale_but_valid())


async def _stale_but_valid() -> None:
    state = {"fail": False, "calls": 0}

    async def fetch() -> tuple[str, float]:
        state["calls"] += 1
        if state["fail"]:
            raise TokenError("down")
        return "good", time.time() + 3600

    tok = CachedToken(fetch, margin=300, retry_after=60)
    assert await tok.get() == "good"
    tok._expires = time.time() + 200  # inside the refresh margin, still valid
    state["fail"] = True
    assert await tok.get() == "good"  # refresh failed, the token is still valid
    assert await tok.get() == "good"  # and the endpoint is not asked again within retry_after
    assert state["calls"] == 2
    tok.invalidate()
    with pytest.raises(TokenError):
        await tok.get()


def test_a_short_lived_token_is_refreshed_at_half_its_life_not_on_every_request():
    asyncio.run(_short_lived())


async def _short_lived() -> None:
    calls: list[float] = []

    async def fetch() -> tuple[str, float]:
        calls.append(time.time())
        return "t", time.time() + 120  # shorter than the 300 s margin

    tok = CachedToken(fetch, margin=300)
    for _ in range(5):
        assert await tok.get() == "t"
    assert len(calls) == 1
