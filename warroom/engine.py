"""Talking to the response engine: start or join an incident, act on it, read its state.

Room: the client side of Temporal, shared by the API, the CLI and `warroom simulate`.
Nothing here knows what a phase means; it maps engine answers to three outcomes:
the new state, a refusal with the validator's reason, or an unknown incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from warroom.classify import classify_priority, fallback_dedup_key, incident_workflow_id
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
    inp = IncidentInput(incident_id=wf_id, alert=alert, priority=priority, priority_reason=reason,
                        policy=policy or default_policy(), runbook=runbook)
    kind = INCIDENT_WORKFLOW if priority in FULL_RESPONSE_PRIORITIES else TICKET_WORKFLOW
    open_before = await _is_running(client, wf_id)
    handle = await client.start_workflow(
        kind, inp, id=wf_id, task_queue=task_queue, result_type=IncidentState,
        start_signal="alert_received", start_signal_args=[AlertReceived(alert=alert)],
    )
    return Triggered(incident_id=wf_id, workflow_id=wf_id, priority=priority, handle=handle,
                     deduplicated=open_before)


async def _is_running(client: Client, workflow_id: str) -> bool:
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return desc.status == WorkflowExecutionStatus.RUNNING


async def source_resolved(client: Client, incident_id: str, *, source: str, summary: str = "") -> None:
    try:
        await client.get_workflow_handle(incident_id).signal("alert_resolved", AlertResolved(source=source,
                                                                                             summary=summary))
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise UnknownIncident(incident_id) from err
        raise


async def state(client: Client, incident_id: str) -> IncidentState:
    try:
        return await client.get_workflow_handle(incident_id).query("get_state", result_type=IncidentState)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise UnknownIncident(incident_id) from err
        raise


async def act(client: Client, incident_id: str, action: str, payload: dict[str, Any] | Any) -> IncidentState:
    """Run an engineer action (a Temporal update) and return the new state."""
    if action not in ACTIONS:
        raise ActionRefused(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    arg = payload if isinstance(payload, ACTIONS[action]) else ACTIONS[action](**payload)
    handle = client.get_workflow_handle(incident_id)
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
