"""Benchmark: pages through the notify activity to a local receiver (loopback only).

Each page is one `send_notification` call, as the worker runs it (a thread pool of 32): claim
the communication, resolve the target with an on-call configuration (three people), render
each message, deliver through Apprise (json://) to an HTTP receiver on 127.0.0.1, record
every delivery. Records go to a throw-away SQLite file (or --database-url). Bounded: --pages
(default 300) per run and a 120 s deadline per run.

Besides the time (wall clock, and the process's CPU time per page: the receiver and Apprise
included, and less at the mercy of other load on the machine than the wall clock), it counts the records work per page: the transactions SQLAlchemy committed
(an event listener on "commit"), the statements it sent, and on PostgreSQL the transactions the
server itself counted for the database (pg_stat_database: commits and rollbacks, so a
connection check on checkout shows too). Give PostgreSQL a database of its own: the counts are
per database.

    .venv/bin/python benchmarks/paging.py [--pages N] [--concurrency C] [--runs R] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.notify import NotifyActivities  # noqa: E402
from tests.receivers import Receiver  # noqa: E402
from warroom import records  # noqa: E402
from warroom.oncall import OnCallConfig  # noqa: E402
from workflows.contracts import Notification  # noqa: E402

DEADLINE_S = 120
PEOPLE = ("tm1", "tm2", "tm3")


def server_transactions(url: str) -> int | None:
    """Commits + rollbacks PostgreSQL counted for the database (None on SQLite)."""
    if not url.startswith("postgresql"):
        return None
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        # the statistics of backends that went away are flushed when they exit; ask for a
        # fresh snapshot rather than the one cached for this transaction
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                           "WHERE datname = current_database()").fetchone()
    return int(row[0]) - 1  # less this query's own transaction


def settled_server_transactions(url: str) -> int | None:
    """The server's count once the pool's closed connections have reported (bounded wait)."""
    last, deadline = server_transactions(url), time.monotonic() + 5
    while last is not None and time.monotonic() < deadline:
        time.sleep(0.5)  # statistics are reported asynchronously: poll until two reads agree
        now = server_transactions(url)
        assert now is not None
        if now - 1 == last:  # only the previous read's own transaction came in between
            return last
        last = now
    return last


def run(url: str, pages: int, concurrency: int, tmp: Path) -> dict[str, Any]:
    with Receiver() as rx:
        engine = records.make_engine(url)
        records.create_schema(engine)
        d = tmp / f"oncall-{uuid.uuid4().hex[:6]}"
        d.mkdir()
        people = [{"id": p, "name": p, "timezone": "UTC",
                   "contacts": [{"kind": "webhook", "url": f"json://{rx.netloc}/{p}"}]} for p in PEOPLE]
        (d / "team.yaml").write_text(yaml.safe_dump({
            "people": people, "roles": {"technical_manager": [f"person:{p['id']}" for p in people]}}))
        config = OnCallConfig.load(d)
        acts = NotifyActivities(engine, oncall=lambda: config)
        iid = f"incident-bench-{uuid.uuid4().hex[:8]}"
        counts = {"commits": 0, "statements": 0}

        def commit(_: Any) -> None:
            counts["commits"] += 1

        def statement(*_: Any) -> None:
            counts["statements"] += 1

        engine.dispose()  # the schema's connections go; the pool starts empty
        server_before = settled_server_transactions(url)
        event.listen(engine, "commit", commit)
        event.listen(engine, "before_cursor_execute", statement)

        def one(i: int) -> float:
            n = Notification(key=f"{iid}-run:n{i}", incident_id=iid, kind="UPDATE", target="technical_manager",
                             subject="[P0] Checkout is down — status update", body=f"update {i}", priority="P0",
                             title="Checkout is down")
            t0 = time.perf_counter()
            res = acts.send_notification(n)
            assert res.status == "SENT" and len(res.recipients) == len(PEOPLE), res
            return time.perf_counter() - t0

        began, cpu = time.perf_counter(), time.process_time()
        latencies: list[float] = []
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for lat in pool.map(one, range(1, pages + 1)):
                latencies.append(lat)
                if time.perf_counter() - began > DEADLINE_S:
                    break
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        event.remove(engine, "commit", commit)
        event.remove(engine, "before_cursor_execute", statement)
        engine.dispose()
        server_after = settled_server_transactions(url)
        rows = records.deliveries(engine, incident_id=iid)
        engine.dispose()
        delivered = len(rx.delivered)
        keys = {r.header("Idempotency-Key") for r in rx.delivered}
        return {
            "dialect": engine.dialect.name, "pages": len(latencies), "wall": wall, "cpu": cpu,
            "latencies": latencies, "delivered": delivered, "unique": len(keys) == delivered,
            "sent_rows": sum(r.status == "SENT" for r in rows),
            "commits": counts["commits"] / len(latencies), "statements": counts["statements"] / len(latencies),
            "server": (None if server_before is None or server_after is None
                       else (server_after - server_before) / len(latencies)),
        }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        results = []
        for i in range(args.runs):
            url = args.database_url or f"sqlite:///{Path(tmp) / f'bench-{i}.db'}"
            results.append(run(url, args.pages, args.concurrency, Path(tmp)))
        print(f"machine: {platform.platform()}, {len(os.sched_getaffinity(0))} cores, "
              f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}; "
              f"records: {results[0]['dialect']}")
        print("| pages | people each | concurrency | wall s | pages/s | deliveries/s | p50 ms | p95 ms | max ms "
              "| CPU ms/page | commits/page | statements/page | server transactions/page | receiver got |")
        for r in results:
            lat = r["latencies"]
            q = statistics.quantiles(lat, n=20)
            server = "—" if r["server"] is None else f"{r['server']:.1f}"
            print(f"| {r['pages']} | {len(PEOPLE)} | {args.concurrency} | {r['wall']:.1f} | "
                  f"{r['pages'] / r['wall']:.1f} | {r['delivered'] / r['wall']:.1f} | "
                  f"{statistics.median(lat) * 1000:.0f} | {q[18] * 1000:.0f} | {max(lat) * 1000:.0f} | "
                  f"{r['cpu'] / r['pages'] * 1000:.1f} | {r['commits']:.1f} | {r['statements']:.1f} | {server} | "
                  f"{r['delivered']} (keys unique: {r['unique']}; SENT rows: {r['sent_rows']}) |")
        if len(results) > 1:
            rates = sorted(r["pages"] / r["wall"] for r in results)
            print(f"pages/s min {rates[0]:.1f}, median {statistics.median(rates):.1f}, max {rates[-1]:.1f}")


if __name__ == "__main__":
    main()
