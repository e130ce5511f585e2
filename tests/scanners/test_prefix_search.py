"""The Aho-Corasick prefix search finds exactly what the prefix regex finds."""

from __future__ import annotations

import random

from leash_cli.scanners import secrets as s


def _regex_starts(t: str) -> list[int]:
    out, pos = [], 0
    while (m := s._PREFIX.search(t, pos)) is not None:
        out.append(m.start())
        pos = m.start() + 1
    return out


def test_literals_and_regex_agree():
    rng = random.Random(7)
    pieces = [
        *s._PREFIX_LITERALS,
        "sk",
        "gh_",
        "glx-",
        "xo",
        "AKI",
        "https://hooks.slack.co/",
        " ",
        "é",
        "a",
        "-",
        "aw",
        "s",
        "AWS",
        "Secret",
        "secre",
        "t",
        "’",
        "😀",
    ]
    for _ in range(3000):
        t = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert s._prefix_starts(t) == _regex_starts(t), t
        assert s._literal_hits(t)[1] == any(w in t for w in s._AWS_CTX_ANY), t


def test_every_literal_is_a_prefix_and_the_regex_has_no_others():
    for lit in s._PREFIX_LITERALS:
        assert s._PREFIX.match(lit) and s._PREFIX.match(lit).group() == lit
    assert s._PREFIX_AC is not None  # the fast path is in use


def test_the_any_match_prefilter_misses_no_literal_far_into_a_text():
    filler = "The service runs three replicas behind a load balancer. " * 80
    for lit in (*s._PREFIX_LITERALS, *s._AWS_CTX_ANY):
        for t in (filler + lit, filler + "é" + lit, lit + filler, filler):
            assert s._prefix_starts(t) == _regex_starts(t), lit
            assert s._literal_hits(t)[1] == any(w in t for w in s._AWS_CTX_ANY), lit
