"""Precision / recall per entity type on the labelled corpus.

Run with ``pytest -s tests/scanners/test_corpus.py`` to see the table.

Matching: pattern entities need the exact span (start, end) and type;
PROMPT_INJECTION is scored per document (any finding in a document labelled
with an injection counts as a hit, any finding in an unlabelled document is
a false positive) because the scanner reports the strongest evidence, not a
human-chosen span.
"""

import json
from collections import Counter
from pathlib import Path

from leash_cli.scanners import InjectionScanner, PiiScanner, SecretsScanner

CORPUS = Path(__file__).with_name("corpus.jsonl")
MIN_PR = 0.95
MIN_PR_PHONE = 0.90


def _load():
    with CORPUS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _evaluate():
    docs = _load()
    pii, sec, inj = PiiScanner(), SecretsScanner(), InjectionScanner()
    tp, fp, fn = Counter(), Counter(), Counter()
    errors = []
    for i, d in enumerate(docs):
        text = d["text"]
        gold = {(e["type"], e["start"], e["end"]) for e in d["entities"] if e["type"] != "PROMPT_INJECTION"}
        pred = {(f.type, f.start, f.end) for f in pii.scan(text) + sec.scan(text)}
        for g in gold & pred:
            tp[g[0]] += 1
        for p in pred - gold:
            fp[p[0]] += 1
            errors.append((i, "FP", p, text[p[1] : p[2]]))
        for g in gold - pred:
            fn[g[0]] += 1
            errors.append((i, "FN", g, text[g[1] : g[2]]))
        gold_inj = any(e["type"] == "PROMPT_INJECTION" for e in d["entities"])
        pred_inj = bool(inj.scan(text))
        if gold_inj and pred_inj:
            tp["PROMPT_INJECTION"] += 1
        elif pred_inj:
            fp["PROMPT_INJECTION"] += 1
            errors.append((i, "FP", "PROMPT_INJECTION", text[:60]))
        elif gold_inj:
            fn["PROMPT_INJECTION"] += 1
            errors.append((i, "FN", "PROMPT_INJECTION", text[:60]))
    return docs, tp, fp, fn, errors


def _pr(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r


def test_corpus_is_big_and_well_formed():
    docs = _load()
    assert len(docs) >= 300
    for d in docs:
        for e in d["entities"]:
            assert 0 <= e["start"] < e["end"] <= len(d["text"])


def test_precision_recall_per_type():
    docs, tp, fp, fn, errors = _evaluate()
    types = sorted(set(tp) | set(fp) | set(fn))
    print(f"\ncorpus: {len(docs)} documents")
    print(f"{'type':<24}{'gold':>6}{'tp':>6}{'fp':>6}{'fn':>6}{'precision':>11}{'recall':>9}")
    failures = []
    for t in types:
        p, r = _pr(tp[t], fp[t], fn[t])
        print(f"{t:<24}{tp[t] + fn[t]:>6}{tp[t]:>6}{fp[t]:>6}{fn[t]:>6}{p:>11.3f}{r:>9.3f}")
        floor = MIN_PR_PHONE if t == "PHONE" else MIN_PR
        if p < floor or r < floor:
            failures.append((t, round(p, 3), round(r, 3)))
    for e in errors[:40]:
        print("  ", e)
    assert not failures, failures
