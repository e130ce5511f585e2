"""The upstream client's limits, timeouts, proxies and TLS (issue #20 items 6-7).

Real servers on 127.0.0.1:0 (tests/resilience_net.py): a gzip bomb and an endless line
generated on the fly, a real CONNECT proxy, a TLS upstream with a private CA (trustme).
"""

from __future__ import annotations

import asyncio
import gc
import os

import pytest

from leash_cli.config import GatewayConfig, ProviderConfig, parse_config_text
from leash_cli.netconfig import no_proxy_matches, options_for, proxy_for, ssl_context
from leash_cli.upstream import (
    ProxyURL,
    UpstreamClient,
    UpstreamConnectError,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamFirstByteTimeout,
    UpstreamIdleTimeout,
    UpstreamLineTooLong,
    UpstreamOptions,
    UpstreamProxyError,
    UpstreamResponseTooLarge,
    UpstreamTimeout,
    UpstreamTotalTimeout,
)
from resilience_net import (
    ConnectProxy,
    PrivateCA,
    RawServer,
    endless_line,
    gzip_bomb,
    json_response,
    ok_handler,
    peak_rss_bytes,
    reset_peak_rss,
    rss_bytes,
)

MIB = 1 << 20


def run(coro, timeout: float = 60.0):
    """LEASH_TEST_UVLOOP=1 runs it on uvloop (the gateway's loop)."""

    async def main():
        return await asyncio.wait_for(coro, timeout)

    if os.environ.get("LEASH_TEST_UVLOOP") == "1":
        import uvloop

        return uvloop.run(main())
    return asyncio.run(main())


def _growth(before: int) -> int:
    """Peak RSS growth since ``before`` (the kernel's high-water mark when resettable)."""
    return max(peak_rss_bytes(), rss_bytes()) - before


def _baseline() -> int:
    gc.collect()
    before = rss_bytes()
    if not reset_peak_rss():  # pragma: no cover - without clear_refs: current RSS only
        pass
    return before


# -- limits ------------------------------------------------------------------------------------
def test_gzip_bomb_stops_at_max_response_bytes_with_bounded_memory():
    """5 GiB of zeros, gzip-compressed (~5 MiB on the wire): read() stops at the default
    64 MiB cap, counted after decompression, and the process never grows by 100 MB."""

    async def main():
        async with RawServer(gzip_bomb()) as srv:
            c = UpstreamClient()
            before = _baseline()
            r = await c.request("POST", srv.url + "/v1/chat/completions", {}, b"{}")
            with pytest.raises(UpstreamResponseTooLarge) as e:
                await r.read()
            assert "max_response_bytes" in str(e.value) and e.value.reason == "response_too_large"
            r.release()
            del r
            grown = _growth(before)
            print(f"gzip bomb (read): peak RSS growth {grown / MIB:.1f} MiB, server got to {srv.sent / MIB:.0f} MiB")
            assert grown < 100 * MIB
            assert srv.sent < 5 * 1024 * MIB  # the bomb was cut off, not read to the end
            await c.close()

    run(main())


def test_gzip_bomb_streamed_stops_at_cap():
    async def main():
        async with RawServer(gzip_bomb(content_type="text/event-stream")) as srv:
            c = UpstreamClient()
            opts = UpstreamOptions(max_response_bytes=8 * MIB, max_line_bytes=None)
            before = _baseline()
            r = await c.request("POST", srv.url, {}, b"{}", options=opts)
            got = 0
            with pytest.raises(UpstreamResponseTooLarge):
                async for piece in r:
                    got += len(piece)
            assert got <= 8 * MIB
            grown = _growth(before)
            print(f"gzip bomb (stream, 8 MiB cap): peak RSS growth {grown / MIB:.1f} MiB")
            assert grown < 100 * MIB
            await c.close()

    run(main())


def test_small_gzip_stream_from_the_bomb_generator_decodes_whole():
    """The generator makes a valid gzip stream: 32 MiB of it decode in full under the cap."""

    async def main():
        async with RawServer(gzip_bomb(total_mib=32)) as srv:
            c = UpstreamClient()
            r = await c.request("GET", srv.url, {}, None)
            body = await r.read()
            assert len(body) == 32 * MIB and body.count(0) == len(body)
            await c.close()

    run(main())


