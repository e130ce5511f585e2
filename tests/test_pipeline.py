"""The policy pipeline through a real gateway: modules, fail-closed, shadow, tenants, keys, limits, budgets."""

from __future__ import annotations

import concurrent.futures
import json
import textwrap
import time
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
import yaml
from typer.testing import CliRunner

from leash_cli.cli import app
from leash_cli.config import ConfigError, LoadedConfig, parse_config_text
from leash_cli.registry import build_slots
from leash_cli.store import open_readonly

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


def chat(gw, content="hello", provider="openai", headers=None, **extra) -> httpx.Response:
    body = {**CHAT, "messages": [{"role": "user", "content": content}], **extra}
    return httpx.post(f"{gw.base(provider)}/chat/completions", json=body, headers=headers or {}, timeout=10)


def rows(gw, sql: str, params=()) -> list[dict]:
    return gw.rows(sql, params)


def write_module(tmp_path: Path, name: str, source: str) -> None:
    d = tmp_path / "modules"
    d.mkdir(exist_ok=True)
    (d / name).write_text(textwrap.dedent(source))


MODULES = """
    import asyncio
    import time
    from pydantic import BaseModel, ConfigDict
    from leash_cli.decision import block, redact, annotate
    from leash_cli.exchange import Violation

    class NoPineapple:
        name = "no-pineapple"
        version = "2.1"

        class Settings(BaseModel):
            model_config = ConfigDict(extra="forbid")
            word: str = "pineapple"

        def __init__(self, settings):
            self.s = settings

        def policy(self, ex):
            if self.s.word in ex.prompt_text.lower():
                return block(f"no {self.s.word} here", violations=[Violation("", "PINEAPPLE", "block")])

    class Exploder:
        name = "exploder"

        def policy(self, ex):
            if "boom" in ex.prompt_text:
                raise RuntimeError("kaboom")

    class SlowPoke:
        name = "slowpoke"
        timeout = 0.2

        async def policy(self, ex):
            if "slow" in ex.prompt_text:
                await asyncio.sleep(1)

    class Shouter:
        name = "shouter"

        def transform(self, ex):
            for t in ex.texts():
                if t.role == "user":
                    ex.replace_text(t.path, t.text.upper())
            return redact()

    class Order:
        name = "order-a"
        priority = 1
        def policy(self, ex):
            ex.annotations.setdefault("order", []).append("a")

    class OrderB:
        name = "order-b"
        priority = 2
        def policy(self, ex):
            ex.annotations.setdefault("order", []).append("b")
            if "order" in ex.prompt_text:
                return block("order: " + ",".join(ex.annotations["order"]))
"""


@pytest.fixture
def with_modules(tmp_path):
    write_module(tmp_path, "custom.py", MODULES)
    return tmp_path


def test_custom_module_blocks_in_provider_shape(start_gateway, with_modules, upstream):
    gw = start_gateway({"modules_dir": "modules", "modules": {"no-pineapple": {"enabled": True}}})
    before = len(upstream.requests)
    r = chat(gw, "I love Pineapple pizza")
    assert r.status_code == 403
    assert r.json()["error"] == {
        "message": "no pineapple here",
        "type": "permission_error",
        "param": None,
        "code": "policy_violation",
    }
    assert len(upstream.requests) == before
    c = anthropic.Anthropic(base_url=gw.base("anthropic"), api_key="k", max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError):
        c.messages.create(model="claude", max_tokens=5, messages=[{"role": "user", "content": "pineapple"}])
    assert chat(gw, "I love apples").status_code == 200
    got = rows(
        gw,
        "select r.outcome, r.verdict, v.module, v.type, v.action from requests r "
        "join violations v on v.request_id = r.id",
    )
    assert {
        "outcome": "blocked",
        "verdict": "blocked",
        "module": "no-pineapple",
        "type": "PINEAPPLE",
        "action": "block",
    } in got


def test_module_settings_from_config(start_gateway, with_modules):
    gw = start_gateway({"modules_dir": "modules", "modules": {"no-pineapple": {"config": {"word": "kiwi"}}}})
    assert chat(gw, "pineapple").status_code == 200
    assert chat(gw, "a kiwi").status_code == 403


