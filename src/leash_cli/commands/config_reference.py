"""``leash config reference``: print the configuration reference (docs/configuration.md)."""

from __future__ import annotations

import sys


def reference() -> None:
    """Print the reference of every config key as Markdown (the text of docs/configuration.md)."""
    from leash_cli.config_reference import render_reference

    sys.stdout.write(render_reference())
