"""Right by default (issue #24): the starter config keeps security on, the config commands
take the config the same way, `config validate` warns on a config that protects nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from leash_cli.cli import app
from leash_cli.config import LoadedConfig, parse_config_text
from leash_cli.resources import data_dir
from leash_cli.server import GatewayThread, build_gateway

AWS_ID = "AKIAZ3MSJXLQ7TP2VKR4"


def _serve(text: str, tmp_path: Path):
    loaded = LoadedConfig(parse_config_text(text, "leash.yaml"), None, "flag")
    thread = GatewayThread(build_gateway(loaded, db_path=tmp_path / "leash.db"))
    return thread, thread.start()


@pytest.mark.parametrize("name", ["starter.yaml", "default.yaml"])
@pytest.mark.slow
def test_the_starter_config_blocks_a_pasted_aws_key_like_the_embedded_default(tmp_path, name):
    """`leash init` writes starter.yaml; a gateway on it (unchanged) refuses an AWS key with 403."""
    text = (data_dir("configs") / name).read_text()
    thread, url = _serve(text, tmp_path)
    try:
        body = {"model": "mock-small", "messages": [{"role": "user", "content": f"deploy with {AWS_ID} please"}]}
        r = httpx.post(f"{url}/v1/mock/chat/completions", json=body, timeout=10)
        assert r.status_code == 403, r.text
        assert "secrets-detector" in r.json()["error"]["message"]
        ok = httpx.post(
            f"{url}/v1/mock/chat/completions",
            timeout=10,
            json={"model": "mock-small", "messages": [{"role": "user", "content": "hello"}]},
        )
        assert ok.status_code == 200
    finally:
        thread.stop()


def test_starter_enables_the_embedded_defaults_modules():
    default = yaml.safe_load((data_dir("configs") / "default.yaml").read_text())
    starter = yaml.safe_load((data_dir("configs") / "starter.yaml").read_text())
    assert starter["modules"] == default["modules"]
    # and says what each does, in a comment on its line
    text = (data_dir("configs") / "starter.yaml").read_text()
    for name in default["modules"]:
        line = next(ln for ln in text.splitlines() if ln.startswith(f"  {name}:"))
        assert "#" in line, name


def test_init_writes_the_starter(tmp_path):
    out = tmp_path / "leash.yaml"
    r = CliRunner().invoke(app, ["init", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text() == (data_dir("configs") / "starter.yaml").read_text()


# -- the same config argument everywhere -------------------------------------------------


@pytest.fixture
def cfg_file(tmp_path: Path) -> Path:
    p = tmp_path / "mine.yaml"
    p.write_text(
        "providers:\n  openai:\n    endpoint: https://api.openai.com/v1\n"
        "modules:\n  secrets-detector:\n    action: block\n"
    )
    return p


@pytest.mark.parametrize("cmd", ["validate", "show"])
@pytest.mark.parametrize("form", ["positional", "-c", "--config"])
def test_config_commands_take_the_config_the_same_way(cfg_file, cmd, form):
    args = ["config", cmd] + ([str(cfg_file)] if form == "positional" else [form, str(cfg_file)])
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert str(cfg_file) in r.output.replace("\n", "")  # a long path is wrapped at 80 columns


@pytest.mark.parametrize("cmd", ["validate", "show"])
def test_config_commands_refuse_two_different_configs(cfg_file, tmp_path, cmd):
    other = tmp_path / "other.yaml"
    other.write_text(cfg_file.read_text())
    r = CliRunner().invoke(app, ["config", cmd, str(cfg_file), "-c", str(other)])
    assert r.exit_code == 2
    assert "two config files" in r.output


def test_every_command_that_reads_a_config_takes_c_and_config():
    import typer

    def walk(cmd, path: str):
        yield path, cmd
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            yield from walk(sub, f"{path} {name}")

    seen = []
    for path, cmd in walk(typer.main.get_command(app), "leash"):
        for p in cmd.params:
            if p.name == "config" and getattr(p, "param_type_name", "") == "option":
                assert {"-c", "--config"} <= set(p.opts), path
                seen.append(path)
    assert {
        "leash up",
        "leash config validate",
        "leash config show",
        "leash keys create",
        "leash scan",
        "leash export compose",
        "leash ext-proc",
        "leash module list",
    } <= set(seen), seen
