"""Vertex AI: the dialect of a call by its publisher, the model and stream flag from the path,
a fallback's model written into the path, the project and location a path names, and the
pricing of Vertex model ids."""

from __future__ import annotations

import orjson
import pytest

from leash_cli.dialects import ANTHROPIC, DIALECTS, GOOGLE, VERTEX, for_provider, provider_api
from leash_cli.dialects.base import Usage
from leash_cli.dialects.vertex import ANTHROPIC_VERTEX, api_of, scope_of
from leash_cli.pricing import Pricer

G = "v1beta1/projects/p-1/locations/us-central1/publishers/google/models/gemini-2.0-flash"
A = "v1/projects/p-1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514"


@pytest.mark.parametrize(
    "rest,api",
    [
        (G + ":generateContent", "vertex"),
        (G + ":streamGenerateContent", "vertex"),
        (G + ":countTokens", "vertex"),
        (A + ":rawPredict", "vertex-anthropic"),
        (A + ":streamRawPredict", "vertex-anthropic"),
        ("v1/projects/p-1/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict", "vertex-anthropic"),
        ("v1/projects/p-1/locations/us-east5/endpoints", "vertex"),
    ],
)
def test_the_publisher_in_the_path_picks_the_dialect(rest, api):
    assert api_of(rest) == provider_api("vertex", rest) == api
    assert for_provider("vertex", rest) is DIALECTS[api]


def test_gemini_on_vertex_is_geminis_dialect_with_vertex_paths():
    assert isinstance(VERTEX, type(GOOGLE)) and VERTEX.pricing_id == "google"
    assert VERTEX.request_model(G + ":streamGenerateContent", {}, "alt=sse") == ("gemini-2.0-flash", True)
    assert VERTEX.request_model(G + ":streamGenerateContent", {}, "") == ("gemini-2.0-flash", False)  # a JSON array
    assert VERTEX.with_model(G + ":generateContent", b"{}", "gemini-2.5-pro")[0].endswith(
        "models/gemini-2.5-pro:generateContent"
    )
    assert VERTEX.upstream_rest("projects/p/locations/l/x") == "v1/projects/p/locations/l/x"
    assert VERTEX.upstream_rest(G) == G
    assert orjson.loads(VERTEX.error_body(403, "no"))["error"]["status"] == "PERMISSION_DENIED"


def test_anthropic_on_vertex_takes_the_model_and_stream_from_the_path():
    d = ANTHROPIC_VERTEX
    body = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 10, "messages": [], "stream": True}
    assert d.request_model(A + ":streamRawPredict", body) == ("claude-sonnet-4@20250514", True)
    assert d.request_model(A + ":rawPredict", {"messages": []}) == ("claude-sonnet-4@20250514", False)
    # %40 on the wire is the same model
    assert d.request_model(A.replace("@", "%40") + ":rawPredict", {})[0] == "claude-sonnet-4@20250514"
    count = "v1/projects/p/locations/l/publishers/anthropic/models/count-tokens:rawPredict"
    assert d.request_model(count, {"model": "claude-3-5-haiku@20241022"}) == ("claude-3-5-haiku@20241022", False)
    rest, same = d.with_model(A + ":rawPredict", b'{"messages": []}', "claude-opus-4-1@20250805")
    assert rest.endswith("models/claude-opus-4-1@20250805:rawPredict") and same == b'{"messages": []}'
    # the rest is Anthropic's: texts, usage, stream events, errors
    msgs = {"messages": [{"role": "user", "content": "hi there"}]}
    assert d.request_texts(msgs) == ANTHROPIC.request_texts(msgs)
    assert d.error_event(d.error_body(400, "x")).startswith(b"event: error\n")
    path, _, built = d.build_request("claude-3-5-haiku@20241022", [{"role": "user", "content": "hi"}], None, True)
    assert path.endswith("models/claude-3-5-haiku@20241022:streamRawPredict")
    assert "model" not in built and built["anthropic_version"] == "vertex-2023-10-16"


def test_scope_of_a_path():
    assert scope_of(G + ":generateContent") == ("p-1", "us-central1")
    assert scope_of("projects/my%2Dp/locations/global/publishers/google/models/m:x") == ("my-p", "global")
    assert scope_of("v1/publishers/google/models/m") is None


@pytest.mark.parametrize(
    "model,provider,inp,out",
    [
        ("gemini-2.0-flash", "google", 0.10, 0.40),
        ("publishers/google/models/gemini-2.0-flash", "google", 0.10, 0.40),
        ("claude-sonnet-4@20250514", "anthropic", 3.0, 15.0),
        ("claude-opus-4-1@20250805", "anthropic", 15.0, 75.0),
        ("claude-3-5-haiku@20241022", "anthropic", 0.8, 4.0),
    ],
)
def test_vertex_model_ids_are_priced(model, provider, inp, out):
    r = Pricer().rates("vertex", model, "vertex")
    assert r is not None and (r.provider, r.input, r.output) == (provider, inp, out)
    cost, _ = Pricer().price("vertex", model, Usage(input_tokens=1_000_000, output_tokens=1_000_000), "vertex")
    assert cost == pytest.approx(inp + out)


def test_an_unknown_vertex_model_is_unpriced_not_free():
    assert Pricer().price("vertex", "mystery-model-9", Usage(input_tokens=10, output_tokens=10), "vertex") == (
        None,
        None,
    )
