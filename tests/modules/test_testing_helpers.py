"""leash_cli.testing: the helpers module authors test with."""

from __future__ import annotations

import asyncio
import logging

import httpx
import orjson
import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leash_cli.decision import annotate, block, redact
from leash_cli.exchange import Violation
from leash_cli.modules.content_filter import ContentFilter
from leash_cli.modules.model_policy import ModelPolicy
from leash_cli.pipeline import Block
from leash_cli.testing import (
    assert_allowed,
    assert_blocked,
    assert_redacted,
    load_module,
    make_exchange,
    run_module,
    run_pipeline,
    serve,
)


class Deny:
    """A small module for these tests."""

    name = "deny"

    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        word: str = Field("forbidden", description="the word")

    def __init__(self, settings, context=None):
        self.s = settings

    def policy(self, ex):
        if self.s.word in ex.prompt_text:
            return block(
                f"no {self.s.word}",
                code="deny_word",
                violations=[Violation(self.name, "WORD", "block", "low", self.s.word)],
            )
        return None


class Boom:
    name = "boom"

    def policy(self, ex):
        raise RuntimeError("kaput")


class Slow:
    name = "slow"
    timeout = 0.05

    async def policy(self, ex):
        await asyncio.sleep(1)


class Tagger:
    name = "tagger"

    async def inspect(self, ex):
        return annotate([Violation(self.name, "SEEN", "log")], seen=len(ex.texts()))


class Upper:
    name = "upper"

    def transform(self, ex):
        for t in ex.texts():
            ex.replace_text(t.path, t.text.upper())
        return redact()


# -- make_exchange --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "provider,api,path",
    [
        ("openai", "openai", "chat/completions"),
        ("anthropic", "anthropic", "v1/messages"),
        ("google", "google", "v1beta/models/gemini-2.0-flash:generateContent"),
        ("mock", "openai", "chat/completions"),
        ("vertex", "vertex", "v1/projects/-/locations/-/publishers/google/models/gemini-2.0-flash:generateContent"),
    ],
)
def test_make_exchange_speaks_each_schema(provider, api, path):
    ex = make_exchange(
        provider,
        "the question",
        system="be brief",
        messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    )
    assert (ex.api, ex.kind, ex.provider, ex.path, ex.method) == (api, provider, provider, path, "POST")
    roles = [(t.role, t.text) for t in ex.texts()]
    assistant = "model" if api in ("google", "vertex") else "assistant"
    assert roles == [("system", "be brief"), ("user", "hi"), (assistant, "hello"), ("user", "the question")]
    assert ex.prompt_text.endswith("the question")
    body = ex.json()
    if api in ("google", "vertex"):
        assert body["contents"][-1] == {"role": "user", "parts": [{"text": "the question"}]}
        assert body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    elif api == "anthropic":
        assert body["system"] == "be brief" and body["max_tokens"] > 0
    else:
        assert body["messages"][0] == {"role": "system", "content": "be brief"}


def test_make_exchange_options():
    ex = make_exchange("google", "x", model="gemini-pro", stream=True, tenant="team-a")
    assert ex.path == "v1beta/models/gemini-pro:streamGenerateContent" and ex.stream and ex.query == "alt=sse"
    assert ex.model == "gemini-pro" and ex.tenant == "team-a"
    ex = make_exchange("anthropic", "x", stream=True)
    assert ex.json()["stream"] is True and ex.stream
    body = {"model": "gpt-4o", "input": "responses api"}
    ex = make_exchange("openai", body=body, path="responses")
    assert ex.json() == body and ex.prompt_text == "responses api" and ex.path == "responses"
    with pytest.raises(ValueError, match="openai, anthropic, google, mock"):
        make_exchange("bedrock", "x")
    assert make_exchange().id != make_exchange().id


# -- run_module ---------------------------------------------------------------------------------
def test_block_and_allow():
    ex = make_exchange(prompt="a forbidden thing")
    d = assert_blocked(run_module(Deny, ex), code="deny_word", status=403, message="no forbidden")
    assert d.violations[0].module == "deny"
    assert ex.verdict == "blocked" and [v.type for v in ex.violations] == ["WORD"]
    assert_allowed(run_module(Deny, make_exchange(prompt="fine")))
    assert_allowed(run_module(Deny, make_exchange(prompt="a forbidden thing"), {"word": "other"}))


