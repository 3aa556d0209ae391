"""The processes of a chaos run: the Temporal dev server (its SQLite file survives a kill), the
workers, the API and the records database, each one started, SIGKILLed and restarted on the
same port, and a record of when each was down.

Room: shared library (warroom/chaos). PostgreSQL is the harness's own: `initdb` in the run's
directory and `postgres` on a free port in its own process group (what `pg_ctl start` runs),
so a kill takes the postmaster and its backends at once, as a crash does. As root it runs as
the `postgres` user (initdb refuses root). SQLite is not a process: its "kill" is another
process holding the write lock for the fault's length (every writer waits, as on a frozen disk).
The processes get the harness's own environment with the run's WARROOM_* settings over it, so a
WARROOM_* variable of the shell never points them elsewhere.
"""

from __future__ import annotations

import asyncio
import functools
import glob
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from warroom import reaper

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 90.0  # seconds a (re)started process has to answer on a loaded machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Outage:
    component: str
    start: float  # time.time() of the kill
    end: float | None = None  # time.time() when it answered again


@dataclass
class Proc:
    """One restartable process, in its own process group (a kill takes its children too)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    user: str | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True, user=self.user, preexec_fn=_die_with_parent)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


# In the child before exec: SIGKILL when the harness dies (Linux), so a harness killed by a
# timeout leaves no server, worker or database behind.
_die_with_parent = functools.partial(reaper.die_with_parent, signal.SIGKILL)


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None)
    if not found:
        raise RuntimeError(f"{name} not found (install PostgreSQL's server binaries) for --records postgresql")
    return found


@dataclass
class Stack:
    workdir: Path
    records: str  # "sqlite" | "postgresql"
    workers: int
    receiver_netloc: str
    levels: Path = REPO / "levels" / "seconds.yaml"
    task_queue: str = "chaos"
    procs: dict[str, Proc] = field(default_factory=dict)
    outages: list[Outage] = field(default_factory=list)
    api_key: str = ""

    def __post_init__(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)  # every run starts from nothing
        self.workdir.mkdir(parents=True)
        if os.geteuid() == 0:
            self.workdir.chmod(0o755)  # PostgreSQL's own user reaches its directory
        self.temporal_port, self.ui_port, self.api_port = free_port(), free_port(), free_port()
        self.pg_port = free_port()
        # PostgreSQL's own user must reach its data directory: a workdir under a directory only
        # root may enter (pytest's tmp_path) would not do, so as root it gets one in the temp dir.
        self.pg_dir = (Path(tempfile.mkdtemp(prefix="warroom-chaos-pg-")) if os.geteuid() == 0
                       else self.workdir / "pg")
        self.sqlite_file = self.workdir / "records.db"
        self._sqlite_lock: sqlite3.Connection | None = None
        self._secret = os.urandom(16).hex()

    # ------------------------------------------------------------------ addresses

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def database_url(self) -> str:
        if self.records == "postgresql":
            return f"postgresql://postgres@127.0.0.1:{self.pg_port}/warroom"
        return f"sqlite:///{self.sqlite_file}"

    @property
    def components(self) -> list[str]:
        return ["temporal", "api", "database", *(f"worker-{i}" for i in range(1, self.workers + 1))]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1", "WARROOM_TEMPORAL_ADDRESS": self.temporal_address,
                "WARROOM_NAMESPACE": "default", "WARROOM_TASK_QUEUE": self.task_queue,
                "WARROOM_DATABASE_URL": self.database_url, "WARROOM_DATA_DIR": str(self.workdir / "data"),
                "WARROOM_RUNBOOKS_DIR": str(REPO / "runbooks"), "WARROOM_ONCALL_DIR": str(self.workdir / "oncall"),
                "WARROOM_SERVICE_LEVELS": str(self.levels), "WARROOM_LOG_LEVEL": "WARNING",
                "WARROOM_SECRET_KEY": self._secret}

    # ------------------------------------------------------------------ start

    async def start(self) -> None:
        self._write_oncall()
        if self.records == "postgresql":
            await asyncio.to_thread(self._initdb)
        self.procs["database"] = self._database_proc()
        self.procs["temporal"] = self._temporal_proc()
        for i in range(1, self.workers + 1):
            self.procs[f"worker-{i}"] = Proc(f"worker-{i}", [sys.executable, "worker.py"], self.env(),
                                             self.workdir / f"worker-{i}.log")
        self.procs["api"] = Proc("api", [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
                                         "--host", "127.0.0.1", "--port", str(self.api_port),
                                         "--log-level", "warning"], self.env(), self.workdir / "api.log")
        for name in ("database", "temporal"):
            await self._start(name)
        await asyncio.to_thread(self._schema_and_key)
        for name in [n for n in self.procs if n.startswith("worker-")] + ["api"]:
            await self._start(name)

    def _write_oncall(self) -> None:
        """People on every level and role, each reached at the receiver under their own path."""
        import yaml

        people = ["l1", "l2", "l3", "l4", "tm", "tl", "csm", "sen", "mgmt", "chaos"]  # chaos: the API key's person
        d = self.workdir / "oncall"
        d.mkdir(parents=True, exist_ok=True)
        (d / "chaos.yaml").write_text(yaml.safe_dump({
            "people": [{"id": p, "name": p, "timezone": "UTC",
                        "contacts": [{"kind": "webhook", "url": f"json://{self.receiver_netloc}/{p}"}]} for p in people],
            "escalation_policies": [{"id": "default", "levels": [{"targets": [f"person:l{i}"]} for i in range(1, 5)]}],
            "roles": {"technical_manager": ["person:tm"], "customer_success_manager": ["person:csm"],
                      "senior_engineer": ["person:sen"], "management": ["person:mgmt"],
                      "technical_lead": ["person:tl"]},
        }))

    def _pg_user(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def _initdb(self) -> None:
        user = self._pg_user()
        self.pg_dir.mkdir(parents=True, exist_ok=True)
        if user:
            shutil.chown(self.pg_dir, user, user)
        subprocess.run([_pg_bin("initdb"), "-D", str(self.pg_dir), "-U", "postgres", "-A", "trust", "--no-sync"],
                       check=True, capture_output=True, user=user, cwd="/")

    def _database_proc(self) -> Proc:
        if self.records != "postgresql":
            return Proc("database", [], {}, self.workdir / "database.log")
        # fsync off: a kill of the process loses nothing the kernel already has; only a machine
        # crash would, and that is not what is tested here.
        return Proc("database", [_pg_bin("postgres"), "-D", str(self.pg_dir), "-p", str(self.pg_port),
                                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.pg_dir}",
                                 "-c", "fsync=off", "-c", "max_connections=200"],
                    dict(os.environ), self.workdir / "database.log", user=self._pg_user())

    def _temporal_proc(self) -> Proc:
        from warroom.cli.dev import dev_server_command
        from warroom.settings import Settings

        settings = Settings(temporal_port=self.temporal_port, temporal_ui_port=self.ui_port,
                            data_dir=self.workdir, namespace="default")
        return Proc("temporal", dev_server_command(settings), dict(os.environ), self.workdir / "temporal.log")

    def _schema_and_key(self) -> None:
        from warroom import records
        from warroom.records import keys

        if self.records == "postgresql":
            import psycopg

            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres", autocommit=True) as c:
                c.execute("CREATE DATABASE warroom")
        engine = records.make_engine(self.database_url)
        try:
            records.create_schema(engine)
            _, self.api_key = keys.create_key(engine, name="chaos", role="admin")
        finally:
            engine.dispose()

    # ------------------------------------------------------------------ kill and restart

    async def _start(self, name: str) -> None:
        p = self.procs[name]
        if name == "database" and self.records != "postgresql":
            self._unlock_sqlite()
        elif p.argv:
            p.start()
        await self.wait_ready(name)

    async def kill(self, name: str) -> Outage:
        outage = Outage(name, time.time())
        self.outages.append(outage)
        if name == "database" and self.records != "postgresql":
            await asyncio.to_thread(self._lock_sqlite)
        else:
            await asyncio.to_thread(self.procs[name].kill)
        return outage

    async def restart(self, outage: Outage) -> None:
        await self._start(outage.component)
        outage.end = time.time()

    def _lock_sqlite(self) -> None:
        self._sqlite_lock = sqlite3.connect(self.sqlite_file, isolation_level=None, timeout=60,
                                            check_same_thread=False)
        self._sqlite_lock.execute("BEGIN IMMEDIATE")

    def _unlock_sqlite(self) -> None:
        if self._sqlite_lock is not None:
            self._sqlite_lock.rollback()
            self._sqlite_lock.close()
            self._sqlite_lock = None

    async def wait_ready(self, name: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        p = self.procs[name]
        while time.monotonic() < deadline:
            if p.argv and not p.alive():
                raise RuntimeError(f"{name} exited with {p.popen and p.popen.returncode}:\n{p.tail()}")
            try:
                if await self._ready(name):
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{name} not ready within {READY_TIMEOUT:.0f}s:\n{p.tail()}")

    async def _ready(self, name: str) -> bool:
        if name == "database":
            if self.records != "postgresql":
                return True
            import psycopg

            def probe() -> bool:
                psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres", connect_timeout=2).close()
                return True

            return await asyncio.to_thread(probe)
        if name == "temporal":
            client = await self.client()
            await client.workflow_service.get_system_info(_system_info_request())
            return True
        if name == "api":
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(f"{self.api_url}/healthz")).status_code == 200
        return await self._polling(self.procs[name].popen.pid)  # a worker

    async def _polling(self, pid: int) -> bool:
        """The worker polls both the workflow and the activity task queue."""
        from temporalio.api.enums.v1 import TaskQueueType
        from temporalio.api.taskqueue.v1 import TaskQueue
        from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

        client = await self.client()
        for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
            resp = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
                namespace="default", task_queue=TaskQueue(name=self.task_queue), task_queue_type=kind))
            if not any(p.identity.startswith(f"{pid}@") for p in resp.pollers):
                return False
        return True

    async def client(self) -> Any:
        """The harness's Temporal client (made once; it reconnects by itself after a server kill)."""
        if getattr(self, "_client", None) is None:
            from temporalio.client import Client

            from workflows.converter import DATA_CONVERTER

            self._client = await Client.connect(self.temporal_address, namespace="default",
                                                data_converter=DATA_CONVERTER)
        return self._client

    async def stop(self) -> None:
        """Kill every process (whatever failed before: none may outlive the run)."""
        for p in self.procs.values():
            p.kill()
        try:
            self._unlock_sqlite()
        except sqlite3.Error:
            pass
        if not self.pg_dir.is_relative_to(self.workdir):
            shutil.rmtree(self.pg_dir, ignore_errors=True)


def _system_info_request() -> Any:
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

    return GetSystemInfoRequest()
