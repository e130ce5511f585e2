"""Locate the data folders (`templates/`, `configs/`) shipped with leash.

In a wheel they live inside the package (`leash_cli/_data/...`); in a source
checkout (editable install) they are the repository's top-level folders.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder `name` ("templates" or "configs")."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"leash data folder {name!r} is missing from this installation")


def default_config_path() -> Path:
    return data_dir("configs") / "default.yaml"
