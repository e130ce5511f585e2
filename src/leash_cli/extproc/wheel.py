"""A wheel of the leash that is running, for the module host image of ``leash export compose``.

The image installs leash from this wheel (its dependencies from the package index), so
the deployment runs exactly the leash that exported it, whether or not that version
was ever published:

- from a source checkout (an editable install): the wheel is built from the
  repository, with hatchling in this process when it is installed, else with
  ``pip wheel --no-deps`` (which fetches hatchling into an isolated build env);
- from an installed wheel: the installed files are packed again into a wheel
  (the files of ``RECORD``, which are the wheel's contents).

Both are reproducible: building twice from the same files gives the same bytes.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata
import io
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from leash_cli import __version__

DIST = "leash-cli"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # .../leash_cli
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class WheelError(RuntimeError):
    """No wheel could be made; the message says why and what to do."""


def wheel_name(version: str = __version__) -> str:
    return f"leash_cli-{version}-py3-none-any.whl"


def source_root() -> Path | None:
    """The repository this leash runs from (an editable install), or None."""
    root = _PACKAGE_DIR.parent.parent
    pyproject = root / "pyproject.toml"
    if _PACKAGE_DIR.parent.name != "src" or not pyproject.is_file():
        return None
    if not re.search(r'^name\s*=\s*"leash-cli"', pyproject.read_text(encoding="utf-8"), re.M):
        return None
    return root


def build_wheel(dest_dir: Path) -> Path:
    """Write the wheel of the running leash into `dest_dir`; returns its path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    root = source_root()
    if root is not None:
        return _from_source(root, dest_dir)
    return _repack_installed(dest_dir)


def _from_source(root: Path, dest_dir: Path) -> Path:
    try:
        from hatchling.builders.wheel import WheelBuilder
    except ImportError:
        pass  # no hatchling here: pip builds it below
    else:
        built = list(WheelBuilder(str(root)).build(directory=str(dest_dir), versions=["standard"]))
        return Path(built[0])
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp, str(root)],
                           capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("leash_cli-*.whl"))
        if r.returncode != 0 or not wheels:
            raise WheelError(f"could not build a leash wheel from {root} (`pip wheel --no-deps`):\n"
                             f"{(r.stderr or r.stdout).strip()[-2000:]}\n"
                             "install hatchling (pip install hatchling) to build it without the network")
        target = dest_dir / wheels[0].name
        target.write_bytes(wheels[0].read_bytes())
        return target


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _repack_installed(dest_dir: Path, dist: importlib.metadata.Distribution | None = None) -> Path:
    """The installed leash (`dist`, default: the one importlib finds) packed into a wheel again."""
    if dist is None:
        try:
            dist = importlib.metadata.distribution(DIST)
        except importlib.metadata.PackageNotFoundError:
            raise WheelError("leash is neither installed as a package nor run from its source checkout, "
                             "so no wheel can be made for the image") from None
    files = dist.files or []
    dist_info = f"leash_cli-{dist.version}.dist-info"
    skip = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    entries: list[tuple[str, bytes]] = []
    for f in files:
        parts = f.parts
        if not parts or "__pycache__" in parts or f.suffix == ".pyc" or parts[0].startswith(".."):
            continue
        if parts[0] == "leash_cli" or (parts[0].endswith(".dist-info") and parts[-1] not in skip):
            name = "/".join((dist_info, *parts[1:])) if parts[0].endswith(".dist-info") else "/".join(parts)
            entries.append((name, Path(f.locate()).read_bytes()))
    if not any(n == "leash_cli/cli.py" for n, _ in entries):
        raise WheelError(f"the installed {DIST} {dist.version} lists no leash_cli files (RECORD); "
                         "reinstall it (pip install --force-reinstall leash-cli) or export from a source checkout")
    entries.sort()
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in entries:
        writer.writerow([name, _record_hash(data), str(len(data))])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    target = dest_dir / wheel_name(dist.version)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in [*entries, (f"{dist_info}/RECORD", record.getvalue().encode())]:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buf.getvalue())
    return target
