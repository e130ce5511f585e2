"""`leash export compose`: what it writes, that Envoy accepts it, and that re-running is safe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ep_support import envoy_binary
from typer.testing import CliRunner

from leash_cli.render import render_tree

SECRET = "sk-proj-literalSecretMustNotBeCopied0123456789"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    cfg = {
        "providers": {
            "openai": {"endpoint": "https://api.openai.com/v1", "api_key": SECRET},
            "anthropic": {"endpoint": "https://api.anthropic.com", "api_key": "${ANTHROPIC_API_KEY}"},
            "google": {"endpoint": "https://generativelanguage.googleapis.com"},
            "groq": {"kind": "openai", "endpoint": "https://api.groq.com/openai/v1"},
            "mock": {"kind": "mock"},
        },
        "modules": {"pii-detector": {"action": "redact"}, "rate-limiter": {"requests_per_minute": 60}},
        "state": "redis://localhost:6379/3",
    }
    p = tmp_path / "leash.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def _cli():
    from leash_cli.cli import app

    return app


def _export(out: Path, config: Path, *extra: str):
    r = CliRunner().invoke(_cli(), ["export", "compose", "--out", str(out), "--config", str(config), *extra])
    return r


@pytest.mark.slow
def test_export_writes_a_deployment(tmp_path, config_file):
    out = tmp_path / "deploy"
    r = _export(out, config_file, "--replicas", "3", "--no-validate")
    assert r.exit_code == 0, r.output
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {
        "docker-compose.yaml",
        "envoy.yaml",
        "Dockerfile",
        "leash.yaml",
        "prometheus.yml",
        "README.md",
        ".env.example",
        ".leash-export.json",
    } <= names
    assert ".env" in names  # the literal key moved there, and only there
    env = out / ".env"
    assert env.stat().st_mode & 0o777 == 0o600
    assert f"LEASH_OPENAI_API_KEY={SECRET}" in env.read_text().splitlines()
    assert ".env" in (out / ".gitignore").read_text().splitlines()
    for p in out.rglob("*"):
        if p.is_file() and p.name != ".env":
            assert SECRET.encode() not in p.read_bytes(), f"secret inlined in {p}"
            if p.suffix == ".whl":
                continue
            assert "${" not in p.read_text() or p.name in ("leash.yaml",), f"unrendered placeholder in {p}"
    leash = yaml.safe_load((out / "leash.yaml").read_text())
    assert leash["state"] == "redis://redis:6379/0"
    assert leash["providers"]["openai"]["api_key"] == "${LEASH_OPENAI_API_KEY}"
    assert leash["providers"]["anthropic"]["api_key"] == "${ANTHROPIC_API_KEY}"
    assert leash["modules"]["pii-detector"] == {"action": "redact"}
    env_example = (out / ".env.example").read_text()
    assert re.search(r"^ANTHROPIC_API_KEY=$", env_example, re.M)
    assert re.search(r"^LEASH_OPENAI_API_KEY=$", env_example, re.M)


def test_compose_file_structure(tmp_path, config_file):
    out = tmp_path / "deploy"
    assert _export(out, config_file, "--replicas", "3", "--no-validate").exit_code == 0
    doc = yaml.safe_load((out / "docker-compose.yaml").read_text())
    assert set(doc) <= {"name", "services", "volumes", "networks", "secrets", "configs"}
    services = doc["services"]
    assert set(services) == {"envoy", "leash", "redis", "prometheus"}
    name_ok = re.compile(r"^[a-zA-Z0-9._-]+$")
    for name, svc in services.items():
        assert name_ok.match(name)
        assert "image" in svc or "build" in svc
        hc = svc["healthcheck"]
        assert isinstance(hc["test"], list) and hc["test"][0] in ("CMD", "CMD-SHELL")
        for k in ("interval", "timeout"):
            assert re.match(r"^\d+(ms|s|m)$", hc[k])
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services
            assert cond["condition"] in ("service_started", "service_healthy", "service_completed_successfully")
        for v in svc.get("volumes", []):
            src = v.split(":", 1)[0]
            if not src.startswith("."):
                assert src in doc["volumes"], f"undeclared volume {src}"
            else:
                assert (out / src).exists(), f"{name} mounts missing {src}"
        for port in svc.get("ports", []):
            assert isinstance(port, str) and re.match(r"^(\d+\.\d+\.\d+\.\d+:)?\d+:\d+$", port)
        assert "environment" not in svc  # secrets come from the env file only
    from leash_cli.extproc.envoy import envoy_version

    binary = None
    try:
        binary = envoy_binary()
    except pytest.skip.Exception:
        pass
    tag = services["envoy"]["image"].rsplit(":", 1)[1]
    assert re.match(r"^v1\.40\.\d+$", tag)
    if binary is not None:
        assert tag == "v" + envoy_version(binary)
    leash = services["leash"]
    assert leash["deploy"]["replicas"] == 3
    assert leash["env_file"] == [".env"]
    assert leash["build"]["dockerfile"] == "Dockerfile" and (out / "Dockerfile").exists()
    assert "ext-proc" in leash["command"] and "/data/leash.db" in leash["command"]
    assert services["prometheus"]["ports"] == ["127.0.0.1:9090:9090"]
    assert "leash-cli==" not in (out / "Dockerfile").read_text()  # not from the package index
    prom = yaml.safe_load((out / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    assert jobs["envoy"]["metrics_path"] == "/stats/prometheus"
    assert jobs["envoy"]["static_configs"][0]["targets"] == ["envoy:9902"]
    assert jobs["leash"]["metrics_path"] == "/metrics" and jobs["leash"]["dns_sd_configs"][0]["names"] == ["leash"]


def test_compose_file_passes_the_compose_spec_schema(tmp_path, config_file):
    """An offline Compose Spec check (no Docker engine here): the generated file validates
    against the Compose Specification JSON schema (``compose_spec.json``, Apache-2.0, as
    shipped in docker-compose 1.29.2) — the older schema, so the file also suits older Compose."""
    import json

    import jsonschema

    out = tmp_path / "deploy"
    assert _export(out, config_file, "--replicas", "2", "--no-validate").exit_code == 0
    doc = yaml.safe_load((out / "docker-compose.yaml").read_text())
    schema = json.loads((Path(__file__).parent / "compose_spec.json").read_text())
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
    assert errors == []


@pytest.mark.slow
def test_envoy_yaml_settings(tmp_path, config_file):
    out = tmp_path / "deploy"
    assert _export(out, config_file, "--no-validate").exit_code == 0
    env = yaml.safe_load((out / "envoy.yaml").read_text())
    admin = env["admin"]["address"]["socket_address"]
    assert admin == {"address": "127.0.0.1", "port_value": 9901}
    listener = env["static_resources"]["listeners"][0]
    assert listener["address"]["socket_address"]["port_value"] == 8080
    assert listener["per_connection_buffer_limit_bytes"] >= 10 * 1024 * 1024
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    ext = hcm["http_filters"][0]["typed_config"]
    assert ext["failure_mode_allow"] is False and ext["allow_mode_override"] is True
    assert ext["grpc_service"]["envoy_grpc"]["max_receive_message_length"] >= 10 * 1024 * 1024
    assert ext["processing_mode"] == {
        "request_header_mode": "SEND",
        "request_body_mode": "BUFFERED",
        "response_header_mode": "SEND",
        "response_body_mode": "BUFFERED",
        "request_trailer_mode": "SKIP",
        "response_trailer_mode": "SKIP",
    }
    assert ext["message_timeout"]
    mapper = hcm["local_reply_config"]["mappers"][0]
    assert mapper["status_code"] == 503 and "policy_unavailable" in mapper["body"]["inline_string"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    health = routes[0]
    assert health["match"] == {"path": "/health"} and "direct_response" in health
    assert health["typed_per_filter_config"]["envoy.filters.http.ext_proc"]["disabled"] is True
    by_prefix = {r["match"]["prefix"]: r for r in routes[1:]}
    assert by_prefix["/v1/openai/"]["route"]["prefix_rewrite"] == "/v1/"
    assert by_prefix["/v1/groq/"]["route"]["prefix_rewrite"] == "/openai/v1/"
    assert by_prefix["/v1/anthropic/"]["route"]["prefix_rewrite"] == "/v1/"
    assert by_prefix["/v1/anthropic/v1/"]["route"]["prefix_rewrite"] == "/v1/"
    assert by_prefix["/v1/google/"]["route"]["prefix_rewrite"] == "/v1beta/"
    assert by_prefix["/v1/google/v1beta/"]["route"]["prefix_rewrite"] == "/v1beta/"
    assert not any(p.startswith("/v1/mock/") for p in by_prefix)
    # the more specific prefixes come first
    order = [r["match"]["prefix"] for r in routes[1:]]
    assert order.index("/v1/anthropic/v1/") < order.index("/v1/anthropic/")
    for r in routes[1:]:
        assert r["route"]["timeout"] == "0s" and r["route"]["idle_timeout"]
        assert "accept-encoding" in r["request_headers_to_remove"]
        assert r["route"]["host_rewrite_literal"]
    clusters = {c["name"]: c for c in env["static_resources"]["clusters"]}
    oa = clusters["provider_openai"]
    tls = oa["transport_socket"]["typed_config"]
    assert tls["sni"] == "api.openai.com"
    vc = tls["common_tls_context"]["validation_context"]
    assert vc["trusted_ca"]["filename"] == "/etc/ssl/certs/ca-certificates.crt"
    assert vc["match_typed_subject_alt_names"][0]["matcher"]["exact"] == "api.openai.com"
    assert oa["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"] == {
        "address": "api.openai.com",
        "port_value": 443,
    }
    ep = clusters["leash_ext_proc"]
    assert ep["type"] == "STRICT_DNS" and ep["health_checks"][0]["grpc_health_check"] == {}


@pytest.mark.slow
def test_envoy_validates_the_export(tmp_path, config_file):
    binary = envoy_binary()
    from leash_cli.extproc.envoy import validate

    out = tmp_path / "deploy"
    r = _export(out, config_file)  # validates by default when envoy is installed
    assert r.exit_code == 0, r.output
    assert "envoy.yaml is valid" in r.output
    ok, output = validate(binary, out / "envoy.yaml")
    assert ok, output
    # and the default config too
    out2 = tmp_path / "deploy2"
    r = CliRunner().invoke(_cli(), ["export", "compose", "--out", str(out2)])
    assert r.exit_code == 0, r.output
    ok, output = validate(binary, out2 / "envoy.yaml")
    assert ok, output


@pytest.mark.slow
def test_rerun_is_idempotent_and_keeps_user_edits(tmp_path, config_file):
    out = tmp_path / "deploy"
    assert _export(out, config_file, "--no-validate").exit_code == 0
    r = _export(out, config_file, "--no-validate")
    assert r.exit_code == 0
    assert "created" not in r.output and "updated" not in r.output
    assert r.output.count("unchanged") >= 8
    readme = out / "README.md"
    readme.write_text(readme.read_text() + "\nour own notes\n")
    r = _export(out, config_file, "--no-validate", "--replicas", "5")
    assert r.exit_code == 0
    assert re.search(r"kept\s+\S*README\.md", r.output)
    assert "our own notes" in readme.read_text()
    assert re.search(r"updated\s+\S*docker-compose\.yaml", r.output)  # ours, not edited: updated
    assert yaml.safe_load((out / "docker-compose.yaml").read_text())["services"]["leash"]["deploy"]["replicas"] == 5
    r = _export(out, config_file, "--no-validate", "--replicas", "5", "--force")
    assert re.search(r"overwritten\s+\S*README\.md", r.output)
    assert "our own notes" not in readme.read_text()


def test_render_tree_substitutes_once_and_refuses_missing_values(tmp_path):
    tpl = tmp_path / "tpl"
    (tpl / "sub").mkdir(parents=True)
    (tpl / "a.yaml").write_text("value: ${v}\ncost: $$5\n")
    (tpl / "sub" / "dot.hidden").write_text("x")
    res = render_tree(tpl, tmp_path / "out", {"v": '"${not_expanded} $dollar"'})
    assert (tmp_path / "out" / "a.yaml").read_text() == 'value: "${not_expanded} $dollar"\ncost: $5\n'
    assert (tmp_path / "out" / "sub" / ".hidden").exists()
    assert {s for _, s in res} == {"created"}
    with pytest.raises(KeyError):
        render_tree(tpl, tmp_path / "out2", {})


# -- custom modules, the exported config loads, the image's leash (issue #24 items 2, 3) ----------


def _module_project(tmp_path: Path) -> Path:
    """A project as `leash module new my-policy` leaves it: modules/my_policy.py, tests/, leash.yaml."""
    from leash_cli.scaffold import new_module

    proj = tmp_path / "proj"
    proj.mkdir()
    new_module("my-policy", cwd=proj)
    (proj / "modules" / "_helpers.py").write_text("PHRASES = ['x']\n")
    cfg = {
        "providers": {"openai": {"endpoint": "https://api.openai.com/v1"}},
        "modules_dir": "modules",
        "modules": {"my-policy": {}, "secrets-detector": {"action": "block"}},
    }
    (proj / "leash.yaml").write_text(yaml.safe_dump(cfg))
    return proj


@pytest.mark.slow
def test_export_copies_and_mounts_custom_modules(tmp_path):
    proj = _module_project(tmp_path)
    out = tmp_path / "deploy"
    r = _export(out, proj / "leash.yaml", "--no-validate")
    assert r.exit_code == 0, r.output
    assert (out / "modules" / "my_policy.py").read_text() == (proj / "modules" / "my_policy.py").read_text()
    assert (out / "modules" / "_helpers.py").exists()
    assert not list(out.rglob("test_*.py"))  # the module's tests stay in the project
    leash = yaml.safe_load((out / "leash.yaml").read_text())
    assert leash["modules_dir"] == "modules"
    svc = yaml.safe_load((out / "docker-compose.yaml").read_text())["services"]["leash"]
    assert "./modules:/etc/leash/modules:ro" in svc["volumes"]
    assert "./leash.yaml:/etc/leash/leash.yaml:ro" in svc["volumes"]  # modules_dir resolves beside it
    # the exported folder validates on its own, as the user tried
    r = CliRunner().invoke(_cli(), ["config", "validate", str(out / "leash.yaml")])
    assert r.exit_code == 0, r.output
    assert "leash.yaml loads (2 custom module file(s)" in _export(out, proj / "leash.yaml", "--no-validate").output
    # no custom modules: no mount, no folder
    out2 = tmp_path / "deploy2"
    plain = tmp_path / "plain.yaml"
    plain.write_text("providers:\n  openai:\n    endpoint: https://api.openai.com/v1\n")
    assert _export(out2, plain, "--no-validate").exit_code == 0
    assert not (out2 / "modules").exists()
    svc = yaml.safe_load((out2 / "docker-compose.yaml").read_text())["services"]["leash"]
    assert not any("modules" in v for v in svc["volumes"])


def test_an_export_that_would_not_load_is_refused_and_writes_nothing(tmp_path):
    proj = _module_project(tmp_path)
    (proj / "modules" / "my_policy.py").write_text("this is not python(\n")
    out = tmp_path / "deploy"
    r = _export(out, proj / "leash.yaml", "--no-validate")
    assert r.exit_code == 2
    assert "would not load" in r.output and "my-policy" in r.output
    assert not out.exists()


def test_the_image_installs_the_wheel_of_this_leash(tmp_path, config_file):
    """No Docker engine here: the Dockerfile's shape, and the wheel it installs."""
    import zipfile

    import leash_cli
    from leash_cli import __version__

    out = tmp_path / "deploy"
    r = _export(out, config_file, "--no-validate")
    assert r.exit_code == 0, r.output
    docker = (out / "Dockerfile").read_text()
    lines = [ln for ln in docker.splitlines() if ln and not ln.startswith("#")]
    instr = [ln.split()[0] for ln in lines if not ln.startswith(" ")]
    assert instr[0] == "FROM"
    m = re.match(r"FROM python:(\d+)\.(\d+)-slim$", lines[0])
    assert m and (int(m[1]), int(m[2])) >= (3, 11)  # requires-python
    assert "leash-cli==" not in docker and "ARG LEASH_PACKAGE" not in docker
    copies = [ln.split()[1:] for ln in lines if ln.startswith("COPY ")]
    assert copies and all((out / src).exists() for src, _ in copies), copies
    wheel_copy = next(c for c in copies if c[0].endswith(".whl"))
    install = next(ln for ln in lines if ln.startswith("RUN pip install"))
    assert re.search(r"pip install --no-cache-dir " + re.escape(wheel_copy[1]) + r"(\s|$)", install)
    wheel = out / wheel_copy[0]
    assert wheel.name == f"leash_cli-{__version__}-py3-none-any.whl"
    assert [p.name for p in (out / "wheels").glob("*.whl")] == [wheel.name]
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(f"leash_cli-{__version__}.dist-info/METADATA").decode()
        eps = z.read(f"leash_cli-{__version__}.dist-info/entry_points.txt").decode()
        exported_src = z.read("leash_cli/extproc/export.py")
    assert re.search(rf"^Version: {re.escape(__version__)}$", meta, re.M)
    assert re.search(r"^leash = leash_cli\.cli:main$", eps, re.M)
    assert {
        "leash_cli/cli.py",
        "leash_cli/_data/templates/compose/Dockerfile",
        "leash_cli/_data/configs/default.yaml",
    } <= names
    # built from the leash that ran the export, byte for byte
    assert exported_src == (Path(leash_cli.__file__).parent / "extproc" / "export.py").read_bytes()
    # the image runs what compose runs
    cmd = re.search(r"^CMD (\[.*\])$", docker, re.M)[1]
    import json

    compose = yaml.safe_load((out / "docker-compose.yaml").read_text())["services"]["leash"]
    assert json.loads(cmd) == compose["command"]
    assert "build" in compose and "args" not in compose["build"]
    assert "wheels/" + wheel.name in (out / "README.md").read_text()


