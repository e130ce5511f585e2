"""The provider's resilience settings rendered into Envoy's own config (`leash export compose`):
a cluster per deployment, weights, retries, outlier detection, health checks, timeouts, TLS --
each config validated by the real Envoy binary, and one retry from a failing deployment onto
the healthy one through real Envoy."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from ep_support import LocalEnvoy, envoy_binary

from fake_upstream import FakeUpstream
from leash_cli.config import LoadedConfig, parse_config_text
from leash_cli.extproc.envoy import (
    EnvoyExportError,
    envoy_context,
    module_host_picks,
    notes,
    render_envoy_yaml,
    tls_files,
    validate,
)
from leash_cli.extproc.server import ExtProcThread, build_host
from leash_cli.providers import build_providers
from resilience_net import PrivateCA


def _providers(cfg: dict):
    return build_providers(parse_config_text(yaml.safe_dump(cfg), "leash.yaml"))


def _render(providers, **kw) -> dict:
    ctx = envoy_context(providers, ext_proc=[("127.0.0.1", 50051)], dns=False, **kw)
    return yaml.safe_load(render_envoy_yaml(ctx))


def _clusters(env: dict) -> dict[str, dict]:
    return {c["name"]: c for c in env["static_resources"]["clusters"]}


def _routes_list(env: dict) -> list[dict]:
    hcm = env["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    return hcm["route_config"]["virtual_hosts"][0]["routes"][1:]


def _routes(env: dict) -> dict[str, dict]:
    hcm = env["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    return {r["match"]["prefix"]: r for r in hcm["route_config"]["virtual_hosts"][0]["routes"][1:]}


RESILIENT = {
    "providers": {
        "openai": {
            "kind": "openai",
            "endpoint": "https://api.openai.com/v1",
            "api_key": "${OPENAI_KEY}",
            "deployments": [
                {"name": "east", "endpoint": "https://east.example.com/v1", "weight": 3},
                {"name": "west", "endpoint": "https://west.example.com:8443/v1", "weight": 1},
                {"name": "spare", "endpoint": "https://spare.example.com/v1", "weight": 0},
            ],
            "retry": {"attempts": 2, "backoff": "200ms", "max_backoff": "5s", "on": [429, 502, 503, "connect"]},
            "circuit_breaker": {"failure_threshold": 4, "recovery_timeout": "30s"},
            "health_check": {"interval": "10s", "timeout": "2s"},
            "timeouts": {"connect": "3s", "first_byte": "90s", "idle": "60s", "total": "300s"},
        }
    }
}


def test_deployments_retry_breaker_health_and_timeouts_are_rendered():
    env = _render(_providers(RESILIENT))
    clusters = _clusters(env)
    east, west, spare = (clusters[f"provider_openai__{n}"] for n in ("east", "west", "spare"))
    assert west["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"] == {
        "address": "west.example.com",
        "port_value": 8443,
    }
    assert west["transport_socket"]["typed_config"]["sni"] == "west.example.com"
    assert east["connect_timeout"] == "3s"
    od = east["outlier_detection"]
    assert (od["consecutive_5xx"], od["base_ejection_time"], od["max_ejection_percent"]) == (4, "30s", 100)
    assert od["enforcing_success_rate"] == 0
    assert east["common_lb_config"]["healthy_panic_threshold"]["value"] == 0
    hc = spare["health_checks"][0]
    assert (hc["interval"], hc["timeout"], hc["unhealthy_threshold"]) == ("10s", "2s", 4)
    assert hc["http_health_check"]["path"] == "/v1/models"
    assert {"start": 430, "end": 500} in hc["http_health_check"]["expected_statuses"]
    # weight 0: never a first choice, the last of every failover order
    via_east = clusters["provider_openai__via_east"]["cluster_type"]["typed_config"]["clusters"]
    assert via_east == ["provider_openai__east", "provider_openai__west", "provider_openai__spare"]
    assert "provider_openai__via_spare" not in clusters
    route = _routes(env)["/v1/openai/"]["route"]
    assert route["weighted_clusters"]["clusters"] == [
        {"name": "provider_openai__via_east", "weight": 3},
        {"name": "provider_openai__via_west", "weight": 1},
    ]
    assert route["auto_host_rewrite"] is True and "host_rewrite_literal" not in route
    assert (route["timeout"], route["idle_timeout"]) == ("300s", "60s")
    rp = route["retry_policy"]
    assert rp["num_retries"] == 2 and rp["retriable_status_codes"] == [429, 502, 503]
    on = rp["retry_on"].split(",")
    assert "connect-failure" in on and "retriable-status-codes" in on
    assert "reset" not in on and "5xx" not in on and "gateway-error" not in on  # never resend what may have arrived
    assert rp["retry_back_off"] == {"base_interval": "0.2s", "max_interval": "5s"}
    assert rp["rate_limited_retry_back_off"]["reset_headers"] == [{"name": "retry-after", "format": "SECONDS"}]
    assert rp["per_try_idle_timeout"] == "90s"
    assert rp["retry_priority"]["name"] == "envoy.retry_priorities.previous_priorities"


def test_ordered_reset_opt_in_and_no_retry():
    cfg = json.loads(json.dumps(RESILIENT))
    oa = cfg["providers"]["openai"]
    oa["balance"] = "ordered"
    oa["retry"]["on"] = [503, "reset"]
    env = _render(_providers(cfg))
    route = _routes(env)["/v1/openai/"]["route"]
    assert route["cluster"] == "provider_openai__via_east"
    assert route["retry_policy"]["retry_on"].split(",") == ["retriable-status-codes", "reset"]
    assert "rate_limited_retry_back_off" not in route["retry_policy"]
    plain = _render(_providers({"providers": {"openai": {"kind": "openai", "endpoint": "https://api.openai.com/v1"}}}))
    r = _routes(plain)["/v1/openai/"]["route"]
    assert "retry_policy" not in r and r["cluster"] == "provider_openai" and r["timeout"] == "0s"
    assert "outlier_detection" not in _clusters(plain)["provider_openai"]


def test_what_envoy_cannot_do_is_refused_or_noted():
    cfg = json.loads(json.dumps(RESILIENT))
    cfg["providers"]["azure"] = {"kind": "openai", "endpoint": "https://az.example.com/v1"}
    cfg["providers"]["openai"]["fallbacks"] = ["azure"]
    with pytest.raises(EnvoyExportError, match=r"providers\.openai\.fallbacks"):
        _render(_providers(cfg))
    cfg = json.loads(json.dumps(RESILIENT))
    cfg["providers"]["openai"]["deployments"][1]["endpoint"] = "https://west.example.com/openai/v1"
    with pytest.raises(EnvoyExportError, match="different paths"):
        _render(_providers(cfg))
    cfg = json.loads(json.dumps(RESILIENT))
    cfg["providers"]["openai"]["retry"]["on"] = [503, "timeout"]
    cfg["providers"]["openai"]["balance"] = "least-busy"
    said = " ".join(notes(_providers(cfg)))
    assert "`timeout` is not retried by Envoy" in said and "least-busy is rendered as weighted" in said


def _tls_config(ca: PrivateCA, **tls) -> dict:
    return {
        "providers": {
            "private": {
                "kind": "openai",
                "endpoint": "https://llm.internal.example:8443/v1",
                "tls": {"ca_file": str(ca.ca_file), **tls},
            }
        }
    }


def test_tls_ca_client_certificate_and_verify_off(tmp_path):
    ca = PrivateCA(tmp_path)
    providers = _providers(_tls_config(ca, cert_file=str(ca.client_chain), key_file=str(ca.client_key)))
    env = _render(providers, tls_dir="/etc/envoy/tls")
    common = _clusters(env)["provider_private"]["transport_socket"]["typed_config"]["common_tls_context"]
    assert common["validation_context"]["trusted_ca"] == {"filename": "/etc/envoy/tls/private-ca.pem"}
    assert common["tls_certificates"] == [
        {
            "certificate_chain": {"filename": "/etc/envoy/tls/private-cert.pem"},
            "private_key": {"filename": "/etc/envoy/tls/private-key.pem"},
        }
    ]
    assert tls_files(providers) == {
        "private-ca.pem": str(ca.ca_file),
        "private-cert.pem": str(ca.client_chain),
        "private-key.pem": str(ca.client_key),
    }
    off = _render(_providers(_tls_config(ca, verify=False)))
    common = _clusters(off)["provider_private"]["transport_socket"]["typed_config"]["common_tls_context"]
    assert "validation_context" not in common  # Envoy accepts any certificate, as the gateway does


@pytest.mark.slow
def test_envoy_validates_each_rendering(tmp_path):
    binary = envoy_binary()
    ca = PrivateCA(tmp_path)
    ordered = json.loads(json.dumps(RESILIENT))
    ordered["providers"]["openai"]["balance"] = "ordered"
    ordered["providers"]["openai"]["retry"]["on"] = [500, "reset", "connect"]
    keyed = json.loads(json.dumps(RESILIENT))
    keyed["providers"]["openai"]["deployments"][0]["api_key"] = "sk-east"
    configs = {
        "resilient": RESILIENT,
        "keyed": keyed,
        "ordered": ordered,
        "mtls": _tls_config(ca, cert_file=str(ca.client_file)),
        "verify-off": _tls_config(ca, verify=False),
    }
    for label, cfg in configs.items():
        path = tmp_path / f"{label}.yaml"
        ctx = envoy_context(_providers(cfg), ext_proc=[("leash", 50051)], dns=True)
        path.write_text(render_envoy_yaml(ctx))
        ok, output = validate(binary, path)
        assert ok, f"{label}: {output[-3000:]}"


# -- end to end through real Envoy ---------------------------------------------------------------


class _Failing:
    """A deployment that answers every request 503 (and counts them)."""

    def __init__(self) -> None:
        self.hits = 0
        self.probes = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                self.rfile.read(n)
                outer.hits += 1
                body = b'{"error":{"message":"overloaded","type":"server_error"}}'
                self.send_response(503)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # the health probe
                outer.probes += 1
                self.send_response(503)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *a) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def _through_envoy(tmp_path: Path, providers: dict) -> Iterator[httpx.Client]:
    """Client -> real Envoy (the export's envoy.yaml for `providers`) -> module host -> upstreams."""
    envoy_binary()
    cfg = {"providers": providers, "gateway": {"require_virtual_key": False}}
    gw = build_host(LoadedConfig(parse_config_text(yaml.safe_dump(cfg), "leash.yaml"), None, "flag"), tmp_path / "db")
    host = ExtProcThread(gw)
    server = host.start()
    envoy = LocalEnvoy(gw.state.providers, [server.bound_port], tmp_path)
    try:
        envoy.start(wait_healthy=1)
        with httpx.Client(base_url=envoy.url, timeout=15) as client:
            yield client
    finally:
        envoy.stop()
        host.stop()


def _ask(client: httpx.Client, content: str, model: str = "gpt-4o-mini") -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    return client.post("/v1/openai/chat/completions", json=body, headers={"authorization": "Bearer sk-c"})


def _chats(fake: FakeUpstream) -> int:
    return sum(1 for s in fake.requests if s.path == "/v1/chat/completions")


@pytest.fixture
def fakes():
    made: list = []

    def make(cls=FakeUpstream):
        f = cls().start() if cls is FakeUpstream else cls()
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


def _two(bad_url: str, good_url: str, **extra) -> dict:
    return {
        "openai": {
            "kind": "openai",
            "endpoint": f"{good_url}/v1",
            "deployments": [
                {"name": "bad", "endpoint": f"{bad_url}/v1", "weight": 1},
                {"name": "good", "endpoint": f"{good_url}/v1", "weight": 1},
            ],
            **extra,
        }
    }


@pytest.mark.slow
def test_a_failing_deployment_is_retried_onto_the_healthy_one(tmp_path: Path, fakes):
    bad, good = fakes(_Failing), fakes()
    retry = {"attempts": 1, "backoff": "10ms", "on": [503, "connect"]}
    # ordered: the failing one first, so every request starts there
    with _through_envoy(tmp_path, _two(bad.url, good.url, balance="ordered", retry=retry)) as client:
        for i in range(3):
            r = _ask(client, f"hi {i}")
            assert r.status_code == 200, r.text
            assert r.json()["object"] == "chat.completion"
            assert (r.headers["x-leash-provider"], r.headers["x-leash-deployment"]) == ("openai", "good")
    assert bad.hits == 3  # each request tried the failing deployment once, then the healthy one
    assert _chats(good) == 3
    seen = good.requests[-1]
    assert seen.headers["host"] == f"127.0.0.1:{good.port}"  # the Host of the deployment that answered


@pytest.mark.slow
def test_the_breaker_ejects_the_failing_deployment(tmp_path: Path, fakes):
    bad, good = fakes(_Failing), fakes()
    retry = {"attempts": 1, "backoff": "10ms", "on": [503]}
    breaker = {"failure_threshold": 2, "recovery_timeout": "60s"}
    cfg = _two(bad.url, good.url, balance="ordered", retry=retry, circuit_breaker=breaker)
    with _through_envoy(tmp_path, cfg) as client:
        for i in range(6):
            assert _ask(client, f"hi {i}").status_code == 200
    assert bad.hits == 2  # two 503s in a row: ejected, the rest went straight to the healthy one
    assert _chats(good) == 6


@pytest.mark.slow
def test_the_health_check_keeps_traffic_off_an_unhealthy_deployment(tmp_path: Path, fakes):
    bad, good = fakes(_Failing), fakes()
    hc = {"interval": "1s", "timeout": "1s"}
    with _through_envoy(tmp_path, _two(bad.url, good.url, balance="ordered", health_check=hc)) as client:
        for i in range(4):
            assert _ask(client, f"hi {i}").status_code == 200
    assert bad.hits == 0 and bad.probes >= 1  # probed (GET /v1/models), found unhealthy, never sent a request
    assert _chats(good) == 4
    assert any(s.method == "GET" and s.path == "/v1/models" for s in good.requests)


@pytest.mark.slow
@pytest.mark.parametrize("opt_in", [False, True])
def test_a_dropped_request_is_never_resent_unless_reset_is_opted_in(tmp_path: Path, fakes, opt_in: bool):
    first, second = fakes(), fakes()  # both drop the connection after reading a request for model "reset"
    on = [502, 503, "connect"] + (["reset"] if opt_in else [])
    retry = {"attempts": 2, "backoff": "10ms", "on": on}
    with _through_envoy(tmp_path, _two(first.url, second.url, balance="ordered", retry=retry)) as client:
        r = _ask(client, "charge me once", model="reset")
        assert r.status_code >= 500
        time.sleep(0.3)
    received = _chats(first) + _chats(second)
    assert received == (3 if opt_in else 1)


@pytest.mark.slow
def test_weights_split_the_traffic(tmp_path: Path, fakes):
    a, b = fakes(), fakes()
    providers = {
        "openai": {
            "kind": "openai",
            "endpoint": f"{a.url}/v1",
            "deployments": [
                {"name": "a", "endpoint": f"{a.url}/v1", "weight": 3},
                {"name": "b", "endpoint": f"{b.url}/v1", "weight": 1},
            ],
        }
    }
    with _through_envoy(tmp_path, providers) as client:
        for i in range(80):
            assert _ask(client, f"hi {i}").status_code == 200
    assert _chats(a) + _chats(b) == 80
    assert 45 <= _chats(a) <= 75  # 60 expected (3:1)


class _TLSProvider:
    """An OpenAI-shaped provider over TLS with a private CA (optionally requiring a client certificate)."""

    def __init__(self, ca: PrivateCA, require_client_cert: bool = False) -> None:
        self.hits = 0
        self.client_certs: list[bool] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.hits += 1
                outer.client_certs.append(bool(self.connection.getpeercert()))
                body = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": "gpt-4o-mini",
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ca.server_context(require_client_cert=require_client_cert)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["private-ca", "mtls", "untrusted", "verify-off"])
def test_upstream_tls_through_envoy(tmp_path: Path, case: str):
    ca = PrivateCA(tmp_path)
    server = _TLSProvider(ca, require_client_cert=case == "mtls")
    tls: dict = {
        "private-ca": {"ca_file": str(ca.ca_file)},
        "mtls": {"ca_file": str(ca.ca_file), "cert_file": str(ca.client_chain), "key_file": str(ca.client_key)},
        "untrusted": {},  # the default trust: the private CA's certificate is refused
        "verify-off": {"verify": False},
    }[case]
    try:
        with _through_envoy(tmp_path, {"openai": {"kind": "openai", "endpoint": f"{server.url}/v1", "tls": tls}}) as c:
            r = _ask(c, "over tls")
        if case == "untrusted":
            assert r.status_code in (502, 503) and server.hits == 0
        else:
            assert r.status_code == 200, r.text
            assert server.hits == 1
            assert server.client_certs == [case == "mtls"]
    finally:
        server.stop()


