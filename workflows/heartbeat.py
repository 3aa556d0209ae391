"""Room: workflows (deterministic). Heartbeat: one durable dead-man's switch per monitor.

A monitor expects a ping every `interval_seconds`. Each ping is a signal (the API sends it
with signal-with-start, so the first ping starts the workflow `heartbeat-<name>`); a durable
timer runs from the last ping. When it fires with no ping, the monitor is `down` and the
`heartbeat_missed` activity opens an incident through the same path any alert takes (a
signal-with-start of `incident-<dedup key>`), with a dedup key made from the monitor and the
moment the ping was due: a retried activity, or a worker that died after opening the incident,
joins that same incident instead of opening a second one. The next ping marks the monitor `up`
and `heartbeat_recovered` resolves the incident as its source would (Alertmanager's resolved).

Until its first ping a monitor is `new` and waits without a timer (a job that never ran is
not an outage: Healthchecks.io's rule). The run continues-as-new when Temporal suggests it
(or after `continue_as_new_after_events` history events: tests set a small number), carrying
its state, so a monitor pinged every second for a year keeps a short history.

This module holds the monitor's contracts and activity calls beside the workflow, so the
incident engine's files (contracts, calls) are untouched by it; the keys still come from
`calls.idempotency_key`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows import calls

HEARTBEAT_WORKFLOW = "Heartbeat"
HEARTBEAT_MISSED = "heartbeat_missed"  # activities/heartbeat.py
HEARTBEAT_RECOVERED = "heartbeat_recovered"  # activities/heartbeat.py
# Opening the incident must happen: retry without limit, backing off to a minute (like records).
HEARTBEAT_TIMEOUT = timedelta(seconds=60)
HEARTBEAT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                              maximum_interval=timedelta(seconds=60))


def workflow_id(name: str) -> str:
    """One workflow per monitor name: `heartbeat-<name>` (names are letters, digits, . _ -)."""
    return f"heartbeat-{name}"


def miss_key(name: str, due: datetime) -> str:
    """The dedup key of the incident a miss opens: the monitor and the moment the ping was due
    (to the millisecond, UTC). Deterministic per miss: replays, retries and a restarted worker
    compute the same key; two misses never share one (a ping comes between them)."""
    return f"heartbeat:{name}:{due.strftime('%Y%m%dT%H%M%S')}{due.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------- contracts


@dataclass
class HeartbeatConfig:
    """What the monitor is (from its record). `monitor_id` names this creation of it: a monitor
    deleted and made again under the same name is another monitor."""

    monitor_id: str
    name: str
    interval_seconds: int
    priority: str = "P2"
    service: str = ""
    title: str = ""
    continue_as_new_after_events: int = 0  # 0: when Temporal suggests it


@dataclass
class HeartbeatState:
    name: str
    state: str = "new"  # new | up | down
    last_ping_at: datetime | None = None
    due_at: datetime | None = None  # when the next ping is due (up only)
    pings: int = 0
    misses: int = 0
    incident_id: str = ""  # the incident of the current (or last) outage
    dedup_key: str = ""  # its dedup key
    down_since: datetime | None = None
    last_source: str = ""  # who sent the last ping (integration:<name>, alertmanager Watchdog...)
    retired: bool = False  # the monitor was deleted: the workflow ended


@dataclass
class HeartbeatInput:
    config: HeartbeatConfig
    state: HeartbeatState | None = None  # carried across continue-as-new


@dataclass
class Ping:
    source: str = ""


@dataclass
class HeartbeatMissed:
    monitor_id: str
    name: str
    dedup_key: str
    due_at: datetime
    last_ping_at: datetime | None
    interval_seconds: int
    priority: str
    service: str
    title: str
    idempotency_key: str = ""


@dataclass
class HeartbeatOpened:
    incident_id: str = ""
    gone: bool = False  # the monitor was deleted meanwhile: nothing was opened


@dataclass
class HeartbeatRecovered:
    monitor_id: str
    name: str
    dedup_key: str
    incident_id: str
    down_since: datetime | None
    source: str = ""
    idempotency_key: str = ""


@dataclass
class HeartbeatRecord:
    gone: bool = False
    details: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- the workflow


@workflow.defn(name=HEARTBEAT_WORKFLOW)
class Heartbeat:
    @workflow.init
    def __init__(self, inp: HeartbeatInput) -> None:
        self.cfg = inp.config
        self.s = replace(inp.state) if inp.state is not None else HeartbeatState(name=inp.config.name)
        self._pending = 0  # pings signalled and not yet handled by the loop
        self._pending_source = ""

    @workflow.signal(name="ping")
    def ping(self, p: Ping) -> None:
        self._pending += 1
        self._pending_source = p.source or self._pending_source
        self.s.last_ping_at = workflow.now()  # the moment it arrived, readable at once
        self.s.last_source = p.source or self.s.last_source

    @workflow.query(name="get_state")
    def get_state(self) -> HeartbeatState:
        return self.s

    @workflow.run
    async def run(self, inp: HeartbeatInput) -> HeartbeatState:
        while True:
            if self._can_due() and not self._pending:
                workflow.continue_as_new(HeartbeatInput(config=self.cfg, state=self.s))
            if self.s.state == "up" and self.s.due_at is not None:
                wait = max(self.s.due_at - workflow.now(), timedelta(0))
                try:
                    await workflow.wait_condition(lambda: self._pending > 0, timeout=wait)
                except TimeoutError:
                    if not self._pending:  # a ping handled with the timer's firing is in time
                        if not await self._missed():
                            return self._retire()
                        continue
            else:  # new or down: wait for a ping, with no timer (a miss opens one incident)
                await workflow.wait_condition(lambda: self._pending > 0 or self._can_due())
                if not self._pending:
                    continue
            await self._pinged()

    async def _pinged(self) -> None:
        self.s.pings += self._pending
        self._pending = 0
        now = workflow.now()
        self.s.due_at = now + timedelta(seconds=self.cfg.interval_seconds)
        if self.s.state == "down":
            self.s.state = "up"
            await workflow.execute_activity(
                HEARTBEAT_RECOVERED, HeartbeatRecovered(
                    monitor_id=self.cfg.monitor_id, name=self.cfg.name, dedup_key=self.s.dedup_key,
                    incident_id=self.s.incident_id, down_since=self.s.down_since, source=self._pending_source,
                    idempotency_key=calls.idempotency_key(self.cfg.monitor_id, "recovered", self.s.misses)),
                result_type=HeartbeatRecord, start_to_close_timeout=HEARTBEAT_TIMEOUT, retry_policy=HEARTBEAT_RETRY)
            self.s.down_since = None
        self.s.state = "up"

    async def _missed(self) -> bool:
        """The ping due at s.due_at did not come: open the outage's incident. False: the
        monitor was deleted (the workflow ends)."""
        due = self.s.due_at or workflow.now()  # always set while up: the timer ran from it
        self.s.state, self.s.down_since, self.s.misses = "down", due, self.s.misses + 1
        self.s.dedup_key = miss_key(self.cfg.name, due)
        opened = await workflow.execute_activity(
            HEARTBEAT_MISSED, HeartbeatMissed(
                monitor_id=self.cfg.monitor_id, name=self.cfg.name, dedup_key=self.s.dedup_key, due_at=due,
                last_ping_at=self.s.last_ping_at, interval_seconds=self.cfg.interval_seconds,
                priority=self.cfg.priority, service=self.cfg.service, title=self.cfg.title,
                idempotency_key=calls.idempotency_key(self.cfg.monitor_id, "missed", self.s.misses)),
            result_type=HeartbeatOpened, start_to_close_timeout=HEARTBEAT_TIMEOUT, retry_policy=HEARTBEAT_RETRY)
        if opened.gone:
            return False
        self.s.incident_id = opened.incident_id
        self.s.due_at = None
        return True

    def _retire(self) -> HeartbeatState:
        self.s.retired, self.s.due_at = True, None
        return self.s

    def _can_due(self) -> bool:
        info = workflow.info()
        limit = self.cfg.continue_as_new_after_events
        if limit and info.get_current_history_length() > limit:
            return True
        return info.is_continue_as_new_suggested()