def test_plain_body_above_cap_and_exactly_at_cap():
    async def handler(reader, writer, srv):
        while await srv.request(reader) is not None:
            writer.write(json_response(b"x" * (1 * MIB)))
            await writer.drain()

    async def main():
        async with RawServer(handler) as srv:
            c = UpstreamClient()
            r = await c.request("GET", srv.url, {}, None, options=UpstreamOptions(max_response_bytes=MIB))
            assert len(await r.read()) == MIB
            r = await c.request("GET", srv.url, {}, None, options=UpstreamOptions(max_response_bytes=MIB - 1))
            with pytest.raises(UpstreamResponseTooLarge):
                await r.read()
            await c.close()

    run(main())


def test_endless_sse_line_stops_with_bounded_memory():
    async def main():
        async with RawServer(endless_line()) as srv:
            c = UpstreamClient()
            before = _baseline()
            r = await c.request("POST", srv.url, {}, b'{"stream": true}')  # defaults: 16 MiB lines
            with pytest.raises(UpstreamLineTooLong) as e:
                async for _ in r:
                    pass
            assert "max_line_bytes" in str(e.value) and e.value.reason == "line_too_long"
            grown = _growth(before)
            print(f"endless line: peak RSS growth {grown / MIB:.1f} MiB, server sent {srv.sent / MIB:.0f} MiB")
            assert grown < 100 * MIB
            assert 16 * MIB <= srv.sent < 200 * MIB
            await c.close()

    run(main())


def test_sse_lines_under_the_cap_pass_and_the_count_restarts_at_each_line():
    async def handler(reader, writer, srv):
        await srv.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n" % (100 * 110))
        for _ in range(100):
            writer.write(b"data: " + b"y" * 102 + b"\n\n")
        await writer.drain()

    async def main():
        async with RawServer(handler) as srv:
            c = UpstreamClient()
            r = await c.request("GET", srv.url, {}, None, options=UpstreamOptions(max_line_bytes=120))
            assert len(await r.read()) == 100 * 110
            r = await c.request("GET", srv.url, {}, None, options=UpstreamOptions(max_line_bytes=100))
            with pytest.raises(UpstreamLineTooLong):
                await r.read()
            await c.close()

    run(main())


# -- timeouts ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_first_byte_idle_and_total_timeouts_are_distinct():
    async def silent(reader, writer, srv):
        await srv.request(reader)
        await asyncio.sleep(30)

    async def stalls(reader, writer, srv):
        await srv.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc")
        await writer.drain()
        await asyncio.sleep(30)

    async def trickles(reader, writer, srv):
        await srv.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        while True:
            writer.write(b"1\r\nx\r\n")
            await writer.drain()
            await asyncio.sleep(0.05)

    async def main():
        c = UpstreamClient()
        async with RawServer(silent) as srv:
            with pytest.raises(UpstreamFirstByteTimeout) as e:
                await c.request("GET", srv.url, {}, None, options=UpstreamOptions(first_byte_timeout=0.3))
            assert e.value.reason == "first_byte_timeout" and isinstance(e.value, UpstreamTimeout)
        async with RawServer(stalls) as srv:
            r = await c.request(
                "GET", srv.url, {}, None, options=UpstreamOptions(first_byte_timeout=5, idle_timeout=0.3)
            )
            with pytest.raises(UpstreamIdleTimeout):
                await r.read()
        async with RawServer(trickles) as srv:  # never idle for long, but never done
            r = await c.request("GET", srv.url, {}, None, options=UpstreamOptions(idle_timeout=5, total_timeout=0.5))
            with pytest.raises(UpstreamTotalTimeout):
                await r.read()
        await c.close()

    run(main())


def test_old_timeout_arguments_still_work():
    async def silent(reader, writer, srv):
        await srv.request(reader)
        await asyncio.sleep(30)

    async def main():
        c = UpstreamClient()
        async with RawServer(silent) as srv:
            with pytest.raises(UpstreamTimeout):
                await c.request("GET", srv.url, {}, None, connect_timeout=5, read_timeout=0.3)
        await c.close()

    run(main())