def test_settings_are_validated_like_the_gateway_does():
    with pytest.raises(ValidationError):
        run_module(Deny, make_exchange(), {"wrod": "typo"})
    with pytest.raises(TypeError, match="already built"):
        run_module(Deny(Deny.Settings()), make_exchange(), {"word": "x"})


def test_an_instance_runs_as_is():
    assert_blocked(run_module(Deny(Deny.Settings(word="hello")), make_exchange(prompt="hello")))


def test_a_failing_module_fails_closed():
    ex = make_exchange()
    d = assert_blocked(run_module(Boom, ex), code="module_error", status=503)
    # the exception's type and where it was raised, never its message (it may quote the prompt)
    assert "kaput" not in d.violations[0].detail and "Error" in d.violations[0].detail
    ex = make_exchange()
    assert run_module(Boom, ex, on_error="allow") is None
    assert "kaput" not in ex.annotations["module_errors"]["boom"]


def test_a_slow_module_overruns_its_budget():
    assert_blocked(run_module(Slow, make_exchange()), code="module_error", status=503)


def test_shadow_mode_records_instead_of_blocking():
    ex = make_exchange(prompt="forbidden")
    assert run_module(Deny, ex, mode="shadow") is None
    assert ex.verdict == "shadow_blocked"
    assert [v.action for v in ex.violations] == ["shadow_block"]


def test_annotate_and_async_inspect():
    ex = make_exchange()
    d = run_module(Tagger, ex)
    assert_allowed(d)
    assert d.action == "annotate" and ex.annotations["seen"] == 1


def test_redaction_and_assert_redacted():
    ex = make_exchange("anthropic", "quiet please")
    assert_allowed(run_module(Upper, ex))
    assert_redacted(ex, contains="QUIET PLEASE", absent="quiet")
    assert orjson.loads(ex.request_body)["messages"][0]["content"] == "QUIET PLEASE"


def test_builtin_modules_through_the_helpers():
    ex = make_exchange("google", "the password is hunter2")
    run_module(ContentFilter, ex, {"blocked_keywords": ["hunter2"], "action": "redact"})
    assert_redacted(ex, contains="[REDACTED]", absent="hunter2")
    assert_blocked(
        run_module(ModelPolicy, make_exchange(model="gpt-4"), {"blocked_models": ["gpt-4*"]}), code="model_not_allowed"
    )


def test_stage_runs_only_that_stage():
    class Both:
        name = "both"

        def policy(self, ex):
            return block("policy said no")

        def transform(self, ex):
            return annotate(transformed=True)

    ex = make_exchange()
    assert run_module(Both, ex, stage="transform").annotations == {"transformed": True}
    assert_blocked(run_module(Both, make_exchange(), stage="policy"))
    with pytest.raises(ValueError, match="no 'inspect' stage"):
        run_module(Both, make_exchange(), stage="inspect")


def test_sink_runs_after_the_request_stages(caplog):
    class Sink:
        name = "sinker"

        def sink(self, ex):
            logging.getLogger("leash.test.sink").warning("saw %s", ex.id)

    caplog.set_level(logging.INFO, logger="leash.test.sink")
    ex = make_exchange()
    assert run_module(Sink, ex) is None
    assert [r.getMessage() for r in caplog.records if r.name == "leash.test.sink"] == [f"saw {ex.id}"]


def test_run_module_from_a_running_loop():
    """From an async test (a running loop), run_module runs on a loop of its own."""

    async def inside():
        return run_module(Deny, make_exchange(prompt="forbidden"))

    assert_blocked(asyncio.run(inside()))


# -- run_pipeline -------------------------------------------------------------------------------
def test_run_pipeline_runs_modules_in_priority_order():
    ex = make_exchange(model="gpt-4", prompt="forbidden")
    b = run_pipeline([(Deny, {}), (ModelPolicy, {"blocked_models": ["gpt-4"]})], ex)
    assert isinstance(b, Block) and b.module == "model-policy"  # priority 5 runs before 100
    assert_blocked(b, code="model_not_allowed")
    assert run_pipeline([Deny, Tagger, Upper], make_exchange(prompt="fine")) is None


