"""Benchmark: pages through the notify activity to a local receiver (loopback only).

Each page is one `send_notification` call, as the worker runs it (a thread pool of 32): claim
the communication, resolve the target with an on-call configuration (three people), render
each message, deliver through Apprise (json://) to an HTTP receiver on 127.0.0.1, record
every delivery. Records go to a throw-away SQLite file (or --database-url). Bounded: --pages
(default 300) and a 120 s deadline.

    .venv/bin/python benchmarks/paging.py [--pages N] [--concurrency C] [--database-url URL]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.notify import NotifyActivities  # noqa: E402
from tests.receivers import Receiver  # noqa: E402
from warroom import records  # noqa: E402
from warroom.oncall import OnCallConfig  # noqa: E402
from workflows.contracts import Notification  # noqa: E402

DEADLINE_S = 120


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, Receiver() as rx:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = records.make_engine(url)
        records.create_schema(engine)
        d = Path(tmp) / "oncall"
        d.mkdir()
        people = [{"id": p, "name": p, "timezone": "UTC", "contacts": [{"kind": "webhook", "url": f"json://{rx.netloc}/{p}"}]}
                  for p in ("tm1", "tm2", "tm3")]
        (d / "team.yaml").write_text(yaml.safe_dump({
            "people": people, "roles": {"technical_manager": [f"person:{p['id']}" for p in people]}}))
        config = OnCallConfig.load(d)
        acts = NotifyActivities(engine, oncall=lambda: config)
        iid = f"incident-bench-{uuid.uuid4().hex[:8]}"

        def one(i: int) -> float:
            n = Notification(key=f"{iid}-run:n{i}", incident_id=iid, kind="UPDATE", target="technical_manager",
                             subject="[P0] Checkout is down — status update", body=f"update {i}", priority="P0",
                             title="Checkout is down")
            t0 = time.perf_counter()
            res = acts.send_notification(n)
            assert res.status == "SENT" and len(res.recipients) == 3, res
            return time.perf_counter() - t0

        began = time.perf_counter()
        latencies: list[float] = []
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            for lat in pool.map(one, range(1, args.pages + 1)):
                latencies.append(lat)
                if time.perf_counter() - began > DEADLINE_S:
                    break
        wall = time.perf_counter() - began
        delivered = len(rx.delivered)
        q = statistics.quantiles(latencies, n=20)
        print(f"machine: {platform.platform()}, {len(__import__('os').sched_getaffinity(0))} cores, "
              f"Python {platform.python_version()}; records: {engine.dialect.name}")
        print("| pages | people each | concurrency | wall s | pages/s | deliveries/s | p50 ms | p95 ms | max ms "
              "| receiver got |")
        print(f"| {len(latencies)} | 3 | {args.concurrency} | {wall:.1f} | {len(latencies) / wall:.1f} | "
              f"{delivered / wall:.1f} | {statistics.median(latencies) * 1000:.0f} | {q[18] * 1000:.0f} | "
              f"{max(latencies) * 1000:.0f} | {delivered} (keys unique: "
              f"{len({r.header('Idempotency-Key') for r in rx.delivered}) == delivered}) |")
        engine.dispose()


if __name__ == "__main__":
    main()
