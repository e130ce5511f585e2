"""secrets-detector: provider and cloud credentials pasted into prompts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from leash_cli.modules._scanning import ScanModule, ScanSettings
from leash_cli.scanners import SecretsScanner


class SecretsDetector(ScanModule):
    """Finds API keys, tokens, private keys and passwords in URLs (placeholders are not secrets)."""

    name = "secrets-detector"
    severity = "critical"
    sensitive = True

    class Settings(ScanSettings):
        action: Literal["block", "redact", "log"] = Field("block", description="block, redact or log")
        types: list[str] | None = Field(None, description="secret types to look for (default: all)")
        patterns: dict[str, str] = Field(default_factory=dict, description="extra types: NAME -> regular expression")

    def __init__(self, settings: SecretsDetector.Settings, context=None) -> None:
        super().__init__(settings, context)
        self.scanners = [SecretsScanner(types=settings.types, custom_patterns=settings.patterns or None)]
