"""Room: workflows (deterministic). Every activity the workflows call: its name, timeouts,
retry policy, and the idempotency key it carries.

The activities live in activities/ (registered under these names by worker.py). Each key is
built by `idempotency_key` alone: `<run chain>:<step>`, where the run chain is the workflow's
first_execution_run_id, so a retried activity — or the same step after a continue-as-new —
carries the same key, and the activity can tell a retry from a new request (STYLE.md 4).
Keys are part of the committed histories and of the records' exactly-once claims: their
format never changes.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import ActionSpec, Notification
    from workflows.contracts_activities import (
        ActionRequest, ActionResult, AssessRequest, AssessResult, CheckRequest, CheckResult, NotificationBatch,
        NotificationBatchResult, NotificationResult, RecordEvents, WarRoomRequest, WarRoomResult,
    )
    from workflows.contracts_maintenance import AffectedIncidents, WindowEvent
    from workflows.contracts_links import (
        HandoverPlan,
        HandoverPlanRequest,
        HandoverRecord,
        HandoverRecordRequest,
        RelatedRequest,
        RelatedResult,
    )

# Activity names (never derived from Python names, STYLE.md 1).
SEND_NOTIFICATION = "send_notification"  # activities/notify.py
SEND_NOTIFICATIONS = "send_notifications"  # activities/notify.py: a batch (patch batched-pages)
RECORD_EVENTS = "record_events"  # activities/store.py
ASSESS_INCIDENT = "assess_incident"  # activities/assess.py
OPEN_WAR_ROOM = "open_war_room"  # activities/war_room.py
RUN_ACTION = "run_action"  # activities/recovery.py
RUN_CHECK = "run_check"  # activities/recovery.py
MAINTENANCE_STARTED = "maintenance_started"  # activities/maintenance.py
MAINTENANCE_ENDED = "maintenance_ended"  # activities/maintenance.py
FIND_RELATED = "find_related"  # activities/cascade.py (patch upgrade-triggers)
PLAN_HANDOVER = "plan_handover"  # activities/handover.py
RECORD_HANDOVER = "record_handover"  # activities/handover.py

NOTIFY_TIMEOUT = timedelta(seconds=30)
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=5
)
# Sending heartbeats (activities/common.py `heartbeats`, every 2 s): a worker that died
# mid-delivery is noticed after this, and its pages retried on another worker within seconds
# instead of after the 30 s start-to-close timeout (60 s for a war room): the later a retry, the
# later the page, and the longer the window in which a receiver sees the repeat (issue 14).
# Not behind a patch: a command's heartbeat timeout is not compared on replay (only the
# activity's id and type are), so a running incident replays unchanged (tests/replay) and takes
# it for the activities it schedules from now on. Every worker must run the heartbeating
# activities before a workflow asks for it (one deploy: workflows and activities ship together).
SEND_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
RECORD_TIMEOUT = timedelta(seconds=30)
# Records: retry without limit, backing off to a minute; the incident never waits on them.
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=60)
)
ASSESS_TIMEOUT = timedelta(seconds=60)
# One local attempt: shorter than the workflow task timeout (10 s) would be needlessly tight
# for a slow records database; a longer attempt keeps the task alive by heartbeating.
ASSESS_LOCAL_ATTEMPT = timedelta(seconds=20)
ASSESS_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=20))
WAR_ROOM_TIMEOUT = timedelta(seconds=60)
WAR_ROOM_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=30))
# Finding a cascade reads the records: a few tries, then the incident goes on unlinked.
RELATED_TIMEOUT = timedelta(seconds=30)
RELATED_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=30))
# A check is retried by the workflow (every interval until its timeout), not by Temporal.
CHECK_RETRY = RetryPolicy(maximum_attempts=1)
# Actions that can run long heartbeat (activities/recovery.py, every HEARTBEAT_EVERY = 2 s), so
# a worker that died mid-action is noticed after this, not after the step's whole timeout: the
# same 10 s as a delivery (a step's options are not part of replay's command check, so the
# change applies to running incidents' next steps as well).
HEARTBEAT_TIMEOUT = SEND_HEARTBEAT_TIMEOUT
HEARTBEATING_KINDS = ("command", "http")


# --------------------------------------------------------------------------- idempotency keys


def idempotency_key(run_id: str, *step: str | int) -> str:
    """The one builder of idempotency keys: `<run chain>:<step part>:<step part>...`."""
    return ":".join((run_id, *(str(part) for part in step)))


def page_key(run_id: str, seq: int) -> str:
    """The run chain's seq-th notification: `<run>:n<seq>`."""
    return idempotency_key(run_id, f"n{seq}")


def war_room_key(run_id: str) -> str:
    return idempotency_key(run_id, "war_room")


def action_key(run_id: str, action_id: str, recover_round: int) -> str:
    return idempotency_key(run_id, action_id, recover_round)


def rollback_key(run_id: str, action_id: str, recover_round: int) -> str:
    return idempotency_key(run_id, action_id, "rollback", recover_round)


def check_key(run_id: str, check_id: str, attempt: int) -> str:
    """One attempt of a verification check (attempts count from 1 in each verify round)."""
    return idempotency_key(run_id, check_id, attempt)


# --------------------------------------------------------------------------- options


def action_retry(a: ActionSpec, *, backoff: bool) -> RetryPolicy:
    """backoff: the run has runbook-v1, whose steps say their first retry interval."""
    if backoff:
        interval = timedelta(seconds=a.backoff_seconds)
        return RetryPolicy(maximum_attempts=max(1, a.max_attempts), initial_interval=interval,
                           maximum_interval=max(timedelta(seconds=30), interval))
    return RetryPolicy(maximum_attempts=max(1, a.max_attempts), maximum_interval=timedelta(seconds=30))