def test_priority_orders_policies(start_gateway, with_modules):
    gw = start_gateway({"modules_dir": "modules", "modules": {"order-b": {}, "order-a": {}}})
    r = chat(gw, "order please")
    assert r.json()["error"]["message"] == "order: a,b"
    gw2 = start_gateway({"modules_dir": "modules", "modules": {"order-b": {"priority": 1}, "order-a": {"priority": 9}}})
    assert chat(gw2, "order please").json()["error"]["message"] == "order: b"


def test_failing_module_fails_closed(start_gateway, with_modules, upstream):
    gw = start_gateway({"modules_dir": "modules", "modules": {"exploder": {}}})
    before = len(upstream.requests)
    r = chat(gw, "boom")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "module_error"
    assert "kaboom" not in r.text  # internal error text stays in the store, not in the answer
    assert len(upstream.requests) == before
    got = rows(gw, "select type, action, detail from violations where module = 'exploder'")
    # the exception's type and where it was raised; never its message (it may quote the prompt)
    assert got and got[0]["type"] == "MODULE_ERROR" and "kaboom" not in got[0]["detail"]
    assert "custom.py" in got[0]["detail"]
    assert chat(gw, "fine").status_code == 200


def test_failing_module_with_on_error_allow_is_skipped(start_gateway, with_modules):
    gw = start_gateway({"modules_dir": "modules", "modules": {"exploder": {"on_error": "allow"}}})
    assert chat(gw, "boom").status_code == 200


@pytest.mark.slow
def test_module_timeout_blocks(start_gateway, with_modules):
    gw = start_gateway({"modules_dir": "modules", "modules": {"slowpoke": {}}})
    t = time.perf_counter()
    r = chat(gw, "slow please")
    assert r.status_code == 503 and time.perf_counter() - t < 0.9
    assert "timed out" in rows(gw, "select detail from violations")[0]["detail"]
    gw2 = start_gateway({"modules_dir": "modules", "modules": {"slowpoke": {"timeout": 3}}})
    assert chat(gw2, "slow please").status_code == 200


def test_shadow_mode_records_but_allows(start_gateway, with_modules):
    gw = start_gateway({"modules_dir": "modules", "modules": {"no-pineapple": {"mode": "shadow"}}})
    r = chat(gw, "pineapple")
    assert r.status_code == 200
    got = rows(gw, "select r.verdict, v.action from requests r join violations v on v.request_id = r.id")
    assert got == [{"verdict": "shadow_blocked", "action": "shadow_block"}]


def test_transform_rewrites_message_text_only(start_gateway, with_modules, upstream):
    gw = start_gateway({"modules_dir": "modules", "modules": {"shouter": {}}})
    r = httpx.post(
        f"{gw.base('openai')}/chat/completions",
        timeout=10,
        json={"model": "m", "messages": [{"role": "user", "content": "quiet words"}], "user": "lower"},
    )
    assert r.status_code == 200
    sent = json.loads(upstream.last().body)
    assert sent["messages"][0]["content"] == "QUIET WORDS"
    assert sent["user"] == "lower"
    assert int(upstream.last().headers["content-length"]) == len(upstream.last().body)


def test_conditions(start_gateway, with_modules):
    gw = start_gateway(
        {
            "modules_dir": "modules",
            "modules": {
                "no-pineapple": {
                    "conditions": [
                        {"field": "model", "operator": "regex", "value": "^gpt-4"},
                        {"field": "tenant", "operator": "in", "value": ["acme", "default"]},
                    ]
                }
            },
        }
    )
    assert chat(gw, "pineapple").status_code == 403
    assert chat(gw, "pineapple", model="claude-3").status_code == 200
    assert chat(gw, "pineapple", headers={"x-leash-tenant": "other"}).status_code == 200


def test_unknown_condition_operator_is_a_config_error():
    with pytest.raises(ConfigError) as e:
        parse_config_text(
            "modules:\n  logger:\n    conditions:\n      - {field: model, operator: like, value: x}\n", "c.yaml"
        )
    assert "operator" in e.value.render() and "line 4" in e.value.render()


