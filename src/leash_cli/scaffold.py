"""``leash module new``: write a working module and its tests from ``templates/``.

Two shapes:

- a single file (``templates/module/``): ``<dir>/<ident>.py``, loaded through
  ``modules_dir:``, and ``tests/test_<ident>.py`` in a ``tests/`` folder beside
  the modules folder (``modules/`` -> ``tests/``; ``./tests`` when the modules
  folder is the current directory);
- a package (``templates/module-package/``): ``<dir>/leash-<name>/`` with a
  ``pyproject.toml`` whose ``leash.modules`` entry point registers it,
  ``src/leash_<ident>/__init__.py``, ``tests/`` and a ``README.md``.

Templates are rendered with :class:`string.Template` from values computed
here (the validated name and what follows from it): nothing a user typed is
ever interpreted as a template.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from leash_cli.resources import data_dir

SCAFFOLD_STAGES = ("policy", "inspect", "transform", "sink")

_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_SAFE_PATH = re.compile(r"[\w./ -]+")

_SUMMARY = {
    "policy": "blocks requests whose prompt mentions a phrase of a deny-list",
    "inspect": "flags requests whose prompt mentions a phrase of a deny-list (it never blocks)",
    "transform": "redacts the phrases of a deny-list from prompts before they go upstream",
    "sink": "logs the exchanges whose prompt mentioned a phrase of a deny-list",
}


class ScaffoldError(ValueError):
    """A module that cannot be written as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Names:
    name: str  # my-policy: the key under `modules:`
    ident: str  # my_policy: file and identifier
    class_name: str  # MyPolicy
    package: str  # leash_my_policy
    dist: str  # leash-my-policy


def names_for(name: str) -> Names:
    """The names that follow from a module name, once it is checked."""
    if not _NAME.fullmatch(name or "") or len(name) > 50:
        raise ScaffoldError(
            f"invalid module name {name!r}: use lowercase letters, digits and dashes, starting with a letter "
            f"(at most 50 characters, no dash at the end or twice in a row), e.g. 'my-policy'"
        )
    from leash_cli.registry import BUILTINS

    if name in BUILTINS:
        raise ScaffoldError(f"{name!r} is the name of a built-in module; pick another name")
    ident = name.replace("-", "_")
    class_name = "".join(part[:1].upper() + part[1:] for part in name.split("-"))
    return Names(name, ident, class_name, f"leash_{ident}", f"leash-{name}")


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``${placeholders}``; a placeholder with no value is an error, not a blank."""
    return string.Template(template).substitute(values)


def _template(*parts: str) -> str:
    return data_dir("templates").joinpath(*parts).read_text(encoding="utf-8")


def plan(
    name: str,
    *,
    stage: str = "policy",
    directory: str | os.PathLike | None = None,
    package: bool = False,
    tests_dir: str | os.PathLike | None = None,
    cwd: str | os.PathLike | None = None,
) -> list[tuple[Path, str]]:
    """The files to write, as (path, text), for a module `name`; nothing is written."""
    if stage not in SCAFFOLD_STAGES:
        raise ScaffoldError(f"unknown stage {stage!r}: use one of {', '.join(SCAFFOLD_STAGES)}")
    n = names_for(name)
    here = Path(cwd or Path.cwd())
    values = {
        "name": n.name,
        "ident": n.ident,
        "class_name": n.class_name,
        "package": n.package,
        "dist": n.dist,
        "stage": stage,
        "summary": _SUMMARY[stage],
    }
    module_src = _template("module", f"{stage}.py.tmpl")
    test_src = _template("module", f"test_{stage}.py.tmpl")
    if package:
        root = here / Path(directory or ".") / n.dist
        values["where"] = "(once the package is installed: its entry point registers it)"
        values["import_block"] = f"from {n.package} import {n.class_name}"
        return [
            (root / "pyproject.toml", render(_template("module-package", "pyproject.toml.tmpl"), values)),
            (root / "README.md", render(_template("module-package", "README.md.tmpl"), values)),
            (root / "src" / n.package / "__init__.py", render(module_src, values)),
            (root / "tests" / f"test_{n.ident}.py", render(test_src, values)),
        ]
    mod_dir = here / Path(directory or "modules")
    if tests_dir is not None:
        test_dir = here / Path(tests_dir)
    elif mod_dir.resolve() == here.resolve():
        test_dir = here / "tests"
    else:
        test_dir = mod_dir.parent / "tests"
    module_file = mod_dir / f"{n.ident}.py"
    shown = os.path.relpath(mod_dir, here).replace(os.sep, "/")
    values["where"] = (
        f"(with `modules_dir: {shown}`, the folder of this file)"
        if _SAFE_PATH.fullmatch(shown)
        else "(with `modules_dir:` naming the folder of this file)"
    )
    rel = os.path.relpath(module_file, test_dir).replace(os.sep, "/")
    values["import_block"] = (
        "from pathlib import Path\n\n"
        "from leash_cli.testing import load_module\n\n"
        "# loaded the way the gateway loads a file of `modules_dir:`\n"
        f"{n.class_name} = load_module(Path(__file__).resolve().parent / {rel!r})"
    )
    return [(module_file, render(module_src, values)), (test_dir / f"test_{n.ident}.py", render(test_src, values))]


def write(files: list[tuple[Path, str]], *, force: bool = False) -> list[Path]:
    """Write the planned files; refuses (writing nothing) when one exists, unless `force`."""
    if not force:
        existing = [p for p, _ in files if p.exists()]
        if existing:
            raise ScaffoldError(
                "not overwriting " + ", ".join(_shown(p) for p in existing) + " (use --force to replace them)"
            )
    for path, text in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [p for p, _ in files]


def new_module(
    name: str,
    *,
    stage: str = "policy",
    directory: str | os.PathLike | None = None,
    package: bool = False,
    tests_dir: str | os.PathLike | None = None,
    force: bool = False,
    cwd: str | os.PathLike | None = None,
) -> list[Path]:
    """Write module `name` and its tests; returns the paths written."""
    return write(
        plan(name, stage=stage, directory=directory, package=package, tests_dir=tests_dir, cwd=cwd), force=force
    )


def _shown(path: Path) -> str:
    """A path relative to the current directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# -- enabling a folder module in a config ------------------------------------------------------------

