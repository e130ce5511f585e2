"""Micro-benchmark for the leash scanner engine.

    python bench/scanners_bench.py [--iterations N]

Prints per-scanner p50/p95 latency on a realistic ~4 KB prompt (code, logs,
JSON, prose with a few PII/secrets) and throughput in MB/s on ~1 MB of the
same material.  Pure stdlib; runs from a checkout without installation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

try:
    import leash_cli.scanners  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from leash_cli.scanners import InjectionScanner, PiiScanner, SecretsScanner, StreamRedactor

PROMPT_PARTS = [
    "You are a helpful assistant. Please review the following Python service and the logs below, "
    "then explain why the request to the billing API fails intermittently. Keep the answer short.\n\n",
    "```python\nimport os, json, logging\nfrom datetime import datetime, timezone\n\n"
    "log = logging.getLogger(__name__)\nAPI_BASE = os.environ.get('BILLING_URL', 'https://billing.internal:8443/v2')\n\n"
    "def charge(customer_id: str, amount_cents: int, currency: str = 'EUR') -> dict:\n"
    "    payload = {'customer': customer_id, 'amount': amount_cents, 'currency': currency,\n"
    "               'idempotency_key': 'c0a8012e-7f3d-4b9e-9a51-2f6d8e1b3c47'}\n"
    "    started = datetime.now(timezone.utc).isoformat()\n"
    "    log.info('charging %s at %s', customer_id, started)\n"
    "    resp = session.post(f'{API_BASE}/charges', json=payload, timeout=3.5)\n"
    "    if resp.status_code >= 500:\n        raise RuntimeError(f'billing error {resp.status_code}')\n"
    "    return resp.json()\n```\n\n",
    "Logs:\n"
    "2024-03-18T09:41:22.118Z INFO  [worker-3] charging cus_8f2a1c at 2024-03-18T09:41:22.118044+00:00\n"
    "2024-03-18T09:41:25.640Z ERROR [worker-3] upstream 10.20.4.17:8443 timed out after 3.5s (attempt 2/3)\n"
    "2024-03-18T09:41:25.641Z WARN  [worker-3] retrying order 100234-8871 for jane.roe@example.org\n"
    "2024-03-18T09:41:26.002Z INFO  [worker-1] commit 9f1c2e7a4b8d3f60e5a1c7b9d2e4f6a8b0c1d3e5 deployed v2.14.3\n"
    "2024-03-18T09:41:27.310Z ERROR [worker-1] Traceback (most recent call last):\n"
    '  File "/srv/app/billing/client.py", line 88, in charge\n'
    "    resp = session.post(f'{API_BASE}/charges', json=payload, timeout=3.5)\n"
    '  File "/usr/lib/python3.11/site-packages/requests/sessions.py", line 637, in post\n'
    "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='billing.internal', port=8443): Read timed out.\n\n",
    "Config excerpt (JSON):\n"
    '{"service": "billing", "replicas": 3, "region": "eu-west-1", "db": "postgres://billing:Xk9#pL2v@db.internal:5432/billing",\n'
    ' "features": {"retry": true, "max_attempts": 3, "backoff_ms": [100, 400, 1600]}, "owner": "payments-team",\n'
    ' "openai_key": "sk-proj-'
    'Q3vJ8xR2mN5tK7wL1pZ4yH6cB9dF0gS2aE4uI8oT3BlbkFJx7Yq2Wm5Zn8Rk1Tp4Vs6Uc9Ld3Jf0Hg",\n'
    ' "build": "1.8.0.2277", "checksum": "sha256:3b7e9c1f4a2d8e6b0c5f7a9d1e3b5c7f9a1d3e5b7c9f1a3d5e7b9c1f3a5d7e9b"}\n\n',
    "CSV sample of the failing customers:\n"
    "id,name,country,created_at,plan,amount\n"
    "1001,Ana García,ES,2023-11-02,pro,4900\n1002,Lukas Müller,DE,2023-12-14,team,19900\n"
    "1003,Chloé Martin,FR,2024-01-09,pro,4900\n1004,John Smith,US,2024-02-21,enterprise,99900\n\n",
    'The customer wrote: "Hi, you can reach me at +1 (415) 555-0134 if needed; my card ending 4242 was charged twice."\n'
    "Our SLA says p95 latency must stay under 300 ms, and the ISBN of the runbook is 978-3-16-148410-0.\n"
    "Please also check whether the retry policy (3 attempts, exponential backoff) could double-charge.\n\n",
]


def make_prompt(size: int = 4096) -> str:
    text = "".join(PROMPT_PARTS)
    filler = (
        "Additional context: the service runs on Kubernetes 1.29 with 3 replicas behind an nginx ingress; "
        "requests are traced with OpenTelemetry and exported every 5 seconds. The database is PostgreSQL 15.4. "
    )
    while len(text) < size:
        text += filler
    return text[:size]


def bench_latency(fn, text: str, n: int) -> tuple[float, float]:
    for _ in range(20):
        fn(text)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(text)
        samples.append((time.perf_counter() - t0) * 1000.0)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def bench_throughput(fn, text: str) -> float:
    t0 = time.perf_counter()
    fn(text)
    dt = time.perf_counter() - t0
    return len(text.encode("utf-8")) / 1e6 / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", "-n", type=int, default=2000)
    args = ap.parse_args()
    prompt = make_prompt(4096)
    big = make_prompt(4096)
    big = (big + "\n") * (1_000_000 // (len(big) + 1))
    scanners = {
        "pii": PiiScanner(),
        "secrets": SecretsScanner(),
        "injection": InjectionScanner(),
    }
    print(f"prompt: {len(prompt)} chars; big: {len(big) / 1e6:.2f} MB; iterations: {args.iterations}")
    print(f"{'scanner':<12}{'p50 ms':>10}{'p95 ms':>10}{'MB/s':>10}{'findings':>10}")
    for name, sc in scanners.items():
        p50, p95 = bench_latency(sc.scan, prompt, args.iterations)
        mbs = bench_throughput(sc.scan, big)
        print(f"{name:<12}{p50:>10.3f}{p95:>10.3f}{mbs:>10.1f}{len(sc.scan(prompt)):>10}")
    # all three together, and streaming
    allsc = list(scanners.values())
    p50, p95 = bench_latency(lambda t: [s.scan(t) for s in allsc], prompt, max(200, args.iterations // 4))
    print(f"{'all three':<12}{p50:>10.3f}{p95:>10.3f}")

    def stream(t: str) -> None:
        r = StreamRedactor(allsc, window=128)
        for i in range(0, len(t), 64):
            r.feed(t[i : i + 64])
        r.flush()

    p50, p95 = bench_latency(stream, prompt, 100)
    print(f"{'stream/64B':<12}{p50:>10.3f}{p95:>10.3f}   (4 KB fed in 64-char chunks, all scanners)")


if __name__ == "__main__":
    main()
