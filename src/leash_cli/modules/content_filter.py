"""content-filter: blocked keywords (whole words) and patterns in message text."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from leash_cli.modules._scanning import ScanModule, ScanSettings
from leash_cli.scanners import Finding


class KeywordScanner:
    """Whole-word keywords (one compiled alternation) and regular expressions."""

    def __init__(self, keywords: list[str], patterns: list[str], case_sensitive: bool) -> None:
        flags = 0 if case_sensitive else re.IGNORECASE
        words = sorted({k for k in keywords if k}, key=len, reverse=True)
        self.words = (
            re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", flags) if words else None
        )
        self.patterns = [re.compile(p, flags) for p in patterns]

    def scan(self, text: str) -> list[Finding]:
        out = []
        if self.words is not None:
            for m in self.words.finditer(text):
                out.append(Finding("content-filter", "BLOCKED_KEYWORD", m.start(), m.end(), 1.0, m.group()))
        for rx in self.patterns:
            for m in rx.finditer(text):
                if m.end() > m.start():
                    out.append(Finding("content-filter", "BLOCKED_PATTERN", m.start(), m.end(), 1.0, m.group()))
        return out


class ContentFilter(ScanModule):
    """Blocks, redacts or logs blocked keywords and patterns in the messages (never in JSON keys)."""

    name = "content-filter"
    severity = "medium"
    priority = 40

    class Settings(ScanSettings):
        blocked_keywords: list[str] = Field(default_factory=list, description="words or phrases, matched whole")
        blocked_patterns: list[str] = Field(default_factory=list, description="regular expressions")
        case_sensitive: bool = Field(False, description="match case exactly")
        action: Literal["block", "redact", "log"] = Field("block", description="block, redact or log")
        check_requests: bool = Field(True, description="filter what is sent to the model")
        check_responses: bool = Field(False, description="filter what the model answers")
        redaction_text: str = Field("[REDACTED]", description="replacement for a match when redacting")

        @field_validator("blocked_patterns")
        @classmethod
        def _valid(cls, v: list[str]) -> list[str]:
            for p in v:
                try:
                    re.compile(p)
                except re.error as e:
                    raise ValueError(f"{p!r} is not a valid regular expression: {e}") from None
            return v

    def __init__(self, settings: ContentFilter.Settings, context=None) -> None:
        settings.placeholder = settings.redaction_text.replace("{", "{{").replace("}", "}}")
        super().__init__(settings, context)
        self.scanners = [KeywordScanner(settings.blocked_keywords, settings.blocked_patterns, settings.case_sensitive)]
