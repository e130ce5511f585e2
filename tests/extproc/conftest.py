"""Fixtures of the ext_proc / Redis / export tests."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

from ep_support import REDIS_URL, need_redis


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A unique key prefix for one test; its keys are deleted afterwards."""
    need_redis()
    prefix = f"leash-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