@pytest.mark.slow
def test_a_wheel_packed_again_from_an_installed_leash(tmp_path):
    """From an installed (non-editable) leash the export packs the installed files into the wheel:
    install the source-built wheel into a folder, pack it again, and get the same files."""
    import importlib.metadata
    import subprocess
    import sys
    import zipfile

    from leash_cli.extproc import wheel as w

    original = w.build_wheel(tmp_path / "src")
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-compile",
            "--target",
            str(site),
            str(original),
        ],
        check=True,
        capture_output=True,
    )
    dist = importlib.metadata.Distribution.at(next(site.glob("leash_cli-*.dist-info")))
    built = w._repack_installed(tmp_path / "a", dist)
    again = w._repack_installed(tmp_path / "b", dist)
    assert built.name == original.name
    assert built.read_bytes() == again.read_bytes()  # reproducible
    with zipfile.ZipFile(original) as z0, zipfile.ZipFile(built) as z:
        assert z.testzip() is None
        names0 = {n for n in z0.namelist() if not n.endswith("/RECORD")}
        names = {n for n in z.namelist() if not n.endswith("/RECORD")}
        assert names == names0
        assert all(z.read(n) == z0.read(n) for n in names)
        record = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))).decode()
    assert {line.split(",")[0] for line in record.splitlines()} == set(z.namelist())


