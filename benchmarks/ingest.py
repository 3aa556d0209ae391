"""Benchmark: warroom's ingest figures of issue 13, through the HTTP API as production runs it.

Room: benchmarks. The warroom side of benchmarks/temporal_baseline.py: the same shapes of
load on the same dev server, so each figure has its bare-Temporal floor beside it.

    .venv/bin/python benchmarks/ingest.py [--figures a,b,c,d,f] [--quick] [--database-url URL] [--db-file]

Every run starts its own worker (`python worker.py`) and API (`warroom api`, uvicorn on
127.0.0.1) as subprocesses configured by WARROOM_* variables, on a task queue of their own,
with records on SQLite (a throw-away file) or PostgreSQL (--database-url; its tables are made
afresh). Pages go through the real notify activity, an on-call configuration and Apprise
(json://) to an HTTP receiver on 127.0.0.1 in this process; each alert carries a token in its
title, so the receiver knows which incident a page belongs to and when its first page arrived.
Before anything is timed, one P1 alert goes through to its page (imports, sandbox, caches).

Figures:
  a  storm: alerts over problems (P2 tickets), concurrent senders; each problem has a known
     number of distinct alerts (distinct `fingerprint`, and labels) plus re-sends of them;
     at the end each incident's alert_count must equal its distinct alerts
  b  one hot dedup key, the same senders (alerts/s, p50/p99 to the 202)
  c  new dedup keys (P2 tickets) for a fixed time: accepted/s, and handled/s (handled = the
     ticket's first page arrived at the receiver; counted to the last one, backlog included)
  d  N P0/P1 incidents posted at once: accepted/s, time until each has paged, pages/s, CPU per
     incident (worker + server process, the API's apart) and (e) worker RSS per open incident
  f  alert POST -> first page delivered, one at a time (low load): p50/p99
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import yaml

from benchmarks.http_sender import Sender, SenderError
from benchmarks.temporal_baseline import (
    REPO,
    Server,
    Sizes,
    bounded,
    cpu_seconds,
    dev_server,
    end_all,
    loadavg,
    machine,
    pct,
    rss_kb,
    spawn,
    stop,
    storm_plan,
    tail,
    wait_quiet,
)
from tests.receivers import Receiver, Request

TOKEN = re.compile(r"bx[0-9a-f]{8}n\d+")
ROLES = ("senior_engineer", "technical_manager", "customer_success_manager", "technical_lead", "management",
         "stakeholders")


class Pages:
    """When the first page naming each token arrived at the receiver (time.monotonic())."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.total = 0
        self._lock = threading.Lock()

    def note(self, req: Request) -> None:  # the receiver's handler: records, answers the default 200
        tokens = TOKEN.findall(req.body.decode("utf-8", "replace"))
        with self._lock:
            self.total += 1
            for tok in tokens:
                self.first.setdefault(tok, req.at)

    def of(self, tokens: list[str]) -> dict[str, float]:
        with self._lock:
            return {t: self.first[t] for t in tokens if t in self.first}


