"""The records down for a minute during running incidents and an alert storm (issue 14): on
PostgreSQL frozen (connections and data accepted, nothing answered: SIGSTOP, a dead network
path), on PostgreSQL stopped (connections reset, new ones refused: shut down or crashed, then
back on the same port) and on SQLite locked (another process holds `BEGIN EXCLUSIVE` on the
file). The worker and the API both use the records that go down; the test reads them directly.

The same workload in each: three P0/P1 incidents already running (their first pages out, waiting
for an acknowledgement), then the outage, and during it a storm through the API (200 P1 alerts
over 20 dedup keys from 16 concurrent senders, in two waves: at the start of the outage and half
way through it, so incidents start both right after the records stopped answering and once the
worker has long known it) and an engineer acknowledging a running incident. What a user sees:

- every alert answered 202, none later than REQUEST_BOUND;
- every new incident's first pages on its timeline as notification.sent within PAGE_BOUND of its
  start, while the records are still down, and no notification.failed anywhere;
- the acknowledgement answered 200 and on the timeline;
- once the records are back, within RECONCILE: every incident in the records, every page the
  timeline says was sent SENT in the records' communications and deliveries (no row PENDING or
  FAILED, no page twice, each person's delivery received once by the receiver), every war room
  the timeline says was opened in the records with its brief SENT, and the timeline rows
  recorded for each incident exactly its timeline.

The real Temporal dev server (`dev_env`), not the time-skipping one: the outage is wall-clock
time, and what is under test is real-time behaviour (the records' 5 s bound, the 15 s rest,
activity timeouts and retries with their backoff, the flusher catching up). The time-skipping
server would not jump during the outage (its clock is locked unless a test awaits a result),
but it is the dev server that schedules, times out and retries activities as production does,
and the storm test beside this one (test_alert_storm.py) runs there too.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.engine import Engine
from temporalio.client import Client

from api.app import create_app
from tests.helpers import events, new_key, pages, postgres_database, running_cached_worker, until
from tests.proxy import FreezableProxy
from tests.receivers import Receiver
from tests.warroom.records.test_engine import POSTGRES_URL
from warroom import client as temporal
from warroom import records
from warroom.oncall import OnCallConfig
from warroom.settings import Settings
from workflows.contracts import IncidentState

pytestmark = pytest.mark.devserver

# How long the records stay down, in seconds: a minute, as issue 14 asks. The outage itself is
# the one fixed wait of these tests (everything else waits on a condition with a deadline).
# WARROOM_TEST_OUTAGE_SECONDS shortens it for local iteration only; the suite runs 60.
OUTAGE = float(os.environ.get("WARROOM_TEST_OUTAGE_SECONDS", "60"))
RUNNING = ("P0", "P1", "P1")  # the incidents running when the records go down
STORM_ALERTS = 200
STORM_KEYS = 20  # dedup keys: the storm opens this many incidents, ten alerts each
SENDERS = 16  # concurrent senders
# No alert, acknowledgement or read waits longer than this for its answer. An alert from a key
# verified before waits at most 0.5 s on the records (api/deps.py KeyCache); the rest is Temporal
# and the event loop on a loaded 2-core machine. A hung request fails by the client's timeout.
REQUEST_BOUND = 15.0
# From an incident's start to each of its first pages on the timeline. A page waits at most 5 s on
# one records call, and after a call got no answer no other is asked for 15 s or while it hangs
# (activities/common.py `recorded`); the known-issue lookup of assess has the same 5 s bound. So
# the records add at most 5 s to a page's activity, and once the worker knows they are down,
# nothing; the rest is the storm's 20 new incidents starting, assessing and paging at once on a
# 2-core machine (about 2 s on an idle one). 20 s is that with room, and far below the 30 s
# activity timeout after which Temporal would send the page again.
PAGE_BOUND = timedelta(seconds=20)
# After the records are back, until they reconcile: the flusher retries with backoff doubling to
# 60 s (workflows/calls.py RECORD_RETRY), so its next try may be up to 60 s after the end, and an
# attempt hung on a dead connection ends at its 30 s timeout before the retry; 180 s leaves room.
RECONCILE = 180.0


# --------------------------------------------------------------------------- the outages


@dataclass
class Outage:
    """The records under test: the engine the worker and the API use (it goes down), the engine
    the test reads them with (direct), and how to take them down and bring them back."""

    engine: Engine
    direct: Engine
    begin: Callable[[], Awaitable[None]]
    end: Callable[[], Awaitable[None]]


@asynccontextmanager
async def postgres_outage(kind: str) -> AsyncIterator[Outage]:
    with postgres_database(POSTGRES_URL, f"warroom_outage_{kind}") as direct:
        url = direct.url
        async with FreezableProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
            proxied = records.make_engine(url.set(host="127.0.0.1", port=proxy.port)
                                          .render_as_string(hide_password=False))

            async def begin() -> None:
                if kind == "frozen":
                    proxy.freeze()
                else:
                    await proxy.stop()

            async def end() -> None:
                if kind == "frozen":
                    proxy.thaw()
                else:
                    await proxy.start()

            try:
                yield Outage(proxied, direct, begin, end)
            finally:
                proxy.thaw()
                if proxy.server is None:
                    await proxy.start()
                proxied.dispose()


# Holds the write lock of the records file until told (a line on stdin) or for at most its
# argument in seconds, so a test that fails midway never leaves it locked.
_LOCKER = """
import sqlite3, sys, threading
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
released = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), released.set()), daemon=True).start()
released.wait(float(sys.argv[2]))
db.execute("ROLLBACK")
db.close()
print("released", flush=True)
"""


@asynccontextmanager
async def sqlite_outage(path: Path) -> AsyncIterator[Outage]:
    eng = records.make_engine(f"sqlite:///{path}")
    records.create_schema(eng)
    procs: list[subprocess.Popen[str]] = []

    async def begin() -> None:
        proc = subprocess.Popen([sys.executable, "-c", _LOCKER, str(path), str(OUTAGE + 300)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)  # type: ignore[union-attr]
        assert line.strip() == "locked", line

    async def end() -> None:
        proc = procs[-1]
        proc.stdin.write("release\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        await asyncio.to_thread(proc.wait, 30)
        assert proc.returncode == 0, proc.returncode

    try:
        yield Outage(eng, eng, begin, end)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        eng.dispose()


# --------------------------------------------------------------------------- the workload


def _alert(service: str, dedup_key: str, priority: str, title: str, n: int = 0) -> dict[str, Any]:
    return {"title": title, "service": service, "severity": "critical", "priority": priority,
            "dedup_key": dedup_key, "labels": {"instance": f"node-{n}"}}


async def _state(client: Client, iid: str) -> IncidentState:
    return await temporal.state(client, iid)


def _reconciled(direct: Engine, st: IncidentState) -> str:
    """What still differs between the records and the incident's timeline ("" when nothing)."""
    iid = st.incident_id
    if records.incident(direct, incident_id=iid) is None:
        return "not in the records"
    recorded = [(r.seq, r.type) for r in records.timeline(direct, incident_id=iid)]
    shown = [(e.seq, e.type) for e in st.timeline]
    if recorded != shown:
        twice = [k for k, n in Counter(recorded).items() if n > 1]
        missing, extra = sorted(set(shown) - set(recorded)), sorted(set(recorded) - set(shown))
        return (f"{len(recorded)} timeline rows for {len(shown)} events: missing {missing[:5]}, extra {extra[:5]}, "
                f"twice {twice[:5]}")
    comms = {r.key: r.status for r in records.communications(direct, incident_id=iid)}
    sent = {e.details["key"] for e in events(st, "notification.sent")}
    not_sent = {k: comms.get(k) for k in sent if comms.get(k) != "SENT"}
    if not_sent:
        return f"pages sent but not SENT in the records: {not_sent}"
    other = {k: s for k, s in comms.items() if s in ("PENDING", "FAILED")}
    if other:
        return f"communications left {other}"
    unsettled = [(d.key, d.status) for d in records.deliveries(direct, incident_id=iid) if d.status != "SENT"]
    if unsettled:  # a claim the records wrote late, after the page went out without it
        return f"deliveries left {unsettled}"
    for e in events(st, "war_room.opened"):  # the room and its brief, opened with or without the records
        room = records.war_room(direct, incident_id=iid)
        if room is None or room.channel != e.details["channel"]:
            return f"war room {e.details['channel']!r} recorded as {room and room.channel!r}"
        briefs = [r for r in records.communications(direct, incident_id=iid)
                  if r.target == "war_room" and r.kind == "INITIAL"]
        if [r.status for r in briefs] != ["SENT"]:
            return f"war room brief recorded as {[r.status for r in briefs]}"
    return ""