HEADER_KEY = "azure-literal-header-key-0123456789abcdef"
QUERY_KEY = "AIzaLiteralQueryKey0123456789abcdefghij"
DEP_KEY = "sk-ant-literal-deployment-key-0123456789"


@pytest.mark.slow
def test_every_secret_bearing_value_goes_to_the_env_file(tmp_path):
    cfg = {
        "providers": {
            "azure": {
                "kind": "openai",
                "endpoint": "https://x.openai.azure.com/openai",
                "headers": {"api-key": HEADER_KEY, "x-team": "blue"},
                "query": {"api-version": "2024-10-21"},
            },
            "google": {"endpoint": "https://generativelanguage.googleapis.com", "query": {"key": QUERY_KEY}},
            "anthropic": {
                "endpoint": "https://api.anthropic.com",
                "deployments": [{"name": "east", "api_key": DEP_KEY}, {"name": "west", "api_key": "${WEST_KEY}"}],
            },
        },
        "gateway": {"require_virtual_key": False},
    }
    p = tmp_path / "leash.yaml"
    p.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "deploy"
    r = _export(out, p, "--no-validate")
    assert r.exit_code == 0, r.output
    leash = yaml.safe_load((out / "leash.yaml").read_text())
    prov = leash["providers"]
    assert prov["azure"]["headers"] == {"api-key": "${LEASH_AZURE_HEADERS_API_KEY}", "x-team": "blue"}
    assert prov["azure"]["query"] == {"api-version": "2024-10-21"}  # not a secret: stays
    assert prov["google"]["query"] == {"key": "${LEASH_GOOGLE_QUERY_KEY}"}
    assert prov["anthropic"]["deployments"][0]["api_key"] == "${LEASH_ANTHROPIC_EAST_API_KEY}"
    assert prov["anthropic"]["deployments"][1]["api_key"] == "${WEST_KEY}"
    env = (out / ".env").read_text().splitlines()
    assert {
        f"LEASH_AZURE_HEADERS_API_KEY={HEADER_KEY}",
        f"LEASH_GOOGLE_QUERY_KEY={QUERY_KEY}",
        f"LEASH_ANTHROPIC_EAST_API_KEY={DEP_KEY}",
    } <= set(env)
    assert (out / ".env").stat().st_mode & 0o777 == 0o600
    for f in out.rglob("*"):
        if f.is_file() and f.name != ".env":
            for secret in (HEADER_KEY, QUERY_KEY, DEP_KEY):
                assert secret.encode() not in f.read_bytes(), f"{secret[:8]} inlined in {f}"
    assert "providers.azure.headers.api-key" in r.output.replace("\n", " ")
    # a re-export keeps what the user set in .env
    (out / ".env").write_text((out / ".env").read_text().replace(HEADER_KEY, "rotated-by-the-user"))
    assert _export(out, p, "--no-validate").exit_code == 0
    assert "LEASH_AZURE_HEADERS_API_KEY=rotated-by-the-user" in (out / ".env").read_text()


def test_an_export_that_would_write_a_literal_secret_is_refused(tmp_path):
    cfg = {
        "providers": {
            "openai": {
                "endpoint": "https://api.openai.com/v1",
                "api_key": SECRET,
                "description": f"the team key is {SECRET}",
            }
        }
    }
    p = tmp_path / "leash.yaml"
    p.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "deploy"
    r = _export(out, p, "--no-validate")
    assert r.exit_code == 2 and "refusing to write a literal secret into leash.yaml" in r.output
    assert SECRET not in r.output
    assert not out.exists() or not any(out.iterdir())
