"""pii-detector: emails, phone numbers, payment cards, US SSNs, IBANs and IP addresses."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, field_validator

from leash_cli.modules._scanning import ScanModule, ScanSettings
from leash_cli.scanners import PiiScanner

Entity = Literal["EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IBAN", "IP_ADDRESS"]


def _all_entities() -> list[Entity]:
    """Every entity type: the Literal lists the scanner's ``PII_ENTITIES`` (tests/modules keeps the two equal)."""
    return list(get_args(Entity))


class PiiDetector(ScanModule):
    """Finds personal data with patterns, checksums (Luhn, mod-97) and context; blocks, redacts or logs it."""

    name = "pii-detector"
    severity = "high"

    class Settings(ScanSettings):
        action: Literal["block", "redact", "log"] = Field("redact", description="block, redact or log")
        entities: list[Entity] = Field(default_factory=_all_entities,
                                       description="entity types to look for")
        patterns: dict[str, str] = Field(default_factory=dict,
                                         description="extra types: NAME -> regular expression")
        min_score: float = Field(0.5, ge=0, le=1, description="ignore findings scored below this")

        @field_validator("patterns")
        @classmethod
        def _compile(cls, v: dict[str, str]) -> dict[str, str]:
            import re

            for name, rx in v.items():
                try:
                    re.compile(rx)
                except re.error as e:
                    raise ValueError(f"pattern {name!r} is not a valid regular expression: {e}") from None
            return v

    def __init__(self, settings: PiiDetector.Settings, context=None) -> None:
        super().__init__(settings, context)
        self.scanners = [PiiScanner(entities=list(settings.entities), custom_patterns=settings.patterns or None,
                                    min_score=settings.min_score)]