def on_call(directory: Path, rx: Receiver) -> Path:
    """One person reached through a webhook on the receiver, at every level and in every role."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bench.yaml").write_text(yaml.safe_dump({
        "people": [{"id": "bench", "name": "Bench", "timezone": "UTC", "language": "en",
                    "contacts": [{"kind": "webhook", "url": f"json://{rx.netloc}/bench"}]}],
        "teams": [{"id": "sre", "name": "SRE", "members": ["bench"]}],
        "escalation_policies": [{"id": "default", "levels": [{"targets": ["person:bench"]}] * 4}],
        "roles": {r: ["person:bench"] for r in ROLES},
    }, sort_keys=False))
    return directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_records(url: str) -> None:
    """The records schema made afresh (as tests/conftest.py does), before any process opens it."""
    from warroom import records

    engine = records.make_engine(url)
    try:
        records.Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        records.create_schema(engine)
    finally:
        engine.dispose()


def make_keys(url: str, run: str) -> tuple[str, str]:
    from warroom import records
    from warroom.records import keys as auth

    engine = records.make_engine(url)
    try:
        return (auth.create_key(engine, name=f"bench-{run}", role="integration")[1],
                auth.create_key(engine, name=f"bench-viewer-{run}", role="viewer")[1])
    finally:
        engine.dispose()


@dataclass
class Stack:
    url: str
    http: httpx.AsyncClient  # reads (incident state, health)
    sender: Sender  # the alerts: a sender that costs the benchmark process little (http_sender.py)
    reader: dict[str, str]
    pages: Pages
    run: str
    worker_pid: int
    api_pid: int
    server_pid: int
    incidents: set[str]  # every incident id answered, to end them after the run
    seq: int = 0

    def token(self) -> str:
        self.seq += 1
        return f"bx{self.run}n{self.seq}"

    async def post(self, body: dict[str, Any]) -> tuple[int, float, str]:
        """(status, seconds to the answer, incident id or the error's text)."""
        t0 = time.perf_counter()
        try:
            r = await self.sender.post("/api/v1/alerts/generic", body)
        except SenderError as err:
            return 0, time.perf_counter() - t0, repr(err)
        took = time.perf_counter() - t0
        if r.status_code != 202:
            return r.status_code, took, r.text[:300]
        iid = r.json()["incidents"][0]["id"]
        self.incidents.add(iid)
        return 202, took, iid

    async def paged(self, tokens: list[str], limit: float) -> dict[str, float]:
        """Wait (bounded) until every token's first page arrived; returns those that did."""
        deadline = time.monotonic() + limit
        while True:
            got = self.pages.of(tokens)
            if len(got) == len(tokens) or time.monotonic() > deadline:
                return got
            await asyncio.sleep(0.002 if len(tokens) == 1 else 0.2)


def incident_alert(tok: str, priority: str) -> dict[str, Any]:
    return {"title": f"Bench incident {tok}", "service": "bench-svc", "priority": priority,
            "dedup_key": f"bench-{tok}", "description": "benchmark incident"}


@contextlib.asynccontextmanager
async def warroom_stack(server: Server, tmp: Path, db_url: str, concurrency: int = 64) -> AsyncIterator[Stack]:
    """Worker and API subprocesses on a task queue of their own, pages to a receiver here."""
    from warroom.classify import split_incident_id

    run = uuid.uuid4().hex[:8]
    pages = Pages()
    with Receiver(handler=lambda req: pages.note(req)) as rx:
        data = tmp / f"data-{run}"
        data.mkdir()
        port = free_port()
        env = {"WARROOM_TEMPORAL_ADDRESS": server.address, "WARROOM_TASK_QUEUE": f"wr-{run}",
               "WARROOM_DATABASE_URL": db_url, "WARROOM_DATA_DIR": str(data), "WARROOM_LOG_LEVEL": "WARNING",
               "WARROOM_ONCALL_DIR": str(on_call(data / "oncall", rx)), "WARROOM_API_HOST": "127.0.0.1",
               "WARROOM_API_PORT": str(port), "WARROOM_SECRET_KEY": f"bench-{uuid.uuid4().hex}",
               "WARROOM_RUNBOOKS_DIR": str(REPO / "runbooks")}
        key, reader = make_keys(db_url, run)
        wlog, alog = tmp / f"worker-{run}.log", tmp / f"api-{run}.log"
        worker = spawn([sys.executable, str(REPO / "worker.py")], env, wlog)
        api = spawn([str(Path(sys.executable).parent / "warroom"), "api"], env, alog)
        # A pooled connection is dropped before uvicorn's keep-alive timeout (5 s) closes it: with
        # httpx's default (also 5 s) a request can go out on a connection the server is closing
        # (ReadError), which is the sender's race, not an answer of the API.
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency,
                              keepalive_expiry=2.0)
        url = f"http://127.0.0.1:{port}"
        incidents: set[str] = set()
        try:
            async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120,
                                         headers={"Authorization": f"Bearer {key}"}) as http:
                deadline = time.monotonic() + 60
                while True:
                    for p, log in ((worker, wlog), (api, alog)):
                        if p.poll() is not None:
                            raise RuntimeError(f"{log.name} exited {p.returncode}:\n{tail(log)}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the API did not answer in 60 s:\n{tail(alog)}")
                    await asyncio.sleep(0.1)
                sender = Sender(url, connections=concurrency, headers={"Authorization": f"Bearer {key}"})
                stack = Stack(url=url, http=http, sender=sender, reader={"Authorization": f"Bearer {reader}"},
                              pages=pages,
                              run=run, worker_pid=worker.pid, api_pid=api.pid, server_pid=server.pid,
                              incidents=incidents)
                tok = stack.token()
                code, _, answer = await stack.post(incident_alert(tok, "P1"))
                if code != 202:
                    raise RuntimeError(f"warm-up alert answered {code}: {answer}")
                if not await stack.paged([tok], 120):
                    raise RuntimeError(f"the warm-up incident never paged:\n{tail(wlog)}")
                try:
                    yield stack
                finally:
                    await sender.close()
        except BaseException:
            for p, log in ((worker, wlog), (api, alog)):
                if p.poll() is not None:
                    print(f"{log.name} exited {p.returncode}:\n{tail(log)}", file=sys.stderr)
            raise
        finally:
            stop(api)
            stop(worker)
            await end_all(server.client, sorted({split_incident_id(i)[0] for i in incidents}))


# ---------------------------------------------------------------------------------------------- figures