# Who is paged: one person per target, each with a webhook on the test's receiver, so every
# delivery is seen where it lands (by its Idempotency-Key: <page key>:<person>:<contact index>).
PEOPLE = {"oncall:L1": "olga", "technical_lead": "lee", "senior_engineer": "sam", "technical_manager": "tom",
          "customer_success_manager": "cara"}


def _oncall(rx: Receiver, where: Path) -> OnCallConfig:
    people = list(PEOPLE.values())
    where.mkdir(exist_ok=True)
    (where / "team.yaml").write_text(yaml.safe_dump({
        "people": [{"id": p, "name": p.capitalize(), "timezone": "UTC", "language": "en",
                    "contacts": [{"kind": "webhook", "url": f"json://{rx.netloc}/{p}"}]} for p in people],
        "teams": [{"id": "sre", "name": "SRE", "members": people}],
        "escalation_policies": [{"id": "default", "levels": [{"targets": ["person:olga"], "wait_minutes": 15},
                                                             {"targets": ["person:lee"]}]}],
        "roles": {role: [f"person:{p}"] for role, p in PEOPLE.items() if role != "oncall:L1"},
    }, sort_keys=False))
    return OnCallConfig.load(where)


def _delivered_once(rx: Receiver, st: IncidentState) -> str:
    """What differs between the pages on the timeline and what the receiver accepted: every
    person of every page once, by the page's idempotency key ("" when nothing)."""
    got = Counter(r.header("Idempotency-Key") for r in rx.delivered)
    wrong = {f"{e.details['key']}:{p}:0": got[f"{e.details['key']}:{p}:0"]
             for e in events(st, "notification.sent") if e.details["target"] != "war_room"
             for p in e.details["recipients"] if got[f"{e.details['key']}:{p}:0"] != 1}
    return f"{st.incident_id}: pages received other than once: {wrong}" if wrong else ""


