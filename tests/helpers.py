"""Test helpers: build incidents, run a worker, read what users see."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Iterator, TypeVar

import httpx
import pytest
from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from warroom import client as temporal
from warroom import records
from warroom.records import keys as auth
from warroom.runbooks import RunbookLibrary
from warroom.settings import Settings
from worker import build_worker
from workflows.contracts import AlertInfo, IncidentState, ResponsePolicy, RunbookSpec
from workflows.policy import default_policy

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")


# --------------------------------------------------------------------------- waiting and time

# The default bound of a wait, in seconds. Waits end as soon as their condition holds, so the
# bound only decides how long a broken test takes to fail; it is generous because the suite
# must pass on a loaded 2-core machine where other test runs compete for the CPU.
WAIT = 30.0
POLL = 0.05  # seconds between two looks at a condition


async def until(probe: Callable[[], T | Awaitable[T]], what: str, *, ok: Callable[[T], Any] = bool,
                timeout: float = WAIT, interval: float = POLL) -> T:
    """Wait for a condition: call probe() (a plain function or a coroutine function) until
    ok(its value) holds (by default: until the value is truthy) and return that value; after
    `timeout` seconds fail, naming `what` and showing the last value read. The one way a test
    waits: never a fixed sleep and then a look.

    To show that something did NOT happen, wait for a positive sign that the system is done
    with it (a later request processed, a marker incident recorded, the state showing the
    event) and then assert; see open_marker().

    A query or call that Temporal answers with a deadline or unavailability (a worker busy on a
    loaded machine: "query deadline exceeded") is a look that saw nothing yet, until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
        except RPCError as err:
            if err.status not in _TRANSIENT or time.monotonic() > deadline:
                raise
            value = err  # type: ignore[assignment]
        else:
            if ok(value):  # type: ignore[arg-type]
                return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last read: {value!r:.2000}")
        await asyncio.sleep(interval)


_TRANSIENT = frozenset({RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE})


# How far from its due time an event on the time-skipping server may be stamped. The server
# jumps its clock to a timer's fire time exactly, then the clock runs on in real time while the
# worker takes the workflow task and the activities that produce the event; a timer counted
# from the previous event (a review reminder every 4 h) adds those latencies up. Measured on an
# idle machine: 0.05 s for one timer, 0.45 s after six reminders. 10 s leaves room for a loaded
# 2-core machine and stays far below the shortest interval a test tells apart (minutes; an early
# escalation is caught by the checks that nothing happened yet at 14.9 min).
# (A deadline the engine computes from a recorded time, such as ack_due = created_at + 30 min,
# is arithmetic on recorded data, not a clock reading: compare it exactly.)
TIMER_TOLERANCE = timedelta(seconds=10)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def minutes(*expected: float) -> Any:
    """What a list of minutes after a reference (at_minutes(), `(e.at - ref) / MINUTE`) should
    equal: these, each within TIMER_TOLERANCE (at_minutes rounds to 0.6 s, well inside it)."""
    return pytest.approx(list(expected), abs=TIMER_TOLERANCE / MINUTE)


def hours(*expected: float) -> Any:
    """Like minutes(), for a list of hours after a reference (`(e.at - ref) / HOUR`)."""
    return pytest.approx(list(expected), abs=TIMER_TOLERANCE / HOUR)


# A page's `notification.sent` is written when its delivery came back, and while an activity runs
# the time-skipping server's clock runs in real time: a page's time is its deadline plus the real
# seconds the delivery took (a records write waiting on SQLite's lock, a loaded machine). Pages
# are therefore compared within a minute; the deadlines themselves (escalated, reminders'
# events) within TIMER_TOLERANCE.
DELIVERY_TOLERANCE = timedelta(seconds=60)


def _sent(expected: tuple[float, ...], unit: timedelta) -> Any:
    # from TIMER_TOLERANCE before each deadline to DELIVERY_TOLERANCE after it
    low, high = -TIMER_TOLERANCE / unit, DELIVERY_TOLERANCE / unit
    return pytest.approx([e + (low + high) / 2 for e in expected], abs=(high - low) / 2)


def sent_minutes(*expected: float) -> Any:
    """Like minutes(), for the times pages were sent: each from TIMER_TOLERANCE before its
    deadline to DELIVERY_TOLERANCE after it."""
    return _sent(expected, MINUTE)