async def storm(stack: Stack, *, alerts: int, problems: int, concurrency: int,
                settle: float = 60.0) -> dict[str, Any]:
    """(a)/(b) alerts over `problems` dedup keys (P2 tickets) with distinct alerts and re-sends."""
    plan, distinct = storm_plan(alerts, problems)
    service = f"storm-{stack.run}"

    def body(i: int, fp: str) -> dict[str, Any]:
        return {"title": f"Queue depth high on shard {i}", "service": service, "severity": "warning",
                "dedup_key": f"{service}-{i:02d}", "fingerprint": fp, "labels": {"alert": fp},
                "description": f"alert {fp}"}

    pids = {"api": stack.api_pid, "worker": stack.worker_pid, "server": stack.server_pid}
    cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
    load0, t0 = loadavg(), time.perf_counter()
    answers = await bounded(concurrency, [lambda i=i, fp=fp: stack.post(body(i, fp)) for i, fp in plan])
    wall = time.perf_counter() - t0
    cpu = {k: (cpu_seconds(p) - cpu0[k]) * 1000 / alerts for k, p in pids.items()}  # until the last 202
    codes = Counter(c for c, _, _ in answers)
    of_problem: dict[int, str] = {}
    for (i, _), (code, _, iid) in zip(plan, answers, strict=True):
        if code == 202:
            of_problem.setdefault(i, iid)
    counts: dict[int, Any] = {}
    deadline = time.monotonic() + settle
    for i, iid in sorted(of_problem.items()):  # the engine's count, once the last signals are in
        while True:
            st = (await stack.http.get(f"/api/v1/incidents/{iid}", headers=stack.reader)).json()
            counts[i] = st.get("alert_count")
            if counts[i] == distinct[i] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
    exact = len(of_problem) == problems and all(counts.get(i) == distinct[i] for i in range(problems))
    lat = [t for c, t, _ in answers if c == 202]
    errors = [a for c, _, a in answers if c != 202]
    return {"alerts": alerts, "problems": problems, "concurrency": concurrency, "wall_s": wall,
            "rate": len(lat) / wall, "p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000,
            "errors": sum(n for c, n in codes.items() if c != 202), "codes": {str(c): n for c, n in codes.items()},
            "first_error": errors[0] if errors else "", "incidents": len(of_problem), "exact": exact,
            "counts_seen": [counts.get(i) for i in range(problems)], "distinct": distinct,
            **{f"{k}_cpu_ms_each": v for k, v in cpu.items()}, "load": load0}


async def distinct_keys(stack: Stack, *, duration: float, concurrency: int, catch_up: float) -> dict[str, Any]:
    """(c) new dedup keys (P2 tickets) for `duration` s: accepted/s; handled = first page arrived."""
    accepted: list[str] = []
    refused: Counter[int] = Counter()
    first_error: list[str] = []
    load0, t0 = loadavg(), time.monotonic()

    async def sender() -> None:
        while time.monotonic() - t0 < duration:
            tok = stack.token()
            code, _, answer = await stack.post({"title": f"Disk filling on {tok}", "service": "bench-svc",
                                           "severity": "warning", "dedup_key": f"bench-{tok}"})
            if code == 202:
                accepted.append(tok)
            else:
                refused[code] += 1
                first_error.append(f"{code}: {answer}")

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    blast = time.monotonic() - t0
    in_blast = sum(1 for t in stack.pages.of(accepted).values() if t - t0 <= duration)
    got = await stack.paged(accepted, duration + catch_up - (time.monotonic() - t0))
    last = max(got.values(), default=t0) - t0
    return {"duration_s": blast, "accepted": len(accepted), "accepted_per_s": len(accepted) / blast,
            "errors": sum(refused.values()), "first_error": first_error[0] if first_error else "", "handled": len(got), "handled_in_blast": in_blast,
            "catch_up_s": last, "handled_per_s": len(got) / last if last > 0 else 0.0,
            "all_handled": len(got) == len(accepted), "load": load0}


