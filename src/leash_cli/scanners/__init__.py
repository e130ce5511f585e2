"""leash scanner engine: PII, secrets and prompt-injection detection.

Pure Python (stdlib ``re`` only), no models, no downloads, no framework
dependencies.  Typical use::

    from leash_cli.scanners import PiiScanner, SecretsScanner, InjectionScanner, redact

    findings = PiiScanner().scan(text) + SecretsScanner().scan(text)
    safe = redact(text, findings)          # "mail [EMAIL] key [OPENAI_API_KEY]"

All findings carry ``start``/``end`` indices into the ORIGINAL text, even when
the match was made on the normalised view (zero-width characters, fullwidth
digits, homoglyphs ...).  ``Finding.text`` is the raw matched value: use
``mask()`` / ``Finding.to_dict()`` before logging it.
"""

from .engine import (
    Finding,
    Scanner,
    StreamRedactor,
    mask,
    merge_findings,
    redact,
    scan_all,
)
from .injection import INJECTION_TYPE, InjectionScanner
from .normalize import Normalized, normalize
from .pii import PII_ENTITIES, PiiScanner
from .secrets import SECRET_TYPES, SecretsScanner

__all__ = [
    "Finding",
    "Scanner",
    "PiiScanner",
    "SecretsScanner",
    "InjectionScanner",
    "StreamRedactor",
    "mask",
    "redact",
    "merge_findings",
    "scan_all",
    "normalize",
    "Normalized",
    "PII_ENTITIES",
    "SECRET_TYPES",
    "INJECTION_TYPE",
]