def test_connect_timeout_covers_the_proxy_tunnel():
    async def main():
        async with ConnectProxy(hang=True) as proxy:
            c = UpstreamClient()
            opts = UpstreamOptions(connect_timeout=0.3, proxy=ProxyURL.parse(proxy.url))
            with pytest.raises(UpstreamConnectTimeout) as e:
                await c.request("GET", "https://127.0.0.1:9/x", {}, None, options=opts)
            assert "through proxy" in str(e.value)
            await c.close()

    run(main())


# -- proxies -----------------------------------------------------------------------------------
def test_http_origin_through_proxy_uses_absolute_form():
    async def main():
        async with RawServer(ok_handler) as origin, ConnectProxy(auth="u:p w") as proxy:
            c = UpstreamClient()
            opts = UpstreamOptions(proxy=ProxyURL.parse(proxy.url.replace("://", "://u:p%20w@")))
            for i in range(2):
                r = await c.request("POST", origin.url + "/v1/chat?x=1", {"x-a": "1"}, b'{"i": %d}' % i, options=opts)
                assert r.status == 200 and await r.read() == b'{"ok": true, "n": %d}' % (i + 1)
            assert proxy.forwards == [f"POST {origin.url}/v1/chat?x=1 HTTP/1.1"]  # one connection, reused
            head, body = origin.requests[1]
            assert head.startswith(f"POST {origin.url}/v1/chat?x=1 HTTP/1.1\r\n")
            assert "proxy-authorization: basic" in head.lower() and body == b'{"i": 1}'
            # direct requests to the same origin use a pool of their own
            r = await c.request("GET", origin.url, {}, None)
            await r.read()
            assert len(proxy.forwards) == 1
            await c.close()

    run(main())


def test_https_origin_through_connect_tunnel_with_private_ca(tmp_path):
    ca = PrivateCA(tmp_path)

    async def main():
        async with RawServer(ok_handler, ssl_context=ca.server_context()) as origin, ConnectProxy() as proxy:
            c = UpstreamClient()
            ctx = ssl_context(ca_file=str(ca.ca_file), environ={})
            opts = UpstreamOptions(ssl_context=ctx, proxy=ProxyURL.parse(proxy.url))
            for _ in range(2):
                r = await c.request("POST", origin.url + "/v1/x", {}, b"{}", options=opts)
                assert r.status == 200 and (await r.read()).startswith(b'{"ok": true')
            assert proxy.connects == [f"127.0.0.1:{origin.port}"]  # one tunnel, kept alive
            assert origin.requests[0][0].startswith("POST /v1/x HTTP/1.1\r\n")  # origin-form inside the tunnel
            # without the private CA the tunnel opens but TLS fails
            with pytest.raises(UpstreamConnectError):
                await c.request(
                    "GET",
                    origin.url,
                    {},
                    None,
                    options=UpstreamOptions(ssl_context=ssl_context(environ={}), proxy=ProxyURL.parse(proxy.url)),
                )
            await c.close()

    run(main())


def test_proxy_refusing_connect_is_a_proxy_error():
    async def main():
        async with ConnectProxy(refuse=True) as proxy:
            c = UpstreamClient()
            with pytest.raises(UpstreamProxyError) as e:
                await c.request(
                    "GET", "https://127.0.0.1:9/", {}, None, options=UpstreamOptions(proxy=ProxyURL.parse(proxy.url))
                )
            assert "403" in str(e.value) and isinstance(e.value, UpstreamConnectError)
        async with ConnectProxy(auth="a:b") as proxy:  # no credentials: 407, for CONNECT and absolute-form alike
            with pytest.raises(UpstreamProxyError, match="407"):
                await c.request(
                    "GET", "https://127.0.0.1:9/", {}, None, options=UpstreamOptions(proxy=ProxyURL.parse(proxy.url))
                )
            with pytest.raises(UpstreamProxyError, match="407"):
                await c.request(
                    "GET", "http://127.0.0.1:9/", {}, None, options=UpstreamOptions(proxy=ProxyURL.parse(proxy.url))
                )
        await c.close()

    run(main())