async def _outage_with_running_incidents_and_a_storm(client: Client, outage: Outage,
                                                     tmp_path: Path) -> dict[str, float]:
    """The workload and what a user must see; returns timings (printed, never asserted)."""
    with Receiver() as rx:
        return await _workload(client, outage, rx, _oncall(rx, tmp_path / "oncall"))


async def _workload(client: Client, outage: Outage, rx: Receiver, oncall: OnCallConfig) -> dict[str, float]:
    run = uuid.uuid4().hex[:8]
    task_queue, service = f"tq-outage-{run}", f"outage-{run}"
    direct = outage.direct
    sender = {"Authorization": f"Bearer {new_key(direct, 'integration')}"}
    responder = {"Authorization": f"Bearer {new_key(direct, 'responder', person='alice')}"}
    timings: dict[str, float] = {}
    app = create_app(Settings(task_queue=task_queue), client=client, engine=outage.engine)
    async with running_cached_worker(client, task_queue, outage.engine, oncall=lambda: oncall, retry_delay=0.01), \
            httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://warroom", timeout=REQUEST_BOUND) as http:
        # ---- before: three incidents running, their first pages out, all of it in the records
        running: list[str] = []
        for i, priority in enumerate(RUNNING):
            r = await http.post("/api/v1/alerts/generic", headers=sender,
                                json=_alert(service, f"running-{run}-{i}", priority, f"Checkout failing ({i})"))
            assert r.status_code == 202, r.text
            running.append(r.json()["incidents"][0]["id"])
        for iid in running:
            await until(lambda iid=iid: _state(client, iid), f"{iid}'s first pages",
                        ok=lambda s: pages(s, kind="INITIAL") and s.status == "triggered", timeout=60)

            async def recorded(iid: str = iid) -> str:
                return await asyncio.to_thread(_reconciled, direct, await _state(client, iid))

            await until(recorded, f"{iid} in the records", ok=lambda d: d == "", timeout=60)
        reference = await _state(client, running[1])  # a P1 as it pages with the records up
        p1_targets = sorted({e.details["target"] for e in pages(reference, kind="INITIAL")})
        assert p1_targets
        # the responder's key is verified before the outage, as the sender's was
        assert (await http.get(f"/api/v1/incidents/{running[0]}", headers=responder)).status_code == 200

        # ---- the outage
        await outage.begin()
        began = time.monotonic()
        answers: list[tuple[str, int, float, str]] = []  # dedup key, status, seconds, incident id

        async def storm(wave: int) -> None:
            keys = [f"storm-{run}-{k:02d}" for k in range(wave * STORM_KEYS // 2, (wave + 1) * STORM_KEYS // 2)]
            bodies = [_alert(service, k, "P1", f"Queue stalled on shard {k[-2:]}", n)
                      for n in range(STORM_ALERTS // STORM_KEYS) for k in keys]
            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            for b in bodies:
                queue.put_nowait(b)

            async def send() -> None:
                while not queue.empty():
                    body = queue.get_nowait()
                    t = time.monotonic()
                    r = await http.post("/api/v1/alerts/generic", json=body, headers=sender)
                    iid = r.json()["incidents"][0]["id"] if r.status_code == 202 else ""
                    answers.append((body["dedup_key"], r.status_code, time.monotonic() - t, iid or r.text[:200]))

            await asyncio.gather(*(send() for _ in range(SENDERS)))

        await storm(0)
        timings["wave 1"] = time.monotonic() - began
        t = time.monotonic()
        r = await http.post(f"/api/v1/incidents/{running[0]}/acknowledge", json={"note": "on it"}, headers=responder)
        timings["acknowledge"] = time.monotonic() - t
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "acknowledged" and r.json()["acknowledged_by"] == "alice", r.text
        # the second wave half way through the outage (a schedule of the load, not a wait)
        await asyncio.sleep(max(0.0, began + OUTAGE / 2 - time.monotonic()))
        await storm(1)

        bad = [a for a in answers if a[1] != 202]
        assert not bad, f"{len(bad)} alerts not accepted during the outage, first: {bad[:3]}"
        assert len(answers) == STORM_ALERTS
        slowest = max(a[2] for a in answers)
        timings["slowest alert"] = slowest
        assert slowest <= REQUEST_BOUND
        by_key: dict[str, set[str]] = {}
        for k, _, _, iid in answers:
            by_key.setdefault(k, set()).add(iid)
        assert len(by_key) == STORM_KEYS and all(len(v) == 1 for v in by_key.values()), by_key
        storm_ids = sorted({next(iter(v)) for v in by_key.values()})

        # every new incident pages its first targets while the records are still down
        for iid in storm_ids:
            st = await until(lambda iid=iid: _state(client, iid), f"{iid}'s first pages during the outage",
                             ok=lambda s: sorted({e.details["target"] for e in pages(s, kind="INITIAL")})
                             == p1_targets, timeout=max(1.0, began + OUTAGE - time.monotonic()))
            assert st.created_at is not None
            late = [(e.details["target"], (e.at - st.created_at).total_seconds()) for e in pages(st, kind="INITIAL")
                    if e.at - st.created_at > PAGE_BOUND]
            assert not late, f"{iid}: first pages later than {PAGE_BOUND.total_seconds():g} s: {late}"
            timings["slowest first page"] = max(timings.get("slowest first page", 0.0), *(
                (e.at - st.created_at).total_seconds() for e in pages(st, kind="INITIAL")))
        acked = await _state(client, running[0])
        assert [e.actor for e in events(acked, "acknowledged")] == ["alice"]
        still_down = time.monotonic() - began
        assert still_down < OUTAGE, f"the checks during the outage took {still_down:.0f} s of its {OUTAGE:g} s"
        await asyncio.sleep(began + OUTAGE - time.monotonic())  # the rest of the outage
        await outage.end()
        ended = time.monotonic()
        timings["outage"] = ended - began

        # ---- after: the records reconcile with what happened
        everyone = running + storm_ids
        for iid in everyone:
            st = await _state(client, iid)
            assert not events(st, "notification.failed"), (iid, events(st, "notification.failed"))
            sent = [e.details["key"] for e in events(st, "notification.sent")]
            assert len(sent) == len(set(sent)), f"{iid}: a page sent twice: {sent}"
            assert not _delivered_once(rx, st), _delivered_once(rx, st)

        async def differences() -> dict[str, str]:
            out = {}
            for iid in everyone:
                st = await _state(client, iid)
                if diff := await asyncio.to_thread(_reconciled, direct, st):
                    out[iid] = diff
            return out

        await until(differences, "the records to reconcile with every incident's timeline",
                    ok=lambda d: d == {}, timeout=RECONCILE, interval=1.0)
        timings["reconciled after"] = time.monotonic() - ended
    print("\nrecords outage: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return timings


# --------------------------------------------------------------------------- the tests


async def test_postgres_frozen_for_a_minute_during_a_storm(dev_env, tmp_path):
    async with postgres_outage("frozen") as outage:
        await _outage_with_running_incidents_and_a_storm(dev_env.client, outage, tmp_path)


async def test_postgres_stopped_for_a_minute_during_a_storm(dev_env, tmp_path):
    async with postgres_outage("stopped") as outage:
        await _outage_with_running_incidents_and_a_storm(dev_env.client, outage, tmp_path)


async def test_sqlite_locked_for_a_minute_during_a_storm(dev_env, tmp_path):
    async with sqlite_outage(tmp_path / "records.db") as outage:
        await _outage_with_running_incidents_and_a_storm(dev_env.client, outage, tmp_path)