def action_heartbeat_timeout(a: ActionSpec) -> timedelta | None:
    """Long http and command steps heartbeat; a step shorter than the heartbeat timeout is
    bounded by its start-to-close timeout anyway, and python steps run the SRE's own code."""
    if a.kind in HEARTBEATING_KINDS and a.timeout_seconds > HEARTBEAT_TIMEOUT.total_seconds():
        return HEARTBEAT_TIMEOUT
    return None


def check_timeout(interval_seconds: int) -> timedelta:
    return timedelta(seconds=max(5, min(interval_seconds, 60)))


# --------------------------------------------------------------------------- the calls


async def send_notification(n: Notification) -> NotificationResult:
    return await workflow.execute_activity(
        SEND_NOTIFICATION, n, result_type=NotificationResult,
        start_to_close_timeout=NOTIFY_TIMEOUT, heartbeat_timeout=SEND_HEARTBEAT_TIMEOUT, retry_policy=NOTIFY_RETRY,
    )


async def send_notifications(batch: NotificationBatch) -> NotificationBatchResult:
    """The pages of one moment in one activity: each page's result comes back, a failed one as
    FAILED once its retries are spent (the activity reads its attempt against NOTIFY_RETRY); a
    retry skips what was sent (each page's claim in the records, and the heartbeat's results)."""
    return await workflow.execute_activity(
        SEND_NOTIFICATIONS, batch, result_type=NotificationBatchResult,
        start_to_close_timeout=NOTIFY_TIMEOUT, heartbeat_timeout=SEND_HEARTBEAT_TIMEOUT, retry_policy=NOTIFY_RETRY,
    )


async def record_events(req: RecordEvents) -> None:
    await workflow.execute_activity(
        RECORD_EVENTS, req, start_to_close_timeout=RECORD_TIMEOUT, retry_policy=RECORD_RETRY,
    )


async def assess_incident(req: AssessRequest, *, local: bool = False) -> AssessResult:
    """`local` (patches.LOCAL_ASSESS): inside the workflow task that started the run, on the
    worker running it, so the first pages are scheduled by that same task (no second workflow
    task, no activity dispatch before them). Its attempts are bounded by the same retry policy."""
    if local:
        return await workflow.execute_local_activity(
            ASSESS_INCIDENT, req, result_type=AssessResult,
            start_to_close_timeout=ASSESS_LOCAL_ATTEMPT, schedule_to_close_timeout=ASSESS_TIMEOUT,
            retry_policy=ASSESS_RETRY,
        )
    return await workflow.execute_activity(
        ASSESS_INCIDENT, req, result_type=AssessResult,
        start_to_close_timeout=ASSESS_TIMEOUT, retry_policy=ASSESS_RETRY,
    )


async def open_war_room(req: WarRoomRequest) -> WarRoomResult:
    return await workflow.execute_activity(
        OPEN_WAR_ROOM, req, result_type=WarRoomResult,
        start_to_close_timeout=WAR_ROOM_TIMEOUT, heartbeat_timeout=SEND_HEARTBEAT_TIMEOUT,
        retry_policy=WAR_ROOM_RETRY,
    )


async def run_action(req: ActionRequest, *, backoff: bool) -> ActionResult:
    a = req.action
    return await workflow.execute_activity(
        RUN_ACTION, req, result_type=ActionResult,
        start_to_close_timeout=timedelta(seconds=a.timeout_seconds),
        heartbeat_timeout=action_heartbeat_timeout(a), retry_policy=action_retry(a, backoff=backoff),
    )


async def run_check(req: CheckRequest) -> CheckResult:
    return await workflow.execute_activity(
        RUN_CHECK, req, result_type=CheckResult,
        start_to_close_timeout=check_timeout(req.check.interval_seconds), retry_policy=CHECK_RETRY,
    )


async def maintenance_started(ev: WindowEvent) -> AffectedIncidents:
    """The open incidents a window matches, from the records (read only: a retry is harmless)."""
    return await workflow.execute_activity(
        MAINTENANCE_STARTED, ev, result_type=AffectedIncidents,
        start_to_close_timeout=RECORD_TIMEOUT, retry_policy=RECORD_RETRY,
    )


async def maintenance_ended(ev: WindowEvent) -> None:
    """The window's end in the records (idempotent: an end already recorded stays as it was)."""
    await workflow.execute_activity(
        MAINTENANCE_ENDED, ev, start_to_close_timeout=RECORD_TIMEOUT, retry_policy=RECORD_RETRY,
    )
async def find_related(req: RelatedRequest) -> RelatedResult:
    return await workflow.execute_activity(
        FIND_RELATED, req, result_type=RelatedResult,
        start_to_close_timeout=RELATED_TIMEOUT, retry_policy=RELATED_RETRY,
    )


def handover_key(run_id: str, at_iso: str, person: str = "") -> str:
    """A schedule's hand-over at `at` (its record), and its page to one incoming person."""
    return idempotency_key(run_id, "handover", at_iso, *((person,) if person else ()))


async def plan_handover(req: HandoverPlanRequest) -> HandoverPlan:
    return await workflow.execute_activity(
        PLAN_HANDOVER, req, result_type=HandoverPlan,
        start_to_close_timeout=RELATED_TIMEOUT, retry_policy=RECORD_RETRY,
    )


async def record_handover(req: HandoverRecordRequest) -> HandoverRecord:
    return await workflow.execute_activity(
        RECORD_HANDOVER, req, result_type=HandoverRecord,
        start_to_close_timeout=RECORD_TIMEOUT, retry_policy=RECORD_RETRY,
    )