# -- TLS -----------------------------------------------------------------------------------------
def test_mutual_tls_client_certificate(tmp_path):
    ca = PrivateCA(tmp_path)

    async def main():
        async with RawServer(ok_handler, ssl_context=ca.server_context(require_client_cert=True)) as origin:
            c = UpstreamClient()
            for cert, key in ((ca.client_file, None), (ca.client_chain, ca.client_key)):
                ctx = ssl_context(ca_file=str(ca.ca_file), cert_file=str(cert), key_file=key and str(key), environ={})
                r = await c.request("GET", origin.url, {}, None, options=UpstreamOptions(ssl_context=ctx))
                assert r.status == 200
                await r.read()
            # without a client certificate the server refuses (at the handshake or on first read)
            plain = UpstreamOptions(ssl_context=ssl_context(ca_file=str(ca.ca_file), environ={}))
            with pytest.raises(UpstreamError):
                r = await c.request("GET", origin.url, {}, None, options=plain)
                await r.read()
            await c.close()

    run(main())


def test_trust_sources(tmp_path):
    ca = PrivateCA(tmp_path)

    async def fetch(ctx):
        async with RawServer(ok_handler, ssl_context=ca.server_context()) as origin:
            c = UpstreamClient()
            try:
                r = await c.request("GET", origin.url, {}, None, options=UpstreamOptions(ssl_context=ctx))
                return r.status
            finally:
                await c.close()

    async def main():
        with pytest.raises(UpstreamConnectError):  # certifi does not know the private CA
            await fetch(ssl_context("certifi", environ={}))
        assert await fetch(ssl_context("certifi", environ={"SSL_CERT_FILE": str(ca.ca_file)})) == 200
        with pytest.raises(UpstreamConnectError):
            await fetch(ssl_context("system", environ={}))
        assert await fetch(ssl_context("certifi", verify=False, environ={})) == 200

    run(main())


def test_system_trust_uses_truststore_and_honours_ssl_cert_file(tmp_path, monkeypatch):
    import truststore

    ca = PrivateCA(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))  # what the OS store reads on Linux
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ctx = ssl_context("system")
    assert isinstance(ctx, truststore.SSLContext)

    async def main():
        async with RawServer(ok_handler, ssl_context=ca.server_context()) as origin:
            c = UpstreamClient()
            r = await c.request("GET", origin.url, {}, None, options=UpstreamOptions(ssl_context=ctx))
            assert r.status == 200
            await c.close()

    run(main())


# -- config -> options, computed once ------------------------------------------------------------
def test_no_proxy_matching():
    assert no_proxy_matches("api.openai.com", 443, "openai.com")
    assert no_proxy_matches("api.openai.com", 443, ".openai.com")
    assert no_proxy_matches("openai.com", 443, "*.openai.com")
    assert not no_proxy_matches("notopenai.com", 443, "openai.com")
    assert no_proxy_matches("10.1.2.3", 80, "localhost, 10.0.0.0/8")
    assert not no_proxy_matches("11.1.2.3", 80, "10.0.0.0/8")
    assert no_proxy_matches("::1", 80, "[::1]:80") and not no_proxy_matches("::1", 81, "[::1]:80")
    assert no_proxy_matches("h.example", 8443, "h.example:8443") and not no_proxy_matches(
        "h.example", 443, "h.example:8443"
    )
    assert no_proxy_matches("anything", 1, "*")


def test_proxy_from_environment_and_per_provider_override():
    env = {"HTTPS_PROXY": "http://big:3128", "http_proxy": "http://small:8080", "NO_PROXY": "internal.test"}
    assert str(proxy_for("https://api.openai.com/v1", None, env)) == "http://big:3128"
    assert str(proxy_for("http://vllm.local:8000/v1", None, env)) == "http://small:8080"
    assert proxy_for("https://llm.internal.test/v1", None, env) is None
    assert proxy_for("https://api.openai.com/v1", "none", env) is None
    assert str(proxy_for("https://api.openai.com/v1", "http://mine:1", env)) == "http://mine:1"
    assert str(proxy_for("https://x.test", None, {"ALL_PROXY": "http://all:1"})) == "http://all:1"
    assert proxy_for("https://x.test", None, {}) is None
    assert proxy_for("mock://local", None, env) is None
    assert proxy_for("https://x.test", None, {"https_proxy": "socks5://s:1"}) is None  # warned, not fatal
    with pytest.raises(ValueError, match="only http://"):
        proxy_for("https://x.test", "socks5://s:1", {})
    p = ProxyURL.parse("http://user:p%40ss@proxy:3128")
    assert p.auth == "Basic dXNlcjpwQHNz" and "p@ss" not in str(p) and "user" not in str(p)


