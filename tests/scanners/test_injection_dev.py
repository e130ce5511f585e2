"""The shipped detector on the team-written dev set (data/injection/dev.jsonl, never trained on).

Bars per attack family and per benign kind at the default (medium) sensitivity: a model or rule
change that loses a family, or starts flagging a kind of benign text, fails here."""

import json
from collections import defaultdict
from pathlib import Path

import pytest

from leash_cli.scanners.injection import PRESETS, InjectionScanner

from .injection_sets import EVAL_KINDS, FAMILIES

DEV = Path(__file__).resolve().parents[2] / "data" / "injection" / "dev.jsonl"
ROWS = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
SC = InjectionScanner()
SCORES = [SC.score(r["text"]) for r in ROWS]
T = PRESETS["medium"]

# The bars guard the shipped model's level on this set. They were higher for the first model alone (0.7 per
# family, 0.10 per kind, 0.85 overall): the set was written by the rules' own authors, and overstated what the
# first model does on text it has never seen (the blind sets: recall 0.42 at FPR 0.07). With the document model
# the blind sets' recall is about twice that, this set's a little lower (docs/detection.md).
FAMILY_BAR = 0.6  # recall per attack family (the whole set must do better, see below)
KIND_BAR = 0.15  # FPR per benign kind


def _groups(label: int) -> dict[str, list[float]]:
    g = defaultdict(list)
    for r, s in zip(ROWS, SCORES):
        if r["label"] == label:
            g[r["family"] if label else r["kind"]].append(s)
    return g


def test_dev_set_shape():
    fams = _groups(1)
    kinds = _groups(0)
    assert len(ROWS) >= 400
    assert set(fams) == FAMILIES
    assert set(kinds) >= EVAL_KINDS
    assert len({r["lang"] for r in ROWS}) >= 10


@pytest.mark.parametrize("family", sorted(_groups(1)))
def test_recall_per_family(family):
    s = _groups(1)[family]
    rec = sum(x >= T for x in s) / len(s)
    assert rec >= FAMILY_BAR, (family, rec)


@pytest.mark.parametrize("kind", sorted(_groups(0)))
def test_fpr_per_benign_kind(kind):
    s = _groups(0)[kind]
    fpr = sum(x >= T for x in s) / len(s)
    assert fpr <= KIND_BAR, (kind, fpr)


def test_overall_recall_and_fpr():
    pos = [s for r, s in zip(ROWS, SCORES) if r["label"]]
    neg = [s for r, s in zip(ROWS, SCORES) if not r["label"]]
    assert sum(x >= T for x in pos) / len(pos) >= 0.8
    assert sum(x >= T for x in neg) / len(neg) <= 0.05


def test_presets_are_ordered():
    pos = [s for r, s in zip(ROWS, SCORES) if r["label"]]
    rec = {p: sum(x >= t for x in pos) for p, t in PRESETS.items()}
    assert rec["low"] <= rec["medium"] <= rec["high"]


def test_an_attack_inside_a_long_prompt_is_still_found():
    """Each dev attack in the middle of a 4 KB prompt of code, logs and JSON that also asks to "explain":
    the long prompt's framing words and code far from the attack must not talk the detector out of it
    (the priors of a long text are judged near its strongest window)."""
    import sys

    sys.path.insert(0, str(DEV.parents[2] / "bench"))
    from scanners_bench import make_prompt

    base = make_prompt(4096)
    half = len(base) // 2
    attacks = [r["text"] for r in ROWS if r["label"] == 1]
    found = sum(bool(SC.scan(base[:half] + "\n" + a + "\n" + base[half:])) for a in attacks)
    assert not SC.scan(base)
    assert found / len(attacks) >= 0.7, found


def _lowest(ok) -> float:
    """The lowest threshold of the grid 0.40, 0.41, ... 1.00 that satisfies ``ok``."""
    found = next((t for t in (round(0.40 + 0.01 * i, 2) for i in range(61)) if ok(t)), None)
    assert found is not None, "no threshold of the grid meets the rule"
    return found


def test_presets_follow_the_dev_set_rule():
    """The presets are what docs/detection.md's rule gives with the shipped weights: ``high`` the lowest threshold
    that flags at most 5 % of each dev set's benign texts, ``medium`` at most 3 % of each and none of the PII /
    secrets corpus's benign texts, ``low`` at most 2 % of each and none of the corpus's. New weights or rules
    that move a dev set's benign scores fail here until the presets are read again."""
    extra = DEV.with_name("dev_extra.jsonl")
    extra_rows = [json.loads(line) for line in extra.read_text(encoding="utf-8").splitlines() if line.strip()]
    dev_b = [s for r, s in zip(ROWS, SCORES) if not r["label"]]
    extra_b = [SC.score(r["text"]) for r in extra_rows if not r["label"]]
    corpus = Path(__file__).with_name("corpus.jsonl").read_text(encoding="utf-8").splitlines()
    corpus_b = [
        SC.score(r["text"])
        for r in map(json.loads, filter(str.strip, corpus))
        if not any(e["type"] == "PROMPT_INJECTION" for e in r.get("entities", []))
    ]

    def share(scores: list[float], t: float) -> float:
        return sum(x >= t for x in scores) / len(scores)

    def each(limit: float, corpus_too: bool):
        return lambda t: (
            share(dev_b, t) <= limit and share(extra_b, t) <= limit and (not corpus_too or max(corpus_b) < t)
        )

    by_rule = {
        "low": _lowest(each(0.02, True)),
        "medium": _lowest(each(0.03, True)),
        "high": _lowest(each(0.05, False)),
    }
    assert by_rule == PRESETS
