"""The layers of the gateway: the core knows no web framework and no gRPC; the ext_proc host needs no proxy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _loaded_after(imports: str, watch: tuple[str, ...]) -> list[str]:
    code = (
        f"import json, sys, {imports};"
        f"print(json.dumps(sorted({{m.split('.')[0] if not m.startswith('leash_cli') else m for m in sys.modules}}"
        f" & set({list(watch)!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


@pytest.mark.parametrize("imports", ["leash_cli.core", "leash_cli.core.gateway, leash_cli.core.admission"])
@pytest.mark.slow
def test_the_core_imports_no_web_framework_and_no_grpc(imports):
    bad = (
        "starlette",
        "uvicorn",
        "fastapi",
        "grpc",
        "envoy",
        "aiohttp",
        "httpx",
        "leash_cli.proxy",
        "leash_cli.server",
        "leash_cli.extproc",
    )
    assert _loaded_after(imports, bad) == []


@pytest.mark.slow
def test_the_ext_proc_host_imports_neither_the_proxy_nor_starlette():
    bad = ("starlette", "uvicorn", "leash_cli.proxy", "leash_cli.server")
    assert _loaded_after("leash_cli.extproc, leash_cli.extproc.server, leash_cli.extproc.adapter", bad) == []
