"""``leash providers`` and ``preset:``: what a preset fills (and what an explicit key overrides), and a
listing of every provider's kind, route, endpoint and credential status that never prints a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from leash_cli.cli import app
from leash_cli.config import ConfigError, parse_config_text
from leash_cli.presets import PRESETS

SECRETS = ("gsk_live_secret_0123456789", "azure-key-secret-0123", "entra-client-secret-987", "pw-in-url")


def write(tmp_path: Path, providers: dict) -> Path:
    p = tmp_path / "leash.yaml"
    p.write_text(yaml.safe_dump({"providers": providers}))
    return p


CONFIG = {
    "mock": {"kind": "mock"},
    "openai": {},
    "fast": {"preset": "groq", "api_key": "${GROQ_API_KEY}"},
    "local": {"preset": "ollama", "endpoint": "http://gpu-box:11434/v1"},
    "az": {
        "kind": "azure",
        "endpoint": "https://res.openai.azure.com",
        "api_key": "azure-key-secret-0123",
        "deployments": {"prod-4o": "gpt-4o"},
    },
    "entra": {
        "kind": "azure",
        "endpoint": "https://user:pw-in-url@res2.openai.azure.com",
        "tenant_id": "t1",
        "client_id": "app-1",
        "client_secret": "entra-client-secret-987",
    },
}


def test_leash_providers_lists_kinds_routes_endpoints_and_credential_status_without_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "gsk_live_secret_0123456789")
    path = write(tmp_path, CONFIG)
    r = CliRunner().invoke(app, ["providers", "-c", str(path), "--json"])
    assert r.exit_code == 0, r.output
    got = {p["name"]: p for p in json.loads(r.output)["providers"]}
    assert got["fast"]["kind"] == "openai" and got["fast"]["preset"] == "groq"
    assert got["fast"]["endpoint"] == PRESETS["groq"].endpoint and got["fast"]["pricing_provider"] == "groq"
    assert got["local"]["endpoint"] == "http://gpu-box:11434/v1"  # an explicit endpoint wins over the preset
    assert got["az"]["route"] == "/v1/az/" and got["az"]["deployment_models"] == {"prod-4o": "gpt-4o"}
    assert got["az"]["pricing_provider"] == "azure"
    status = {n: p["credentials"]["status"] for n, p in got.items()}
    assert status == {"mock": "none", "openai": "client", "fast": "ok", "local": "client", "az": "ok", "entra": "ok"}
    assert "api-key" in got["az"]["credentials"]["detail"] and "Entra ID" in got["entra"]["credentials"]["detail"]
    assert got["entra"]["endpoint"] == "https://res2.openai.azure.com"
    table = CliRunner().invoke(app, ["providers", "-c", str(path)])
    assert table.exit_code == 0 and "openai (groq)" in table.output
    for out in (r.output, table.output):
        for s in SECRETS:
            assert s not in out


def test_credentials_that_do_not_resolve_are_missing_and_exit_1(tmp_path, monkeypatch):
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    r = CliRunner().invoke(app, ["providers", "-c", str(write(tmp_path, CONFIG)), "--json"])
    assert r.exit_code == 1
    fast = next(p for p in json.loads(r.output)["providers"] if p["name"] == "fast")
    assert fast["credentials"]["status"] == "missing" and "empty" in fast["credentials"]["detail"]


class _Broken:
    client_headers = frozenset()

    def describe(self) -> str:
        return "broken"

    def check(self) -> str | None:
        return "service-account file /nope.json is not readable"


def broken(name, pc) -> _Broken:
    return _Broken()


def test_a_failing_auth_check_is_reported(tmp_path, monkeypatch):
    from leash_cli import credentials

    monkeypatch.setitem(credentials.BUILDERS, "openai", f"{__name__}:broken")
    r = CliRunner().invoke(app, ["providers", "-c", str(write(tmp_path, {"openai": {}})), "--json"])
    assert r.exit_code == 1 and "not readable" in r.output


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_fills_endpoint_auth_header_and_pricing_id(name):
    pc = parse_config_text(yaml.safe_dump({"providers": {"p": {"preset": name}}}), "x").providers["p"]
    want = PRESETS[name]
    assert (pc.kind, pc.endpoint, pc.auth_header, pc.pricing_provider) == (
        "openai",
        want.endpoint,
        want.auth_header,
        want.pricing_provider,
    )


def test_explicit_keys_win_over_the_preset_and_a_preset_needs_the_openai_kind():
    text = yaml.safe_dump(
        {
            "providers": {
                "p": {
                    "preset": "mistral",
                    "endpoint": "https://eu.example/v1",
                    "auth_header": "x-api-key",
                    "pricing_provider": "openai",
                }
            }
        }
    )
    pc = parse_config_text(text, "x").providers["p"]
    assert (pc.endpoint, pc.auth_header, pc.pricing_provider) == ("https://eu.example/v1", "x-api-key", "openai")
    with pytest.raises(ConfigError, match="presets are OpenAI-compatible servers"):
        parse_config_text(yaml.safe_dump({"providers": {"p": {"kind": "anthropic", "preset": "groq"}}}), "x")
    with pytest.raises(ConfigError, match="preset"):
        parse_config_text(yaml.safe_dump({"providers": {"p": {"preset": "nosuch"}}}), "x")
