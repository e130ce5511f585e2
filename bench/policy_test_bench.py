"""`leash policy test` throughput: exchanges replayed per second over a recorded history.

    python bench/policy_test_bench.py                 # 10,000 exchanges, ~1 minute
    python bench/policy_test_bench.py --rows 50000

The history is written by the recorder from the exchanges of the gateway benchmark (bench/record_bench.py:
the ~280 B chat request and either the ~700 B JSON completion or a 20-event SSE stream, one in four
streamed, one in ten carrying an email address), then replayed through two configs: the same policy as
recorded (pii-detector: log) and a stricter one (pii-detector: block, secrets-detector, rate-limiter).
Wall time of the replay (CPU time alongside): the figure a user waits for.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--rows", type=int, default=10_000)
ARGS = ap.parse_args()
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(1, str(HERE))
sys.argv = sys.argv[:1]

import orjson  # noqa: E402

import record_bench  # noqa: E402  (its exchanges)
from leash_cli.config import LoadedConfig, StorageConfig, parse_config_text  # noqa: E402
from leash_cli.dryrun import replay  # noqa: E402
from leash_cli.store.factory import open_store  # noqa: E402
from leash_cli.store.writer import Recorder  # noqa: E402

SAME = "modules:\n  pii-detector:\n    action: log\n"
STRICT = ("modules:\n  pii-detector:\n    action: block\n  secrets-detector:\n    action: block\n"
          "  rate-limiter:\n    requests_per_minute: 600\n")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="leash-policy-bench-"))
    try:
        db = tmp / "h.db"
        rec = Recorder(db, StorageConfig(retention=None))
        rec.start()
        t0 = time.time() - ARGS.rows * 0.05
        for i in range(ARGS.rows):
            ex = record_bench.exchange(i, stream=i % 4 == 0)
            ex.started_at = t0 + i * 0.05  # 20 requests a second
            if i % 10 == 0:
                body = orjson.loads(ex.request_body)
                body["messages"][-1]["content"] += f" and mail it to user{i}@example.com"
                ex.request_body = orjson.dumps(body)
                ex._json_parsed = False
            rec.submit(ex)
        rec.flush(600)
        rec.close(600)
        reader = open_store(db).open_reader()
        try:
            for name, text in (("same policy", SAME), ("stricter policy", STRICT)):
                loaded = LoadedConfig(parse_config_text(text, name), None, "bench")
                w0, c0 = time.perf_counter(), time.process_time()
                res = replay(reader, loaded)
                w, c = time.perf_counter() - w0, time.process_time() - c0
                print(f"{name:16} {res.total:7,} exchanges in {w:6.2f} s wall ({res.total / w:8,.0f}/s), "
                      f"{c:6.2f} s CPU; changed {res.changed} {dict((k, v) for k, v in res.changes.items() if v)}")
        finally:
            reader.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
