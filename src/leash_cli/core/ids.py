"""Request ids: one generator for every adapter."""

from __future__ import annotations

import random
import time

_ID_RANDOM = random.Random()  # seeded from os.urandom; ids need uniqueness, not secrecy


def new_request_id() -> str:
    """Sortable, unique: 13 hex digits of microseconds since the epoch + 11 random.

    (Not ``os.urandom``: a syscall per request that releases the GIL on the hot path.)"""
    return f"{time.time_ns() // 1000:013x}{_ID_RANDOM.getrandbits(44):011x}"
