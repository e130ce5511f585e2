"""leash: a local-first security gateway for LLM APIs."""

__version__ = "0.1.0"

__all__ = ["__version__"]
