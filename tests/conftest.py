from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

# Under PYTHONDONTWRITEBYTECODE=1 (set on some machines and images) every run would compile leash's
# modules and rewrite every test module's assertions again (pytest caches its rewrite only as
# bytecode): ~8 s of CPU in each test process, each xdist worker being one.  The test session
# writes the caches anyway, into __pycache__/ folders (ignored by git); the processes it starts
# read them.
sys.dont_write_bytecode = False

sys.path.insert(0, str(Path(__file__).parent))

from fake_upstream import FakeUpstream  # noqa: E402
from gateway_support import provider_block  # noqa: E402
from history.pg_support import pg_database, pg_url  # noqa: E402, F401  (PostgreSQL: one database per test session)
from leash_cli.config import LoadedConfig, parse_config_text  # noqa: E402
from leash_cli.server import GatewayThread, build_gateway  # noqa: E402


def _share_the_default_ssl_context() -> None:
    """Every HTTP client (``httpx.post``, each SDK client) builds an SSL context and loads the CA
    bundle into it, ~0.1 s of CPU; the tests make thousands.  The default one (verification on, no
    client certificate) is built once for each SSL_CERT_FILE / SSL_CERT_DIR and shared, as an
    application sharing one client would; any other is built as before.  (httpx, and httpcore2
    under httpx2, which the OpenAI and Anthropic SDKs use.)"""
    import functools

    def env() -> tuple[str | None, str | None]:
        return os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")

    import httpx._config
    import httpx._transports.default

    make = httpx._config.create_ssl_context

    @functools.cache
    def default(trust_env: bool, _env: tuple[str | None, str | None]) -> Any:
        return make(trust_env=trust_env)

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if verify is True and cert is None:
            return default(trust_env, env())
        return make(verify=verify, cert=cert, trust_env=trust_env)

    httpx._config.create_ssl_context = create_ssl_context  # type: ignore[assignment]
    httpx._transports.default.create_ssl_context = create_ssl_context  # type: ignore[assignment]
    try:
        import httpcore2
    except ImportError:  # SDKs on httpx
        return
    make2 = httpcore2.default_ssl_context

    @functools.cache
    def default2(_trust_env: bool, _env: tuple[str | None, str | None]) -> Any:
        return make2(_trust_env=_trust_env)

    httpcore2.default_ssl_context = lambda *, _trust_env=True: default2(_trust_env, env())


_share_the_default_ssl_context()


def _remember_the_cli_commands() -> None:
    """typer's ``CliRunner.invoke`` builds the click command tree from the Typer app on every call
    (~0.25 s of CPU: it evaluates every command's annotations), where ``leash`` builds it once per
    process.  The tree is built once for each app and rebuilt when the app's registered commands,
    groups or callback change; click makes a new context for every invocation of it."""
    import typer.testing

    build = typer.testing._get_command
    built: dict[int, tuple[Any, Any, Any]] = {}

    def shape(t: Any) -> Any:
        return (
            id(t.registered_callback),
            tuple(map(id, t.registered_commands)),
            tuple((id(g), shape(g.typer_instance)) for g in t.registered_groups),
        )

    def get_command(typer_instance: Any) -> Any:
        now = shape(typer_instance)
        hit = built.get(id(typer_instance))
        if hit is None or hit[0] is not typer_instance or hit[1] != now:
            hit = built[id(typer_instance)] = (typer_instance, now, build(typer_instance))
        return hit[2]

    typer.testing._get_command = get_command  # type: ignore[attr-defined]


_remember_the_cli_commands()


def pytest_configure(config: pytest.Config) -> None:
    """Collecting imports every test module and the SDKs (~600,000 objects that live until the end):
    while the heap grows, the cyclic collector would walk all of it again at each of its full
    collections (~1.5 s per test process).  It pauses until the tests are collected."""
    import gc

    gc.disable()


def pytest_collection_finish(session: pytest.Session) -> None:
    """What exists once the tests are collected lives until the end; moved out of the collector's
    reach (``gc.freeze``), it is not traversed again by every full collection of the run (~0.6 s
    each) and the five at its end (pytest's check for unraisable exceptions).  Then the collector
    runs as usual for the tests."""
    import gc

    gc.collect()
    gc.freeze()
    gc.enable()