_TOP_MODULES = re.compile(r"^modules:[ \t]*(?:#.*)?$", re.M)
_TOP_MODULES_EMPTY = re.compile(r"^modules:[ \t]*(?:\{\s*\}|null|~)?[ \t]*(?:#.*)?$", re.M)
_TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*:", re.M)


def enable_in_config(config: Path, name: str, modules_dir: str | None) -> tuple[str, list[str]]:
    """The text of `config` with module `name` enabled (and ``modules_dir:`` set), comments kept.

    Returns (new text, what changed).  The result is checked: it must load with leash's config
    loader, keep every provider and module the file had, and enable `name`.  A config that does
    not exist yet starts from ``leash init``'s starter (providers and the protective modules).
    """
    import yaml

    from leash_cli.config import ConfigError, LoadedConfig, parse_config_text

    changes: list[str] = []
    if config.exists():
        text = config.read_text(encoding="utf-8")
    else:
        text = data_dir("configs").joinpath("starter.yaml").read_text(encoding="utf-8")
        changes.append(f"wrote {config.name} from `leash init`'s starter (providers and the protective modules)")
    try:
        before = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ScaffoldError(f"{config} is not valid YAML ({e}); fix it first") from None
    if not isinstance(before, dict):
        raise ScaffoldError(f"{config}: the top level must be a mapping")
    if modules_dir is not None:
        have = before.get("modules_dir")
        if have is None:
            line = f"modules_dir: {modules_dir}    # custom modules (`leash module new`), relative to this file\n"
            m = _TOP_MODULES.search(text) or _TOP_MODULES_EMPTY.search(text)
            at = m.start() if m else len(text)
            while m and at > 0:  # above the comment lines that introduce `modules:`
                prev = text.rfind("\n", 0, at - 1) + 1
                if not text[prev:at].startswith("#"):
                    break
                at = prev
            if not m and text and not text.endswith("\n"):
                line = "\n" + line
            if text[at : at + 1] == "#":
                line += "\n"
            text = text[:at] + line + text[at:]
            changes.append(f"added `modules_dir: {modules_dir}`")
        elif Path(str(have)).expanduser() != Path(modules_dir):
            raise ScaffoldError(
                f"{config} already loads modules from `modules_dir: {have}`; move the module there "
                f"(or use --dir {have})"
            )
    mods = before.get("modules")
    if isinstance(mods, dict) and name in mods:
        entry = mods[name]
        if isinstance(entry, dict) and entry.get("enabled") is False:
            raise ScaffoldError(f"{config} has `{name}` with `enabled: false`; set it to true there")
    else:
        entry_text = f"  {name}:\n    enabled: true\n"
        if isinstance(mods, dict) and mods and (m := _TOP_MODULES.search(text)):
            # the block's own indentation, after its last line, before the next top-level key
            rest = text[m.end() + 1 :]
            nxt = _TOP_KEY.search(rest)
            block = rest[: nxt.start()] if nxt else rest
            child = re.search(r"^([ \t]+)\S", block, re.M)
            ind = child.group(1) if child else "  "
            entry_text = f"{ind}{name}:\n{ind}{ind}enabled: true\n"
            body = block.rstrip("\n")
            end = m.end() + 1 + len(body)
            lines = body.split("\n")
            # blank and top-level comment lines at the block's end belong to what follows
            while lines and (not lines[-1].strip() or lines[-1].startswith("#")):
                end -= len(lines.pop()) + 1
            text = text[:end] + "\n" + entry_text + text[end + 1 :]
        elif mods is None and "modules" not in before:
            text = text + ("" if text.endswith("\n") or not text else "\n") + "\nmodules:\n" + entry_text
        elif not mods and (m := _TOP_MODULES_EMPTY.search(text)):
            text = text[: m.start()] + "modules:\n" + entry_text + text[m.end() + 1 :]
        else:
            raise ScaffoldError(
                f"cannot add `{name}` to the `modules:` of {config} (a flow-style mapping?); add "
                f"these lines under `modules:` yourself:\n  {name}:\n    enabled: true"
            )
        changes.append(f"enabled `{name}` under `modules:`")
    # check: loads, keeps what was there, enables the module
    try:
        after = parse_config_text(text, str(config))
    except ConfigError as e:
        raise ScaffoldError(f"enabling {name} in {config} would make it invalid:\n{e.render()}") from None
    kept_p = set(before.get("providers") or {}) <= set(after.providers)
    kept_m = set(mods or {}) <= set(after.modules)
    if not (kept_p and kept_m and name in after.modules):
        raise ScaffoldError(f"could not enable {name} in {config} safely; add it under `modules:` yourself")
    from leash_cli.registry import build_slots

    try:
        build_slots(LoadedConfig(after, config.resolve(), "flag"))
    except ConfigError as e:
        raise ScaffoldError(f"{config} with {name} enabled does not load:\n{e.render()}") from None
    return text, changes
