#!/usr/bin/env python3
"""Latency of the prompt-injection detector on 4 KB prompts, benign and attack (one core).

    python bench/injection_speed.py [--iterations N] [--profile | --per-prompt]

Benign: the realistic 4 KB prompt of ``bench/scanners_bench.py`` (code, logs, JSON, prose), and
4 KB prompts built from the team dev set's benign texts (each kind: code, security docs, innocent
trigger words, multilingual, role-play, long documents), repeated / cut to 4 KB.  Attack: the dev
set's attacks, each placed in the middle of the 4 KB benign prompt (the indirect case: one
injected paragraph in a long document).  Reports p50 / p95 per set, in milliseconds, and the whole default
scanner set (PII, secrets, injection in a row) on the benign prompts.

Times are this thread's CPU time (``time.thread_time_ns``), so that other processes on a shared
machine do not count; they still slow it (caches). ``--profile`` prints a cProfile of the benign set;
``--per-prompt`` the default set's p50 / p95 on each benign prompt, with each scanner's median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from leash_cli.scanners.injection import InjectionScanner  # noqa: E402
from scanners_bench import make_prompt  # noqa: E402

SIZE = 4096


def fit(text: str, size: int = SIZE) -> str:
    """``text`` repeated (paragraph-separated) and cut to ``size`` characters."""
    out = text
    while len(out) < size:
        out += "\n\n" + text
    return out[:size]


def hard_benign(dev: list[dict] | None = None) -> list[tuple[str, str]]:
    """The hard benign prompts, each with what it is made of: the scanners_bench prompt, then every benign kind's
    dev texts joined and cut into 4 KB prompts (several prompts per kind)."""
    if dev is None:
        dev = _dev()
    kinds: dict[str, list[str]] = {}
    for r in dev:
        if not r["label"]:
            kinds.setdefault(r["kind"], []).append(r["text"])
    out = [("scanners_bench prompt", make_prompt(SIZE))]
    for kind, texts in kinds.items():
        joined = "\n\n".join(texts)
        starts = range(0, max(1, len(joined) - SIZE), SIZE)[:4]
        out.extend(
            (f"{kind} ({k + 1})" if len(starts) > 1 else kind, fit(joined[i:], SIZE)) for k, i in enumerate(starts)
        )
    return out


def _dev() -> list[dict]:
    return [json.loads(x) for x in (ROOT / "data/injection/dev.jsonl").read_text(encoding="utf-8").splitlines() if x]


def corpora() -> dict[str, list[str]]:
    dev = _dev()
    base = make_prompt(SIZE)
    benign = [t for _, t in hard_benign(dev)]
    half = SIZE // 2
    attack = [base[: half - len(r["text"]) // 2] + "\n" + r["text"] + "\n" + base[half:] for r in dev if r["label"]]
    attack = [a[:SIZE] if len(a) > SIZE else a for a in attack]
    gateway = (
        "Please review the following deployment notes and list the risks. "
        + "The service runs three replicas behind a load balancer and talks to a queue. " * 48
    )[:4000]  # bench/run.py's 4 KB prompt (the gateway throughput figure)
    return {
        "benign 4 KB": benign,
        "attack in 4 KB": attack,
        "scanners_bench prompt": [base],
        "bench/run.py prompt": [gateway],
    }


def measure(sc: InjectionScanner | _DefaultSet, texts: list[str], iterations: int) -> tuple[float, float, int]:
    for t in texts[:20]:
        sc.scan(t)
    times = []
    rounds = max(1, iterations // len(texts))
    for _ in range(rounds):
        for t in texts:
            t0 = time.thread_time_ns()
            sc.scan(t)
            times.append((time.thread_time_ns() - t0) / 1e6)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], len(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument(
        "--per-prompt",
        action="store_true",
        help="the default scanner set on each hard benign prompt (scanned in turn, as for the p95): which decide it",
    )
    a = ap.parse_args(argv)
    sc = InjectionScanner()
    if a.per_prompt:
        per_prompt(_DefaultSet(sc), a.iterations)
        return 0
    sets = corpora()
    if a.profile:
        import cProfile
        import pstats

        texts = sets["benign 4 KB"]
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(max(1, a.iterations // len(texts))):
            for t in texts:
                sc.scan(t)
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(25)
        return 0
    print(f"prompt-injection on {SIZE}-character prompts (model {sc.model.digest[:12]}, pid {os.getpid()})\n")
    print("| set | texts | samples | p50 ms | p95 ms |\n|---|---|---|---|---|")
    for name, texts in sets.items():
        p50, p95, n = measure(sc, texts, a.iterations)
        print(f"| {name} | {len(texts)} | {n} | {p50:.3f} | {p95:.3f} |")
    # the cost measure is the whole default scanner set: PII and secrets too, on the same hard prompts
    p50, p95, n = measure(_DefaultSet(sc), sets["benign 4 KB"], a.iterations)
    print(
        f"| benign 4 KB, the default scanner set (PII, secrets, injection) | {len(sets['benign 4 KB'])} | {n} "
        f"| {p50:.3f} | {p95:.3f} |"
    )
    # sensitivity high also sweeps every window of a long text with the document model (read_long), and so does the
    # gateway's module at every sensitivity for tool results and documents: medium, swept, is what a 4 KB tool
    # result costs by default
    for label, swept in (
        ("sensitivity high (the sweep of long texts)", InjectionScanner(sensitivity="high")),
        ("read as a tool result (medium, swept)", InjectionScanner(read_long=True)),
    ):
        for name in ("bench/run.py prompt", "benign 4 KB"):
            p50, p95, n = measure(swept, sets[name], a.iterations)
            print(f"| {name}, {label} | {len(sets[name])} | {n} | {p50:.3f} | {p95:.3f} |")
    return 0


def per_prompt(default: _DefaultSet, iterations: int) -> None:
    """p50 / p95 of the default scanner set per hard benign prompt, each scanner's median beside it, the prompts
    scanned in turn (as :func:`measure` does: a prompt is never scanned twice in a row, so the caches hold what
    the others left)."""
    prompts = hard_benign()
    names = [type(s).__name__ for s in default.scanners]
    times: list[list[list[float]]] = [[[] for _ in default.scanners] for _ in prompts]
    for _, t in prompts:
        default.scan(t)
    for _ in range(max(1, iterations // len(prompts))):
        for k, (_, t) in enumerate(prompts):
            for j, s in enumerate(default.scanners):
                t0 = time.thread_time_ns()
                s.scan(t)
                times[k][j].append((time.thread_time_ns() - t0) / 1e6)
    print("| prompt | p50 ms | p95 ms | " + " | ".join(f"{n} p50" for n in names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for (label, _), per in zip(prompts, times):
        total = sorted(sum(x) for x in zip(*per))
        p95 = total[int(0.95 * (len(total) - 1))]
        each = " | ".join(f"{statistics.median(x):.3f}" for x in per)
        print(f"| {label} | {statistics.median(total):.3f} | {p95:.3f} | {each} |")


class _DefaultSet:
    """The default modules' scanners in a row, as ``scan`` (what the gateway runs on each text)."""

    def __init__(self, injection: InjectionScanner) -> None:
        from leash_cli.scanners import PiiScanner, SecretsScanner

        self.scanners = (PiiScanner(), SecretsScanner(), injection)

    def scan(self, text: str) -> list:
        return [f for sc in self.scanners for f in sc.scan(text)]


if __name__ == "__main__":
    raise SystemExit(main())
