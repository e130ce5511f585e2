"""How leash reaches a provider: TLS trust and client certificates, proxies, timeouts, limits.

Everything here runs once per provider when a config is loaded (or reloaded) and ends
in one :class:`~leash_cli.upstream.UpstreamOptions` that every request to that provider
reuses -- no SSL context is built and no environment variable is read per request.

* Trust: ``gateway.trust: certifi`` (default) uses Mozilla's bundle from certifi, or the
  files named by ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set; ``system`` uses the
  operating system's store through ``truststore``.  ``tls.ca_file`` replaces either for
  one provider (a private CA); ``tls.cert_file`` / ``key_file`` add a client
  certificate (mutual TLS); ``tls.verify: false`` turns verification off.
* Proxy: a provider's ``proxy:`` wins (``none`` or null: direct); otherwise
  ``HTTPS_PROXY`` (https endpoints) or ``HTTP_PROXY`` (http ones), then ``ALL_PROXY``,
  unless ``NO_PROXY`` matches the host (``*``, domain suffixes with or without a
  leading dot, IP addresses and CIDR blocks, optional ``:port``).  Lower-case names
  win over upper-case ones, as with curl.  Only ``http://`` proxies are spoken; a
  provider's own ``proxy:`` of another kind is a config error, one from the environment
  (say ``ALL_PROXY=socks5://...`` set for other tools) is ignored with a warning.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from leash_cli.upstream import ProxyURL, UpstreamOptions

if TYPE_CHECKING:
    from leash_cli.config import GatewayConfig, ProviderConfig

log = logging.getLogger("leash.netconfig")

__all__ = ["no_proxy_matches", "options_for", "proxy_for", "ssl_context"]


def _env(environ: Mapping[str, str], name: str) -> str | None:
    for key in (name.lower(), name.upper()):
        v = environ.get(key)
        if v is not None and v.strip():
            return v.strip()
    return None


def no_proxy_matches(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` exempts ``host:port``."""
    host = host.lower().strip("[]").rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    for raw in no_proxy.replace(";", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        want_port = None
        if entry.startswith("["):  # [v6]:port
            inner, _, rest = entry[1:].partition("]")
            entry = inner
            if rest.startswith(":") and rest[1:].isdigit():
                want_port = int(rest[1:])
        elif entry.count(":") == 1:
            name, _, p = entry.partition(":")
            if p.isdigit():
                entry, want_port = name, int(p)
        if want_port is not None and want_port != port:
            continue
        if ip is not None:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.lstrip("*").lstrip(".").rstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def proxy_for(endpoint: str, setting: str | None, environ: Mapping[str, str] | None = None) -> ProxyURL | None:
    """The proxy for a provider endpoint: its own ``proxy:`` setting (``"none"``: direct),
    else the environment.  None: connect directly."""
    if setting is not None:
        return None if setting == "none" else ProxyURL.parse(setting)
    env = os.environ if environ is None else environ
    parts = urlsplit(endpoint)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    url = _env(env, "https_proxy" if scheme == "https" else "http_proxy") or _env(env, "all_proxy")
    if not url:
        return None
    port = parts.port or (443 if scheme == "https" else 80)
    no = _env(env, "no_proxy")
    if no and no_proxy_matches(parts.hostname, port, no):
        return None
    try:
        return ProxyURL.parse(url)
    except ValueError as e:  # e.g. ALL_PROXY=socks5://... set for other tools: say so, do not refuse to start
        log.warning("ignoring the proxy from the environment for %s: %s", parts.hostname, e)
        return None


_contexts: dict[tuple[object, ...], ssl.SSLContext] = {}


def ssl_context(
    trust: str = "certifi",
    *,
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    verify: bool = True,
    environ: Mapping[str, str] | None = None,
) -> ssl.SSLContext:
    """An SSL context for upstream connections; identical settings share one context
    (and so one connection pool).  Raises ValueError with a readable reason."""
    env = os.environ if environ is None else environ
    cert_env = _env(env, "ssl_cert_file")
    dir_env = _env(env, "ssl_cert_dir")
    key = (trust, ca_file, cert_file, key_file, verify, cert_env, dir_env)
    got = _contexts.get(key)
    if got is not None:
        return got
    try:
        ctx = _build(trust, ca_file, cert_file, key_file, verify, cert_env, dir_env)
    except (OSError, ssl.SSLError) as e:
        raise ValueError(f"cannot set up TLS: {e}") from None
    if len(_contexts) > 256:
        _contexts.clear()
    _contexts[key] = ctx
    return ctx


def _build(
    trust: str,
    ca_file: str | None,
    cert_file: str | None,
    key_file: str | None,
    verify: bool,
    cert_env: str | None,
    dir_env: str | None,
) -> ssl.SSLContext:
    ctx: ssl.SSLContext
    if not verify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_file is not None:
        ctx = ssl.create_default_context(cafile=ca_file)
    elif trust == "system":
        import truststore

        ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    elif cert_env or dir_env:
        ctx = ssl.create_default_context(cafile=cert_env, capath=dir_env)
    else:
        try:
            import certifi

            ctx = ssl.create_default_context(cafile=certifi.where())
        except ImportError:  # pragma: no cover - certifi comes with httpx
            ctx = ssl.create_default_context()
    if cert_file is not None:
        ctx.load_cert_chain(cert_file, key_file)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def options_for(pc: ProviderConfig, gw: GatewayConfig, environ: Mapping[str, str] | None = None) -> UpstreamOptions:
    """The transport options of one provider, from its config and the gateway's."""
    t = pc.timeouts
    read = pc.read_timeout or gw.read_timeout
    endpoint = pc.endpoint or ""
    ctx = None
    if endpoint.lower().startswith("https://"):
        tls = pc.tls
        ctx = ssl_context(
            gw.trust,
            ca_file=tls.ca_file,
            cert_file=tls.cert_file,
            key_file=tls.key_file,
            verify=tls.verify,
            environ=environ,
        )
    return UpstreamOptions(
        connect_timeout=t.connect or pc.connect_timeout or gw.connect_timeout,
        first_byte_timeout=t.first_byte or read,
        idle_timeout=t.idle or read,
        total_timeout=t.total,
        max_response_bytes=pc.max_response_bytes,
        max_line_bytes=pc.max_line_bytes,
        ssl_context=ctx,
        proxy=proxy_for(endpoint, pc.proxy_setting(), environ),
        max_connections=gw.max_upstream_connections_per_origin,
        pool_idle_timeout=gw.upstream_idle_expiry,
    )
