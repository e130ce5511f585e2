"""Helpers of the ext_proc / Redis / export tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REDIS_URL = os.environ.get("LEASH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_reachable(url: str = REDIS_URL) -> str | None:
    """None when Redis answers, else why not."""
    try:
        import redis
    except ImportError as e:  # pragma: no cover
        return f"redis-py is not installed: {e}"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        client.ping()
        client.close()
    except Exception as e:
        return f"no Redis at {url}: {type(e).__name__}: {e}"
    return None


def need_redis() -> None:
    """Skip without Redis; fail instead when LEASH_REQUIRE_REDIS=1 (CI)."""
    why = redis_reachable()
    if why is None:
        return
    if os.environ.get("LEASH_REQUIRE_REDIS") == "1":
        pytest.fail(f"LEASH_REQUIRE_REDIS=1 but {why}")
    pytest.skip(f"{why} (set LEASH_TEST_REDIS_URL, or start redis-server)")

