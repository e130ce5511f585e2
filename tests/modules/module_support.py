"""Shared by the module tests: subprocess environments and a gateway in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import leash_cli

#: the folder holding the leash_cli package (src/ of the checkout, or site-packages)
LEASH_SRC = str(Path(leash_cli.__file__).resolve().parent.parent)


def subprocess_env(tmp: Path, *extra_paths: str | Path) -> dict[str, str]:
    """The environment of a child python: leash_cli importable, a private leash home, no keys."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and k not in ("LEASH_CONFIG", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")
    }
    paths = [str(p) for p in extra_paths] + [LEASH_SRC]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["LEASH_HOME"] = str(tmp / "leash-home")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    return env


def run_pytest(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the tests of a generated project the way its author would: plain pytest in its folder."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


_LISTENING = re.compile(r"listening on (http://\S+)")


@contextmanager
def gateway_process(config: Path, env: dict[str, str], cwd: Path) -> Iterator[str]:
    """`leash up` in a child process on a free port; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "leash_cli", "up", "--config", str(config), "--port", "0", "--no-record"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = None
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                if proc.poll() is not None:
                    break
                continue
            seen.append(line)
            m = _LISTENING.search(line)
            if m:
                url = m.group(1)
                break
        if url is None:
            raise AssertionError("the gateway did not start:\n" + "".join(seen))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