# -- through `leash export compose` ------------------------------------------------------------------


def _export(out: Path, cfg: dict, tmp: Path, *extra: str):
    from typer.testing import CliRunner

    from leash_cli.cli import app

    path = tmp / "leash.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return CliRunner().invoke(app, ["export", "compose", "--out", str(out), "--config", str(path), *extra])


@pytest.mark.slow
def test_export_copies_the_ca_and_mounts_it_for_envoy(tmp_path):
    ca = PrivateCA(tmp_path)
    cfg = _tls_config(ca)
    cfg["providers"]["private"].update(
        {
            "api_key": "${PRIVATE_KEY}",
            "deployments": [
                {"name": "a", "endpoint": "https://a.internal.example/v1"},
                {"name": "b", "endpoint": "https://b.internal.example/v1"},
            ],
            "retry": {"attempts": 1},
            "circuit_breaker": {"failure_threshold": 3},
        }
    )
    out = tmp_path / "deploy"
    r = _export(out, cfg, tmp_path)  # validated by envoy when installed
    assert r.exit_code == 0, r.output
    assert (out / "tls" / "private-ca.pem").read_text() == ca.ca_file.read_text()
    compose = yaml.safe_load((out / "docker-compose.yaml").read_text())
    assert "./tls:/etc/envoy/tls:ro" in compose["services"]["envoy"]["volumes"]
    env = yaml.safe_load((out / "envoy.yaml").read_text())
    vc = _clusters(env)["provider_private__a"]["transport_socket"]["typed_config"]["common_tls_context"]
    assert vc["validation_context"]["trusted_ca"]["filename"] == "/etc/envoy/tls/private-ca.pem"
    assert "tls/ holds the certificate files" in r.output
    ok, output = validate(envoy_binary(), out / "envoy.yaml")
    assert ok, output[-3000:]


