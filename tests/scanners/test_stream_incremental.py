"""StreamScanner: a bounded look-behind, only what a match in progress needs held back, and the
same result as scanning the whole text, whatever the chunking."""

from __future__ import annotations

import random
import re

import pytest

from leash_cli.scanners import Finding, PiiScanner, SecretsScanner, redact
from leash_cli.scanners.stream import MAX_HOLD, StreamProfile, StreamScanner, pattern_width, profile_for

PII = PiiScanner()
SECRETS = SecretsScanner()
SCANNERS = [PII, SECRETS]
PROFILE = profile_for(SCANNERS, window=128)

AWS_KEY = "AKIA" + "Q7ZK2M4XW9PT3RB6"
EMAIL = "jane.doe@mail.example.org"
OPENAI = "sk-proj-Q3vJ8xR2mN5tK7wL1pZ4yH6cB9dF0gS2aE4uI8oT3BlbkFJx7Yq2Wm5Zn8Rk1Tp4Vs6Uc9Ld3Jf0Hg"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n"
    "/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRni\n"
    "-----END RSA PRIVATE KEY-----"
)

TEXTS = [
    f"contact {EMAIL} now",
    "Mail me at john.doe+news@mail.example.co.uk or call (415) 555-0134 tomorrow.",
    f"export OPENAI_API_KEY={OPENAI}\nexport AWS_ACCESS_KEY_ID={AWS_KEY}\n",
    "card: 4111 1111 1111 1111 exp 12/27, ssn 512-34-6789, iban DE89 3704 0044 0532 0130 00",
    "server 10.20.4.17 and 2001:db8::8a2e:370:7334 are down",
    "db url postgres://app:Xk9pL2vQ7r@db.internal:5432/app ok",
    f"here is my key:\n{PEM}\nthanks",
    "zero width: jo\u200bhn@exa\u200dmple.com and ＋４４ ２０ ７９４６ ０９５８",
    "no secrets at all here, just a long sentence " * 8,
]


def _sensitive(text: str) -> list[Finding]:
    return PII.scan(text) + SECRETS.scan(text)


def _run(text: str, cuts: list[int], action: str = "redact") -> tuple[str, list[Finding], list[str]]:
    s = StreamScanner(SCANNERS, PROFILE, action=action)
    outs: list[str] = []
    found: list[Finding] = []
    prev = 0
    for c in [*cuts, len(text)]:
        o, f = s.feed(text[prev:c])
        outs.append(o)
        found.extend(f)
        prev = c
    o, f = s.flush()
    outs.append(o)
    found.extend(f)
    return "".join(outs), found, outs


@pytest.mark.parametrize("text", TEXTS)
def test_split_at_every_index_gives_the_whole_text_result(text: str) -> None:
    want = redact(text, _sensitive(text))
    secrets = [f.text for f in _sensitive(text)]
    for i in range(len(text) + 1):
        out, _, _ = _run(text, [i])
        assert out == want, (i, out)
        for s in secrets:
            assert s not in out


@pytest.mark.parametrize("text", TEXTS)
def test_random_and_char_by_char_chunks(text: str) -> None:
    want = redact(text, _sensitive(text))
    assert _run(text, list(range(1, len(text))))[0] == want
    rnd = random.Random(len(text))
    for _ in range(20):
        cuts = sorted(rnd.sample(range(1, len(text)), k=min(len(text) - 1, rnd.randint(1, 12))))
        assert _run(text, cuts)[0] == want


@pytest.mark.parametrize("action", ["block", "detect"])
def test_block_and_detect_release_unchanged_and_report_once(action: str) -> None:
    text = f"my key {AWS_KEY} and mail {EMAIL} end"
    for i in range(len(text) + 1):
        out, found, _ = _run(text, [i], action=action)
        assert out == text
        assert sorted(f.type for f in found) == ["AWS_ACCESS_KEY_ID", "EMAIL"], i
        for f in found:
            assert text[f.start : f.end] == f.text


def test_prose_is_released_at_once_only_the_last_word_is_held() -> None:
    s = StreamScanner(SCANNERS, PROFILE)
    assert s.feed("Hello there, ")[0] == "Hello there, "
    assert s.feed("how are yo")[0] == "how are "
    assert s.held == len("yo")
    assert s.feed("u today?")[0] == "you "


def test_a_key_or_address_in_progress_is_held_whole() -> None:
    s = StreamScanner(SCANNERS, PROFILE, action="block")
    assert s.feed("the key is " + AWS_KEY[:9])[0] == "the key is "
    out, found = s.feed(AWS_KEY[9:] + " ok")
    assert [f.type for f in found] == ["AWS_ACCESS_KEY_ID"]
    assert out == AWS_KEY + " "  # (unchanged under block: the caller stops the stream before it leaves)
    s = StreamScanner(SCANNERS, PROFILE)
    assert s.feed("write to jane.d")[0] == "write to "
    assert s.feed("oe@mail.exam")[0] == ""
    assert s.feed("ple.org today")[0] == "[EMAIL] "


def test_numbers_in_groups_are_held_but_words_are_not() -> None:
    s = StreamScanner(SCANNERS, PROFILE)
    assert s.feed("call me at 415 555")[0] == "call me at "
    out = s.feed(" 0134 please ")[0] + s.flush()[0]
    assert "555" not in out


def test_the_work_per_delta_is_bounded() -> None:
    """A long stream of small deltas: each scan sees the look-behind plus what is held, never the
    whole stream so far."""
    seen: list[int] = []

    class Counting:
        name = "pii-detector"

        def scan(self, text: str) -> list[Finding]:
            seen.append(len(text))
            return PII.scan(text)

    s = StreamScanner([Counting()], profile_for([Counting()], 128))
    for _ in range(2000):
        s.feed("word ")
    s.flush()
    assert max(seen) <= PROFILE.lookbehind + 16
    assert len(seen) >= 1000  # released as it goes


def test_lazy_detect_scans_in_few_calls() -> None:
    calls: list[int] = []

    class Counting:
        name = "pii-detector"

        def scan(self, text: str) -> list[Finding]:
            calls.append(len(text))
            return PII.scan(text)

    s = StreamScanner([Counting()], profile_for([Counting()], 128), action="detect", lazy=True)
    found: list[Finding] = []
    text = ("some words " * 100) + EMAIL + (" more words" * 100)
    for i in range(0, len(text), 3):
        found += s.feed(text[i : i + 3])[1]
    found += s.flush()[1]
    assert [f.text for f in found] == [EMAIL]
    assert len(calls) < len(text) // 3 // 10


def test_profiles_from_patterns() -> None:
    assert pattern_width(re.compile(r"ID-\d{6}")) == 9
    assert pattern_width(re.compile(r"ID-\d+")) is None
    custom = SecretsScanner(custom_patterns={"TICKET": r"TCK-[0-9]{6}-[A-Z]{2}"})
    prof = profile_for([custom], window=100)
    assert prof.fixed == 13 and prof.token == MAX_HOLD
    unbounded = PiiScanner(custom_patterns={"ANY": r"secret \w+"})
    assert profile_for([unbounded], window=100).fixed == 100

    class Unknown:
        def scan(self, text: str) -> list[Finding]:
            return []

    assert profile_for([Unknown()], window=77) == StreamProfile(lookbehind=77, fixed=77)
