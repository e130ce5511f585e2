"""Moved: the Redis state is :mod:`leash_cli.state.redis`; this name stays importable."""

from leash_cli.state.redis import RedisState

__all__ = ["RedisState"]
