"""prompt-injection: the layered detector (normalise and decode, rules, a shipped linear n-gram classifier).

Every text the model will read is scored on its own -- each message, each tool/function result,
each retrieved document or file part, image alt text -- and a finding says where it was found.
"""

from __future__ import annotations

import threading
from typing import Literal

from pydantic import Field

from leash_cli.exchange import Violation
from leash_cli.modules._scanning import ScanModule, ScanSettings
from leash_cli.scanners import InjectionScanner, mask
from leash_cli.scanners.injection import DEFAULT_SENSITIVITY, PRESETS, Sensitivity

_OPERATOR = frozenset(("system", "developer"))
_CONTENT_KINDS = frozenset(("tool_result", "document"))


class PromptInjection(ScanModule):
    """Scores instruction overrides, fake chat-template tags, system-prompt extraction, jailbreak personas and
    tool hijacking, in 20+ languages, after decoding base64/hex/rot13/URL-encoding and removing invisible characters."""

    name = "prompt-injection"
    severity = "high"

    class Settings(ScanSettings):
        action: Literal["block", "redact", "log"] = Field("block", description="block, redact or log")
        sensitivity: Sensitivity = Field(
            DEFAULT_SENSITIVITY,
            description="named threshold: low " + f"({PRESETS['low']}), medium ({PRESETS['medium']}), "
            f"high ({PRESETS['high']}, and read_long_texts on); `threshold` wins when set",
        )
        threshold: float | None = Field(
            None,
            ge=0,
            le=1,
            description="score at or above which text counts as injection (default: the sensitivity's)",
        )
        read_long_texts: bool | None = Field(
            None,
            description="the document model also reads every window of a text over 1,024 characters, not only "
            "where a rule or a strong stem pointed (finds instructions slipped into long documents without "
            "an attack's usual words; one more hashing pass, about 0.1-0.3 ms per 4 KB); default: on for tool "
            "results and documents, and at sensitivity high for every text",
        )
        check_responses: bool = Field(False, description="also score the model's answers")
        roles: list[str] | None = Field(
            None,
            description="only score texts of these roles (e.g. [user, tool]); default all but the system prompt "
            "(see scan_system)",
        )
        scan_system: bool = Field(
            False,
            description="also score the system / developer prompt (off by default: it is the operator's own "
            "instructions to the model, which is what the detector looks for; tool descriptions are scored "
            "either way)",
        )

    def __init__(self, settings: PromptInjection.Settings, context=None) -> None:
        super().__init__(settings, context)
        every = settings.read_long_texts
        main = InjectionScanner(threshold=settings.threshold, sensitivity=settings.sensitivity, read_long=every)
        self.scanners = [main]
        # third-party content -- tool and function results, documents -- is where an instruction slipped into a
        # long text comes from: the sweep reads it unless read_long_texts is false (a user's own long message is
        # read where a rule pointed: the sweep's hashing pass costs about 0.1 ms per 4 KB on every new one)
        self._content = (
            main
            if main.read_long or every is False
            else InjectionScanner(threshold=settings.threshold, sensitivity=settings.sensitivity, read_long=True)
        )
        # ...with a memory of its own: what one scanner found in a text is no answer for the other (a page first
        # pasted by a user, read where a rule pointed, must still be swept when it comes back as a tool's result)
        self._content_memory = self._new_memory()
        self._roles = set(settings.roles) if settings.roles else None
        self._scan_system = settings.scan_system
        # what request_texts learns of the request being judged (where each text comes from), for its findings:
        # per thread, since requests can be judged at once in the pipeline's worker threads (a stage runs in one)
        self._request = threading.local()

    def request_texts(self, ex):
        if self._roles is not None:
            texts = [t for t in ex.texts() if t.role in self._roles]
        elif self._scan_system:
            texts = ex.texts()
        else:  # the operator's system / developer prompt is instructions by design; a tool's description is not
            texts = [t for t in ex.texts() if not (t.role in _OPERATOR and t.kind == "text")]
        # where each text comes from (a tool result, a tool call's arguments, a message), for the findings
        self._request.where = {t.field: (t.kind if t.kind != "text" else t.role) for t in texts}
        return texts

    def scan_text(self, t):
        """A tool's result or a document is read by the content scanner, which sweeps a long one (a short text is
        read whole either way: the two scanners differ only on texts over 1,024 characters)."""
        if self._content is self.scanners[0] or not (t.kind in _CONTENT_KINDS or t.role == "tool"):
            return self.scan(t.text)
        return self._remembered(t.text, self._content_memory, [self._content])

    def _violation(self, f, action: str, field: str | None) -> Violation:
        if field and not field.startswith("response"):
            where = getattr(self._request, "where", {}).get(field, "")
        else:
            where = "response"
        reason = getattr(f, "reason", "")
        detail = f"{f.type}: {mask(f.text)}"
        if reason:
            detail += f" ({reason}{'; in ' + where if where else ''})"
        return Violation(self.name, f.type, action, self.severity, detail, f.start, f.end, field, round(f.score, 4))
