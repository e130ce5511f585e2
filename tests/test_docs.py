"""The documentation runs: every example in README.md, CONTRIBUTING.md and docs/*.md is checked against the code.

- every fenced ``python`` block compiles, and every fenced ``yaml`` block parses; a block shaped like a
  leash config (its top-level keys are config keys) loads through leash's own config loader, and its
  built-in modules' settings validate;
- every ``leash ...`` command in a fenced ``sh`` block names a real command with real options;
- every command and option of the CLI, every error code, metric, history table and column is documented;
- docs/configuration.md is exactly what `leash config reference` prints;
- relative links between the pages point at files (and headings) that exist.

A block whose info string says ``no-check`` (```` ```yaml no-check ````) is only parsed.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.main
import yaml

from leash_cli.cli import app
from leash_cli.config import Config, ConfigError, LoadedConfig, parse_config_text
from leash_cli.config_reference import render_reference

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    info: str
    body: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _blocks() -> list[Block]:
    out = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            info = m.group("info").strip()
            lang = info.split()[0].lower() if info else ""
            body = "\n".join(line[len(m.group("indent")) :] for line in m.group("body").splitlines())
            out.append(Block(page, text.count("\n", 0, m.start()) + 1, lang, info, body))
    return out


BLOCKS = _blocks()
YAML_BLOCKS = [b for b in BLOCKS if b.lang in ("yaml", "yml")]
SH_BLOCKS = [b for b in BLOCKS if b.lang in ("sh", "bash", "shell", "console")]


def test_the_pages_have_examples():
    """The extraction itself works: a broken fence pattern would make every test below vacuous."""
    assert len(YAML_BLOCKS) >= 10 and len(SH_BLOCKS) >= 15
    assert any(b.page.name == "README.md" for b in YAML_BLOCKS)


# -- yaml ---------------------------------------------------------------------


def _is_config(data: object) -> bool:
    return isinstance(data, dict) and bool(data) and set(data) <= set(Config.model_fields)


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=str)
def test_yaml_example_is_valid(block: Block, tmp_path, monkeypatch):
    try:
        data = yaml.safe_load(block.body)
    except yaml.YAMLError as e:
        pytest.fail(f"{block}: not valid YAML: {e}")
    if "no-check" in block.info or not _is_config(data):
        return
    try:
        cfg = parse_config_text(block.body, str(block))
    except ConfigError as e:
        pytest.fail(f"{block}: not a valid leash config:\n{e.render()}")
    _check_builtin_module_settings(block, cfg, tmp_path, monkeypatch)


def _check_builtin_module_settings(block: Block, cfg: Config, tmp_path: Path, monkeypatch) -> None:
    """Built-in modules' settings validate as at start-up (other modules are the reader's own)."""
    from leash_cli.registry import BUILTINS, build_slots

    builtin = {name: m for name, m in cfg.modules.items() if name in BUILTINS}
    if not builtin:
        return
    monkeypatch.setenv("LEASH_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    only = cfg.model_copy(
        update={
            "modules": builtin,
            "modules_dir": None,
            "tenants": {
                name: t.model_copy(update={"policies": [p for p in (t.policies or []) if p in BUILTINS] or None})
                for name, t in cfg.tenants.items()
            },
        }
    )
    try:
        build_slots(LoadedConfig(only, None, "docs"))
    except ConfigError as e:
        pytest.fail(f"{block}: module settings do not load:\n{e.render()}")


# -- python -------------------------------------------------------------------

PY_BLOCKS = [b for b in BLOCKS if b.lang in ("python", "py")]


@pytest.mark.parametrize("block", PY_BLOCKS, ids=str)
def test_python_example_compiles(block: Block):
    try:
        compile(block.body, str(block), "exec")
    except SyntaxError as e:
        pytest.fail(f"{block}: {e}")


# -- sh -----------------------------------------------------------------------


# typer builds click commands (its own copy of click in recent versions): read them by duck typing
CLI = typer.main.get_command(app)


def _subcommands(cmd) -> dict:
    return getattr(cmd, "commands", None) or {}


def _is_group(cmd) -> bool:
    return hasattr(cmd, "commands")


def _options(cmd) -> list:
    return [p for p in cmd.params if p.param_type_name == "option"]


def _leash_commands(body: str) -> list[list[str]]:
    """The argument lists of every `leash ...` command in a shell block."""
    text = re.sub(r"\\\n", " ", body)
    out = []
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            tokens = list(lexer)
        except ValueError as e:  # an unbalanced quote
            raise AssertionError(f"cannot parse shell line {line!r}: {e}") from None
        cmd: list[str] = []
        for tok in [*tokens, ";"]:
            if tok and set(tok) <= set("|&;()"):
                if cmd:
                    out.append(cmd)
                cmd = []
            else:
                cmd.append(tok)
    found = []
    for cmd in out:
        while cmd and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", cmd[0]):  # VAR=value leash ...
            cmd = cmd[1:]
        if cmd and cmd[0].rsplit("/", 1)[-1] == "leash":
            found.append(cmd[1:])
    return found


def _check_command(args: list[str]) -> str | None:
    """None when `leash ARGS` names a real command with real options, else what is wrong."""
    cmd = CLI
    path = ["leash"]
    rest = list(args)
    while _is_group(cmd) and rest and not rest[0].startswith("-"):
        sub = _subcommands(cmd).get(rest[0])
        if sub is None:
            if cmd is CLI or not _takes_arguments(cmd):
                return f"`{' '.join(path)}` has no command {rest[0]!r}"
            break
        path.append(rest.pop(0))
        cmd = sub
    if _is_group(cmd) and not rest:
        return None  # `leash keys` alone prints its help
    options = {opt: p for p in _options(cmd) for opt in (*p.opts, *p.secondary_opts)}
    options["--help"] = None
    expect_value = False
    for tok in rest:
        if expect_value:
            expect_value = False
            continue
        if tok == "-" or not tok.startswith("-") or re.fullmatch(r"-\d+(\.\d+)?", tok):
            continue
        name = tok.split("=", 1)[0]
        if name not in options:
            return f"`{' '.join(path)}` has no option {name!r} (it has: {', '.join(sorted(options))})"
        param = options[name]
        expect_value = param is not None and not param.is_flag and "=" not in tok
    return None


def _takes_arguments(cmd) -> bool:
    return any(p.param_type_name == "argument" for p in cmd.params)


@pytest.mark.parametrize("block", SH_BLOCKS, ids=str)
def test_shell_example_uses_real_commands(block: Block):
    problems = [
        f"leash {' '.join(args)}: {why}" for args in _leash_commands(block.body) if (why := _check_command(args))
    ]
    assert not problems, f"{block}:\n" + "\n".join(problems)


def test_the_command_checker_catches_mistakes():
    assert _check_command(["logs", "export", "--format", "csv", "--since", "7d"]) is None
    assert _check_command(["scan", "-"]) is None
    assert _check_command(["logs", "show", "01JD3Z", "--json"]) is None
    assert "no command" in _check_command(["lgos"])
    assert "no option '--sinse'" in _check_command(["stats", "--sinse", "24h"])
    assert "no option '--tenant'" in _check_command(["up", "--tenant", "x"])
    assert _leash_commands("cat x | .venv/bin/leash scan --format jsonl -  # a comment\nleash tui") == [
        ["scan", "--format", "jsonl", "-"],
        ["tui"],
    ]


def _all_commands(cmd, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    out = [(path, cmd)]
    for name, sub in sorted(_subcommands(cmd).items()):
        if not sub.hidden:
            out += _all_commands(sub, (*path, name))
    return out


def test_every_command_and_option_is_documented():
    text = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    missing = []
    for path, cmd in _all_commands(CLI):
        if path and f"leash {' '.join(path)}" not in text:
            missing.append(f"command `leash {' '.join(path)}`")
        for p in _options(cmd):
            if not p.hidden:
                longs = [o for o in p.opts if o.startswith("--")]
                if longs and not any(re.search(rf"{re.escape(o)}\b", text) for o in longs):
                    missing.append(f"option {longs[0]} of `leash {' '.join(path)}`")
    assert not missing, "not documented in README.md or docs/:\n" + "\n".join(missing)


# -- interfaces named in the code --------------------------------------------

SRC = ROOT / "src" / "leash_cli"
ERROR_CODE_PATTERNS = (
    r'\bcode="([a-z_]+)"',  # block(..., code="budget_exceeded")
    r'reject\([^"\n]*?\b\d{3},\s*"([a-z_]+)"',  # _reject(send, ex, 401, "invalid_api_key", ...)
    r'Block\(\d{3},\s*"([a-z_]+)"',  # Block(503, "module_error", ...)
    r'Rejection\(\s*\d{3},\s*"([a-z_]+)"',  # Rejection(401, "invalid_api_key", ...)
    r'RouteError\(\d{3},\s*"[^"]*",\s*"([a-z_]+)"',  # RouteError(400, "...", "invalid_path")
)


def test_every_error_code_is_documented():
    source = "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.py"))
    codes = {c for pattern in ERROR_CODE_PATTERNS for c in re.findall(pattern, source)}
    assert len(codes) >= 15, f"the patterns found only {sorted(codes)}: update ERROR_CODE_PATTERNS"
    errors = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    missing = sorted(c for c in codes if f"`{c}`" not in errors)
    assert not missing, f"error codes missing from docs/errors.md: {missing}"


def test_every_metric_is_documented():
    from leash_cli.metrics import Metrics

    class Recorder:  # the store's counters are reported only with a recorder bound
        write_errors = rows_written = queue_depth = 0
        state = "ok"

    metrics = Metrics()
    metrics.bind_recorder(Recorder())
    exposed = {}
    for line in metrics.render().decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            exposed[name + "_total" if kind == "counter" and not name.endswith("_total") else name] = kind
    assert len(exposed) >= 10
    ops = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = sorted(n for n in exposed if f"`{n}`" not in ops)
    assert not missing, f"metrics missing from docs/operations.md: {missing}"


def test_every_table_and_column_is_documented(tmp_path):
    from leash_cli.store import open_writable

    db = open_writable(tmp_path / "leash.db")
    try:
        tables = {
            name: [row[1] for row in db.execute(f'PRAGMA table_info("{name}")').fetchall()]
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            if not name.startswith(("_sqlite", "sqlite_", "requests_fts_"))  # migrations and FTS5's shadow tables
        }
    finally:
        db.close()
    assert {"requests", "violations", "audit_log", "virtual_keys"} <= set(tables)
    history = (ROOT / "docs" / "history.md").read_text(encoding="utf-8")
    missing = [f"{t}.{c}" for t, cols in tables.items() for c in [None, *cols] if f"`{c or t}`" not in history]
    assert not missing, f"tables and columns missing from docs/history.md: {missing}"


# -- generated pages and links ------------------------------------------------


def test_ci_runs_the_readme_test_command():
    """.ci/run ends with the README's test command, verbatim: what CI checks is what a contributor runs."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip().splitlines()[-1]
    assert "python -m pytest" in ci
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"\n{ci}\n" in readme, f"README.md does not show .ci/run's command:\n{ci}"


