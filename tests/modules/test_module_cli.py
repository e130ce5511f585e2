"""`leash module list | show | check | new`, and a broken module at startup, through the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from module_support import subprocess_env
from typer.testing import CliRunner

from leash_cli.cli import app

runner = CliRunner()

BROKEN = '''"""A module with a bug on line 5."""
from pydantic import BaseModel

x = 1
y = undefined_name + x


class Broken:
    name = "broken"

    def policy(self, ex):
        return None
'''


def leash(*args: str, cwd: Path | None = None):
    if cwd is not None:
        import os

        old = os.getcwd()
        os.chdir(cwd)
        try:
            return runner.invoke(app, list(args))
        finally:
            os.chdir(old)
    return runner.invoke(app, list(args))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with a leash.yaml, a modules/ folder holding a good module and a broken one."""
    leash("module", "new", "my-policy", cwd=tmp_path)
    (tmp_path / "modules" / "broken.py").write_text(BROKEN)
    (tmp_path / "leash.yaml").write_text(
        yaml.safe_dump(
            {
                "providers": {"mock": {"kind": "mock"}},
                "modules_dir": "modules",
                "modules": {
                    "my-policy": {"enabled": True, "config": {"deny": ["launch codes"]}},
                    "content-filter": {"enabled": False},
                    "broken": {"enabled": False},
                },
            }
        )
    )
    return tmp_path


# -- list -----------------------------------------------------------------------------------
def test_list_shows_every_source_and_load_errors(project):
    r = leash("module", "list", "--config", str(project / "leash.yaml"))
    assert r.exit_code == 0, r.output
    for name in ("rate-limiter", "content-filter", "pii-detector", "my-policy", "broken"):
        assert name in r.output
    assert "load errors:" in r.output
    assert f"{project / 'modules' / 'broken.py'}:5: NameError: name 'undefined_name' is not defined" in r.output


def test_list_json(project):
    r = leash("module", "list", "--config", str(project / "leash.yaml"), "--json")
    assert r.exit_code == 0, r.output
    rows = {m["name"]: m for m in json.loads(r.output)}
    mine = rows["my-policy"]
    assert (mine["source"], mine["stages"], mine["version"], mine["enabled"], mine["error"]) == (
        "file",
        ["policy"],
        "0.1.0",
        "yes",
        None,
    )
    assert mine["description"] == "Blocks prompts that mention a phrase of its deny-list."
    assert rows["content-filter"]["source"] == "builtin" and rows["content-filter"]["enabled"] == "no"
    assert rows["rate-limiter"]["enabled"] == "-"
    assert rows["broken"]["error"].startswith(str(project / "modules" / "broken.py") + ":5:")
    assert rows["broken"]["enabled"] == "no"


def test_list_names_a_configured_module_that_is_nowhere(tmp_path):
    (tmp_path / "leash.yaml").write_text("modules:\n  ghost: {enabled: true}\n")
    r = leash("module", "list", "--config", str(tmp_path / "leash.yaml"), "--json")
    ghost = {m["name"]: m for m in json.loads(r.output)}["ghost"]
    assert "not found" in ghost["error"]


def test_list_warns_when_a_broken_module_is_enabled(project):
    cfg = project / "leash.yaml"
    cfg.write_text(cfg.read_text().replace("broken:\n    enabled: false", "broken:\n    enabled: true"))
    r = leash("module", "list", "--config", str(cfg))
    assert "the gateway will not start" in r.output and "enabled: false" in r.output


# -- show -----------------------------------------------------------------------------------
def test_show_renders_the_settings_model(project):
    r = leash("module", "show", "content-filter")
    assert r.exit_code == 0, r.output
    for text in (
        "blocked_keywords",
        "list[str]",
        "words or phrases, matched whole",
        "case_sensitive",
        "bool",
        "false",
        '"block" | "redact" | "log"',
        "stages: policy, on_response, on_chunk",
        "enable it in leash.yaml",
        "content-filter:",
    ):
        assert text in r.output, text


def test_show_a_folder_module_with_its_modules_dir(project):
    r = leash("module", "show", "my-policy", "--modules-dir", str(project / "modules"))
    assert r.exit_code == 0, r.output
    assert "deny" in r.output and '["project nightingale"]' in r.output and "403" in r.output
    assert "modules_dir:" in r.output


def test_show_json_is_the_schema():
    r = leash("module", "show", "model-policy", "--json")
    data = json.loads(r.output)
    props = data["settings_schema"]["properties"]
    assert props["max_tokens"]["description"] == "cap on the output tokens a request may ask for"
    assert data["stages"] == ["policy", "transform"]


def test_show_unknown_and_broken(project):
    r = leash("module", "show", "content-filtr")
    assert r.exit_code == 2 and "did you mean 'content-filter'" in r.output
    r = leash("module", "show", "broken", "--config", str(project / "leash.yaml"))
    assert r.exit_code == 2 and "broken.py:5: NameError" in r.output


# -- check ----------------------------------------------------------------------------------
def test_check_block_exits_1(project):
    r = leash(
        "module", "check", "my-policy", "--config", str(project / "leash.yaml"), "--text", "where are the launch codes?"
    )  # deny from the config
    assert r.exit_code == 1, r.output
    assert "block 403 denied_phrase: this request mentions a restricted topic" in r.output
    assert "DENIED_PHRASE" in r.output


def test_check_allow_exits_0(project):
    r = leash(
        "module", "check", "my-policy", "--config", str(project / "leash.yaml"), "--text", "project nightingale"
    )  # the config's deny-list replaced the default
    assert r.exit_code == 0, r.output
    assert r.output.strip().startswith("allow")