CANARY_KEY = "sk-proj-CANARYkeyDoNotLeak0123456789abcdefABCDEF"


@pytest.fixture
def tmp_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest's ``tmp_path`` without its cost: pytest numbers a test's directory by listing the
    session's base directory, which by then holds a directory for every test before it (quadratic:
    ~2 s of CPU over the suite, every test having one through ``_isolated_home``).  This one is made
    in the same base directory with the same name prefix and a random suffix (``mkdtemp``, mode 0700)."""
    name = re.sub(r"\W", "_", request.node.name)[:30]
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=tmp_path_factory.getbasetemp()))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own leash home; no real keys or config leak in."""
    monkeypatch.setenv("LEASH_HOME", str(tmp_path / "home"))
    for var in (
        "LEASH_CONFIG",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_BASE_URL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


class RunningGateway:
    def __init__(self, url: str, gateway: Any, db_path: Path, thread: GatewayThread) -> None:
        self.url = url
        self.gateway = gateway
        self.db_path = db_path
        self.thread = thread

    def base(self, provider: str) -> str:
        return f"{self.url}/v1/{provider}"

    def flush(self) -> None:
        """Wait until every exchange in flight has ended (a client can read a stream's last event
        before the gateway hands the exchange's row to the recorder), then until the history
        writer has written everything submitted so far."""
        live = self.gateway.live
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and any(st.active > 0 for st in (live.state, *live.retired())):
            time.sleep(0.005)
        rec = self.gateway.recorder
        if rec is not None and hasattr(rec, "flush"):
            rec.flush()

    def rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """``sql`` over the history database, once everything in flight is written (flushed twice around a
        short pause: an exchange can hand over a second row, a stream's end, after its first)."""
        from leash_cli.store import open_readonly

        self.flush()
        time.sleep(0.05)
        self.flush()
        db = open_readonly(self.db_path)
        try:
            return [dict(r) for r in db.query(sql, params)]
        finally:
            db.close()


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty history database at the current schema, made once: a gateway's test starts from a
    copy of it rather than creating and migrating its own (~50 ms each; the migrations themselves
    are tested in tests/history/)."""
    from leash_cli.store import open_store

    path = tmp_path_factory.mktemp("template") / "leash.db"
    open_store(path).migrate()
    return path


@pytest.fixture
def start_gateway(tmp_path: Path, upstream: FakeUpstream, migrated_db: Path):
    started: list[GatewayThread] = []

    def start(config: dict[str, Any] | None = None, *, record: bool = True, providers_extra=None) -> RunningGateway:
        cfg = dict(config or {})
        cfg.setdefault("providers", provider_block(upstream, **(providers_extra or {})))
        # the history writer as a thread unless the test asks for the process (`leash up`'s default): a
        # writer process per test costs a second of CPU to start; the process is covered by the tests
        # that ask for it (tests/history/test_writer.py, the writer-process tests of the gateway)
        cfg["storage"] = {"writer": "thread", **(cfg.get("storage") or {})}
        db = tmp_path / "leash.db"
        storage = cfg["storage"]
        if record and storage.get("enabled", True) and not (db.exists() or storage.get("url") or storage.get("path")):
            shutil.copyfile(migrated_db, db)
            db.chmod(0o600)
        text = yaml.safe_dump(cfg)
        path = tmp_path / "leash.yaml"
        path.write_text(text)
        loaded = LoadedConfig(parse_config_text(text, str(path)), path, "flag")
        gw = build_gateway(loaded, db_path=db, record=record and _store_ready())
        thread = GatewayThread(gw)
        url = thread.start()
        started.append(thread)
        return RunningGateway(url, gw, db, thread)

    yield start
    for t in started:
        t.stop()


@pytest.fixture
def gateway(start_gateway) -> RunningGateway:
    return start_gateway()


def env_without_keys() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}


def _store_ready() -> bool:
    try:
        from leash_cli.store import Recorder  # noqa: F401
    except Exception:
        return False
    return True