def sent_hours(*expected: float) -> Any:
    """Like sent_minutes(), in hours."""
    return _sent(expected, HOUR)


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """The ASGI app over real HTTP on a free loopback port, in this event loop (where the
    Temporal client and the worker live); yields the base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    # Keep-alive longer than any test client keeps an idle connection (httpx: 5 s by default;
    # the storm's senders 2 s), so a client never sends on a connection the server is closing
    # at that moment (httpx.ReadError: the race, not an answer of the API).
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_keep_alive=30))
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]  # pytest owns signals
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started or task.done(), "uvicorn to start", interval=0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def worker_settings(task_queue: str, kw: dict[str, Any]) -> Settings:
    """The worker's Settings (from the environment, as production builds them) on `task_queue`,
    with the Settings fields among `kw` (approvers, public_url, commands...) taken out of it."""
    parts = {"channels", "recovery", "oncall", "war_room", "retry_delay", "send"}  # build_worker's own
    fields = {k: kw.pop(k) for k in list(kw) if k in Settings.model_fields and k not in parts}
    # a server key of its own, so no test writes one into the checkout's .warroom/
    fields.setdefault("secret_key", "tests-worker-server-key")
    return Settings(task_queue=task_queue, **fields)


@asynccontextmanager
async def running_worker(client: Client, task_queue: str, engine: Engine, *,
                         runbooks: RunbookLibrary | None = None, **kw: Any) -> AsyncIterator[None]:
    w = build_worker(client, worker_settings(task_queue, kw), engine=engine,
                     runbooks=runbooks or RunbookLibrary(REPO / "runbooks"), max_cached_workflows=0, **kw)
    async with w:
        yield


def alert(**kw: Any) -> AlertInfo:
    kw.setdefault("title", "Checkout is down")
    # a service of its own: what one test teaches the knowledge base stays out of the others
    kw.setdefault("service", f"checkout-{uuid.uuid4().hex[:6]}")
    kw.setdefault("dedup_key", f"test-{uuid.uuid4().hex[:12]}")
    return AlertInfo(**kw)


async def start(client: Client, task_queue: str, *, policy: ResponsePolicy | None = None,
                runbook: RunbookSpec | None = None, **kw: Any) -> WorkflowHandle:
    t = await temporal.trigger(client, alert(**kw), task_queue=task_queue, policy=policy or default_policy(),
                          runbook=runbook)
    return t.handle


async def get_state(handle: WorkflowHandle) -> IncidentState:
    return await handle.query("get_state", result_type=IncidentState)


def types(state: IncidentState) -> list[str]:
    return [e.type for e in state.timeline]


def events(state: IncidentState, type_: str) -> list:
    return [e for e in state.timeline if e.type == type_]


def minutes_after_start(state: IncidentState, ev: Any) -> float:
    assert state.created_at is not None
    return (ev.at - state.created_at).total_seconds() / 60


async def advance_to(env: Any, state_or_handle: Any, minutes: float) -> None:
    """Sleep in virtual time until `minutes` after the incident was created."""
    st = state_or_handle if isinstance(state_or_handle, IncidentState) else await get_state(state_or_handle)
    assert st.created_at is not None
    now = await env.get_current_time()
    from datetime import timedelta

    delta = st.created_at + timedelta(minutes=minutes) - now
    if delta.total_seconds() > 0:
        await env.sleep(delta)


def at_minutes(state: IncidentState, type_: str, **match: Any) -> list[float]:
    """Minutes after creation of every event of this type whose details match."""
    return [round(minutes_after_start(state, e), 2) for e in events(state, type_)
            if all(e.details.get(k) == v for k, v in match.items())]


def pages(state: IncidentState, **match: Any) -> list[Any]:
    return [e for e in events(state, "notification.sent") if all(e.details.get(k) == v for k, v in match.items())]


# --------------------------------------------------------------------------- lifecycle helpers


async def final_state(client: Client, handle: WorkflowHandle) -> IncidentState:
    """The workflow result (the final state), following continue-as-new and hand-overs."""
    return await client.get_workflow_handle(handle.id, result_type=IncidentState).result()


def hours_after(ref: Any, ev: Any) -> float:
    """Hours from `ref` (a datetime) to the event."""
    return round((ev.at - ref).total_seconds() / 3600, 2)


async def open_marker(http: Any, engine: Engine, client: Client, **request: Any) -> str:
    """Open one incident through the API (`http`, an httpx.AsyncClient on the app with a worker
    behind it; `request` goes to its post, e.g. headers) and wait until the records hold it and
    its workflow has no activity in flight; returns its id.

    The positive sign a "this opened nothing" check waits for, instead of sleeping: the
    requests answered before this one would have started their incidents first, and every
    incident is recorded by its first workflow task, so once the worker has recorded the marker
    it has recorded those too. Count afterwards: before + 1, the marker itself."""
    r = await http.post("/api/v1/alerts/generic", json={
        "title": "Marker: the requests before this one are processed", "priority": "P4",
        "service": f"marker-{uuid.uuid4().hex[:6]}", "dedup_key": f"marker-{uuid.uuid4().hex[:12]}"}, **request)
    assert r.status_code == 202, r.text
    iid = r.json()["incidents"][0]["id"]

    async def settled() -> bool:
        if records.incident(engine, incident_id=iid) is None:
            return False
        return not (await client.get_workflow_handle(iid).describe()).raw_description.pending_activities

    await until(settled, f"the marker incident {iid} to be recorded, with nothing in flight")
    return iid


def repeat_alert(handle: WorkflowHandle, state: IncidentState, **kw: Any) -> AlertInfo:
    """The same alert again (same dedup key): what an alerting system sends when it re-fires."""
    kw.setdefault("title", state.title)
    kw.setdefault("service", state.service)
    kw.setdefault("priority", state.priority)
    return alert(dedup_key=handle.id.removeprefix("incident-"), **kw)


class HttpStub:
    """A real HTTP server on 127.0.0.1 (ephemeral port) in a thread. Each path answers a
    scripted list of status codes, one per request, the last one repeating; every request
    is recorded as (method, path)."""

    def __init__(self, **scripts: list[int]) -> None:
        self.scripts: dict[str, list[int]] = {f"/{k}": list(v) for k, v in scripts.items()}
        import threading

        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def set(self, path: str, statuses: list[int]) -> None:
        with self._lock:
            self.scripts[f"/{path}"] = list(statuses)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def hits(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r == (method, f"/{path}"))

    def _answer(self, method: str, path: str) -> int:
        with self._lock:
            self.requests.append((method, path))
            script = self.scripts.get(path)
            if not script:
                return 404
            return script.pop(0) if len(script) > 1 else script[0]

    def __enter__(self) -> "HttpStub":
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                code = stub._answer(self.command, self.path)
                body = b"ok" if code < 400 else b"unhealthy"
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _reply

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


async def assert_replays(client: Client, handle: WorkflowHandle) -> int:
    """Replay every run of the incident (continue-as-new, hand-over) from scratch on the
    current code; a nondeterminism fails the test. Returns the number of runs."""
    from temporalio.worker import Replayer

    from workflows.incident import IncidentResponse
    from workflows.ticket import Ticket

    replayer = Replayer(workflows=[IncidentResponse, Ticket])
    run_id: str | None = handle.first_execution_run_id or handle.result_run_id
    runs = 0
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"run {run_id}: {result.replay_failure}"
        runs += 1
        run_id = None
        last = history.events[-1]
        if last.HasField("workflow_execution_continued_as_new_event_attributes"):
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return runs


@asynccontextmanager
async def running_cached_worker(client: Client, task_queue: str, engine: Engine, **kw: Any) -> AsyncIterator[None]:
    """A worker that keeps workflows cached between tasks, as production workers do.

    For the few paths where a worker without a cache trips temporalio/sdk-rust#1146: when it
    replays from scratch, sdk-core folds a workflow task that produced no commands into the
    next one if that one only delivers an update, so the update is applied before the
    activity completion of the empty task, not after it as on every later replay. Check
    such tests with assert_replays()."""
    w = build_worker(client, worker_settings(task_queue, kw), engine=engine, runbooks=RunbookLibrary(REPO / "runbooks"),
                     max_cached_workflows=100, **kw)
    async with w:
        yield


def new_key(engine, role: str, **options) -> str:
    """A fresh API key of this role (names are unique among active keys); `person=` says who
    acts with it, the other options are an integration's."""
    return auth.create_key(engine, name=f"test-{role}-{uuid.uuid4().hex[:8]}", role=role, **options)[1]


@asynccontextmanager
async def api(env, engine, task_queue, *, role: str = "admin", person: str | None = None):
    """The app in-process with a worker; requests carry a key of `role` (belonging to `person`)
    unless they set their own."""
    app = create_app(Settings(task_queue=task_queue), client=env.client, engine=engine)
    async with running_worker(env.client, task_queue, engine):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom",
                                     headers={"Authorization": f"Bearer {new_key(engine, role, person=person)}"}) as http:
            yield http


@contextlib.contextmanager
def postgres_database(server_url: str, prefix: str, *, schema: bool = True) -> Iterator[Engine]:
    """A PostgreSQL database of the caller's own on the server of `server_url`, made afresh
    (with warroom's schema unless schema=False) and dropped after. The server is shared (CI, other
    runs): what another run left in a database must never decide a test."""
    server = records.make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with server.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    eng = records.make_engine(server.url.set(database=name).render_as_string(hide_password=False))
    try:
        if schema:
            records.create_schema(eng)
        yield eng
    finally:
        eng.dispose()
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.engine.dispose()
