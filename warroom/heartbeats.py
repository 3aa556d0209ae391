"""Talking to heartbeat monitors' workflows: ping one, read its live state, retire it.

Room: shared library (warroom/): the client side of workflows/heartbeat.py, used by the API
(and tests). A ping is a signal-with-start of `heartbeat-<name>` carrying the monitor's
configuration from its record, so the first ping starts the workflow and every later one
joins it; nothing here decides what a miss is.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from warroom.records.heartbeats import Monitor
from workflows.heartbeat import (
    HEARTBEAT_WORKFLOW,
    HeartbeatConfig,
    HeartbeatInput,
    HeartbeatState,
    Ping,
    workflow_id,
)


def config_of(monitor: Monitor, *, continue_as_new_after_events: int = 0) -> HeartbeatConfig:
    return HeartbeatConfig(monitor_id=monitor.id, name=monitor.name, interval_seconds=monitor.interval_seconds,
                           priority=monitor.priority, service=monitor.service, title=monitor.alert_title,
                           continue_as_new_after_events=continue_as_new_after_events)


async def ping(client: Client, monitor: Monitor, *, task_queue: str, source: str,
               continue_as_new_after_events: int = 0) -> None:
    """Deliver one ping (signal-with-start): durable once this returns."""
    await client.start_workflow(
        HEARTBEAT_WORKFLOW, HeartbeatInput(config=config_of(monitor,
                                                            continue_as_new_after_events=continue_as_new_after_events)),
        id=workflow_id(monitor.name), task_queue=task_queue, id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        start_signal="ping", start_signal_args=[Ping(source=source)],
        memo={"monitor_id": monitor.id},
    )


# A query waits for a worker to answer it; with none running, the show answers from the records.
QUERY_TIMEOUT = timedelta(seconds=3)


async def live_state(client: Client, name: str) -> HeartbeatState | None:
    """The running workflow's state, or None when it has none (never pinged, or retired) or no
    worker answers within QUERY_TIMEOUT."""
    handle = client.get_workflow_handle(workflow_id(name))
    try:
        desc = await handle.describe()
        if desc.status != WorkflowExecutionStatus.RUNNING:
            return None
        return await handle.query("get_state", result_type=HeartbeatState, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as err:
        # a query no worker answered in time ends as DEADLINE_EXCEEDED or, from the SDK's own
        # timer, CANCELLED ("Timeout expired")
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            return None
        raise
    except WorkflowQueryFailedError:
        return None


async def retire(client: Client, name: str, *, reason: str) -> bool:
    """End a deleted monitor's workflow at once (its timer fires nothing); False if none ran."""
    try:
        await client.get_workflow_handle(workflow_id(name)).terminate(reason=reason)
        return True
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
