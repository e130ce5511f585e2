"""Run the scanner modules on text, without the gateway (like gitleaks for prompts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leash_cli.scanners import Finding

SCANNER_MODULES = ("pii-detector", "secrets-detector", "prompt-injection")


@dataclass
class ScanResult:
    findings: list[tuple[str, Finding, str]]  # (module, finding, action)
    decision: str  # allow | block | redact


class TextScanner:
    """The scanner modules, built once with their settings (defaults or from a config)."""

    def __init__(self, modules: list[str] | None = None, config: Any = None) -> None:
        from leash_cli.registry import ModuleContext, discover, instantiate

        reg = discover(entry_points=False)
        self.modules = []
        for name in modules or SCANNER_MODULES:
            info = reg.get(name)
            if info is None or not hasattr(info.cls, "scan"):
                known = ", ".join(n for n, i in reg.items() if i.cls is not None and hasattr(i.cls, "scan"))
                raise ValueError(f"{name!r} is not a scanner module (scanner modules: {known})")
            settings = {}
            if config is not None and name in config.modules:
                settings = config.modules[name].config
            self.modules.append(instantiate(info, settings, ModuleContext(name=name, config=config)))

    def scan(self, text: str) -> ScanResult:
        found = []
        decision = "allow"
        for m in self.modules:
            action = m.s.action
            for f in m.scan(text):
                found.append((m.name, f, action))
                if action == "block":
                    decision = "block"
                elif action == "redact" and decision == "allow":
                    decision = "redact"
        found.sort(key=lambda x: (x[1].start, x[1].end))
        return ScanResult(found, decision)


#: the fields of an exchange exported by `leash logs export --format jsonl` that hold its texts
EXCHANGE_TEXT_FIELDS = ("prompt_text", "response_text", "request_body", "response_body")


def texts_of(obj: Any) -> list[tuple[str | None, str]] | None:
    """The texts to scan in one JSON object, as (part, text): ``{"text": ...}`` is one text (part None);
    an exchange of ``leash logs export`` gives its ``request`` and ``response`` texts.  None: neither."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("text"), str):
        return [(None, obj["text"])]
    if not any(k in obj for k in EXCHANGE_TEXT_FIELDS):
        return None
    out: list[tuple[str | None, str]] = []
    request = obj.get("prompt_text")
    if not isinstance(request, str):  # not stored: read it from the stored body, if any
        from leash_cli.usage import prompt_text

        body = obj.get("request_body")
        if isinstance(body, str):
            try:
                import orjson

                body = orjson.loads(body)
            except ValueError:
                body = None
        request = prompt_text(body)
    if isinstance(request, str) and request:
        out.append(("request", request))
    response = obj.get("response_text")
    if isinstance(response, str) and response:
        out.append(("response", response))
    return out
