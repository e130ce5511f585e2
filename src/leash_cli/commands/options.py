"""What several commands read the same way from their options."""

from __future__ import annotations

import typer
from rich.console import Console


def since_option(since: str | None, err: Console) -> str | None:
    """``--since``: a duration ago (24h, 7d) or an ISO time, as ``leash logs --since`` reads it; a bad one is
    reported on ``err`` and exits 2."""
    from leash_cli.store.queries import parse_since

    try:
        return parse_since(since)
    except ValueError as e:
        err.print(f"[red]error:[/] --since: {e}", highlight=False)
        raise typer.Exit(2) from None
