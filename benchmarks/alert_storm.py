"""Benchmark: the alert storm alone (issue 13, figure a), warroom beside bare Temporal on one dev server.

Room: benchmarks. A shortcut to one figure of benchmarks/run_all.py, with the storm's sizes
as options:

    .venv/bin/python benchmarks/alert_storm.py [--problems 20] [--per-problem 100] [--concurrency 64]
        [--runs 1] [--database-url URL] [--db-file]

warroom: the API (`warroom api`, uvicorn on 127.0.0.1) and the worker (`python worker.py`) as
subprocesses, records on SQLite or --database-url; problems x per-problem generic `warning`
alerts (P2 tickets, one dedup key per problem), each problem with a known number of distinct
alerts (their `fingerprint`) and re-sends of them, shuffled, from `concurrency` senders; at the
end every incident's alert_count must be its number of distinct alerts. Bare: the same plan as
signal-with-starts to a workflow that counts signals and distinct fingerprints
(benchmarks/temporal_baseline.py). Prints one JSON line per run and side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import ingest
from benchmarks import temporal_baseline as bare


async def storms(args: argparse.Namespace) -> None:
    sizes = bare.Sizes(storm_alerts=args.problems * args.per_problem, storm_problems=args.problems,
                       concurrency=args.concurrency)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with ingest.records_db(tmp, args.database_url) as url:
            async with bare.dev_server(str(tmp / "temporal.db") if args.db_file else None,
                                       tuned=args.tuned_server) as server:
                print(f"machine: {bare.machine()}; load {bare.loadavg()}; server {server.mode}", flush=True)
                for i in range(args.runs):
                    print(f"run {i + 1} bare: {json.dumps(await bare.figure('a', server, tmp, sizes))}", flush=True)
                    print(f"run {i + 1} warroom: {json.dumps(await ingest.figure('a', server, tmp, sizes, url))}",
                          flush=True)
                print(f"load at end {bare.loadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=20)
    ap.add_argument("--per-problem", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--db-file", action="store_true", help="the dev server on a SQLite file, not in memory")
    ap.add_argument("--tuned-server", action="store_true", help="the dev server with `warroom dev`'s options")
    asyncio.run(storms(ap.parse_args()))


if __name__ == "__main__":
    main()
