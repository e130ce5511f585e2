"""Presets for OpenAI-compatible servers: ``preset: groq`` on a provider fills its endpoint,
the header its key goes in and the genai-prices provider id its models are priced under.

An explicit ``endpoint``, ``auth_header`` or ``pricing_provider`` on the provider wins over
the preset.  A preset's provider speaks the OpenAI wire format (``kind: openai``).  The key
itself is never implied: write ``api_key: ${GROQ_API_KEY}`` (``key_env`` is the variable the
docs and ``leash providers`` name), or let clients send their own.

Local servers (ollama, vllm, lmstudio) have no prices: their models are unpriced (cost NULL)
unless the config's ``pricing:`` table lists them, never priced as some cloud's model of the
same name.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

__all__ = ["PRESETS", "UNPRICED", "Preset", "PresetName"]

PresetName = Literal[
    "groq", "mistral", "together", "fireworks", "deepseek", "openrouter", "xai", "ollama", "vllm", "lmstudio"
]

#: ``pricing_provider`` value: price this provider's models only from the config's ``pricing:``
UNPRICED = "none"


class Preset(NamedTuple):
    endpoint: str
    auth_header: str  # the header the key goes in ("authorization": as a Bearer token)
    pricing_provider: str  # a genai-prices provider id, or UNPRICED
    key_env: str | None  # the variable the provider's own tools read the key from


PRESETS: dict[str, Preset] = {
    "groq": Preset("https://api.groq.com/openai/v1", "authorization", "groq", "GROQ_API_KEY"),
    "mistral": Preset("https://api.mistral.ai/v1", "authorization", "mistral", "MISTRAL_API_KEY"),
    "together": Preset("https://api.together.xyz/v1", "authorization", "together", "TOGETHER_API_KEY"),
    "fireworks": Preset("https://api.fireworks.ai/inference/v1", "authorization", "fireworks", "FIREWORKS_API_KEY"),
    "deepseek": Preset("https://api.deepseek.com/v1", "authorization", "deepseek", "DEEPSEEK_API_KEY"),
    "openrouter": Preset("https://openrouter.ai/api/v1", "authorization", "openrouter", "OPENROUTER_API_KEY"),
    "xai": Preset("https://api.x.ai/v1", "authorization", "x-ai", "XAI_API_KEY"),
    "ollama": Preset("http://127.0.0.1:11434/v1", "authorization", UNPRICED, None),
    "vllm": Preset("http://127.0.0.1:8000/v1", "authorization", UNPRICED, None),
    "lmstudio": Preset("http://127.0.0.1:1234/v1", "authorization", UNPRICED, None),
}
