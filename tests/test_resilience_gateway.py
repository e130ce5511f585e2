"""Issue #20 through the gateway, driven by the official openai SDK against misbehaving
upstreams: exactly-once delivery when the connection drops after the request was
written, response limits and timeouts as 502/504 with a reason (answered and recorded),
and a provider reached through a real CONNECT proxy with a private CA (and mTLS)."""

from __future__ import annotations

import gc
import json
import time

import openai
import orjson
import pytest

from resilience_net import (
    ConnectProxy,
    InThread,
    PrivateCA,
    RawServer,
    endless_line,
    gzip_bomb,
    json_response,
    peak_rss_bytes,
    reset_peak_rss,
    rss_bytes,
)

MIB = 1 << 20
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi there"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
)


def sdk(gw) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base("openai"), api_key="sk-test", max_retries=0, timeout=30)


def rows(gw) -> list[dict]:
    return gw.rows("select * from requests order by started_at")


async def completions(reader, writer, srv: RawServer) -> None:
    """Answers chat completions on a keep-alive connection; a request whose body says
    "drop-me" is read in full and then the connection is dropped without a word."""
    while True:
        req = await srv.request(reader)
        if req is None:
            return
        if b"drop-me" in req[1]:
            writer.transport.abort()
            return
        writer.write(json_response(COMPLETION))
        await writer.drain()


def test_reset_after_request_written_is_502_and_sent_once(start_gateway):
    with InThread(lambda: RawServer(completions)) as srv:
        gw = start_gateway(providers_extra={"openai": {"endpoint": srv.url + "/v1"}})
        client = sdk(gw)
        assert client.chat.completions.create(**CHAT).choices[0].message.content == "hi there"
        # the connection is pooled now; the next request is written to it, then it drops
        with pytest.raises(openai.APIStatusError) as e:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "drop-me"}])
        assert e.value.status_code == 502
        err = e.value.body if isinstance(e.value.body, dict) else json.loads(e.value.response.text)["error"]
        assert err["code"] == "upstream_reset"
        assert "after the request was sent" in err["message"] and "not resent" in err["message"]
        time.sleep(0.2)
        dropped = [b for _, b in srv.requests if b"drop-me" in b]
        assert len(dropped) == 1  # exactly once: a completion is never charged twice
        assert srv.connections == 1
        got = rows(gw)
        assert got[-1]["status"] == 502 and got[-1]["error"].startswith("upstream_reset")


def test_existing_fake_reset_is_not_resent_either(start_gateway, upstream):
    gw = start_gateway()
    client = sdk(gw)
    client.chat.completions.create(**CHAT)  # a pooled connection to the fake upstream
    before = sum(1 for r in upstream.requests if b'"reset"' in r.body)
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="reset", messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 502
    time.sleep(0.2)
    assert sum(1 for r in upstream.requests if b'"reset"' in r.body) == before + 1


@pytest.mark.slow
def test_gzip_bomb_is_502_with_reason_and_bounded_memory(start_gateway):
    with InThread(lambda: RawServer(gzip_bomb())) as srv:
        gw = start_gateway(providers_extra={"openai": {"endpoint": srv.url + "/v1"}})
        client = sdk(gw)
        gc.collect()
        before = rss_bytes()
        reset_peak_rss()
        with pytest.raises(openai.APIStatusError) as e:
            client.chat.completions.create(**CHAT)
        grown = max(peak_rss_bytes(), rss_bytes()) - before
        print(f"gateway gzip bomb: peak RSS growth {grown / MIB:.1f} MiB")
        assert e.value.status_code == 502
        err = json.loads(e.value.response.text)["error"]
        assert err["code"] == "upstream_response_too_large" and "max_response_bytes" in err["message"]
        assert grown < 100 * MIB
        got = rows(gw)
        assert got[-1]["status"] == 502 and "upstream_response_too_large" in got[-1]["error"]


def test_endless_stream_line_ends_the_stream_with_bounded_memory(start_gateway):
    with InThread(lambda: RawServer(endless_line())) as srv:
        gw = start_gateway(providers_extra={"openai": {"endpoint": srv.url + "/v1", "max_line_bytes": "4MiB"}})
        client = sdk(gw)
        gc.collect()
        before = rss_bytes()
        reset_peak_rss()
        try:
            for _ in client.chat.completions.create(**CHAT, stream=True):
                pass
        except openai.APIError:
            pass  # the stream broke off (how it is told to the client is #20 item 2)
        grown = max(peak_rss_bytes(), rss_bytes()) - before
        print(f"gateway endless line: peak RSS growth {grown / MIB:.1f} MiB, upstream sent {srv.sent / MIB:.0f} MiB")
        assert grown < 100 * MIB
        assert srv.sent < 64 * MIB
        got = rows(gw)
        assert got[-1]["outcome"] == "upstream_error" and "max_line_bytes" in got[-1]["error"]


def test_first_byte_timeout_is_504_with_reason(start_gateway):
    gw = start_gateway(providers_extra={"openai": {"timeouts": {"first_byte": "300ms"}}})
    with pytest.raises(openai.APIStatusError) as e:
        sdk(gw).chat.completions.create(model="hang", messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 504
    err = json.loads(e.value.response.text)["error"]
    assert err["code"] == "upstream_timeout" and "timeouts.first_byte" in err["message"]


def _tls_completions(ca: PrivateCA, mtls: bool):
    return lambda: RawServer(completions, ssl_context=ca.server_context(require_client_cert=mtls))


@pytest.mark.parametrize("how", ["provider", "environment"])
def test_private_ca_behind_a_connect_proxy(start_gateway, tmp_path, monkeypatch, how):
    ca = PrivateCA(tmp_path)
    with InThread(_tls_completions(ca, mtls=False)) as origin, InThread(ConnectProxy) as proxy:
        block = {"endpoint": origin.url + "/v1", "tls": {"ca_file": str(ca.ca_file)}}
        if how == "provider":
            block["proxy"] = proxy.url
        else:
            monkeypatch.setenv("HTTPS_PROXY", proxy.url)
            monkeypatch.setenv("NO_PROXY", "localhost,.internal.test")
        gw = start_gateway(providers_extra={"openai": block})
        client = sdk(gw)
        for _ in range(2):
            assert client.chat.completions.create(**CHAT).choices[0].message.content == "hi there"
        assert proxy.connects == [f"127.0.0.1:{origin.port}"]  # one tunnel, reused
        assert len(origin.requests) == 2


def test_proxy_none_overrides_the_environment_and_mtls(start_gateway, tmp_path, monkeypatch):
    ca = PrivateCA(tmp_path)
    with InThread(_tls_completions(ca, mtls=True)) as origin, InThread(ConnectProxy) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        gw = start_gateway(
            providers_extra={
                "openai": {
                    "endpoint": origin.url + "/v1",
                    "proxy": "none",
                    "tls": {
                        "ca_file": str(ca.ca_file),
                        "cert_file": str(ca.client_chain),
                        "key_file": str(ca.client_key),
                    },
                }
            }
        )
        assert sdk(gw).chat.completions.create(**CHAT).choices[0].message.content == "hi there"
        assert proxy.connects == []  # direct
        # the same upstream without a client certificate: refused, 502
        gw2 = start_gateway(
            providers_extra={
                "openai": {"endpoint": origin.url + "/v1", "proxy": "none", "tls": {"ca_file": str(ca.ca_file)}}
            }
        )
        with pytest.raises(openai.APIStatusError) as e:
            sdk(gw2).chat.completions.create(**CHAT)
        assert e.value.status_code == 502
