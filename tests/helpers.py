"""Test helpers: build incidents, run a worker, read what users see."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowHandle

from warroom import engine as eng
from warroom.runbooks import RunbookLibrary
from worker import build_worker
from workflows.contracts import AlertInfo, IncidentState, ResponsePolicy, RunbookSpec
from workflows.policy import default_policy

REPO = Path(__file__).resolve().parent.parent


@asynccontextmanager
async def running_worker(client: Client, task_queue: str, engine: Engine, **kw: Any) -> AsyncIterator[None]:
    w = build_worker(client, task_queue=task_queue, engine=engine, runbooks=RunbookLibrary(REPO / "runbooks"),
                     max_cached_workflows=0, **kw)
    async with w:
        yield


def alert(**kw: Any) -> AlertInfo:
    kw.setdefault("title", "Checkout is down")
    kw.setdefault("service", "checkout")
    kw.setdefault("dedup_key", f"test-{uuid.uuid4().hex[:12]}")
    return AlertInfo(**kw)


async def start(client: Client, task_queue: str, *, policy: ResponsePolicy | None = None,
                runbook: RunbookSpec | None = None, **kw: Any) -> WorkflowHandle:
    t = await eng.trigger(client, alert(**kw), task_queue=task_queue, policy=policy or default_policy(),
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