def test_deployments_with_keys_of_their_own_get_a_route_each():
    cfg = json.loads(json.dumps(RESILIENT))
    assert not module_host_picks(_providers(cfg)["openai"])  # all on the provider's key: Envoy picks
    cfg["providers"]["openai"]["deployments"][1]["api_key"] = "sk-west"
    providers = _providers(cfg)
    assert module_host_picks(providers["openai"])
    env = _render(providers)
    hcm = env["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    routes = [r for r in hcm["route_config"]["virtual_hosts"][0]["routes"] if r["match"].get("prefix") == "/v1/openai/"]
    pinned = {r["match"]["headers"][0]["string_match"]["exact"]: r for r in routes if "headers" in r["match"]}
    assert pinned["west"]["route"]["cluster"] == "provider_openai__west"
    assert pinned["west"]["route"]["host_rewrite_literal"] == "west.example.com:8443"
    assert "retry_priority" not in pinned["west"]["route"]["retry_policy"]  # retries stay on the pick
    assert "x-leash-route" in pinned["west"]["request_headers_to_remove"]
    assert "headers" not in routes[-1]["match"] and "weighted_clusters" in routes[-1]["route"]
    one = {"kind": "openai", "endpoint": "https://api.openai.com/v1"}
    one["deployments"] = [{"name": "solo", "api_key": "sk-solo"}]
    solo = _providers({"providers": {"openai": one}})["openai"]
    assert module_host_picks(solo)  # one deployment with its own key: still its key, not the provider's
    pinned = [r for r in _routes_list(_render({"openai": solo})) if "headers" in r["match"]]
    assert pinned and pinned[0]["route"]["cluster"] == "provider_openai__solo"


def _keyed(a_url: str, b_url: str, **extra) -> dict:
    return {
        "openai": {
            "kind": "openai",
            "endpoint": f"{b_url}/v1",
            "deployments": [
                {"name": "a", "endpoint": f"{a_url}/v1", "api_key": "sk-key-a"},
                {"name": "b", "endpoint": f"{b_url}/v1", "api_key": "sk-key-b"},
            ],
            **extra,
        }
    }


@pytest.mark.slow
def test_each_deployment_gets_its_own_key(tmp_path: Path, fakes):
    a, b = fakes(), fakes()
    said: list[str] = []
    with _through_envoy(tmp_path, _keyed(a.url, b.url)) as client:
        for i in range(10):
            r = client.post(
                "/v1/openai/chat/completions",
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"hi {i}"}]},
                headers={"x-leash-route": "a"},  # a client cannot choose: leash's pick wins
            )
            assert r.status_code == 200, r.text
            said.append(r.headers["x-leash-deployment"])
    assert sorted(said) == ["a"] * 5 + ["b"] * 5
    seen_a = [s for s in a.requests if s.path == "/v1/chat/completions"]
    seen_b = [s for s in b.requests if s.path == "/v1/chat/completions"]
    assert len(seen_a) == len(seen_b) == 5  # leash's weighted round robin, 1:1
    assert {s.headers["authorization"] for s in seen_a} == {"Bearer sk-key-a"}
    assert {s.headers["authorization"] for s in seen_b} == {"Bearer sk-key-b"}
    assert not any("x-leash-route" in s.headers for s in seen_a + seen_b)


@pytest.mark.slow
def test_leash_breaker_moves_keyed_traffic_off_a_failing_deployment(tmp_path: Path, fakes):
    bad, good = fakes(_Failing), fakes()
    cfg = _keyed(
        bad.url,
        good.url,
        balance="ordered",
        retry={"attempts": 1, "backoff": "10ms", "on": [503]},
        circuit_breaker={"failure_threshold": 2, "recovery_timeout": "60s"},
    )
    with _through_envoy(tmp_path, cfg) as client:
        statuses = [_ask(client, f"hi {i}").status_code for i in range(5)]
    # the pick is leash's: Envoy retries on it (503 twice), then ejects it; leash counts both answers
    # and opens its breaker, so the next requests go to the healthy deployment
    assert statuses == [503, 503, 200, 200, 200]
    assert _chats(good) == 3
    assert {s.headers["authorization"] for s in good.requests if s.path == "/v1/chat/completions"} == {
        "Bearer sk-key-b"
    }
