"""Talking to the response engine: start or join an incident, act on it, read its state.

Room: shared library (warroom/): the client side of Temporal, shared by the API, the CLI and `warroom simulate`.
Nothing here knows what a phase means; it maps engine answers to three outcomes:
the new state, a refusal with the validator's reason, or an unknown incident.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from warroom.classify import (
    alert_fingerprint,
    classify_priority,
    fallback_dedup_key,
    incident_workflow_id,
    BadIncidentId,
    occurrence_id,
    parse_incident_id,
    split_incident_id,
)
from workflows.contracts_links import HANDOVER_WORKFLOW, HandoverInput
from workflows.contracts import (
    FULL_RESPONSE_PRIORITIES,
    INCIDENT_WORKFLOW,
    TICKET_WORKFLOW,
    Acknowledge,
    AlertInfo,
    AlertResolved,
    AlertsReceived,
    AssignCommander,
    ChangePriority,
    CompleteStep,
    Escalate,
    IncidentInput,
    IncidentState,
    MaintenanceHold,
    PostUpdate,
    Reopen,
    Resolve,
    ResponsePolicy,
    RunbookSpec,
    SubmitReview,
)
from workflows.policy import default_policy

# Engineer actions: name -> the update's input type. The CLI, API and scenarios use these names.
ACTIONS: dict[str, type] = {
    "acknowledge": Acknowledge,
    "assign_commander": AssignCommander,
    "post_update": PostUpdate,
    "escalate": Escalate,
    "change_priority": ChangePriority,
    "complete_step": CompleteStep,
    "resolve": Resolve,
    "submit_review": SubmitReview,
    "reopen": Reopen,
}


class ActionRefused(Exception):
    """The engine refused the action; str() is the reason for the person who asked."""


class UnknownIncident(LookupError):
    pass


def _workflow_of(incident_id: str) -> tuple[str, int]:
    """(workflow id, occurrence); UnknownIncident for a text no incident can have (never an
    RPC with it: Temporal would refuse an empty or odd id as an invalid argument, an outage to
    the caller)."""
    try:
        return parse_incident_id(incident_id)
    except BadIncidentId as err:
        raise UnknownIncident(str(err)) from None


@dataclass
class Triggered:
    incident_id: str
    workflow_id: str
    priority: str
    handle: WorkflowHandle
    deduplicated: bool = False  # joined an incident that was already open
    status: str = "triggered"  # the incident's status as last known (see KnownRun)
    run: KnownRun | None = None  # what the caller may remember for this workflow id's next alerts


@dataclass
class KnownRun:
    """What an API process knows of the run on one workflow id, learned from a signal-with-start's
    outcome or a describe, never from a query. `priority` and `status` are as of that moment
    (the 202 of a joined alert says them; the incident's own page is live)."""

    run_id: str
    incident_id: str
    priority: str
    status: str = "triggered"


def prepare(alert: AlertInfo, *, tier1_services: list[str] | None = None) -> tuple[AlertInfo, str, str]:
    """(alert with dedup key, fingerprint and classified priority, priority, reason)."""
    if not alert.dedup_key:
        alert.dedup_key = fallback_dedup_key(alert)
    if not alert.fingerprint:
        alert.fingerprint = alert_fingerprint(alert)
    priority, reason = classify_priority(alert, tier1_services=tier1_services or [])
    alert.priority = priority
    return alert, priority, reason


async def trigger(client: Client, alert: AlertInfo, *, task_queue: str, policy: ResponsePolicy | None = None,
                  runbook: RunbookSpec | None = None, tier1_services: list[str] | None = None) -> Triggered:
    """Start the incident of this dedup key, or join the open one (signal-with-start)."""
    return await trigger_many(client, [alert], task_queue=task_queue, policy=policy, runbook=runbook,
                              tier1_services=tier1_services)


async def trigger_many(client: Client, alerts: list[AlertInfo], *, task_queue: str,
                       policy: ResponsePolicy | None = None, runbook: RunbookSpec | None = None,
                       tier1_services: list[str] | None = None, known: KnownRun | None = None,
                       maintenance: MaintenanceHold | None = None) -> Triggered:
    """Start the incident of these alerts' dedup key (all share it) or join the open one, with
    one signal-with-start carrying them all. Whether it joined comes from the call's outcome
    (a run was started, or the run signalled is the one `known` names); a describe is needed
    only for a run this caller has not seen, or a key whose last incident closed before it knew
    of it, and a query only for a run without a memo."""
    prepared = [prepare(a, tier1_services=tier1_services) for a in alerts]
    alert, priority, reason = prepared[0]
    wf_id = incident_workflow_id(alert.dedup_key)
    kind = INCIDENT_WORKFLOW if priority in FULL_RESPONSE_PRIORITIES else TICKET_WORKFLOW
    token = uuid.uuid4().hex  # names this call in the run it may start
    signalled = AlertsReceived(alerts=[a for a, _, _ in prepared])

    async def signal_with_start(incident_id: str, reuse: WorkflowIDReusePolicy) -> WorkflowHandle:
        inp = IncidentInput(incident_id=incident_id, alert=alert, priority=priority, priority_reason=reason,
                            policy=policy or default_policy(), runbook=runbook, maintenance=maintenance)
        return await client.start_workflow(
            kind, inp, id=wf_id, task_queue=task_queue, result_type=IncidentState, id_reuse_policy=reuse,
            start_signal="alerts_received", start_signal_args=[signalled],
            # who this run is, readable without a worker (describe)
            memo={"incident_id": incident_id, "priority": priority, "started_by": token},
        )

    if known is not None and split_incident_id(known.incident_id)[1] >= 1:
        next_id = _next_id(wf_id, known.incident_id)
        handle = await signal_with_start(next_id, WorkflowIDReusePolicy.ALLOW_DUPLICATE)
    else:
        # Nothing known of the key: as if it never had an incident (one call, no describe
        # first), refused by Temporal if it had one that closed; then the id counts on from it.
        try:
            next_id = wf_id
            handle = await signal_with_start(next_id, WorkflowIDReusePolicy.REJECT_DUPLICATE)
        except WorkflowAlreadyStartedError:
            found, next_id = await _current(client, wf_id)
            known = found or known
            handle = await signal_with_start(next_id, WorkflowIDReusePolicy.ALLOW_DUPLICATE)
    run_id = handle.result_run_id or ""
    started = _started(handle)
    if not started and (known is None or known.run_id != run_id):
        # A run this process has not seen: this call started it (a server that does not say so
        # in its answer, such as the time-skipping one) or another caller did.
        desc = await client.get_workflow_handle(wf_id, run_id=run_id).describe()
        started = await desc.memo_value("started_by", None) == token
        known = None if started else await _known(client, desc)
    if started or known is None:
        run = KnownRun(run_id=run_id, incident_id=next_id, priority=priority)
        return Triggered(incident_id=next_id, workflow_id=wf_id, priority=priority, handle=handle, run=run)
    return Triggered(incident_id=known.incident_id, workflow_id=wf_id, priority=known.priority, handle=handle,
                     deduplicated=True, status=known.status, run=known)


def _started(handle: WorkflowHandle) -> bool:
    """Whether the signal-with-start's answer says it started a new run (False: it joined one,
    or the server does not say). The SDK keeps the answer on the handle it returns; only its
    `started` flag tells a start from a join (the first-execution run id is set either way)."""
    return bool(getattr(getattr(handle, "_start_workflow_response", None), "started", False))


def _next_id(workflow_id: str, last_incident_id: str) -> str:
    """The public id of the incident after `last_incident_id` on this workflow id."""
    return occurrence_id(workflow_id, max(split_incident_id(last_incident_id)[1], 1) + 1)


async def _describe(client: Client, workflow_id: str) -> WorkflowExecutionDescription | None:
    """The latest run of this workflow id, or None if there never was one."""
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def _closed_incident_id(client: Client, desc: WorkflowExecutionDescription) -> str | None:
    """The public id a closed run had, from its result (its final state; no worker needed),
    or None when it ended without one (failed, terminated, timed out)."""
    try:
        final = await client.get_workflow_handle(desc.id, run_id=desc.run_id,
                                                 result_type=IncidentState).result(follow_runs=False)
    except WorkflowFailureError:
        return None
    return final.incident_id


async def _known(client: Client, desc: WorkflowExecutionDescription) -> KnownRun:
    """A running run as its memo tells it; a run continued-as-new has no memo: ask the workflow."""
    incident_id = await desc.memo_value("incident_id", None)
    priority = await desc.memo_value("priority", None)
    if isinstance(incident_id, str) and isinstance(priority, str):
        return KnownRun(run_id=desc.run_id, incident_id=incident_id, priority=priority, status="triggered")
    st = await current(client, desc.id)
    return KnownRun(run_id=desc.run_id, incident_id=st.incident_id, priority=st.priority, status=st.status)


async def _current(client: Client, workflow_id: str) -> tuple[KnownRun | None, str]:
    """(the open run on this workflow id if there is one, the public id the next incident gets).

    The next id after a closed incident counts on from the closed one's id; an incident that
    ended without a result (terminated) gives way to an id suffixed with its run, so two
    incidents never share an id."""
    desc = await _describe(client, workflow_id)
    if desc is None:
        return None, workflow_id
    if desc.status == WorkflowExecutionStatus.RUNNING:
        run = await _known(client, desc)
        return run, _next_id(workflow_id, run.incident_id)
    last = await _closed_incident_id(client, desc)
    if last is None:
        return None, f"{workflow_id}~r{desc.run_id[:12]}"
    return None, _next_id(workflow_id, last)


async def source_resolved(client: Client, workflow_id: str, *, source: str, summary: str = "") -> None:
    """The source says the problem is gone: the open incident on this workflow id verifies."""
    try:
        await client.get_workflow_handle(workflow_id).signal("alert_resolved", AlertResolved(source=source,
                                                                                             summary=summary))
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise UnknownIncident(workflow_id) from err
        raise


async def current(client: Client, workflow_id: str) -> IncidentState:
    """The state of the latest incident on this workflow id (what a source's resolve reaches)."""
    try:
        return await client.get_workflow_handle(workflow_id).query("get_state", result_type=IncidentState)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise UnknownIncident(workflow_id) from err
        raise


async def state(client: Client, incident_id: str) -> IncidentState:
    """The live state of this incident. UnknownIncident if Temporal has no run of it: it never
    existed, or it is an earlier incident of a key that fired again after it closed (its record
    stays in the database)."""
    st = await current(client, _workflow_of(incident_id)[0])
    if st.incident_id != incident_id:
        raise UnknownIncident(incident_id)
    return st


async def _same_incident(client: Client, incident_id: str, action: str) -> None:
    """The workflow id's latest run is this incident (an update would otherwise reach a later one)."""
    wf_id, occurrence = _workflow_of(incident_id)
    desc = await _describe(client, wf_id)
    if desc is None:
        raise UnknownIncident(incident_id)
    if desc.status == WorkflowExecutionStatus.RUNNING:
        latest = await desc.memo_value("incident_id", None)
        if not isinstance(latest, str):  # a run continued-as-new has no memo: ask the workflow
            latest = (await current(client, wf_id)).incident_id
    else:
        latest = await _closed_incident_id(client, desc)
        if latest is None:
            return  # ended without a state: the update itself says the incident is closed
    if latest == incident_id:
        return
    if 0 < occurrence < split_incident_id(latest)[1]:
        raise ActionRefused(f"cannot {action.replace('_', ' ')}: incident {incident_id} is closed "
                            f"(the same alert opened {latest} since)")
    raise UnknownIncident(incident_id)


async def act(client: Client, incident_id: str, action: str, payload: dict[str, Any] | Any) -> IncidentState:
    """Run an engineer action (a Temporal update) and return the new state."""
    if action not in ACTIONS:
        raise ActionRefused(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    arg = payload if isinstance(payload, ACTIONS[action]) else ACTIONS[action](**payload)
    try:
        await _same_incident(client, incident_id, action)
    except UnknownIncident:
        raise UnknownIncident(incident_id) from None
    handle = client.get_workflow_handle(split_incident_id(incident_id)[0])
    try:
        return await handle.execute_update(action, arg, result_type=IncidentState)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        raise ActionRefused(cause.message if isinstance(cause, ApplicationError) else str(cause or err)) from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            # The workflow finished (closed incident) or never existed: tell which.
            try:
                desc = await handle.describe()
            except RPCError:
                raise UnknownIncident(incident_id) from err
            raise ActionRefused(f"cannot {action.replace('_', ' ')}: incident {incident_id} is closed "
                                f"({desc.status.name.lower() if desc.status else 'finished'})") from err
        raise


def handover_workflow_id(schedule: str) -> str:
    return f"handover-{schedule}"


async def ensure_handovers(client: Client, config: Any, *, task_queue: str) -> list[str]:
    """One OncallHandover per schedule of the on-call configuration (docs/oncall.md, "Hand-over"):
    started where none runs, asked to plan again where one does (the files may have changed).
    Idempotent: a second worker starting does the same and nothing more. The workflow ids."""
    ids = []
    for schedule in sorted(config.schedules):
        wf_id = handover_workflow_id(schedule)
        await client.start_workflow(
            HANDOVER_WORKFLOW, HandoverInput(schedule=schedule), id=wf_id, task_queue=task_queue,
            start_signal="replan")  # signal-with-start: a running one is signalled, else one starts
        ids.append(wf_id)
    return ids


def to_jsonable(obj: Any) -> Any:
    """An engine answer (dataclasses, datetimes) as plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    return obj
