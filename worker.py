"""The worker: composition root that wires settings, records and activities to Temporal.

Room: worker. Builds the engine and activity objects from Settings here (never at import
time); `warroom worker` runs it against any Temporal address, `warroom dev` beside an
embedded dev server. Scale out by running more workers on the same task queue.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.assess import AssessActivities
from activities.notify import Channel, NotifyActivities
from activities.recovery import RecoveryActivities
from activities.store import StoreActivities
from activities.war_room import WarRoomActivities
from warroom import db
from warroom.runbooks import RunbookLibrary
from warroom.settings import Settings
from workflows.incident import IncidentResponse
from workflows.ticket import Ticket

WORKFLOWS = [IncidentResponse, Ticket]


def activities_for(engine: Engine, runbooks: RunbookLibrary, channels: dict[str, Channel] | None = None) -> list[Any]:
    notify = NotifyActivities(engine, channels)
    return [
        AssessActivities(runbooks).assess_incident,
        notify.send_notification,
        WarRoomActivities(engine).open_war_room,
        RecoveryActivities().run_action,
        RecoveryActivities().run_check,
        StoreActivities(engine).record_events,
    ]


def build_worker(client: Client, *, task_queue: str, engine: Engine, runbooks: RunbookLibrary,
                 channels: dict[str, Channel] | None = None, **kwargs: Any) -> Worker:
    return Worker(
        client, task_queue=task_queue, workflows=WORKFLOWS,
        activities=activities_for(engine, runbooks, channels),
        activity_executor=ThreadPoolExecutor(max_workers=32), **kwargs,
    )


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(settings.db_url())
    db.create_schema(engine)
    runbooks = RunbookLibrary(settings.runbooks_dir)
    client = await Client.connect(settings.temporal_address, namespace=settings.namespace)
    worker = build_worker(client, task_queue=settings.task_queue, engine=engine, runbooks=runbooks)
    logging.getLogger("warroom").info("worker on %s, task queue %s, %d runbooks", settings.temporal_address,
                                      settings.task_queue, len(runbooks.entries))
    async with worker:
        await (stop.wait() if stop else asyncio.Event().wait())


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully (finish in-flight tasks)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(settings, stop)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(Settings()))


if __name__ == "__main__":
    main()
