"""Configured secrets never leave the gateway (issue #25 item 5): a hostile upstream echoes the
request's headers and query — with the gateway-held provider key, a key-bearing header and a query
key — in its body, its headers and its stream; none of them may reach the client, the logs,
/metrics, any column of the history, or what the TUI reads."""

from __future__ import annotations

import json
import logging

import anthropic
import httpx
import openai

from leash_cli.core.secrets import MASK, SecretMask
from leash_cli.store import open_readonly
from leash_cli.tui.source import HistorySource

KEY = "sk-proj-CANARYprovider0123456789abcdefXYZ"
DEP_KEY = "sk-ant-api03-CANARYdeployment0123456789abcdef"
HEADER_SECRET = "CANARYheadertoken0123456789abcdef"
QUERY_SECRET = "AIzaCANARYquerykey0123456789abcdefgh"
CANARIES = (KEY, DEP_KEY, HEADER_SECRET, QUERY_SECRET)


def _no_canary(where: str, text: str) -> None:
    for c in CANARIES:
        assert c not in text, f"{c[:14]}... leaked into {where}"


def test_configured_secrets_are_masked_everywhere(start_gateway, upstream, capfd, caplog):
    caplog.set_level(logging.DEBUG, logger="leash")
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "endpoint": f"{upstream.url}/v1",
                    "api_key": KEY,
                    "headers": {"x-custom-token": HEADER_SECRET},
                },
                "anthropic": {
                    "kind": "anthropic",
                    "endpoint": upstream.url,
                    "deployments": [{"name": "a", "api_key": DEP_KEY}],
                },
                "google": {"kind": "google", "endpoint": upstream.url, "query": {"key": QUERY_SECRET}},
            }
        }
    )
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="client-key", max_retries=0)
    raw = c.chat.completions.with_raw_response.create(
        model="echo-headers", messages=[{"role": "user", "content": "hi"}]
    )
    assert upstream.last().headers["authorization"] == f"Bearer {KEY}"  # the upstream did get it ...
    _no_canary("an openai body", raw.http_response.text)  # ... and echoed it: the client does not get it back
    _no_canary("openai headers", json.dumps(dict(raw.headers)))
    assert MASK in raw.http_response.text and MASK in raw.headers["x-echo-authorization"]
    assert raw.parse().choices[0].message.content  # still the provider's shape

    # streamed, with the key split over two events' deltas and whole in a third
    with httpx.stream(
        "POST",
        f"{gw.base('openai')}/chat/completions",
        json={"model": "echo-headers", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    ) as r:
        body = b"".join(r.iter_bytes()).decode()
        _no_canary("openai stream headers", json.dumps(dict(r.headers)))
    _no_canary("an openai stream", body)
    streamed = "".join(
        ch.choices[0].delta.content or ""
        for ch in c.chat.completions.create(
            model="echo-headers", stream=True, messages=[{"role": "user", "content": "hi"}]
        )
        if ch.choices
    )
    assert MASK in streamed

    a = anthropic.Anthropic(base_url=gw.base("anthropic"), api_key="client-key", max_retries=0)
    ar = a.messages.with_raw_response.create(
        model="echo-headers", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    assert upstream.last().headers["x-api-key"] == DEP_KEY
    _no_canary("an anthropic body", ar.http_response.text)
    _no_canary("anthropic headers", json.dumps(dict(ar.headers)))

    gr = httpx.post(
        f"{gw.base('google')}/v1beta/models/echo-headers:generateContent",
        json={"contents": [{"parts": [{"text": "hi"}]}]},
    )
    assert QUERY_SECRET in upstream.last().query
    _no_canary("a google body", gr.text)
    _no_canary("google headers", json.dumps(dict(gr.headers)))

    # a client that pastes the gateway's key into its prompt: forwarded, but not stored
    c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"is {KEY} valid?"}])

    metrics = httpx.get(f"{gw.url}/metrics").text
    health = httpx.get(f"{gw.url}/health").text
    gw.flush()
    db = open_readonly(gw.db_path)
    try:
        ids = [r["id"] for r in db.query("select id from requests")]
        every_column = json.dumps([dict(r) for r in db.query("select * from requests")], default=str)
        violations = json.dumps([dict(r) for r in db.query("select * from violations")], default=str)
        audit = json.dumps([dict(r) for r in db.query("select * from audit_log")], default=str)
    finally:
        db.close()
    assert len(ids) == 6
    src = HistorySource(gw.db_path)
    try:
        tui = json.dumps([src.get(i) for i in ids], default=str)
    finally:
        src.close()
    written = b"".join(p.read_bytes() for p in gw.db_path.parent.glob("leash.db*")).decode("latin-1")
    out, err = capfd.readouterr()
    for where, text in (
        ("/metrics", metrics),
        ("/health", health),
        ("the requests table", every_column),
        ("the violations table", violations),
        ("the audit log", audit),
        ("the TUI", tui),
        ("the database files", written),
        ("stdout", out),
        ("stderr", err),
        ("the log records", caplog.text),
    ):
        _no_canary(where, text)
    assert MASK in every_column


def test_log_lines_are_masked(start_gateway, upstream):
    from leash_cli.logconfig import SecretFilter

    start_gateway({"providers": {"openai": {"kind": "openai", "endpoint": upstream.url, "api_key": KEY}}})
    rec = logging.LogRecord("leash.proxy", logging.WARNING, __file__, 1, "upstream said %s", (f"bad key {KEY}",), None)
    assert SecretFilter().filter(rec) and KEY not in rec.getMessage() and MASK in rec.getMessage()


def test_secret_mask_matches_json_escaped_and_url_encoded_forms():
    secret = 'abc/def+ghi=jkl"mno'
    m = SecretMask([secret])
    for form in (secret, json.dumps(secret)[1:-1], "abc%2Fdef%2Bghi%3Djkl%22mno"):
        assert m.bytes(f"x {form} y".encode()) == f"x {MASK} y".encode()
    assert m.bytes(b"nothing here") == b"nothing here"
    assert not SecretMask([])  # nothing configured: no work on the hot path
    assert SecretMask(["short"]).bytes(b"short") == b"short"  # too short to be a key worth matching
