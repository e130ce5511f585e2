from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: builds a large database (deselect with -m 'not slow')")


@pytest.fixture
def rich_db(tmp_path: Path) -> Path:
    from tuidata import build_rich

    path = tmp_path / "rich.db"
    build_rich(path)
    return path


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