def test_config_keys_defaults_and_options(tmp_path, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://corp-proxy:3128")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ca = PrivateCA(tmp_path)
    cfg = parse_config_text(
        f"""
gateway: {{connect_timeout: 7, read_timeout: 90}}
providers:
  openai: {{kind: openai}}
  anthropic: {{kind: anthropic, read_timeout: 30}}
  google: {{kind: google, proxy: none, timeouts: {{connect: 2s, first_byte: 1500ms, idle: 1m, total: 10m}},
           max_response_bytes: 1MiB, max_line_bytes: 64KiB}}
  private: {{kind: openai, endpoint: "https://llm.corp.test/v1", proxy: null,
            tls: {{ca_file: "{ca.ca_file}", cert_file: "{ca.client_file}"}}}}
  local: {{kind: openai, endpoint: "http://127.0.0.1:8000/v1", proxy: "http://other:1"}}
""",
        "t.yaml",
    )
    gw = cfg.gateway
    o = options_for(cfg.providers["openai"], gw)
    assert (o.connect_timeout, o.first_byte_timeout, o.idle_timeout, o.total_timeout) == (7, 90, 90, None)
    assert (
        o.max_response_bytes == 64 * MIB and o.max_line_bytes == 16 * MIB and str(o.proxy) == "http://corp-proxy:3128"
    )
    a = options_for(cfg.providers["anthropic"], gw)
    assert (a.first_byte_timeout, a.idle_timeout) == (30, 30)
    assert a.ssl_context is o.ssl_context  # same settings, one context (and one pool)
    g = options_for(cfg.providers["google"], gw)
    assert (g.connect_timeout, g.first_byte_timeout, g.idle_timeout, g.total_timeout) == (2, 1.5, 60, 600)
    assert (g.max_response_bytes, g.max_line_bytes, g.proxy) == (MIB, 64 * 1024, None)
    p = options_for(cfg.providers["private"], gw)
    assert p.proxy is None and p.ssl_context is not o.ssl_context
    assert options_for(cfg.providers["local"], gw).ssl_context is None  # http: no TLS
    assert str(options_for(cfg.providers["local"], gw).proxy) == "http://other:1"
    # the gateway builds them once per provider at config load
    from leash_cli.providers import build_providers

    provs = build_providers(cfg)
    assert provs["openai"].transport is not None and provs["openai"].transport.proxy is not None


@pytest.mark.parametrize(
    "text,message",
    [
        ("providers: {openai: {timeouts: {connect: soon}}}", "expected a duration"),
        ("providers: {openai: {timeouts: {total: -1}}}", "greater than 0"),
        ("providers: {openai: {timeouts: {conect: 1}}}", "did you mean 'connect'"),
        ("providers: {openai: {max_response_bytes: lots}}", "expected a size"),
        ("providers: {openai: {tls: {ca_file: /nonexistent.pem}}}", "file not found"),
        ("providers: {openai: {proxy: 'socks5://h:1'}}", "only http://"),
        ("gateway: {trust: os}", "certifi"),
    ],
)
def test_config_errors_are_clear(text, message):
    from leash_cli.config import ConfigError

    with pytest.raises(ConfigError) as e:
        parse_config_text(text, "t.yaml")
    assert message in str(e.value)


def test_bad_client_certificate_fails_at_config_load(tmp_path):
    from leash_cli.config import ConfigError
    from leash_cli.providers import build_providers

    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    cfg = parse_config_text(f"providers: {{openai: {{tls: {{cert_file: '{bad}'}}}}}}", "t.yaml")
    with pytest.raises(ConfigError, match="providers.openai: cannot set up TLS"):
        build_providers(cfg)
    assert GatewayConfig().trust == "certifi" and ProviderConfig().proxy_setting() is None


def test_proxy_credentials_are_masked_in_config_show():
    from leash_cli.config import mask_secrets

    shown = mask_secrets({"providers": {"openai": {"proxy": "http://user:hunter2secret@proxy:3128"}}})
    assert "hunter2secret" not in str(shown)
