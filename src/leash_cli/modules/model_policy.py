"""model-policy: which providers and models may be used, output caps, required parameters."""

from __future__ import annotations

import fnmatch

from pydantic import Field

from leash_cli.decision import Decision, block
from leash_cli.exchange import Exchange, Violation
from leash_cli.modules._common import Settings, max_output_tokens


def _match(name: str | None, patterns: list[str]) -> bool:
    return name is not None and any(fnmatch.fnmatchcase(name, p) for p in patterns)


class ModelPolicy:
    """Allow-lists and block-lists for providers and models (glob patterns), a max_tokens cap, required params."""

    name = "model-policy"
    version = "1.0"
    priority = 5
    offload = "never"  # cheap and bounded: runs on the event loop

    class Settings(Settings):
        allowed_providers: list[str] | None = Field(None, description="only these providers (default: all)")
        blocked_providers: list[str] = Field(default_factory=list, description="never these providers")
        allowed_models: list[str] | None = Field(None, description="only models matching these globs")
        blocked_models: list[str] = Field(default_factory=list, description="never models matching these globs")
        max_tokens: int | None = Field(None, ge=1, description="cap on the output tokens a request may ask for")
        required_params: list[str] = Field(
            default_factory=list, description="top-level body fields every request must set, e.g. user"
        )

    def __init__(self, settings: ModelPolicy.Settings, context=None) -> None:
        self.s = settings

    def _deny(self, kind: str, msg: str) -> Decision:
        return block(
            msg, status=403, code="model_not_allowed", violations=[Violation(self.name, kind, "block", "medium", msg)]
        )

    def policy(self, ex: Exchange) -> Decision | None:
        s = self.s
        if s.allowed_providers is not None and ex.provider not in s.allowed_providers:
            return self._deny("PROVIDER_NOT_ALLOWED", f"provider {ex.provider!r} is not allowed")
        if ex.provider in s.blocked_providers:
            return self._deny("PROVIDER_BLOCKED", f"provider {ex.provider!r} is blocked")
        if ex.model is not None:
            if s.allowed_models is not None and not _match(ex.model, s.allowed_models):
                return self._deny("MODEL_NOT_ALLOWED", f"model {ex.model!r} is not allowed")
            if _match(ex.model, s.blocked_models):
                return self._deny("MODEL_BLOCKED", f"model {ex.model!r} is blocked")
        if s.required_params and ex.method == "POST":
            body = ex.json()
            missing = [p for p in s.required_params if not isinstance(body, dict) or p not in body]
            if missing:
                return block(
                    f"request is missing required parameter(s): {', '.join(missing)}",
                    status=400,
                    code="missing_parameter",
                    violations=[Violation(self.name, "MISSING_PARAMETER", "block", "low", ", ".join(missing))],
                )
        return None

    def transform(self, ex: Exchange) -> Decision | None:
        cap = self.s.max_tokens
        if cap is None or ex.method != "POST":
            return None
        body = ex.json()
        if not isinstance(body, dict):
            return None
        asked = max_output_tokens(ex)
        if asked is not None and asked <= cap:
            return None
        if not ex.dialect.cap_output_tokens(body, ex.path, cap):
            return None
        ex.set_json(body)
        return Decision("annotate", annotations={"max_tokens_capped": cap})
