"""`leash module new`: every template renders, and what it writes works out of the box."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from module_support import gateway_process, run_pytest, subprocess_env

from leash_cli import scaffold
from leash_cli.registry import discover

STAGES = scaffold.SCAFFOLD_STAGES


# -- names ----------------------------------------------------------------------------------
def test_names_follow_from_the_module_name():
    n = scaffold.names_for("my-policy")
    assert (n.name, n.ident, n.class_name, n.package, n.dist) == (
        "my-policy",
        "my_policy",
        "MyPolicy",
        "leash_my_policy",
        "leash-my-policy",
    )
    assert scaffold.names_for("pii2-guard").class_name == "Pii2Guard"


@pytest.mark.parametrize(
    "bad",
    ["My Policy!", "my_policy", "1policy", "-policy", "policy-", "my--policy", "Policy", "", "a" * 51, "x$y", "x/../y"],
)
def test_invalid_names_say_what_is_allowed(bad):
    with pytest.raises(scaffold.ScaffoldError) as e:
        scaffold.names_for(bad)
    assert "lowercase letters, digits and dashes, starting with a letter" in str(e.value)


def test_a_builtin_name_is_refused():
    with pytest.raises(scaffold.ScaffoldError, match="built-in"):
        scaffold.names_for("content-filter")


def test_render_is_plain_substitution():
    assert (
        scaffold.render("class ${class_name}: name = '$name'", {"class_name": "A", "name": "a"})
        == "class A: name = 'a'"
    )
    with pytest.raises(KeyError):
        scaffold.render("${missing}", {})
    # values are inserted as text, never rendered again
    assert scaffold.render("$x", {"x": "${class_name}"}) == "${class_name}"


# -- the single-file variant ----------------------------------------------------------------
@pytest.mark.parametrize("stage", STAGES)
def test_file_module_loads_and_has_its_stage(tmp_path, stage):
    written = scaffold.new_module("my-policy", stage=stage, cwd=tmp_path)
    assert written == [tmp_path / "modules" / "my_policy.py", tmp_path / "tests" / "test_my_policy.py"]
    info = discover(tmp_path / "modules", entry_points=False)["my-policy"]
    assert info.error is None and info.source == "file"
    assert info.stages == [stage]
    assert info.version == "0.1.0"
    model = info.settings_model
    assert model.model_config.get("extra") == "forbid"
    assert all(f.description for f in model.model_fields.values())
    text = written[0].read_text()
    compile(text, str(written[0]), "exec")
    assert "${" not in text  # every placeholder was filled


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_generated_tests_pass_out_of_the_box(tmp_path, stage):
    scaffold.new_module("my-policy", stage=stage, cwd=tmp_path)
    r = run_pytest(tmp_path, subprocess_env(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert " passed" in r.stdout and "failed" not in r.stdout


@pytest.mark.slow
def test_generated_tests_catch_a_broken_module(tmp_path):
    """The tests are real: a module that stops blocking fails them."""
    scaffold.new_module("my-policy", cwd=tmp_path)
    path = tmp_path / "modules" / "my_policy.py"
    path.write_text(path.read_text().replace("if match:", "if False:"))
    r = run_pytest(tmp_path, subprocess_env(tmp_path))
    assert r.returncode == 1
    assert "expected the request to be blocked" in r.stdout


@pytest.mark.slow
def test_custom_folders(tmp_path):
    files = scaffold.new_module("deny-list", directory="policies/llm", cwd=tmp_path)
    assert files == [tmp_path / "policies/llm/deny_list.py", tmp_path / "policies/tests/test_deny_list.py"]
    files = scaffold.new_module("here", directory=".", cwd=tmp_path)
    assert files == [tmp_path / "here.py", tmp_path / "tests" / "test_here.py"]
    files = scaffold.new_module("there", tests_dir="t", cwd=tmp_path)
    assert files[1] == tmp_path / "t" / "test_there.py"
    r = run_pytest(tmp_path, subprocess_env(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr


def test_never_overwrites_without_force(tmp_path):
    scaffold.new_module("my-policy", cwd=tmp_path)
    mine = tmp_path / "modules" / "my_policy.py"
    mine.write_text("# my edits\n")
    (tmp_path / "tests" / "test_my_policy.py").unlink()
    with pytest.raises(scaffold.ScaffoldError, match="not overwriting .*my_policy.py.*--force"):
        scaffold.new_module("my-policy", cwd=tmp_path)
    assert mine.read_text() == "# my edits\n"
    assert not (tmp_path / "tests" / "test_my_policy.py").exists()  # nothing written at all
    scaffold.new_module("my-policy", cwd=tmp_path, force=True)
    assert "class MyPolicy" in mine.read_text()


def test_unknown_stage(tmp_path):
    with pytest.raises(scaffold.ScaffoldError, match="policy, inspect, transform, sink"):
        scaffold.plan("x", stage="response", cwd=tmp_path)


# -- the package variant --------------------------------------------------------------------
def _offline_backend() -> str | None:
    """Why the package cannot be built offline here (None: it can)."""
    try:
        import setuptools
    except ImportError:
        return "setuptools is not installed"
    major_minor = tuple(int(p) for p in setuptools.__version__.split(".")[:2])
    if major_minor < (70, 1) and importlib.util.find_spec("wheel") is None:
        return (
            f"setuptools {setuptools.__version__} needs the `wheel` package to build without isolation "
            "(or setuptools>=70.1)"
        )
    return None


def test_package_layout_and_entry_point(tmp_path):
    files = scaffold.new_module("my-policy", package=True, cwd=tmp_path)
    root = tmp_path / "leash-my-policy"
    assert files == [
        root / "pyproject.toml",
        root / "README.md",
        root / "src/leash_my_policy/__init__.py",
        root / "tests/test_my_policy.py",
    ]
    import tomllib

    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "leash-my-policy"
    assert meta["project"]["entry-points"]["leash.modules"] == {"my-policy": "leash_my_policy:MyPolicy"}
    assert meta["build-system"]["build-backend"] == "setuptools.build_meta"
    readme = (root / "README.md").read_text()
    assert "my-policy" in readme and "pip install" in readme and "${" not in readme


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["policy", "transform"])
def test_package_tests_pass_out_of_the_box(tmp_path, stage):
    scaffold.new_module("my-policy", package=True, stage=stage, cwd=tmp_path)
    r = run_pytest(tmp_path / "leash-my-policy", subprocess_env(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_installed_package_is_loaded_from_its_entry_point_and_enforced(tmp_path):
    why = _offline_backend()
    if why:
        pytest.skip(why)
    scaffold.new_module("team-guard", package=True, cwd=tmp_path)
    target = tmp_path / "site"
    env = subprocess_env(tmp_path)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--target",
            str(target),
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
            str(tmp_path / "leash-team-guard"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "leash_team_guard" / "__init__.py").is_file()

    env = subprocess_env(tmp_path, target)
    listed = subprocess.run(
        [sys.executable, "-m", "leash_cli", "module", "list", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    row = {m["name"]: m for m in __import__("json").loads(listed.stdout)}["team-guard"]
    assert row["source"] == "entry-point" and row["stages"] == ["policy"] and row["version"] == "0.1.0"
    assert row["error"] is None

    config = tmp_path / "leash.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "providers": {"mock": {"kind": "mock"}},
                "storage": {"enabled": False},
                "modules": {
                    "team-guard": {
                        "enabled": True,
                        "config": {"deny": ["project nightingale"], "message": "ask the security team first"},
                    }
                },
            }
        )
    )
    with gateway_process(config, env, tmp_path) as url:
        denied = httpx.post(
            f"{url}/v1/mock/chat/completions",
            timeout=30,
            json={"model": "mock-1", "messages": [{"role": "user", "content": "Status of Project Nightingale?"}]},
        )
        assert denied.status_code == 403, denied.text
        assert denied.json()["error"]["message"] == "ask the security team first"
        assert denied.json()["error"]["code"] == "denied_phrase"
        ok = httpx.post(
            f"{url}/v1/mock/chat/completions",
            timeout=30,
            json={"model": "mock-1", "messages": [{"role": "user", "content": "What is the capital of France?"}]},
        )
        assert ok.status_code == 200, ok.text


@pytest.mark.slow
def test_file_module_is_enforced_by_leash_up(tmp_path):
    """The single-file variant through `modules_dir:` in a real `leash up`."""
    scaffold.new_module("my-policy", cwd=tmp_path)
    config = tmp_path / "leash.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "providers": {"mock": {"kind": "mock"}},
                "storage": {"enabled": False},
                "modules_dir": "modules",
                "modules": {"my-policy": {"enabled": True}},
            }
        )
    )
    with gateway_process(config, subprocess_env(tmp_path), tmp_path) as url:
        denied = httpx.post(
            f"{url}/v1/mock/chat/completions",
            timeout=30,
            json={"model": "mock-1", "messages": [{"role": "user", "content": "project nightingale?"}]},
        )
        assert denied.status_code == 403
        assert denied.json()["error"]["message"] == "this request mentions a restricted topic"
        ok = httpx.post(
            f"{url}/v1/mock/chat/completions",
            timeout=30,
            json={"model": "mock-1", "messages": [{"role": "user", "content": "hello"}]},
        )
        assert ok.status_code == 200


def test_templates_ship_with_the_package():
    from leash_cli.resources import data_dir

    root = data_dir("templates")
    for stage in STAGES:
        assert (root / "module" / f"{stage}.py.tmpl").is_file()
        assert (root / "module" / f"test_{stage}.py.tmpl").is_file()
    assert (root / "module-package" / "pyproject.toml.tmpl").is_file()
    assert Path(scaffold.__file__).is_file()


# -- entry points -----------------------------------------------------------------------------
def test_entry_points_are_read_once_until_a_distribution_is_installed(tmp_path, monkeypatch):
    """discover() reads the ``leash.modules`` entry points again only when a ``sys.path`` folder
    changed: a distribution installed into the running process's environment is found next time."""
    import importlib.metadata
    import os

    reads = []
    read = importlib.metadata.entry_points

    def counting(**params):
        reads.append(params)
        return read(**params)

    monkeypatch.setattr(importlib.metadata, "entry_points", counting)
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert "late-module" not in discover()
    assert "late-module" not in discover()
    assert len(reads) == 1  # nothing changed: the answer was kept

    (site / "late_module.py").write_text(
        "class Late:\n    name = 'late-module'\n    version = '1.0'\n\n    def policy(self, ex):\n        return None\n"
    )
    dist = site / "late_module-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: late-module\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[leash.modules]\nlate-module = late_module:Late\n")
    # the folder's modification time moved (file times follow a coarse clock: make it visibly later)
    st = site.stat()
    os.utime(site, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    info = discover()["late-module"]
    assert (info.source, info.error, info.cls.__name__) == ("entry-point", None, "Late")
    assert len(reads) == 2
    monkeypatch.delitem(sys.modules, "late_module", raising=False)
