"""prompt-injection: a heuristic score over normalised prompt text."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from leash_cli.modules._scanning import ScanModule, ScanSettings
from leash_cli.scanners import InjectionScanner


class PromptInjection(ScanModule):
    """Scores instruction-override, role-spoofing and jailbreak markers (decoding base64/hex, folding homoglyphs)."""

    name = "prompt-injection"
    severity = "high"

    class Settings(ScanSettings):
        action: Literal["block", "redact", "log"] = Field("block", description="block, redact or log")
        threshold: float = Field(0.5, ge=0, le=1, description="score at or above which text counts as injection")
        check_responses: bool = Field(False, description="also score the model's answers")
        roles: list[str] | None = Field(None, description="only score texts of these roles "
                                                          "(e.g. [user, tool]); default all")

    def __init__(self, settings: "PromptInjection.Settings", context=None) -> None:
        super().__init__(settings, context)
        self.scanners = [InjectionScanner(threshold=settings.threshold)]
        self._roles = set(settings.roles) if settings.roles else None

    def request_texts(self, ex):
        if self._roles is None:
            return ex.texts()
        return [t for t in ex.texts() if t.role in self._roles]
