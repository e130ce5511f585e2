"""`leash module new` / `leash module enable` leave a config that still serves and protects (issue #24 item 5);
`leash config validate` warns on a config with no providers or no security modules."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from leash_cli import scaffold
from leash_cli.cli import app
from leash_cli.config import load_config
from leash_cli.server import GatewayThread, build_gateway

AWS_ID = "AKIAZ3MSJXLQ7TP2VKR4"
runner = CliRunner()


def leash(*args: str, cwd: Path):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args))
    finally:
        os.chdir(old)


def _post(url: str, content: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/mock/chat/completions",
        timeout=10,
        json={"model": "mock-small", "messages": [{"role": "user", "content": content}]},
    )


def _gateway_checks(config: Path, tmp_path: Path) -> None:
    """A gateway on `config`: serves, blocks an AWS key, and runs the new module (its deny-list)."""
    thread = GatewayThread(build_gateway(load_config(config), db_path=tmp_path / "gw.db"))
    url = thread.start()
    try:
        assert _post(url, "hello").status_code == 200
        r = _post(url, f"key {AWS_ID}")
        assert r.status_code == 403 and "secrets-detector" in r.json()["error"]["message"]
        r = _post(url, "tell me about project nightingale")
        assert r.status_code == 403 and r.json()["error"]["code"] == "denied_phrase", r.text  # my-policy
    finally:
        thread.stop()


@pytest.mark.slow
def test_following_module_new_keeps_providers_and_security(tmp_path):
    assert leash("init", cwd=tmp_path).exit_code == 0
    r = leash("module", "new", "my-policy", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "pip install pytest" in out and 'pip install -e ".[test]"' in out  # the test dependencies
    # the instruction it prints, run as printed
    cmd = next(ln.strip() for ln in r.output.splitlines() if ln.strip().startswith("leash module enable"))
    r = leash(*shlex.split(cmd)[1:], cwd=tmp_path)
    assert r.exit_code == 0, r.output
    cfg = yaml.safe_load((tmp_path / "leash.yaml").read_text())
    assert cfg["modules_dir"] == "modules"
    assert {"secrets-detector", "pii-detector", "prompt-injection", "my-policy"} <= set(cfg["modules"])
    assert {"mock", "openai", "anthropic", "google"} <= set(cfg["providers"])
    text = (tmp_path / "leash.yaml").read_text()
    assert "# hold the key on the gateway" in text  # the starter's comments are kept
    r = leash("config", "validate", "leash.yaml", cwd=tmp_path)
    assert r.exit_code == 0 and "warning" not in r.output, r.output
    _gateway_checks(tmp_path / "leash.yaml", tmp_path)
    # enabling again changes nothing
    before = (tmp_path / "leash.yaml").read_text()
    r = leash(*shlex.split(cmd)[1:], cwd=tmp_path)
    assert r.exit_code == 0 and "already enabled" in r.output
    assert (tmp_path / "leash.yaml").read_text() == before


@pytest.mark.slow
def test_module_new_enable_without_a_config_starts_from_the_starter(tmp_path):
    r = leash("module", "new", "my-policy", "--enable", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert "starter" in r.output
    _gateway_checks(tmp_path / "leash.yaml", tmp_path)


def test_the_hand_snippet_says_where_it_goes(tmp_path):
    r = leash("module", "new", "my-policy", cwd=tmp_path)
    out = " ".join(r.output.split())
    assert "modules_dir: modules` at the top level" in out
    assert "under its `modules:` section" in out
    assert "not a config" in out  # saved on its own it would have no providers and no security modules


@pytest.mark.parametrize(
    "original",
    [
        # a modules block in the middle, a comment after it, other sections after that
        "providers:\n  mock: {kind: mock}\nmodules:\n    secrets-detector:\n        action: block\n\n"
        "# the history\nstorage:\n  retention: 7d\n",
        # no modules at all
        "providers:\n  mock: {kind: mock}\n",
        # an empty modules mapping, then more
        "providers:\n  mock: {kind: mock}\nmodules: {}\nstorage:\n  retention: 7d\n",
        # a bare modules key at the end, no newline
        "providers:\n  mock: {kind: mock}\nmodules:",
    ],
)
def test_enable_merges_into_existing_configs(tmp_path, original):
    (tmp_path / "modules").mkdir()
    scaffold.new_module("my-policy", cwd=tmp_path)
    cfg = tmp_path / "leash.yaml"
    cfg.write_text(original)
    before = yaml.safe_load(original) or {}
    text, changes = scaffold.enable_in_config(cfg, "my-policy", "modules")
    after = yaml.safe_load(text)
    assert after["modules_dir"] == "modules"
    assert after["modules"]["my-policy"] == {"enabled": True}
    for key, value in before.items():
        if key == "modules":
            for name, conf in (value or {}).items():
                assert after["modules"][name] == conf
        else:
            assert after[key] == value
    for line in original.splitlines():
        if line.startswith("#"):
            assert line in text


def test_enable_refuses_what_it_cannot_merge_safely(tmp_path):
    scaffold.new_module("my-policy", cwd=tmp_path)
    cfg = tmp_path / "leash.yaml"
    cfg.write_text("providers:\n  mock: {kind: mock}\nmodules: {secrets-detector: {action: block}}\n")
    with pytest.raises(scaffold.ScaffoldError, match="add these lines"):
        scaffold.enable_in_config(cfg, "my-policy", "modules")
    cfg.write_text("modules_dir: elsewhere\nmodules:\n  pii-detector: {}\n")
    with pytest.raises(scaffold.ScaffoldError, match="already loads modules from"):
        scaffold.enable_in_config(cfg, "my-policy", "modules")
    cfg.write_text("modules:\n  nope-not-a-module:\n    enabled: true\n")
    with pytest.raises(scaffold.ScaffoldError, match="does not load"):
        scaffold.enable_in_config(cfg, "my-policy", "modules")


# -- config validate warns ------------------------------------------------------------------------


def test_validate_warns_on_no_providers_and_no_security_modules(tmp_path):
    scaffold.new_module("my-policy", cwd=tmp_path)
    cfg = tmp_path / "leash.yaml"
    cfg.write_text("modules_dir: modules\nmodules:\n  my-policy:\n    enabled: true\n")  # the old snippet, saved
    r = runner.invoke(app, ["config", "validate", str(cfg)])
    assert r.exit_code == 0
    out = " ".join(r.output.split())
    assert "warning: no providers" in out and "warning: no security modules enabled" in out
    assert "(2 warnings)" in out
    assert runner.invoke(app, ["config", "validate", "--strict", str(cfg)]).exit_code == 1
    # the starter and the embedded default have neither problem
    from leash_cli.resources import data_dir

    for name in ("starter.yaml", "default.yaml"):
        r = runner.invoke(app, ["config", "validate", "--strict", str(data_dir("configs") / name)])
        assert r.exit_code == 0 and "warning" not in r.output, (name, r.output)
    cfg.write_text("providers:\n  mock: {kind: mock}\nmodules:\n  content-filter:\n    blocked_keywords: [x]\n")
    r = runner.invoke(app, ["config", "validate", str(cfg)])
    assert "warning" not in r.output
    assert re.search(r"ok .*1 providers", " ".join(r.output.split()))
