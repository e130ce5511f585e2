"""Azure OpenAI (kind: azure) through the gateway, driven with the official ``openai.AzureOpenAI``
client against a fake Azure resource and a fake Entra ID token endpoint (tests/fake_azure.py)
that check the ``api-key`` or the bearer token they issued."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import yaml

from fake_azure import FakeAzure
from leash_cli.config import ConfigError, parse_config_text
from leash_cli.keys import create_key
from leash_cli.server import reload_config
from leash_cli.store import open_readonly

API_VERSION = "2024-10-21"
EMAIL = "jane.doe@example.com"


@pytest.fixture(scope="module")
def azure() -> Iterator[FakeAzure]:
    fake = FakeAzure().start()
    yield fake
    fake.stop()


def key_provider(azure: FakeAzure, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "azure",
        "endpoint": azure.url,
        "api_key": azure.api_key,
        "deployments": {"prod-4o": "gpt-4o", "emb": "text-embedding-3-small"},
        **extra,
    }


def entra_provider(azure: FakeAzure, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "azure",
        "endpoint": azure.url,
        "tenant_id": azure.tenant,
        "client_id": azure.client_id,
        "client_secret": azure.client_secret,
        "token_endpoint": azure.token_url,
        "deployments": {"prod-4o": "gpt-4o"},
        **extra,
    }


def client(gw: Any, name: str = "azure", key: str = "client-own-key") -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=gw.base(name), api_version=API_VERSION, api_key=key, max_retries=0)


def rows(gw: Any, sql: str = "select * from requests order by started_at") -> list[dict[str, Any]]:
    gw.flush()
    db = open_readonly(gw.db_path)
    try:
        return [dict(r) for r in db.query(sql)]
    finally:
        db.close()


MSGS = [{"role": "user", "content": "hello azure"}]


def test_chat_stream_embeddings_and_responses_with_an_api_key(start_gateway, azure):
    gw = start_gateway({"providers": {"azure": key_provider(azure)}})
    c = client(gw)
    r = c.chat.completions.create(model="prod-4o", messages=MSGS)
    assert r.choices[0].message.content.endswith("You said: hello azure")
    seen = azure.last()
    assert seen.path == "/openai/deployments/prod-4o/chat/completions" and f"api-version={API_VERSION}" in seen.query
    assert seen.headers["api-key"] == azure.api_key and "client-own-key" not in str(seen.headers)

    pieces = [
        ch.choices[0].delta.content or ""
        for ch in c.chat.completions.create(model="prod-4o", messages=MSGS, stream=True)
        if ch.choices
    ]
    assert "".join(pieces) == r.choices[0].message.content

    e = c.embeddings.create(model="emb", input=["a", "b"])
    assert len(e.data) == 2 and azure.last().path == "/openai/deployments/emb/embeddings"

    resp = c.responses.create(model="prod-4o", input="hello responses")
    assert resp.output_text.endswith("You said: hello responses") and azure.last().path == "/openai/responses"
    events = list(c.responses.create(model="prod-4o", input="hi", stream=True))
    assert events[-1].type == "response.completed" and events[-1].response.usage.output_tokens > 0

    got = rows(gw)
    assert [(x["model"], x["status"]) for x in got] == [("gpt-4o", 200)] * 2 + [("text-embedding-3-small", 200)] + [
        ("gpt-4o", 200)
    ] * 2
    for x in got:  # usage and a cost from genai-prices' Azure prices, streams included
        assert x["kind"] == "azure" and x["input_tokens"] > 0 and x["cost_usd"] > 0, x


def test_the_v1_paths_take_the_deployment_from_the_body(start_gateway, azure):
    gw = start_gateway({"providers": {"azure": key_provider(azure)}})
    c = openai.OpenAI(base_url=gw.base("azure") + "/openai/v1/", api_key="client-own-key", max_retries=0)
    r = c.chat.completions.create(model="prod-4o", messages=MSGS)
    assert r.model == "gpt-4o-2024-08-06" and azure.last().path == "/openai/v1/chat/completions"
    out = "".join(
        e.delta for e in c.responses.create(model="prod-4o", input="hi v1", stream=True) if e.type.endswith(".delta")
    )
    assert out.endswith("You said: hi v1") and azure.last().path == "/openai/v1/responses"
    e = c.embeddings.create(model="emb", input="one")
    assert len(e.data) == 1
    got = rows(gw)
    assert [x["model"] for x in got] == ["gpt-4o", "gpt-4o", "text-embedding-3-small"]
    assert all(x["cost_usd"] and x["cost_usd"] > 0 for x in got)


def test_pii_in_a_streamed_answer_is_blocked_mid_stream(start_gateway, azure):
    gw = start_gateway(
        {
            "providers": {"azure": key_provider(azure)},
            "modules": {"pii-detector": {"action": "block", "check_requests": False}},
        }
    )
    c = client(gw)
    got = ""
    with pytest.raises(openai.APIError) as e:
        for ch in c.chat.completions.create(
            model="prod-4o", messages=[{"role": "user", "content": f"write to {EMAIL} please"}], stream=True
        ):
            got += (ch.choices[0].delta.content or "") if ch.choices else ""
    assert EMAIL not in got and "EMAIL" in str(e.value)
    with pytest.raises(openai.APIError):  # the Responses API stream too
        for ev in c.responses.create(model="prod-4o", input=f"write to {EMAIL} please", stream=True):
            assert EMAIL not in str(ev)
    got_rows = rows(gw)
    assert [x["outcome"] for x in got_rows] == ["blocked", "blocked"]
    assert EMAIL not in str(got_rows)


def test_keys_and_secrets_are_never_stored(start_gateway, azure):
    gw = start_gateway({"providers": {"azure": key_provider(azure), "entra": entra_provider(azure)}})
    client(gw).chat.completions.create(model="prod-4o", messages=MSGS)
    client(gw, "entra").chat.completions.create(model="prod-4o", messages=MSGS)
    rows(gw)
    raw = b"".join(p.read_bytes() for p in gw.db_path.parent.glob(gw.db_path.name + "*"))
    for secret in (azure.api_key, azure.client_secret, "client-own-key", *azure.issued):
        assert secret.encode() not in raw, secret


def test_a_virtual_key_is_accepted_and_a_wrong_key_rejected_by_azure(start_gateway, azure):
    gw = start_gateway(
        {
            "gateway": {"require_virtual_key": True},
            "providers": {"azure": key_provider(azure), "bad": key_provider(azure, api_key="wrong-key-000000")},
        }
    )
    key, _ = create_key(gw.db_path, "acme")
    deadline = time.monotonic() + 5
    while True:
        try:
            client(gw, key=key).chat.completions.create(model="prod-4o", messages=MSGS)
            break
        except openai.AuthenticationError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert azure.last().headers["api-key"] == azure.api_key and key not in str(azure.last().headers)
    with pytest.raises(openai.AuthenticationError) as e:
        client(gw, "bad", key=key).chat.completions.create(model="prod-4o", messages=MSGS)
    assert "subscription key" in str(e.value)
    assert rows(gw)[-1]["tenant"] == "acme"


@pytest.mark.slow
def test_an_entra_token_is_fetched_once_used_as_bearer_and_refreshed_before_expiry(start_gateway, azure):
    azure.token_lifetime = 6.0  # shorter than the 300 s margin: refreshed at half its life, after 3 s
    try:
        gw = start_gateway({"providers": {"entra": entra_provider(azure)}})
        before = len(azure.token_requests)
        c = client(gw, "entra")
        for _ in range(3):
            c.chat.completions.create(model="prod-4o", messages=MSGS)
        assert len(azure.token_requests) == before + 1
        form = azure.token_requests[-1]
        assert form["grant_type"] == "client_credentials" and form["client_id"] == azure.client_id
        first = azure.last().headers["authorization"]
        assert first.startswith("Bearer eyJ-fake-") and "api-key" not in azure.last().headers
        time.sleep(3.2)
        c.chat.completions.create(model="prod-4o", messages=MSGS, stream=True).close()
        assert len(azure.token_requests) == before + 2
        assert azure.last().headers["authorization"] != first
    finally:
        azure.token_lifetime = 3600.0


def test_a_reload_closes_the_old_token_client_and_shutdown_the_current_one(start_gateway, azure, tmp_path):
    cfg = {"providers": {"entra": entra_provider(azure)}}
    gw = start_gateway(cfg)
    client(gw, "entra").chat.completions.create(model="prod-4o", messages=MSGS)
    old = gw.gateway.live.state.providers["entra"].auth
    assert old._client is not None  # the token endpoint's connections
    path = tmp_path / "reload.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert reload_config(gw.gateway, path)
    deadline = time.monotonic() + 5
    while old._client is not None:  # closed on the loop once the old generation has no exchange left
        assert time.monotonic() < deadline
        time.sleep(0.01)
    client(gw, "entra").chat.completions.create(model="prod-4o", messages=MSGS)  # the new generation's own
    new = gw.gateway.live.state.providers["entra"].auth
    assert new is not old and new._client is not None
    gw.thread.stop()
    assert new._client is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_or_unreachable_token_endpoint_is_a_502_recorded_and_nothing_is_sent(start_gateway, azure):
    gw = start_gateway(
        {
            "providers": {
                "wrong": entra_provider(azure, client_secret="not-the-secret"),
                "down": entra_provider(azure, token_endpoint=f"http://127.0.0.1:{_free_port()}/t/oauth2/v2.0/token"),
            }
        }
    )
    before = len(azure.requests)
    with pytest.raises(openai.InternalServerError) as e:
        client(gw, "wrong").chat.completions.create(model="prod-4o", messages=MSGS)
    assert e.value.status_code == 502 and "invalid_client" in str(e.value) and "not-the-secret" not in str(e.value)
    r = httpx.post(
        f"{gw.base('down')}/openai/deployments/prod-4o/chat/completions?api-version={API_VERSION}",
        json={"messages": MSGS},
        headers={"api-key": "x"},
    )
    assert r.status_code == 502 and "did not answer" in r.json()["error"]["message"]
    assert r.json()["error"]["code"] == "upstream_unreachable"
    assert len(azure.requests) == before  # never sent unauthenticated
    got = rows(gw)
    assert [(x["provider"], x["status"]) for x in got] == [("wrong", 502), ("down", 502)]


def test_an_unmapped_deployment_is_recorded_by_its_name_and_priced_only_when_it_names_a_model(start_gateway, azure):
    azure.deployments["gpt-4o-mini"] = "gpt-4o-mini"
    gw = start_gateway({"providers": {"azure": key_provider(azure, deployments={})}})
    client(gw).chat.completions.create(model="gpt-4o-mini", messages=MSGS)
    client(gw).chat.completions.create(model="mini", messages=MSGS)
    got = rows(gw)
    assert [x["model"] for x in got] == ["gpt-4o-mini", "mini"]
    assert got[0]["cost_usd"] > 0 and got[1]["cost_usd"] is None  # unpriced, never $0


def test_model_policy_sees_the_deployments_model(start_gateway, azure):
    gw = start_gateway(
        {"providers": {"azure": key_provider(azure)}, "modules": {"model-policy": {"blocked_models": ["gpt-4o"]}}}
    )
    before = len(azure.requests)
    with pytest.raises(openai.PermissionDeniedError):
        client(gw).chat.completions.create(model="prod-4o", messages=MSGS)
    assert len(azure.requests) == before


@pytest.mark.parametrize(
    ("provider", "want"),
    [
        ({"kind": "openai", "deployments": {"a": "gpt-4o"}}, "the mapping form {deployment: model} is for kind azure"),
        ({"kind": "azure"}, "kind azure needs the resource's endpoint"),
        (
            {"kind": "azure", "endpoint": "https://x.openai.azure.com", "tenant_id": "t", "client_id": "c"},
            "client_secret: an Entra ID token needs",
        ),
        (
            {
                "kind": "azure",
                "endpoint": "https://x.openai.azure.com",
                "api_key": "k",
                "tenant_id": "t",
                "client_id": "c",
                "client_secret": "s",
            },
            "either api_key or Entra ID",
        ),
        ({"kind": "openai", "tenant_id": "t"}, "Entra ID credentials are for kind azure"),
        ({"kind": "azure", "endpoint": "https://x", "deployments": {"a": 3}}, "the mapping form takes"),
    ],
)
def test_azure_config_errors_name_the_key(provider, want):
    import yaml

    with pytest.raises(ConfigError) as e:
        parse_config_text(yaml.safe_dump({"providers": {"az": provider}}), "leash.yaml")
    assert want in str(e.value) and "providers" in str(e.value)


def test_both_forms_of_deployments_on_azure():
    import yaml

    text = yaml.safe_dump(
        {
            "providers": {
                "az": {
                    "kind": "azure",
                    "endpoint": "https://a.openai.azure.com",
                    "api_key": "k",
                    "deployments": [{"name": "east"}, {"name": "west", "endpoint": "https://b.openai.azure.com"}],
                    "deployment_models": {"prod": "gpt-4o"},
                }
            }
        }
    )
    pc = parse_config_text(text, "x").providers["az"]
    assert [d.name for d in pc.deployments] == ["east", "west"] and pc.deployment_models == {"prod": "gpt-4o"}


def test_the_ext_proc_host_refuses_an_entra_provider_with_a_clear_error(azure, tmp_path):
    import yaml

    from leash_cli.config import LoadedConfig
    from leash_cli.extproc.server import build_host

    cfg = parse_config_text(yaml.safe_dump({"providers": {"az": entra_provider(azure)}}), "leash.yaml")
    with pytest.raises(ConfigError, match=r"providers\.az: Entra ID tokens .* give the azure provider an api_key"):
        build_host(LoadedConfig(cfg, None, "flag"), tmp_path / "x.db", record=False)
