"""An alert storm on the real Temporal dev server: many senders, few problems, no alert lost.

2,000 generic alerts for 20 distinct problems (100 each, same dedup key per problem) are
posted concurrently over real HTTP to the API served by uvicorn on 127.0.0.1, with a worker
as production runs it (workflow cache on). Severity "warning" makes each problem a P2 ticket,
so the storm measures intake and deduplication, not page fan-out. What a user must see: every
sender got a 202 naming one incident; there are exactly 20 incidents, each counting its 100
alerts once (one "triggered", 100 "alert.received"), and the records list exactly 20.
Timings are printed, never asserted (benchmarks/alert_storm.py measures them).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from api.app import create_app
from tests.helpers import running_cached_worker, serving, until
from tests.helpers import new_key
from warroom.settings import Settings

pytestmark = pytest.mark.devserver

PROBLEMS = 20
ALERTS_PER_PROBLEM = 100
CONCURRENCY = 64
WHOLE_TEST = 600.0  # seconds: the bound of the whole storm, never a performance target
SETTLE = 120.0  # seconds: the bound for state and records to show every alert


async def test_two_thousand_alerts_for_twenty_problems_make_twenty_incidents(dev_env, engine):
    run = uuid.uuid4().hex[:8]
    service = f"storm-{run}"
    task_queue = f"tq-storm-{run}"
    keys = [f"storm-{run}-{i:02d}" for i in range(PROBLEMS)]
    alerts = [{"title": f"Queue depth high on shard {i}", "service": service, "severity": "warning",
               "dedup_key": k} for i, k in enumerate(keys) for _ in range(ALERTS_PER_PROBLEM)]
    random.Random(run).shuffle(alerts)

    app = create_app(Settings(task_queue=task_queue), client=dev_env.client, engine=engine)
    headers = {"Authorization": f"Bearer {new_key(engine, 'integration')}"}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with asyncio.timeout(WHOLE_TEST), running_cached_worker(dev_env.client, task_queue, engine), \
            serving(app) as url, httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                                  timeout=120) as http:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def post(body: dict[str, Any]) -> tuple[str, httpx.Response]:
            async with gate:
                return body["dedup_key"], await http.post("/api/v1/alerts/generic", json=body)

        started = time.perf_counter()
        answers = await asyncio.gather(*(post(a) for a in alerts))
        elapsed = time.perf_counter() - started
        print(f"\nalert storm: {len(alerts)} alerts in {elapsed:.1f} s, {len(alerts) / elapsed:.0f} alerts/s "
              f"(concurrency {CONCURRENCY})")

        bad = [(k, r.status_code, r.text[:200]) for k, r in answers if r.status_code != 202]
        assert not bad, f"{len(bad)} alerts not accepted, first: {bad[:3]}"
        refs = [(k, r.json()["incidents"]) for k, r in answers]
        assert all(len(incs) == 1 for _, incs in refs), [incs for _, incs in refs if len(incs) != 1][:3]
        by_key = {k: {incs[0]["id"] for kk, incs in refs if kk == k} for k in keys}
        assert all(len(ids) == 1 for ids in by_key.values()), {k: v for k, v in by_key.items() if len(v) != 1}
        ids = {next(iter(v)) for v in by_key.values()}
        assert len(ids) == PROBLEMS
        assert Counter(incs[0]["id"] for _, incs in refs) == {i: ALERTS_PER_PROBLEM for i in ids}
        assert sum(not incs[0]["deduplicated"] for _, incs in refs) >= PROBLEMS  # the first of each is new

        viewer = {"Authorization": f"Bearer {new_key(engine, 'viewer')}"}  # what a manager reads with
        for iid in sorted(ids):
            async def read(iid: str = iid) -> dict[str, Any]:
                r = await http.get(f"/api/v1/incidents/{iid}", headers=viewer)
                assert r.status_code == 200, r.text
                return r.json()

            state = await until(read, f"{iid} to count its {ALERTS_PER_PROBLEM} alerts",
                                ok=lambda s: s["alert_count"] >= ALERTS_PER_PROBLEM, timeout=SETTLE, interval=0.5)
            kinds = Counter(e["type"] for e in state["timeline"])
            assert state["incident_id"] == iid
            assert state["service"] == service and state["priority"] == "P2"
            assert state["alert_count"] == ALERTS_PER_PROBLEM, iid
            assert kinds["triggered"] == 1, iid
            assert kinds["alert.received"] == ALERTS_PER_PROBLEM, iid

        async def listed() -> dict[str, Any]:
            r = await http.get("/api/v1/incidents", params={"service": service, "limit": 200}, headers=viewer)
            assert r.status_code == 200, r.text
            return r.json()

        page = await until(listed, f"the records to list {PROBLEMS} incidents of {ALERTS_PER_PROBLEM} alerts",
                           ok=lambda p: p["total"] == PROBLEMS and all(
                               i["alert_count"] == ALERTS_PER_PROBLEM for i in p["incidents"]),
                           timeout=SETTLE, interval=0.5)
        assert page["total"] == PROBLEMS
        assert {i["id"] for i in page["incidents"]} == ids
        assert {i["alert_count"] for i in page["incidents"]} == {ALERTS_PER_PROBLEM}
