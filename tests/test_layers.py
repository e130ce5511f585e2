"""The layers hold: the import contracts in pyproject.toml ([tool.importlinter]) are kept.

One `lint-imports` run checks every contract; each contract is reported as its own test.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]

#: contracts that only hold once a branch in flight has landed; strict: a kept contract fails the xfail
PENDING: dict[str, str] = {}


def _lint_imports() -> str:
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]
    r = subprocess.run([*cmd, "--no-logo", "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def report() -> str:
    return _lint_imports()


@pytest.mark.parametrize(
    "contract",
    [
        pytest.param(c, id=c["id"], marks=pytest.mark.xfail(reason=PENDING[c["id"]], strict=True))
        if c["id"] in PENDING
        else pytest.param(c, id=c["id"])
        for c in CONTRACTS
    ],
)
def test_contract_is_kept(contract: dict, report: str):
    verdicts = [line for line in report.splitlines() if line.startswith(contract["name"] + " ")]
    assert verdicts, f"lint-imports did not report {contract['name']!r}:\n{report}"
    assert verdicts[0].endswith("KEPT"), f"{contract['name']}: broken\n{report}"