async def burst(stack: Stack, server: Server, *, n: int, concurrency: int, limit: float) -> dict[str, Any]:
    """(d)+(e) n P0/P1 incidents posted at once (half each): accepted/s, until each paged, CPU, RSS."""
    pids = {"worker": stack.worker_pid, "server": server.pid, "api": stack.api_pid}
    await wait_quiet(list(pids.values()), limit=15)
    rss0 = rss_kb(stack.worker_pid)
    cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
    toks = [stack.token() for _ in range(n)]
    load0, t0 = loadavg(), time.monotonic()
    answers = await bounded(concurrency, [lambda t=t, i=i: stack.post(incident_alert(t, ("P0", "P1")[i % 2]))
                                          for i, t in enumerate(toks)])
    accepted_s = time.monotonic() - t0
    ok = [t for t, (c, _, _) in zip(toks, answers, strict=True) if c == 202]
    errors = [f"{c}: {a}" for c, _, a in answers if c != 202]
    got = await stack.paged(ok, limit)
    after = sorted(t - t0 for t in got.values())
    await wait_quiet(list(pids.values()), limit=120)
    cpu = {k: cpu_seconds(p) - cpu0[k] for k, p in pids.items()}
    rss1 = rss_kb(stack.worker_pid)
    last = after[-1] if after else 0.0
    return {"n": n, "accepted": len(ok), "errors": n - len(ok), "first_error": errors[0] if errors else "",
            "accepted_per_s": len(ok) / accepted_s,
            "paged": len(got), "first_paged_s": after[0] if after else 0.0, "median_paged_s": pct(after, 50),
            "all_paged_s": last, "paged_per_s": len(got) / last if last > 0 else 0.0,
            "cpu_ms_each": (cpu["worker"] + cpu["server"]) * 1000 / n, "worker_cpu_ms_each": cpu["worker"] * 1000 / n,
            "server_cpu_ms_each": cpu["server"] * 1000 / n, "api_cpu_ms_each": cpu["api"] * 1000 / n,
            "rss_idle_mb": rss0 / 1024, "rss_open_mb": rss1 / 1024, "rss_kb_each": (rss1 - rss0) / n, "load": load0}


async def first_page(stack: Stack, server: Server, *, samples: int) -> dict[str, Any]:
    """(f) one P1 alert at a time: POST -> its first page at the receiver; the machine let go
    quiet (worker and server) before each, so every sample is at low load."""
    lat, accept = [], []
    load0 = loadavg()
    for _ in range(samples):
        await wait_quiet([stack.worker_pid, server.pid], below=0.2, window=0.3, limit=10)
        tok = stack.token()
        t0 = time.monotonic()
        code, took, answer = await stack.post(incident_alert(tok, "P1"))
        if code != 202:
            raise RuntimeError(f"alert answered {code}: {answer}")
        got = await stack.paged([tok], 60)
        if got:
            lat.append(got[tok] - t0)
            accept.append(took)
    return {"samples": samples, "paged": len(lat), "p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000,
            "max_ms": max(lat, default=float("nan")) * 1000, "accept_p50_ms": pct(accept, 50) * 1000,
            "load": load0}


async def figure(fig: str, server: Server, tmp: Path, sizes: Sizes, db_url: str) -> dict[str, Any]:
    async with warroom_stack(server, tmp, db_url, sizes.concurrency) as stack:
        if fig == "a":
            return await storm(stack, alerts=sizes.storm_alerts, problems=sizes.storm_problems,
                               concurrency=sizes.concurrency)
        if fig == "b":
            return await storm(stack, alerts=sizes.hot_alerts, problems=1, concurrency=sizes.concurrency)
        if fig == "c":
            return await distinct_keys(stack, duration=sizes.distinct_seconds, concurrency=sizes.concurrency,
                                       catch_up=sizes.catch_up_seconds)
        if fig == "d":
            return await burst(stack, server, n=sizes.burst, concurrency=sizes.concurrency,
                               limit=sizes.burst_limit_seconds)
        if fig == "f":
            return await first_page(stack, server, samples=sizes.latency_samples)
    raise ValueError(f"unknown figure {fig!r}")


@contextlib.contextmanager
def records_db(tmp: Path, database_url: str) -> Iterator[str]:
    """The records database of one benchmark run, made afresh: a SQLite file in `tmp`, or on the
    PostgreSQL server of `database_url` a database of its own (created here, dropped after), so
    that a test run using the same database at the same time loses nothing."""
    if not database_url.startswith("postgresql"):
        url = f"sqlite:///{tmp / 'records.db'}"
        fresh_records(url)
        yield url
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"warroom_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
        fresh_records(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def run_figures(figures: list[str], sizes: Sizes, database_url: str, db_file: bool, tuned: bool) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with records_db(tmp, database_url) as url:
            async with dev_server(str(tmp / "temporal.db") if db_file else None, tuned=tuned) as server:
                print(f"machine: {machine()}; load {loadavg()}; server {server.mode}")
                for fig in figures:
                    print(fig, json.dumps(await figure(fig, server, tmp, sizes, url)))
                print(f"load at end {loadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--figures", default="a,b,c,d,f")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--database-url", default="", help="records on this database (default: a SQLite file)")
    ap.add_argument("--db-file", action="store_true", help="the dev server on a SQLite file, not in memory")
    ap.add_argument("--tuned-server", action="store_true", help="the dev server with `warroom dev`'s options")
    args = ap.parse_args()
    asyncio.run(run_figures(args.figures.split(","), Sizes.quick() if args.quick else Sizes(), args.database_url,
                            args.db_file, args.tuned_server))


if __name__ == "__main__":
    main()