def test_unknown_module_and_bad_settings_are_config_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("modules:\n  rate-limitr: {}\n  content-filter:\n    blocked_keywords: [x]\n    actoin: block\n")
    loaded = LoadedConfig(parse_config_text(p.read_text(), str(p)), p, "flag")
    with pytest.raises(ConfigError) as e:
        build_slots(loaded)
    text = e.value.render()
    assert "did you mean 'rate-limiter'" in text
    assert "modules.content-filter.config.actoin" in text and "did you mean 'action'" in text
    assert "line 5" in text


def test_broken_module_file_refuses_to_start(tmp_path):
    write_module(
        tmp_path, "broken.py", "class Broken:\n    name = 'broken'\n    def policy(self, ex):\n        return 1 +\n"
    )
    cfg = tmp_path / "leash.yaml"
    cfg.write_text("modules_dir: modules\nmodules:\n  broken: {}\n")
    r = CliRunner().invoke(app, ["config", "validate", str(cfg)])
    # `config validate` builds the modules, as `up` does (via build_slots):
    loaded = LoadedConfig(parse_config_text(cfg.read_text(), str(cfg)), cfg, "flag")
    with pytest.raises(ConfigError) as e:
        build_slots(loaded)
    text = e.value.render()
    assert "broken.py:4" in text and "SyntaxError" in text and "enabled: false" in text
    assert r.exit_code == 2 and "broken.py:4" in " ".join(r.output.split())


