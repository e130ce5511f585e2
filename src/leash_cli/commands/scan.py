"""`leash scan`: the scanners on a file or standard input."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table


def scan(
    source: Annotated[str, typer.Argument(help="a file to scan, or - for standard input")] = "-",
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="text (the whole input) or jsonl (one JSON object "
            'per line: {"id":..., "text":...}, or the '
            "exchanges of `leash logs export --format jsonl`, "
            "whose request and response texts are scanned)",
        ),
    ] = "text",
    modules: Annotated[
        str | None,
        typer.Option(help="comma-separated scanner modules (default: pii-detector,secrets-detector,prompt-injection)"),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="take module settings from this config")] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="show why each finding fired (the detector's layers and reason, where a scanner gives them)",
        ),
    ] = False,
) -> None:
    """Scan text for PII, secrets and prompt injection; exit 1 when anything would be blocked."""
    from leash_cli.config import ConfigError, load_config
    from leash_cli.scan import TextScanner, texts_of
    from leash_cli.scanners import mask

    err = Console(stderr=True)
    if fmt not in ("text", "jsonl"):
        raise typer.BadParameter("text or jsonl", param_hint="--format")
    cfg = None
    if config is not None:
        try:
            cfg = load_config(config).config
        except ConfigError as e:
            err.print(f"[red]error:[/] {e.render()}", highlight=False)
            raise typer.Exit(2) from None
    names = [m.strip() for m in modules.split(",") if m.strip()] if modules else None
    try:
        scanner = TextScanner(names, cfg)
    except Exception as e:
        err.print(f"[red]error:[/] {e}", highlight=False)
        raise typer.Exit(2) from None
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as e:
        err.print(f"[red]error:[/] cannot read {source}: {e.strerror or e}")
        raise typer.Exit(2) from None
    text = data.decode("utf-8", errors="replace")
    blocked = False
    if fmt == "jsonl":
        out = sys.stdout
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
                parts = texts_of(obj)
                if parts is None:
                    raise ValueError(
                        "expected an object with a string `text`, or an exchange of `leash logs export --format jsonl`"
                    )
            except (orjson.JSONDecodeError, ValueError) as e:
                err.print(f"[red]error:[/] line {n}: {e}", highlight=False, soft_wrap=True)
                raise typer.Exit(2) from None
            findings: list[dict] = []
            decision = "allow"
            for part, part_text in parts:
                res = scanner.scan(part_text)
                if res.decision == "block" or (res.decision == "redact" and decision == "allow"):
                    decision = res.decision
                findings += [
                    {
                        "module": m,
                        "type": f.type,
                        **({"part": part} if part else {}),
                        "start": f.start,
                        "end": f.end,
                        "score": round(f.score, 4),
                        **(_why(f) if explain else {}),
                    }
                    for m, f, _ in res.findings
                ]
            blocked |= decision == "block"
            row = {"id": obj.get("id"), "findings": findings, "decision": decision}
            out.write(orjson.dumps(row).decode() + "\n")
        raise typer.Exit(1 if blocked else 0)
    res = scanner.scan(text)
    console = Console(width=None if sys.stdout.isatty() else 160)
    if not res.findings:
        console.print("no findings")
        raise typer.Exit(0)
    t = Table("module", "type", "position", "text", "action", "score", *(("layers", "reason") if explain else ()))
    for m, f, action in res.findings:
        line = text.count("\n", 0, f.start) + 1
        col = f.start - (text.rfind("\n", 0, f.start) + 1) + 1
        why = _why(f)
        t.add_row(
            m,
            f.type,
            f"{line}:{col} [{f.start}:{f.end}]",
            mask(f.text),
            action,
            f"{f.score:.2f}",
            *((", ".join(why.get("layers", [])) or "-", why.get("reason") or "-") if explain else ()),
        )
    console.print(t)
    console.print(f"decision: [bold]{res.decision}[/]")
    raise typer.Exit(1 if res.decision == "block" else 0)


def _why(f) -> dict:
    """The layers and reason a finding carries (prompt-injection findings do; others have neither)."""
    out: dict = {}
    layers = getattr(f, "layers", None)
    if layers:
        out["layers"] = list(layers)
    reason = getattr(f, "reason", None)
    if reason:
        out["reason"] = reason
    return out
