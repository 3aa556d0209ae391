"""Talking to the response engine: start or join an incident, act on it, read its state.

Room: shared library (warroom/): the client side of Temporal, shared by the API, the CLI and `warroom simulate`.
Nothing here knows what a phase means; it maps engine answers to three outcomes:
the new state, a refusal with the validator's reason, or an unknown incident.
"""

from __future__ import annotations

import dataclasses
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
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from warroom.classify import (
    classify_priority,
    fallback_dedup_key,
    incident_workflow_id,
    occurrence_id,
    split_incident_id,
)
from workflows.contracts import (
    FULL_RESPONSE_PRIORITIES,
    INCIDENT_WORKFLOW,
    TICKET_WORKFLOW,
    Acknowledge,
    AlertInfo,
    AlertReceived,
    AlertResolved,
    AssignCommander,
    ChangePriority,
    CompleteStep,
    Escalate,
    IncidentInput,
    IncidentState,
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


@dataclass
class Triggered:
    incident_id: str
    workflow_id: str
    priority: str
    handle: WorkflowHandle
    deduplicated: bool = False  # joined an incident that was already open
    joined: IncidentState | None = None  # that incident's state, just after the alert joined it


def prepare(alert: AlertInfo, *, tier1_services: list[str] | None = None) -> tuple[AlertInfo, str, str]:
    """(alert with dedup key and classified priority, priority, reason)."""
    if not alert.dedup_key:
        alert.dedup_key = fallback_dedup_key(alert)
    priority, reason = classify_priority(alert, tier1_services=tier1_services or [])
    alert.priority = priority
    return alert, priority, reason


async def trigger(client: Client, alert: AlertInfo, *, task_queue: str, policy: ResponsePolicy | None = None,
                  runbook: RunbookSpec | None = None, tier1_services: list[str] | None = None) -> Triggered:
    """Start the incident of this dedup key, or join the open one (signal-with-start)."""
    alert, priority, reason = prepare(alert, tier1_services=tier1_services)
    wf_id = incident_workflow_id(alert.dedup_key)
    open_before, incident_id = await _current(client, wf_id)
    inp = IncidentInput(incident_id=incident_id, alert=alert, priority=priority, priority_reason=reason,
                        policy=policy or default_policy(), runbook=runbook)
    kind = INCIDENT_WORKFLOW if priority in FULL_RESPONSE_PRIORITIES else TICKET_WORKFLOW
    handle = await client.start_workflow(
        kind, inp, id=wf_id, task_queue=task_queue, result_type=IncidentState,
        start_signal="alert_received", start_signal_args=[AlertReceived(alert=alert)],
        memo={"incident_id": incident_id},  # who this run is, readable without a worker (describe)
    )
    joined = await current(client, wf_id) if open_before else None
    return Triggered(incident_id=joined.incident_id if joined else incident_id, workflow_id=wf_id,
                     priority=joined.priority if joined else priority, handle=handle, deduplicated=open_before,
                     joined=joined)


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


async def _current(client: Client, workflow_id: str) -> tuple[bool, str]:
    """(is an incident open on this workflow id, the public id of the open one or of the next).

    The next id after a closed incident counts on from the closed one's id; an incident that
    ended without a result (terminated) gives way to an id suffixed with its run, so two
    incidents never share an id."""
    desc = await _describe(client, workflow_id)
    if desc is None:
        return False, workflow_id
    if desc.status == WorkflowExecutionStatus.RUNNING:
        return True, workflow_id  # the signal joins it (its own id is read after, by trigger())
    last = await _closed_incident_id(client, desc)
    if last is None:
        return False, f"{workflow_id}~r{desc.run_id[:12]}"
    return False, occurrence_id(workflow_id, max(split_incident_id(last)[1], 1) + 1)


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
    st = await current(client, split_incident_id(incident_id)[0])
    if st.incident_id != incident_id:
        raise UnknownIncident(incident_id)
    return st


async def _same_incident(client: Client, incident_id: str, action: str) -> None:
    """The workflow id's latest run is this incident (an update would otherwise reach a later one)."""
    wf_id, occurrence = split_incident_id(incident_id)
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
