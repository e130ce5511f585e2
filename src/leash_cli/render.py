"""Render a folder of templates (``templates/...``) into a target folder.

Templates use ``string.Template`` placeholders (``${name}``) filled from a
context of values leash computes; a value that lands in YAML is passed in
already quoted (JSON or ``yaml.safe_dump``).  Substitution is one pass: a
``$`` inside a value is never expanded again.

Re-rendering is idempotent and safe: a manifest (``.leash-export.json``)
keeps the hash of every file written, so an unchanged file is reported
``unchanged`` and a file the user edited since is ``kept`` unless ``force``.
A template named ``NAME.tmpl`` is written as ``NAME``; ``dot.NAME`` as ``.NAME``
(some packagers drop dotfiles).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from string import Template

MANIFEST = ".leash-export.json"

# statuses
CREATED, UPDATED, UNCHANGED, KEPT, OVERWRITTEN = "created", "updated", "unchanged", "kept", "overwritten"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _target_name(rel: Path) -> Path:
    name = rel.name
    if name.endswith(".tmpl"):
        name = name[: -len(".tmpl")]
    if name.startswith("dot."):
        name = "." + name[len("dot."):]
    return rel.with_name(name)


def render_tree(template_dir: Path | str, out_dir: Path | str, context: dict[str, str],
                force: bool = False, extra: dict[str, str] | None = None) -> list[tuple[Path, str]]:
    """Render every file of `template_dir` into `out_dir`; returns (path, status) per file.

    `extra` maps relative paths to contents written the same way (files with
    no template, e.g. a copied config).  Placeholders missing from `context`
    are an error (``KeyError``), not silently left in.
    """
    template_dir, out_dir = Path(template_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        manifest = {}
    planned: list[tuple[Path, bytes]] = []
    for src in sorted(p for p in template_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = _target_name(src.relative_to(template_dir))
        text = Template(src.read_text(encoding="utf-8")).substitute(context)
        planned.append((rel, text.encode("utf-8")))
    for name, extra_text in (extra or {}).items():
        planned.append((Path(name), extra_text.encode("utf-8")))
    results: list[tuple[Path, str]] = []
    new_manifest = dict(manifest)
    for rel, data in planned:
        dest = out_dir / rel
        key = rel.as_posix()
        new_hash = _sha(data)
        if dest.exists():
            current = _sha(dest.read_bytes())
            if current == new_hash:
                results.append((dest, UNCHANGED))
                new_manifest[key] = new_hash
                continue
            edited = manifest.get(key) != current  # not what we wrote last time
            if edited and not force:
                results.append((dest, KEPT))
                continue
            status = OVERWRITTEN if edited else UPDATED
        else:
            status = CREATED
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
        new_manifest[key] = new_hash
        results.append((dest, status))
    manifest_path.write_text(json.dumps({"generator": "leash export", "files": new_manifest}, indent=2,
                                        sort_keys=True) + "\n")
    return results