def test_configuration_reference_is_generated():
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == render_reference(), (
        "docs/configuration.md is out of date: run `leash config reference > docs/configuration.md`"
    )


def test_configuration_reference_names_every_key():
    text = render_reference()
    for section, model in (
        ("gateway", Config.model_fields["gateway"].annotation),
        ("storage", Config.model_fields["storage"].annotation),
    ):
        for key in model.model_fields:
            assert f"`{section}.{key}`" in text
    assert "`providers.NAME.api_key`" in text and "`tenants.NAME.quotas.cost_limit_usd`" in text
    assert "`modules.NAME.conditions[].operator`" in text and "`modules.pii-detector.config.entities`" in text


LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)#\s]+)(#[^)\s]*)?\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lowercase, punctuation other than '-' and '_' dropped."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {
        "".join(c for c in h.strip().lower() if c.isalnum() or c in "-_ ").replace(" ", "-")
        for h in re.findall(r"^#{1,6} (.+)$", text, re.M)
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path):
    broken = []
    for target, anchor in LINK.findall(page.read_text(encoding="utf-8")):
        dest = page.parent / target
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor[1:] not in _anchors(dest):
            broken.append(target + anchor)
    assert not broken, f"{page.relative_to(ROOT)} links to missing files or headings: {broken}"