def test_check_set_overrides_and_provider(project):
    r = leash(
        "module",
        "check",
        "my-policy",
        "--modules-dir",
        str(project / "modules"),
        "--provider",
        "google",
        "--text",
        "hello world",
        "--set",
        "deny=[hello]",
        "--set",
        "status=451",
        "--set",
        "message=nope",
        "--json",
    )
    assert r.exit_code == 1, r.output
    out = json.loads(r.output)
    assert (out["action"], out["status"], out["message"]) == ("block", 451, "nope")
    assert out["violations"][0]["field"] == "contents.0.parts.0.text"


def test_check_redact_prints_the_new_text():
    r = leash(
        "module",
        "check",
        "content-filter",
        "--text",
        "my password is hunter2",
        "--set",
        "blocked_keywords=[hunter2]",
        "--set",
        "action=redact",
    )
    assert r.exit_code == 0, r.output
    assert "redact" in r.output and "my password is [REDACTED]" in r.output


def test_check_bad_settings_exit_2(project):
    r = leash(
        "module", "check", "my-policy", "--modules-dir", str(project / "modules"), "--text", "x", "--set", "dney=[a]"
    )
    assert r.exit_code == 2
    assert "dney: unknown setting (did you mean 'deny'?)" in r.output
    r = leash(
        "module", "check", "my-policy", "--modules-dir", str(project / "modules"), "--text", "x", "--set", "nokeyvalue"
    )
    assert r.exit_code == 2 and "key=value" in r.output


def test_check_a_failing_module_fails_closed(tmp_path):
    (tmp_path / "boom.py").write_text(
        "class Boom:\n    name = 'boom'\n    def policy(self, ex):\n        raise ValueError('bad day')\n"
    )
    r = leash("module", "check", "boom", "--modules-dir", str(tmp_path), "--text", "x")
    assert r.exit_code == 1
    # the type and the place, never the message (it may quote the prompt): see docs/errors.md
    assert "block 503 module_error" in r.output and "ValueError raised in policy (boom.py:4)" in r.output
    assert "bad day" not in r.output


# -- new ------------------------------------------------------------------------------------
def test_new_writes_the_module_and_its_tests(tmp_path):
    r = leash("module", "new", "deny-words", "--stage", "transform", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert "wrote modules/deny_words.py" in r.output and "wrote tests/test_deny_words.py" in r.output
    assert "modules_dir: modules" in r.output
    assert "def transform(self, ex: Exchange)" in (tmp_path / "modules" / "deny_words.py").read_text()


def test_new_package(tmp_path):
    r = leash("module", "new", "team-guard", "--package", "--dir", "pkgs", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "pkgs" / "leash-team-guard" / "src" / "leash_team_guard" / "__init__.py").is_file()
    assert "pip install" in r.output


def test_new_rejects_a_bad_name(tmp_path):
    r = leash("module", "new", "My Policy!", cwd=tmp_path)
    assert r.exit_code == 2
    flat = " ".join(re.sub("[│╭╮╰╯─]", " ", r.output).split())  # typer draws a box around the error
    assert "lowercase letters, digits and dashes, starting with a letter" in flat
    assert not any(tmp_path.iterdir())


def test_new_never_overwrites_without_force(tmp_path):
    assert leash("module", "new", "my-policy", cwd=tmp_path).exit_code == 0
    target = tmp_path / "modules" / "my_policy.py"
    target.write_text("# edited\n")
    r = leash("module", "new", "my-policy", cwd=tmp_path)
    assert r.exit_code == 1 and "not overwriting modules/my_policy.py" in r.output and "--force" in r.output
    assert target.read_text() == "# edited\n"
    r = leash("module", "new", "my-policy", "--force", cwd=tmp_path)
    assert r.exit_code == 0 and "class MyPolicy" in target.read_text()


# -- a broken enabled module: fail closed at startup ----------------------------------------
def _broken_config(tmp_path: Path) -> Path:
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / "broken.py").write_text(BROKEN)
    cfg = tmp_path / "leash.yaml"
    cfg.write_text(
        "providers:\n  mock: {kind: mock}\nstorage: {enabled: false}\nmodules_dir: modules\n"
        "modules:\n  broken:\n    enabled: true\n"
    )
    return cfg


@pytest.mark.slow
def test_leash_up_refuses_to_start_with_a_broken_enabled_module(tmp_path):
    cfg = _broken_config(tmp_path)
    r = subprocess.run(
        [sys.executable, "-m", "leash_cli", "up", "--config", str(cfg), "--port", "0", "--no-record"],
        cwd=tmp_path,
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = " ".join((r.stdout + r.stderr).split())  # the console may wrap long lines
    assert r.returncode == 2, out
    assert "line 6: modules.broken" in out
    assert f"{tmp_path / 'modules' / 'broken.py'}:5: NameError" in out
    assert "`enabled: false` under modules.broken" in out
    assert "listening" not in out


def test_config_validate_rejects_a_broken_enabled_module(tmp_path):
    cfg = _broken_config(tmp_path)
    r = leash("config", "validate", str(cfg))
    out = " ".join(r.output.split())
    assert r.exit_code == 2, out
    assert "broken.py:5: NameError" in out and "enabled: false" in out


def test_a_disabled_broken_module_does_not_stop_the_gateway(tmp_path):
    cfg = _broken_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("enabled: true", "enabled: false"))
    from leash_cli.config import load_config
    from leash_cli.registry import build_slots

    slots, _ = build_slots(load_config(cfg))
    assert slots == []
