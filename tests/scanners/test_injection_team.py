"""The team's training texts (data/injection/team/, and data/injection/next/ when writers wait there to be
trained on) stay apart from the evaluation sets, and parse."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from .injection_sets import FAMILIES, KINDS

DATA = Path(__file__).resolve().parents[2] / "data" / "injection"
EVAL = ("dev.jsonl", "dev_extra.jsonl", "blind_a.jsonl", "blind_b.jsonl", "blind_c.jsonl", "blind_d.jsonl")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


def _shingles(text: str, n: int = 5) -> set[str]:
    t = _fold(text)
    return {t[i : i + n] for i in range(max(1, len(t) - n + 1))}


TEAM = [r for d in ("team", "next") for p in sorted((DATA / d).glob("w*.jsonl")) for r in _rows(p)]


def test_team_rows_are_well_formed():
    assert len(TEAM) > 10_000
    assert len({r["id"] for r in TEAM}) == len(TEAM)
    assert len({(r["id"].split("-")[0], r["text"]) for r in TEAM}) == len(TEAM)  # no repeat within a writer
    labels: dict[str, set[int]] = collections.defaultdict(set)
    for r in TEAM:  # (two writers may have written the same plain question; never with two labels)
        labels[r["text"]].add(r["label"])
    assert all(len(v) == 1 for v in labels.values())
    for r in TEAM:
        assert r["label"] in (0, 1) and r["text"].strip() and r["lang"]
        assert r["family"] in (FAMILIES if r["label"] else KINDS), r["id"]


@pytest.mark.slow
def test_no_team_text_is_or_nearly_is_an_evaluation_text():
    evals = [r["text"] for name in EVAL for r in _rows(DATA / name)]
    folded = {_fold(t) for t in evals}
    assert not [r["id"] for r in TEAM if _fold(r["text"]) in folded]
    sh = [_shingles(t) for t in evals]
    index: dict[str, set[int]] = collections.defaultdict(set)
    for i, s in enumerate(sh):
        for x in s:
            index[x].add(i)
    near = []
    for r in TEAM:
        s = _shingles(r["text"])
        shared: collections.Counter[int] = collections.Counter()
        for x in s:
            shared.update(index.get(x, ()))
        for i, c in shared.most_common(3):
            if c / len(s | sh[i]) > 0.6:
                near.append((r["id"], evals[i][:60]))
    assert not near
