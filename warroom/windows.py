"""Maintenance windows, the caller's side: make one (records + its Temporal workflow), end one
early, and decide whether a new incident starts held by one (docs/maintenance.md).

Room: the shared library (warroom/), the Temporal client side like warroom/client.py. Used by
the API's routes and intake (api/maintenance.py) and by tests; the CLI reaches it through the API.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from warroom.maintenance import Window
from workflows.contracts import AlertInfo, MaintenanceHold
from workflows.contracts_maintenance import MAINTENANCE_WORKFLOW, EndWindow, WindowSpec, WindowState
from workflows.maintenance import window_workflow_id

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# Intake reads the current windows from the records at most this often (per API process): an
# alert storm costs no query per alert. A window made or ended through this process is seen at
# once (the cache is dropped); one made through another API process within this many seconds.
CACHE_SECONDS = 2.0
READ_WITHIN = 0.5  # seconds an alert may wait for the records to say which windows there are
log = logging.getLogger("warroom.maintenance")


def spec_of(w: Window) -> WindowSpec:
    return WindowSpec(window_id=w.id, starts_at=w.starts_at, ends_at=w.ends_at, reason=w.reason,
                      created_by=w.created_by, service=w.service, matchers=list(w.matchers),
                      integration=w.integration)


async def open_window(client: Client, engine: Engine, *, task_queue: str, created_by: str,
                      **fields: Any) -> Window:
    """Start the window's workflow (`maintenance-<id>`, which ends it on time), then keep the
    window in the records. In this order, so that a window intake can see always has its
    workflow (an incident it holds signals it). The records refusing: the workflow is ended
    (it records nothing of a window the records never had) and the error raised.
    `fields`: warroom.maintenance.plan's."""
    from warroom.records import maintenance as stored

    window_id = stored.new_window_id()
    spec = spec_of(Window(id=window_id, created_by=created_by, **fields))
    await client.start_workflow(MAINTENANCE_WORKFLOW, spec, id=window_workflow_id(window_id), task_queue=task_queue,
                                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    try:
        return await asyncio.to_thread(
            lambda: stored.create_window(engine, created_by=created_by, window_id=window_id, **fields))
    except BaseException:
        await window_handle(client, window_id).signal("end", EndWindow(by="system", note="not recorded"))
        raise


async def end_window(client: Client, engine: Engine, w: Window, *, by: str, note: str = "") -> Window:
    """End it now: recorded at once, and its workflow tells the incidents it affected."""
    from warroom.records import maintenance as stored

    now = datetime.now(UTC)
    await asyncio.to_thread(stored.end_window, engine, w.id, at=now, by=by)
    try:
        await window_handle(client, w.id).signal("end", EndWindow(by=by, note=note))
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise  # (NOT_FOUND: its workflow has finished, the window was over anyway)
    return await asyncio.to_thread(lambda: stored.window(engine, w.id)) or w


def window_handle(client: Client, window_id: str) -> WorkflowHandle:
    return client.get_workflow_handle(window_workflow_id(window_id), result_type=WindowState)


def hold_of(w: Window) -> MaintenanceHold:
    return MaintenanceHold(window_id=w.id, reason=w.reason, ends_at=w.ends_at, created_by=w.created_by,
                           workflow_id=window_workflow_id(w.id))


def holding(windows: list[Window], alert: AlertInfo, now: datetime) -> Window | None:
    """The active window that holds this alert (the one ending last, when several do)."""
    found = [w for w in windows if w.active(now) and w.matches(service=alert.service, labels=alert.labels,
                                                                 integration=alert.integration)]
    return max(found, key=lambda w: w.ends_at) if found else None


class Holds:
    """What intake asks for each new incident: the window that holds it, if any. Reads the
    records' current windows at most every CACHE_SECONDS; `engine` is a callable because the
    API's lifespan makes the engine after the app is built."""

    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self._engine = engine
        self._windows: list[Window] = []
        self._read_at: float | None = None
        self._lock = asyncio.Lock()
        self._reading: asyncio.Future[list[Window]] | None = None

    def forget(self) -> None:
        self._read_at = None

    async def _read(self, engine: Engine) -> None:
        """The current windows, waiting READ_WITHIN at most. The records not answering (down, or
        frozen: a query that never returns) keeps the last ones read (none at first): an alert is
        never held up or refused because of the records, and it pages unless a window known to
        this process holds it. One read at a time: a hung one is not joined by more."""
        from sqlalchemy.exc import SQLAlchemyError

        from warroom.records import maintenance as stored

        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(asyncio.to_thread(stored.current_windows, engine, datetime.now(UTC)))
            self._reading.add_done_callback(lambda t: t.cancelled() or t.exception())  # a late error: read, not raised
        try:
            self._windows = await asyncio.wait_for(asyncio.shield(self._reading), READ_WITHIN)
        except (TimeoutError, SQLAlchemyError) as err:
            log.warning("maintenance windows unreadable, using the last ones read (%d): %s", len(self._windows),
                        str(err).splitlines()[0][:200] if str(err) else type(err).__name__)
        self._read_at = time.monotonic()

    async def __call__(self, alert: AlertInfo) -> MaintenanceHold | None:
        engine = self._engine()
        if engine is None:
            return None
        if self._read_at is None or time.monotonic() - self._read_at > CACHE_SECONDS:
            async with self._lock:
                if self._read_at is None or time.monotonic() - self._read_at > CACHE_SECONDS:
                    await self._read(engine)
        w = holding(self._windows, alert, datetime.now(UTC))
        return hold_of(w) if w is not None else None


async def window_state(client: Client, window_id: str) -> WindowState:
    """Where the window's workflow is: status, who ended it, the incidents it told."""
    return await window_handle(client, window_id).query("get_window", result_type=WindowState)
