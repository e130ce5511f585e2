"""kind: vertex through the real gateway, driven with google-genai (vertexai=True) and anthropic.AnthropicVertex
against a fake Vertex that accepts only OAuth tokens its token endpoint minted for a service-account
key whose JWT assertion it verified (tests/fake_vertex.py)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.oauth2.credentials import Credentials as OAuthCredentials

from fake_vertex import FakeVertex
from leash_cli.config import ConfigError, parse_config_text
from leash_cli.store import open_readonly

PROJECT, LOCATION = "proj-test", "us-central1"
GEMINI, CLAUDE = "gemini-2.0-flash", "claude-sonnet-4@20250514"
CLIENT_TOKEN = "ya29.client-own-token-must-not-pass"
EMAIL = "jane.doe@example.com"
CALL = f"v1/projects/{PROJECT}/locations/{LOCATION}/publishers"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVertex]:
    f = FakeVertex().start()
    yield f
    f.stop()


@pytest.fixture
def sa_file(fake: FakeVertex, tmp_path: Path) -> Path:
    path = tmp_path / "sa.json"
    fake.service_account(path)
    return path


def config(fake: FakeVertex, sa: Path, modules: dict | None = None, **provider: Any) -> dict:
    p = {
        "kind": "vertex",
        "endpoint": fake.url,
        "project": PROJECT,
        "location": LOCATION,
        "credentials_file": str(sa),
        **provider,
    }
    return {"providers": {"vertex": p}, "modules": modules or {}}


def gemini(gw, *, project: str = PROJECT, location: str = LOCATION, token: str = CLIENT_TOKEN) -> genai.Client:
    # the client's own credentials (a token it holds) are replaced by the gateway's
    return genai.Client(
        vertexai=True,
        project=project,
        location=location,
        credentials=OAuthCredentials(token),
        http_options={"base_url": gw.base("vertex")},
    )


def claude(gw, token: str = CLIENT_TOKEN, region: str = LOCATION) -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(
        base_url=gw.base("vertex") + "/v1", region=region, project_id=PROJECT, access_token=token, max_retries=0
    )


def rows(gw, sql: str = "select * from requests order by started_at") -> list[dict]:
    gw.flush()
    db = open_readonly(gw.db_path)
    try:
        return [dict(r) for r in db.query(sql)]
    finally:
        db.close()


def violations(gw) -> list[dict]:
    return rows(gw, "select module, type, action, field from violations")


def minted_by_gateway(fake: FakeVertex, seen_auth: str) -> bool:
    return seen_auth.startswith("Bearer ya29.fake-") and seen_auth[7:] in fake.issued


# -- Gemini ------------------------------------------------------------------------------------


def test_gemini_generate_stream_and_count_tokens_go_up_with_the_gateways_token(start_gateway, fake, sa_file):
    gw = start_gateway(config(fake, sa_file))
    c = gemini(gw)
    r = c.models.generate_content(model=GEMINI, contents="hello vertex")
    assert r.text == "You said: hello vertex"
    seen = fake.last()
    assert (
        seen.path
        == f"/v1beta1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{GEMINI}:generateContent"
    )
    assert minted_by_gateway(fake, seen.headers["authorization"])
    assert CLIENT_TOKEN not in json.dumps(seen.headers)

    text = "".join(ch.text or "" for ch in c.models.generate_content_stream(model=GEMINI, contents="stream me please"))
    assert text == "You said: stream me please"
    assert fake.last().query == "alt=sse"

    assert c.models.count_tokens(model=GEMINI, contents="count these words").total_tokens == 4

    # a stream asked for without alt=sse is one JSON array, relayed as such
    r2 = httpx.post(
        f"{gw.base('vertex')}/{CALL}/google/models/{GEMINI}:streamGenerateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "as an array"}]}]},
    )
    assert r2.status_code == 200 and isinstance(r2.json(), list)
    assert "".join(p["text"] for ch in r2.json() for p in ch["candidates"][0]["content"]["parts"]) == (
        "You said: as an array"
    )

    got = rows(gw)
    assert [(r["kind"], r["model"], r["status"], bool(r["stream"])) for r in got] == [
        ("vertex", GEMINI, 200, False),
        ("vertex", GEMINI, 200, True),
        ("vertex", GEMINI, 200, False),
        ("vertex", GEMINI, 200, False),
    ]
    gen = got[0]
    assert gen["input_tokens"] == 3 and gen["output_tokens"] == 5
    # gemini-2.0-flash at $0.10 / $0.40 per million tokens (genai-prices, google)
    assert gen["cost_usd"] == pytest.approx((3 * 0.10 + 5 * 0.40) / 1e6)
    assert got[1]["output_tokens"] and got[1]["cost_usd"] > 0  # the stream's usage, from its last chunk
    assert got[3]["output_tokens"] and got[3]["cost_usd"] > 0  # and the JSON array's


@pytest.mark.slow
def test_a_project_or_location_other_than_the_configured_one_is_refused_in_googles_shape(start_gateway, fake, sa_file):
    gw = start_gateway(config(fake, sa_file))
    before = len(fake.requests)
    other_project, other_location = gemini(gw, project="someone-elses-project"), gemini(gw, location="europe-west4")
    with pytest.raises(genai_errors.ClientError) as e:
        other_project.models.generate_content(model=GEMINI, contents="hi")
    assert e.value.code == 403 and e.value.status == "PERMISSION_DENIED"
    assert "proj-test" in e.value.message and "someone-elses-project" in e.value.message
    with pytest.raises(genai_errors.ClientError) as e:
        other_location.models.generate_content(model=GEMINI, contents="hi")
    assert e.value.code == 400 and "europe-west4" in e.value.message
    with pytest.raises(anthropic.PermissionDeniedError):  # Anthropic on Vertex: the same check, Google's shape
        anthropic.AnthropicVertex(
            base_url=gw.base("vertex") + "/v1", region=LOCATION, project_id="other", access_token="t", max_retries=0
        ).messages.create(model=CLAUDE, max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert len(fake.requests) == before  # nothing went upstream
    got = rows(gw)
    assert [r["status"] for r in got] == [403, 400, 403]
    assert "project_not_allowed" in got[0]["error"]


# -- Anthropic on Vertex ------------------------------------------------------------------------


def test_anthropic_on_vertex_plain_stream_and_count_tokens(start_gateway, fake, sa_file):
    gw = start_gateway(config(fake, sa_file))
    a = claude(gw)
    msg = a.messages.create(model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": "hello claude"}])
    assert msg.content[0].text == "You said: hello claude"
    seen = fake.last()
    assert seen.path == f"/{CALL}/anthropic/models/{CLAUDE}:rawPredict"
    body = json.loads(seen.body)
    assert "model" not in body and body["anthropic_version"]  # as the SDK sent it (vertex-2023-10-16 or newer)
    assert minted_by_gateway(fake, seen.headers["authorization"])

    with a.messages.stream(model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": "stream it"}]) as s:
        text = "".join(s.text_stream)
    assert text == "You said: stream it"
    assert fake.last().path.endswith(":streamRawPredict")

    n = a.messages.count_tokens(model=CLAUDE, messages=[{"role": "user", "content": "count me in"}])
    assert n.input_tokens == 2

    # a base URL without the SDK's /v1: leash puts it back
    short = anthropic.AnthropicVertex(
        base_url=gw.base("vertex"), region=LOCATION, project_id=PROJECT, access_token="t", max_retries=0
    )
    assert short.messages.create(model=CLAUDE, max_tokens=9, messages=[{"role": "user", "content": "x"}]).content
    assert fake.last().path == f"/{CALL}/anthropic/models/{CLAUDE}:rawPredict"

    got = rows(gw)
    assert [(r["model"], r["status"], bool(r["stream"])) for r in got] == [
        (CLAUDE, 200, False),
        (CLAUDE, 200, True),
        (CLAUDE, 200, False),
        (CLAUDE, 200, False),
    ]
    plain, streamed = got[0], got[1]
    assert (plain["input_tokens"], plain["output_tokens"]) == (3, 5)
    # Claude Sonnet 4 at Anthropic's $3 / $15 per million tokens
    assert plain["cost_usd"] == pytest.approx((3 * 3 + 5 * 15) / 1e6)
    assert streamed["output_tokens"] and streamed["cost_usd"] > 0
    assert json.loads(plain["cost_detail"])["provider"] == "anthropic"


def test_a_model_leash_cannot_price_is_recorded_unpriced(start_gateway, fake, sa_file):
    gw = start_gateway(config(fake, sa_file))
    c = gemini(gw)
    c.models.generate_content(model="mystery-model-9", contents="hi")
    (row,) = rows(gw)
    assert row["input_tokens"] and row["cost_usd"] is None


# -- policy ---------------------------------------------------------------------------------------


def test_pii_in_a_streamed_answer_is_blocked_for_both_publishers(start_gateway, fake, sa_file):
    modules = {
        "secrets-detector": {"action": "block"},
        "pii-detector": {"action": "block", "check_requests": False},
        "prompt-injection": {"mode": "shadow"},
    }
    gw = start_gateway(config(fake, sa_file, modules))
    c = gemini(gw)
    with pytest.raises(genai_errors.APIError) as e:
        for ch in c.models.generate_content_stream(model=GEMINI, contents=f"write to {EMAIL} now"):
            assert EMAIL not in (ch.text or "")
    assert "pii-detector" in str(e.value)
    a = claude(gw)
    pieces: list[str] = []
    with pytest.raises(anthropic.APIError) as ae:
        with a.messages.stream(
            model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": f"write to {EMAIL} now"}]
        ) as s:
            for t in s.text_stream:
                pieces.append(t)
    assert EMAIL not in "".join(pieces) and "pii-detector" in str(ae.value)
    found = [v for v in violations(gw) if v["module"] == "pii-detector"]
    assert len(found) == 2 and all(v["action"] == "block" and v["field"].startswith("response") for v in found)
    assert [r["outcome"] for r in rows(gw)] == ["blocked", "blocked"]


def test_secrets_and_tokens_are_never_stored_or_logged(start_gateway, fake, sa_file, tmp_path, caplog):
    caplog.set_level("DEBUG")
    gw = start_gateway({**config(fake, sa_file), "storage": {"bodies": "full"}})
    c = gemini(gw)
    c.models.generate_content(model=GEMINI, contents="hello")
    claude(gw).messages.create(model=CLAUDE, max_tokens=20, messages=[{"role": "user", "content": "hello"}])
    gw.flush()
    sa = json.loads(sa_file.read_text())
    key_body = sa["private_key"].splitlines()[5]  # a line from the middle of the PEM
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("leash.db*"))
    assert len(rows(gw)) == 2 and fake.issued
    for secret in [*fake.issued, CLIENT_TOKEN, key_body, sa["private_key_id"]]:
        assert secret.encode() not in stored
        assert secret not in caplog.text


# -- the token ----------------------------------------------------------------------------------


def test_the_fake_rejects_a_token_it_did_not_issue_and_a_key_it_does_not_trust(start_gateway, fake, tmp_path):
    r = httpx.post(
        f"{fake.url}/{CALL}/google/models/{GEMINI}:generateContent",
        headers={"authorization": "Bearer ya29.forged"},
        json={"contents": [{"parts": [{"text": "hi"}]}]},
    )
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"

    rogue = tmp_path / "rogue.json"
    fake.service_account(rogue, trusted=False)  # a well-formed key the fake does not know: a bad signature
    gw = start_gateway(config(fake, rogue))
    before = len(fake.requests)
    c = gemini(gw)
    with pytest.raises(genai_errors.ServerError) as e:
        c.models.generate_content(model=GEMINI, contents="hi")
    assert e.value.code == 502 and "Invalid JWT Signature" in e.value.message
    assert len(fake.requests) == before  # never sent without a token
    (row,) = rows(gw)
    assert row["status"] == 502


def test_one_token_serves_many_requests_and_is_refreshed_before_it_expires(start_gateway, fake, sa_file):
    gw = start_gateway(config(fake, sa_file))
    c = gemini(gw)
    t0 = fake.token_requests
    for _ in range(3):
        c.models.generate_content(model=GEMINI, contents="hi")
    claude(gw).messages.create(model=CLAUDE, max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert fake.token_requests == t0 + 1
    first = {s.headers["authorization"] for s in fake.requests[-4:]}
    assert len(first) == 1
    auth = gw.gateway.live.state.providers["vertex"].auth
    auth.token._expires = time.time() + 120  # four minutes left: inside the five-minute margin
    c.models.generate_content(model=GEMINI, contents="hi")
    assert fake.token_requests == t0 + 2
    second = fake.last().headers["authorization"]
    assert second not in first and minted_by_gateway(fake, second)


@pytest.mark.parametrize("routed", [False, True], ids=["one-deployment", "deployments"])
def test_a_token_vertex_refuses_is_dropped_and_the_next_request_gets_a_new_one(start_gateway, fake, sa_file, routed):
    extra = {"deployments": [{"name": "a", "endpoint": fake.url}, {"name": "b", "endpoint": fake.url}]}
    gw = start_gateway(config(fake, sa_file, **(extra if routed else {})))
    c = gemini(gw)
    c.models.generate_content(model=GEMINI, contents="hi")
    revoked = fake.last().headers["authorization"]
    fake.issued.pop(revoked[7:])  # revoked at Google (the key disabled, the token revoked)
    with pytest.raises(genai_errors.ClientError) as e:
        c.models.generate_content(model=GEMINI, contents="hi")
    assert e.value.code == 401 and e.value.status == "UNAUTHENTICATED"  # Vertex's answer passes through
    assert c.models.generate_content(model=GEMINI, contents="hi").text == "You said: hi"
    fresh = fake.last().headers["authorization"]
    assert fresh != revoked and minted_by_gateway(fake, fresh)


def test_application_default_credentials_are_used_without_a_credentials_file(start_gateway, fake, sa_file, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(sa_file))
    cfg = config(fake, sa_file)
    del cfg["providers"]["vertex"]["credentials_file"]
    gw = start_gateway(cfg)
    auth = gw.gateway.live.state.providers["vertex"].auth
    assert auth.describe().startswith("OAuth token from application-default credentials") and auth.check() is None
    c = gemini(gw)
    assert c.models.generate_content(model=GEMINI, contents="adc").text == "You said: adc"
    assert minted_by_gateway(fake, fake.last().headers["authorization"])
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(sa_file.parent / "gone.json"))
    assert "gone.json" in auth.check()


def test_a_leash_virtual_key_is_accepted_for_both_publishers(start_gateway, fake, sa_file):
    from leash_cli.keys import create_key

    gw = start_gateway(config(fake, sa_file))
    key, vk = create_key(gw.db_path, "team-vertex")
    c, nope = gemini(gw, token=key), gemini(gw, token="lk-nope-notakey")
    assert c.models.generate_content(model=GEMINI, contents="hi").text == "You said: hi"
    assert minted_by_gateway(fake, fake.last().headers["authorization"])
    assert (
        claude(gw, token=key)
        .messages.create(model=CLAUDE, max_tokens=20, messages=[{"role": "user", "content": "hi"}])
        .content[0]
        .text
        == "You said: hi"
    )
    with pytest.raises(genai_errors.ClientError) as e:
        nope.models.generate_content(model=GEMINI, contents="hi")
    assert e.value.code == 401
    got = rows(gw)
    assert [(r["tenant"], r["key_id"], r["status"]) for r in got[:2]] == [("team-vertex", vk.id, 200)] * 2


def test_express_mode_sends_the_gateways_api_key_instead(start_gateway, fake, tmp_path, caplog):
    express = "AQ.express-key-DoNotLeak-0123456789"
    fake.api_keys.add(express)
    gw = start_gateway(
        {"providers": {"vertex": {"kind": "vertex", "endpoint": fake.url, "location": LOCATION, "api_key": express}}}
    )
    assert gw.gateway.live.state.providers["vertex"].auth is None  # no OAuth: the key header is enough
    c = gemini(gw)
    assert c.models.generate_content(model=GEMINI, contents="express").text == "You said: express"
    seen = fake.last().headers
    assert seen["x-goog-api-key"] == express and "authorization" not in seen  # the client's token removed
    gw.flush()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("leash.db*"))
    assert express.encode() not in stored and express not in caplog.text


# -- config ---------------------------------------------------------------------------------------


def test_config_errors_name_the_key(tmp_path):
    def err(provider: dict) -> str:
        with pytest.raises(ConfigError) as e:
            parse_config_text(json.dumps({"providers": {"v": provider}}), "leash.yaml")
        return str(e.value)

    assert "providers.v.location" in err({"kind": "vertex"})
    assert "providers.v.credentials_file" in err(
        {"kind": "vertex", "location": "us-central1", "credentials_file": str(tmp_path / "missing.json")}
    )
    assert "only for kind vertex" in err({"kind": "openai", "project": "p"})
    assert "providers.v.location" in err({"kind": "vertex", "location": "US Central!"})
    ok = parse_config_text(json.dumps({"providers": {"v": {"kind": "vertex", "location": "global"}}}), "x.yaml")
    assert ok.providers["v"].endpoint == "https://aiplatform.googleapis.com"
    ok = parse_config_text(json.dumps({"providers": {"v": {"kind": "vertex", "location": "europe-west4"}}}), "x.yaml")
    assert ok.providers["v"].endpoint == "https://europe-west4-aiplatform.googleapis.com"
    ok = parse_config_text(json.dumps({"providers": {"v": {"kind": "vertex", "location": "eu"}}}), "x.yaml")
    assert ok.providers["v"].endpoint == "https://aiplatform.eu.rep.googleapis.com"


def test_a_credentials_file_that_is_no_key_and_a_missing_extra_are_config_errors(tmp_path, monkeypatch):
    from leash_cli.providers import build_providers

    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "service_account"}')
    cfg = parse_config_text(
        json.dumps({"providers": {"v": {"kind": "vertex", "location": "us-central1", "credentials_file": str(bad)}}}),
        "leash.yaml",
    )
    with pytest.raises(ConfigError) as e:
        build_providers(cfg)
    assert "providers.v" in str(e.value) and "credentials_file" in str(e.value)
    monkeypatch.setitem(sys.modules, "google.auth", None)  # as if google-auth were not installed
    with pytest.raises(ConfigError) as e:
        build_providers(cfg)
    assert "leash-cli[vertex]" in str(e.value)


# -- behind Envoy ---------------------------------------------------------------------------------


def _ext_proc_head(port: int, headers: dict[str, str]) -> Any:
    """One request head sent to the ext_proc host as Envoy would (no body); its first answer."""
    import grpc
    from envoy.config.core.v3 import base_pb2
    from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
    from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc

    head = pb.HttpHeaders(
        headers=base_pb2.HeaderMap(
            headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in headers.items()]
        ),
        end_of_stream=True,
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        return next(
            iter(
                pb_grpc.ExternalProcessorStub(channel).Process(
                    iter([pb.ProcessingRequest(request_headers=head)]), timeout=15
                )
            )
        )
    finally:
        channel.close()


@pytest.mark.slow
def test_the_ext_proc_host_puts_the_gateways_token_on_the_head(fake, sa_file, tmp_path):
    import yaml

    from leash_cli.config import LoadedConfig
    from leash_cli.extproc.server import ExtProcThread, build_host

    rogue = tmp_path / "rogue.json"
    fake.service_account(rogue, trusted=False)
    cfg = config(fake, sa_file)
    cfg["providers"]["rogue"] = {**cfg["providers"]["vertex"], "credentials_file": str(rogue)}
    cfg["gateway"] = {"require_virtual_key": False}
    core = build_host(
        LoadedConfig(parse_config_text(yaml.safe_dump(cfg), "leash.yaml"), None, "flag"), tmp_path / "ep.db"
    )
    head = {
        ":method": "GET",
        "authorization": f"Bearer {CLIENT_TOKEN}",
        "x-goog-user-project": "someone-elses-billing",
    }
    with ExtProcThread(core) as srv:
        got = _ext_proc_head(srv.bound_port, {**head, ":path": f"/v1/vertex/{CALL}/google/models/{GEMINI}"})
        rejected = _ext_proc_head(srv.bound_port, {**head, ":path": f"/v1/rogue/{CALL}/google/models/{GEMINI}"})
    mut = got.request_headers.response.header_mutation
    set_h = {h.header.key: h.header.raw_value.decode() for h in mut.set_headers}
    assert minted_by_gateway(fake, set_h["authorization"])
    assert "x-goog-user-project" in mut.remove_headers
    assert rejected.immediate_response.status.code == 502
    assert b"Invalid JWT Signature" in rejected.immediate_response.body


def test_export_compose_refuses_a_vertex_provider_clearly(fake, sa_file, tmp_path):
    import yaml

    from leash_cli.config import LoadedConfig
    from leash_cli.extproc.export import ExportError, plan

    path = tmp_path / "leash.yaml"
    path.write_text(yaml.safe_dump(config(fake, sa_file)))
    loaded = LoadedConfig(parse_config_text(path.read_text(), str(path)), path, "flag")
    with pytest.raises(ExportError) as e:
        plan(loaded)
    assert "providers.vertex" in str(e.value) and "leash up" in str(e.value)
