"""Config: discovery, ${VAR} expansion, precise errors, and the CLI around it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from leash_cli.cli import app
from leash_cli.config import ConfigError, expand_env, load_config, parse_config_text
from leash_cli.resources import data_dir

runner = CliRunner()


def test_embedded_default_has_mock_and_needs_no_keys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loaded = load_config(None)
    assert loaded.path is None and loaded.source == "embedded"
    cfg = loaded.config
    assert cfg.providers["mock"].kind == "mock"
    assert all(p.api_key is None for p in cfg.providers.values())
    assert cfg.gateway.host == "127.0.0.1" and cfg.gateway.port == 8080


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs" / "gateway").mkdir(parents=True)
    (tmp_path / "configs" / "gateway" / "config.yaml").write_text("gateway: {port: 1}\n")
    assert load_config(None).config.gateway.port == 1
    (tmp_path / "leash.yaml").write_text("gateway: {port: 2}\n")
    assert load_config(None).config.gateway.port == 2
    env = tmp_path / "env.yaml"
    env.write_text("gateway: {port: 3}\n")
    monkeypatch.setenv("LEASH_CONFIG", str(env))
    assert load_config(None).config.gateway.port == 3
    flag = tmp_path / "flag.yaml"
    flag.write_text("gateway: {port: 4}\n")
    assert load_config(flag).config.gateway.port == 4


def test_env_expansion():
    env = {"A": "1", "EMPTY": ""}
    assert expand_env("${A}", env) == "1"
    assert expand_env("${MISSING:-dflt}", env) == "dflt"
    assert expand_env("${EMPTY:-dflt}", env) == "dflt"
    assert expand_env("x-${A}-${MISSING}", env) == "x-1-"
    assert expand_env({"k": ["${A}"]}, env) == {"k": ["1"]}


def test_env_expansion_is_not_yaml_injection(monkeypatch):
    monkeypatch.setenv("SNEAKY", "x\nproviders: {evil: {kind: openai}}")
    cfg = parse_config_text("providers:\n  openai:\n    api_key: ${SNEAKY}\n", "t.yaml")
    assert list(cfg.providers) == ["openai"]


def test_unknown_key_names_file_line_and_suggests(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("gateway:\n  port: 8080\nproviders:\n  openai:\n    endpont: https://x.example/v1\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    text = e.value.render()
    assert str(p) in text
    assert "line 5" in text
    assert "providers.openai.endpont" in text
    assert "did you mean 'endpoint'" in text


def test_wrong_type_says_what_was_expected(tmp_path):
    with pytest.raises(ConfigError) as e:
        parse_config_text("gateway:\n  port: eighty\n", "x.yaml")
    text = e.value.render()
    assert "x.yaml" in text and "gateway.port" in text and "line 2" in text and "integer" in text
    with pytest.raises(ConfigError) as e:
        parse_config_text("providers:\n  groq:\n    endpoint: https://api.groq.com/openai/v1\n", "x.yaml")
    assert "needs a 'kind'" in e.value.render()
    with pytest.raises(ConfigError) as e:
        parse_config_text("providers:\n  openai:\n    endpoint: not a url\n", "x.yaml")
    assert "http(s) URL" in e.value.render()


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        parse_config_text("gateway: [unclosed\n", "y.yaml")
    assert "y.yaml" in e.value.render() and "not valid YAML" in e.value.render()
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "nope.yaml")
    assert "file not found" in e.value.render()


def test_seed_example_and_starter_load_unchanged():
    for name in ("examples/seed.yaml", "starter.yaml", "default.yaml"):
        cfg = parse_config_text((data_dir("configs") / name).read_text(), name)
        assert cfg.providers
    seed = parse_config_text((data_dir("configs") / "examples/seed.yaml").read_text(), "seed")
    assert seed.tenants["default"].quotas.requests_per_hour == 1000
    assert seed.tenants["default"].quotas.cost_limit_usd == 100.0
    assert seed.modules["rate-limiter"].config == {"requests_per_minute": 60}


def test_module_settings_inline_or_under_config():
    cfg = parse_config_text("modules:\n  rate-limiter:\n    requests_per_minute: 5\n    priority: 3\n", "m")
    assert cfg.modules["rate-limiter"].config == {"requests_per_minute": 5}
    assert cfg.modules["rate-limiter"].priority == 3


def test_several_providers_of_one_kind():
    cfg = parse_config_text(
        "providers:\n  groq: {kind: openai, endpoint: 'https://api.groq.com/openai/v1'}\n  openai: {}\n", "p"
    )
    assert cfg.providers["groq"].kind == "openai"
    assert cfg.providers["openai"].endpoint == "https://api.openai.com/v1"


def test_cli_validate(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("providers:\n  mock: {kind: mock}\n")
    r = runner.invoke(app, ["config", "validate", str(good)])
    assert r.exit_code == 0 and "ok" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("gatway:\n  port: 1\n")
    r = runner.invoke(app, ["config", "validate", str(bad)])
    assert r.exit_code == 2
    assert "did you mean 'gateway'" in r.output
    assert "Traceback" not in r.output


def test_cli_show_masks_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-proj-supersecretvalue1234567890")
    p = tmp_path / "c.yaml"
    p.write_text("providers:\n  openai:\n    api_key: ${MY_KEY}\n")
    r = runner.invoke(app, ["config", "show", "--config", str(p)])
    assert r.exit_code == 0, r.output
    assert "supersecret" not in r.output
    assert "sk-****90" in r.output


def test_cli_init_writes_a_valid_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["init"])
    assert r.exit_code == 0
    assert Path("leash.yaml").exists()
    assert runner.invoke(app, ["config", "validate", "leash.yaml"]).exit_code == 0
    r = runner.invoke(app, ["init"])
    assert r.exit_code == 1 and "--force" in r.output
