"""Azure OpenAI: OpenAI's wire format below a resource's ``/openai/`` path.

Two path shapes, both below ``https://RESOURCE.openai.azure.com``:

* ``openai/deployments/{deployment}/chat/completions?api-version=...`` (and ``completions``,
  ``embeddings``, ...): the deployment in the path picks the model;
* ``openai/v1/chat/completions``, ``openai/v1/responses``, ``openai/v1/embeddings`` (and
  ``openai/responses?api-version=...``): the body's ``model`` names the deployment.

Either way the *deployment* is what the request names; the provider's ``deployments: {name:
model}`` map (``Provider.model_for``) says which model it serves, for pricing and
model-policy.  The key goes in ``api-key`` (or an Entra ID token as a bearer token:
``credentials/entra.py``).  Bodies, streams, usage and errors are OpenAI's.
"""

from __future__ import annotations

from typing import Any, ClassVar

from leash_cli.dialects.openai import OpenAI

__all__ = ["DIALECT", "Azure", "deployment_of"]


def deployment_of(rest: str) -> str | None:
    """The deployment a ``.../deployments/{deployment}/...`` path names (None: not such a path)."""
    head, sep, tail = rest.partition("deployments/")
    if not sep or (head and not head.endswith("/")):
        return None
    dep = tail.split("/", 1)[0]
    return dep or None


class Azure(OpenAI):
    name: ClassVar[str] = "azure"
    key_header: ClassVar[str] = "api-key"
    key_prefix: ClassVar[str] = ""
    path_prefixes: ClassVar[tuple[str, ...]] = ("openai/",)
    pricing_id: ClassVar[str | None] = "azure"

    def request_model(self, rest: str, body: Any, query: str | None = None) -> tuple[str | None, bool]:
        model, stream = super().request_model(rest, body, query)
        dep = deployment_of(rest)
        return (dep if dep is not None else model), stream

    def with_model(self, rest: str, body: bytes | None, model: str) -> tuple[str, bytes | None]:
        if deployment_of(rest) is not None:
            return self.path_with_model(rest, model), body
        return super().with_model(rest, body, model)

    def path_with_model(self, path: str, model: str) -> str:
        head, sep, tail = path.partition("deployments/")
        if not sep:
            return path
        _, slash, after = tail.partition("/")
        return f"{head}{sep}{model}{slash}{after}"


DIALECT = Azure()