# -- assertion messages -------------------------------------------------------------------------
def test_assertions_explain_themselves():
    with pytest.raises(AssertionError, match="expected the request to be blocked, but it was allowed"):
        assert_blocked(None)
    d = run_module(Deny, make_exchange(prompt="forbidden"))
    with pytest.raises(AssertionError, match="expected code 'other'.*deny_word"):
        assert_blocked(d, code="other")
    with pytest.raises(AssertionError, match="expected status 451"):
        assert_blocked(d, status=451)
    with pytest.raises(AssertionError, match="expected the request to be allowed, but it was block 403"):
        assert_allowed(d)
    ex = make_exchange()
    with pytest.raises(AssertionError, match="verdict is 'allowed'"):
        assert_redacted(ex, contains="x")


# -- load_module ------------------------------------------------------------------------------
def test_load_module_from_a_file(tmp_path):
    path = tmp_path / "shout.py"
    path.write_text("class Shout:\n    name = 'shout'\n    def policy(self, ex):\n        return None\n")
    cls = load_module(path)
    assert cls.name == "shout"
    assert_allowed(run_module(cls, make_exchange()))


def test_load_module_reports_file_and_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import os\n\nraise RuntimeError('oops')\n")
    with pytest.raises(ImportError, match=r"broken\.py:3: RuntimeError: oops"):
        load_module(path)


# -- serve ------------------------------------------------------------------------------------
def test_serve_runs_a_gateway_with_the_config():
    with serve({"modules": {"content-filter": {"blocked_keywords": ["nightingale"]}}}) as url:
        r = httpx.post(
            f"{url}/v1/mock/chat/completions",
            timeout=30,
            json={"model": "m", "messages": [{"role": "user", "content": "nightingale"}]},
        )
        assert r.status_code == 403
        r = httpx.post(
            f"{url}/v1/mock/chat/completions",
            timeout=30,
            json={"model": "m", "messages": [{"role": "user", "content": "hello"}]},
        )
        assert r.status_code == 200


def test_serve_with_a_module_class_not_installed():
    with serve({"modules": {"deny": {"word": "secret"}}}, modules=[Deny]) as url:
        r = httpx.post(
            f"{url}/v1/mock/v1/messages",
            timeout=30,
            json={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "secret"}]},
        )
        assert r.status_code == 403 and r.json()["error"]["message"] == "no secret"
        r = httpx.post(
            f"{url}/v1/mock/chat/completions",
            timeout=30,
            json={"model": "m", "messages": [{"role": "user", "content": "public"}]},
        )
        assert r.status_code == 200


def test_serve_refuses_a_config_with_a_broken_module(tmp_path):
    (tmp_path / "bad.py").write_text("x = 1\ny = nope\n")
    from leash_cli.config import ConfigError

    with pytest.raises(ConfigError, match=r"bad\.py:2: NameError.*enabled: false"):
        with serve({"modules_dir": str(tmp_path), "modules": {"bad": {"enabled": True}}}):
            pass


def test_an_unreadable_body_raises_after_every_parallel_inspect_module_has_finished():
    """Two async inspect modules run together; one reads a body whose text the dialect refuses
    (``BodyUnreadable``). The refusal reaches the caller only once the other has finished, so no module is
    left running on an exchange that has been answered."""
    from leash_cli.dialects.base import BodyUnreadable
    from leash_cli.testing import make_exchange, run_pipeline

    finished: list[str] = []

    class Reader:
        name = "reader"

        async def inspect(self, ex):
            ex.texts()

    class Slow:
        name = "slow"

        async def inspect(self, ex):
            await asyncio.sleep(0.05)
            finished.append("slow")

    block: dict = {"type": "text", "text": "hi"}
    for _ in range(40):
        block = {"type": "tool_result", "tool_use_id": "t", "content": [block]}
    body = {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": [block]}]}
    ex = make_exchange("anthropic", body=body)
    with pytest.raises(BodyUnreadable):
        run_pipeline([Reader(), Slow()], ex)
    assert finished == ["slow"]