def test_tenant_policies_header_and_allow_lists(start_gateway, with_modules):
    gw = start_gateway(
        {
            "modules_dir": "modules",
            "modules": {"no-pineapple": {}},
            "tenants": {
                "acme": {"policies": [], "allowed_providers": ["openai", "mock"]},
                "strict": {
                    "policies": ["no-pineapple"],
                    "allowed_models": ["gpt-4o*"],
                    "blocked_models": ["gpt-4o-mini-bad"],
                },
            },
        }
    )
    acme = {"x-leash-tenant": "acme"}
    assert chat(gw, "pineapple", headers=acme).status_code == 200  # acme's policy list is empty
    assert chat(gw, "pineapple").status_code == 403  # default tenant gets every enabled module
    r = httpx.post(
        f"{gw.base('anthropic')}/v1/messages",
        headers=acme,
        timeout=10,
        json={"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.status_code == 403 and "may not use provider 'anthropic'" in r.json()["error"]["message"]
    strict = {"x-leash-tenant": "strict"}
    assert chat(gw, "ok", headers=strict).status_code == 200
    assert chat(gw, "ok", headers=strict, model="o3").status_code == 403
    assert chat(gw, "ok", headers=strict, model="gpt-4o-mini-bad").status_code == 403
    assert rows(gw, "select count(*) n from requests where tenant = 'acme'")[0]["n"] == 2


def test_tenant_request_quota(start_gateway):
    gw = start_gateway({"tenants": {"acme": {"quotas": {"requests_per_hour": 2}}}})
    h = {"x-leash-tenant": "acme"}
    assert [chat(gw, headers=h).status_code for _ in range(3)] == [200, 200, 429]
    r = chat(gw, headers=h)
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["code"] == "quota_exceeded"
    assert chat(gw).status_code == 200  # other tenants are not affected


def test_rate_limiter_headers_and_sdk_error(start_gateway):
    gw = start_gateway({"modules": {"rate-limiter": {"requests_per_minute": 3}}})
    r = chat(gw)
    assert r.headers["x-ratelimit-limit-requests"] == "3"
    assert r.headers["x-ratelimit-remaining-requests"] == "2"
    chat(gw), chat(gw)
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    with pytest.raises(openai.RateLimitError) as e:
        c.chat.completions.create(**CHAT)
    assert 1 <= int(e.value.response.headers["retry-after"]) <= 20
    assert e.value.response.headers["x-ratelimit-remaining-requests"] == "0"


def test_rate_limiter_per_model(start_gateway):
    gw = start_gateway({"modules": {"rate-limiter": {"requests_per_minute": 1, "per": ["model"]}}})
    assert chat(gw, model="a").status_code == 200
    assert chat(gw, model="b").status_code == 200
    assert chat(gw, model="a").status_code == 429


@pytest.mark.slow
def test_budget_holds_under_concurrency(start_gateway):
    # worst case per request: input (body bytes / 3) * $1/M + 1000 * $100/M; a budget that fits ten.
    # The upstream ("budget-probe") takes 0.3 s and bills the whole max_tokens, so the budget is really spent.
    gw = start_gateway(
        {
            "pricing": {"budget-probe": {"input": 1.0, "output": 100.0}},
            "tenants": {"acme": {"quotas": {"cost_limit_usd": 1.0}}},
        }
    )
    body = {"model": "budget-probe", "max_tokens": 1000, "messages": [{"role": "user", "content": "x"}]}
    worst = (len(json.dumps(body, separators=(",", ":"))) // 3) * 1.0 / 1e6 + 1000 * 100.0 / 1e6
    assert 1.0 / worst >= 9.9  # ten fit, an eleventh does not
    h = {"x-leash-tenant": "acme"}

    def one(_):
        return httpx.post(f"{gw.base('openai')}/chat/completions", json=body, headers=h, timeout=20).status_code

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        codes = list(pool.map(one, range(50)))
    assert codes.count(200) <= 10
    assert codes.count(200) >= 5 and codes.count(429) >= 40
    spent = rows(gw, "select sum(cost_usd) s from requests where status = 200")[0]["s"]
    assert spent <= 1.0


def test_unpriced_model_is_refused_by_a_budget(start_gateway):
    gw = start_gateway({"tenants": {"acme": {"quotas": {"cost_limit_usd": 5}}}})
    r = chat(gw, model="no-such-model-anywhere", headers={"x-leash-tenant": "acme"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "unpriced_model"


def test_cost_tracker_alerts_once(start_gateway):
    gw = start_gateway(
        {
            "pricing": {"alert-model": {"input": 1000.0, "output": 1000.0}},
            "modules": {"cost-tracker": {"limit_usd": 100.0, "alert_thresholds": [0.0001]}},
        }
    )
    for _ in range(3):
        assert chat(gw, model="alert-model", max_tokens=10).status_code == 200
    got = rows(gw, "select type, action from violations where module = 'cost-tracker'")
    assert got == [{"type": "BUDGET_ALERT", "action": "alert"}]
    assert rows(gw, "select count(*) n from audit_log where event = 'budget_alert'")[0]["n"] == 1


def test_content_filter_whole_words_and_not_json_keys(start_gateway, upstream):
    gw = start_gateway(
        {"modules": {"content-filter": {"blocked_keywords": ["secret"], "action": "redact", "redaction_text": "[X]"}}}
    )
    r = httpx.post(
        f"{gw.base('openai')}/chat/completions",
        timeout=10,
        json={
            "model": "m",
            "messages": [{"role": "user", "content": "the secret is out, secretly"}],
            "metadata": {"secret": "kept"},
        },
    )
    assert r.status_code == 200
    sent = json.loads(upstream.last().body)
    assert sent["messages"][0]["content"] == "the [X] is out, secretly"
    assert sent["metadata"] == {"secret": "kept"}
    gw2 = start_gateway({"modules": {"content-filter": {"blocked_patterns": [r"\bdrop\s+table\b"]}}})
    assert chat(gw2, "please DROP  TABLE users").status_code == 403


def test_model_policy(start_gateway, upstream):
    gw = start_gateway(
        {"modules": {"model-policy": {"blocked_models": ["*-preview"], "max_tokens": 50, "required_params": ["user"]}}}
    )
    assert chat(gw, model="gpt-5-preview", user="u").status_code == 403
    assert chat(gw).status_code == 400
    assert chat(gw, user="u", max_tokens=500).status_code == 200
    assert json.loads(upstream.last().body)["max_tokens"] == 50
    r = httpx.post(
        f"{gw.base('google')}/v1beta/models/gemini-2.0-flash:generateContent",
        timeout=10,
        json={"contents": [{"parts": [{"text": "x"}]}], "user": "u"},
    )
    assert r.status_code == 200
    assert json.loads(upstream.last().body)["generationConfig"]["maxOutputTokens"] == 50


def test_logger_writes_json_lines_without_keys(start_gateway, tmp_path):
    log = tmp_path / "req.jsonl"
    gw = start_gateway({"modules": {"logger": {"destination": "file", "path": str(log)}}})
    chat(gw, headers={"authorization": "Bearer sk-proj-CANARYCANARYCANARY1234567890"})
    deadline = time.time() + 5
    while (not log.exists() or not log.read_text()) and time.time() < deadline:
        time.sleep(0.05)
    line = json.loads(log.read_text().splitlines()[0])
    assert line["provider"] == "openai" and line["status"] == 200 and line["input_tokens"] > 0
    assert "CANARY" not in log.read_text()


@pytest.mark.slow
def test_virtual_keys(start_gateway, upstream, tmp_path):
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "endpoint": f"{upstream.url}/v1",
                    "api_key": "sk-gateway-held-key-123456789",
                },
                "mock": {"kind": "mock"},
            }
        }
    )
    runner = CliRunner()
    r = runner.invoke(app, ["keys", "create", "--tenant", "acme", "--db", str(gw.db_path), "--json"])
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    key = made["key"]
    assert key.startswith("lk-")
    c = openai.OpenAI(base_url=gw.base("openai"), api_key=key, max_retries=0)
    c.chat.completions.create(**CHAT)
    assert upstream.last().headers["authorization"] == "Bearer sk-gateway-held-key-123456789"
    got = rows(gw, "select tenant, key_id from requests order by started_at desc limit 1")
    assert got == [{"tenant": "acme", "key_id": made["id"]}]
    bad = openai.OpenAI(base_url=gw.base("openai"), api_key="lk-00000000-nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(**CHAT)
    assert runner.invoke(app, ["keys", "revoke", made["id"], "--db", str(gw.db_path)]).exit_code == 0
    deadline = time.monotonic() + 5  # running gateways refuse a revoked key within a second
    with pytest.raises(openai.AuthenticationError) as e:
        while time.monotonic() < deadline:
            c.chat.completions.create(**CHAT)
            time.sleep(0.05)
    assert "revoked" in str(e.value)
    listing = runner.invoke(app, ["keys", "list", "--db", str(gw.db_path)])
    assert made["id"] in listing.output and key not in listing.output
    db = open_readonly(gw.db_path)
    assert key not in json.dumps([dict(r) for r in db.query("select * from virtual_keys")])
    db.close()


def test_reload_keeps_old_config_on_error(start_gateway, tmp_path):
    from leash_cli.server import reload_config

    gw = start_gateway({"modules": {"content-filter": {"blocked_keywords": ["alpha"]}}})
    cfg = tmp_path / "leash.yaml"
    assert chat(gw, "alpha").status_code == 403
    good = json.loads(
        json.dumps(
            {
                "providers": json.loads(json.dumps(gw.gateway.state.config.model_dump(mode="json")["providers"])),
                "modules": {"content-filter": {"blocked_keywords": ["beta"]}},
            }
        )
    )
    for p in good["providers"].values():
        p.pop("api_key", None)
    cfg.write_text(json.dumps(good))
    assert reload_config(gw.gateway, cfg)
    assert chat(gw, "alpha").status_code == 200 and chat(gw, "beta").status_code == 403
    cfg.write_text("modules:\n  no-such-module: {}\n")
    assert not reload_config(gw.gateway, cfg)
    assert chat(gw, "beta").status_code == 403  # the old config is kept
    assert rows(gw, "select count(*) n from audit_log where event = 'config_rejected'")[0]["n"] == 1


@pytest.mark.slow
def test_a_gateway_that_requires_leash_keys(start_gateway, upstream):
    gw = start_gateway(
        {
            "gateway": {"require_virtual_key": True},
            "providers": {
                "openai": {
                    "kind": "openai",
                    "endpoint": f"{upstream.url}/v1",
                    "api_key": "sk-gateway-held-key-000000000",
                }
            },
        }
    )
    before = len(upstream.requests)
    r = chat(gw, headers={"authorization": "Bearer sk-some-provider-key"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "virtual_key_required"
    assert chat(gw).status_code == 401
    assert len(upstream.requests) == before
    made = json.loads(
        CliRunner().invoke(app, ["keys", "create", "-t", "acme", "--db", str(gw.db_path), "--json"]).output
    )
    deadline = time.monotonic() + 5  # the gateway's keyring sees a new key within a second
    while chat(gw, headers={"authorization": f"Bearer {made['key']}"}).status_code != 200:
        assert time.monotonic() < deadline, "a new key was still refused after 5 s"
        time.sleep(0.05)


def test_command_line_host_survives_a_reload(tmp_path):
    from leash_cli.server import build_gateway, reload_config

    cfg = tmp_path / "leash.yaml"
    cfg.write_text("gateway: {host: 127.0.0.1}\nproviders: {mock: {kind: mock}}\n")
    from leash_cli.config import load_config

    gw = build_gateway(load_config(cfg), db_path=tmp_path / "x.db", record=False, overrides={"host": "0.0.0.0"})
    assert (gw.state.trust_tenant_header, gw.state.require_virtual_key) == (False, True)
    assert reload_config(gw, cfg)
    assert (gw.state.trust_tenant_header, gw.state.require_virtual_key) == (False, True)


def test_percent_encoded_model_names_do_not_slip_past_a_block_list(start_gateway):
    gw = start_gateway({"modules": {"model-policy": {"blocked_models": ["gemini-2.5-pro*"]}}})
    for path in ("v1beta/models/gemini-2.5-pro:generateContent", "v1beta/models/gemini-2.5%2Dpro:generateContent"):
        r = httpx.post(f"{gw.base('google')}/{path}", json={"contents": [{"parts": [{"text": "x"}]}]}, timeout=10)
        assert r.status_code == 403, path


def test_shadow_redaction_leaves_the_request_alone(start_gateway, upstream):
    gw = start_gateway({"modules": {"pii-detector": {"action": "redact", "mode": "shadow"}}})
    chat(gw, "write to jane.doe@example.com")
    assert "jane.doe@example.com" in upstream.last().body.decode()
    got = rows(gw, "select r.verdict, v.action from requests r join violations v on v.request_id = r.id")
    assert got and all(g["action"] == "shadow_redact" for g in got) and got[0]["verdict"] == "allowed"


def test_a_shadow_module_keeps_an_earlier_modules_redaction(start_gateway, upstream):
    gw = start_gateway(
        {
            "modules": {
                "secrets-detector": {"action": "redact", "priority": 10},
                "pii-detector": {"action": "redact", "mode": "shadow", "priority": 20},
            }
        }
    )
    key = "sk-proj-" + "Q3vJ8xR2mN5tK7wL1pZ4yH6cB9dF0gS2aE4uI8oT3"
    chat(gw, f"my key is {key}, write to jane.doe@example.com")
    sent = upstream.last().body.decode()
    assert key not in sent and "[OPENAI_API_KEY]" in sent  # the enforced redaction stands
    assert "jane.doe@example.com" in sent  # the shadow one does not


def test_reload_applies_new_prices(start_gateway, tmp_path):
    from leash_cli.server import reload_config

    gw = start_gateway({"pricing": {"gpt-4o-mini": {"input": 1.0, "output": 1.0}}})
    chat(gw)
    cfg = tmp_path / "leash.yaml"
    doc = yaml.safe_load(cfg.read_text())
    doc["pricing"] = {"gpt-4o-mini": {"input": 1000.0, "output": 1000.0}}
    cfg.write_text(yaml.safe_dump(doc))
    assert reload_config(gw.gateway, cfg)
    chat(gw)
    costs = [r["cost_usd"] for r in rows(gw, "select cost_usd from requests order by started_at")]
    assert costs[1] == pytest.approx(costs[0] * 1000)


def test_a_scanner_stage_its_settings_switch_off_is_no_stage():
    from leash_cli.modules.prompt_injection import PromptInjection
    from leash_cli.pipeline import Slot

    default = Slot.of("prompt-injection", PromptInjection(PromptInjection.Settings()))
    assert set(default.stages) == {"policy"}  # check_responses is off by default: never called on answers
    answers_only = Slot.of(
        "prompt-injection", PromptInjection(PromptInjection.Settings(check_requests=False, check_responses=True))
    )
    assert set(answers_only.stages) == {"on_response", "on_chunk"}
