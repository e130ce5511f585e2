#!/usr/bin/env python3
"""Experiment (not part of the build): a non-linear document model against the shipped linear one.

    pip install torch   # not a dependency of leash; only this experiment uses it
    python scripts/doc_mlp_experiment.py --git PurpleLlama=GITDIR --git BIPIA=GITDIR --git PIGuard=GITDIR --git self-instruct=GITDIR

The same training rows, weights and features as ``scripts/train_injection.py``'s document model (hashed
character 1-5-grams of each text or window, ``DocDesign``), read by a fastText-style network instead of a
linear model: the n-grams' embeddings summed with the document model's values normalised to one, a hidden
ReLU layer, one logit. Both models are scored alone (no first model, rules, priors or mix) on the dev sets,
the blind sets and the held-out writers (``data/injection/next/``), a text by its strongest window, and the
two logits summed as a blend. Prints ROC AUC per set after every epoch (choose the epoch on the dev sets).
PyTorch's sums are not bit-for-bit reproducible across machines: the figures move in the third decimal.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

import train_injection as T  # noqa: E402

from leash_cli.scanners import injection_model as im  # noqa: E402
from leash_cli.scanners.normalize import normalize  # noqa: E402

DATA = ROOT / "data" / "injection"


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC with ties averaged."""
    v = np.concatenate([pos, neg])
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v))
    sv = v[order]
    i = 0
    while i < len(sv):
        j = i
        while j + 1 < len(sv) and sv[j + 1] == sv[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def eval_sets() -> dict[str, list[dict]]:
    def load(p: Path) -> list[dict]:
        return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]

    sets = {
        "dev": load(DATA / "dev.jsonl"),
        "dev_extra": load(DATA / "dev_extra.jsonl"),
        "blind": load(DATA / "blind_a.jsonl") + load(DATA / "blind_b.jsonl"),
    }
    for p in sorted((DATA / "next").glob("w*.jsonl"), key=lambda p: int(p.stem[1:])):
        sets[p.stem] = load(p)
    return sets


def features(text: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The document model's windows of ``text``, prepared as the trainer prepares them."""
    t = im.mask_addresses(normalize(text, fold=True, tags="decode").text)
    out = []
    for p in im.doc_windows(t):
        ids, vals = im.doc_features_row(p)
        u, k = np.unique(ids, return_counts=True)
        out.append((u, k * (vals[0] if len(vals) else 0.0)))
    return out


def report(sets: dict[str, list[dict]], key) -> str:
    """ROC AUC per set; a held-out writer's negatives are its benign texts and both dev sets' (as the model
    card's tables), and ``held-out`` pools the writers."""
    devneg = [key(r) for n in ("dev", "dev_extra") for r in sets[n] if not r["label"]]
    cells = []
    pooled_pos: list[float] = []
    pooled_neg: list[float] = []
    for n, rs in sets.items():
        pos = [key(r) for r in rs if r["label"]]
        neg = [key(r) for r in rs if not r["label"]]
        if n.startswith("w"):
            pooled_pos += pos
            pooled_neg += neg
            neg = neg + devneg
        cells.append(f"{n} {auc(np.array(pos), np.array(neg)):.4f}")
    if pooled_pos:
        cells.append(f"held-out {auc(np.array(pooled_pos), np.array(pooled_neg + devneg)):.4f}")
    return ", ".join(cells)


def main(argv=None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/leash/injection"))
    ap.add_argument("--git", action="append", default=[], metavar="NAME=GITDIR")
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    random.seed(a.seed)

    src = T.Sources(Path(a.cache), dict(x.split("=", 1) for x in a.git), False)
    rows = T.doc_rows(sorted(set(T.load_rows(src)) | set(T.team_rows())))
    d = T.DocDesign([r[1] for r in rows], [r[2] for r in rows], T.doc_weights_for(rows))
    n = len(d.y)
    order = np.argsort(d.row, kind="stable")
    ids_all, val_all = d.idx[order], d.val[order]
    starts = np.searchsorted(d.row[order], np.arange(n + 1))
    y = torch.tensor(d.y, dtype=torch.float32)
    sw = torch.tensor(d.sw / d.sw.sum() * n, dtype=torch.float32)

    def bag(pieces: list[tuple[np.ndarray, np.ndarray]]):
        ids = np.concatenate([u for u, _ in pieces]).astype(np.int64)
        w = np.concatenate([v / max(float(v.sum()), 1e-9) for _, v in pieces]).astype(np.float32)
        offsets = np.cumsum([0] + [len(u) for u, _ in pieces[:-1]])
        return torch.from_numpy(ids), torch.from_numpy(offsets), torch.from_numpy(w)

    emb = torch.nn.EmbeddingBag(1 << im.BITS, a.dim, mode="sum", sparse=True)
    torch.nn.init.normal_(emb.weight, 0.0, 0.1)
    head = torch.nn.Sequential(torch.nn.Linear(a.dim, a.hidden), torch.nn.ReLU(), torch.nn.Linear(a.hidden, 1))

    def net(ids, offsets, w):
        return head(emb(ids, offsets, per_sample_weights=w)).squeeze(-1)

    opt_sparse = torch.optim.SparseAdam(list(emb.parameters()), lr=a.lr)
    opt_dense = torch.optim.Adam(head.parameters(), lr=a.lr, weight_decay=1e-5)

    sets = eval_sets()
    shipped = im.load()
    assert shipped.doc_weights is not None
    for rs in sets.values():
        for r in rs:
            r["f"] = features(r["text"])
            r["linear"] = max(
                (shipped.doc_bias + float((shipped.doc_weights[u] * v).sum()) for u, v in r["f"]),
                default=shipped.doc_bias,
            )
    print("linear (shipped):", report(sets, lambda r: r["linear"]), flush=True)

    idx = np.arange(n)
    for ep in range(1, a.epochs + 1):
        rng.shuffle(idx)
        for k in range(0, n, 256):
            rs = idx[k : k + 256]
            logit = net(*bag([(ids_all[starts[r] : starts[r + 1]], val_all[starts[r] : starts[r + 1]]) for r in rs]))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, y[rs], reduction="none")
            loss = (loss * sw[rs]).mean()
            opt_sparse.zero_grad()
            opt_dense.zero_grad()
            loss.backward()
            opt_sparse.step()
            opt_dense.step()
        with torch.no_grad():
            for rs in sets.values():
                pieces = [(u, v) for r in rs for u, v in r["f"]]
                owner = np.array([i for i, r in enumerate(rs) for _ in r["f"]])
                out = net(*bag(pieces)).numpy()
                best = np.full(len(rs), -1e9)
                np.maximum.at(best, owner, out)
                for r, s in zip(rs, best):
                    r["mlp"] = float(s)
        print(f"epoch {ep} network:", report(sets, lambda r: r["mlp"]), flush=True)
        print(f"epoch {ep} linear + network:", report(sets, lambda r: r["linear"] + r["mlp"]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
