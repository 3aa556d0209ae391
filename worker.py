"""The worker: composition root that wires settings, records and activities to Temporal.

Room: worker (a composition root). Builds the records engine and activity objects from one
Settings here (never at import time); `warroom worker` runs it against any Temporal address, `warroom dev` beside an
embedded dev server. Scale out by running more workers on the same task queue.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.assess import AssessActivities
from activities.maintenance import MaintenanceActivities
from activities.heartbeat import HeartbeatActivities
from activities.cascade import CascadeActivities
from activities.handover import HandoverActivities
from activities.common import HEARTBEAT_THROTTLE
from activities.notify import Channel, NotifyActivities, Send
from activities.recovery import RecoveryActivities
from activities.store import StoreActivities
from activities.war_room import WarRoomActivities
from warroom import logs, records, tracing
from warroom.classify import Keywords
from warroom.keywords import KeywordsError, load_keywords
from warroom.levels import ServiceLevelsError, load_levels
from warroom.runbooks import actions
from warroom.client import ensure_handovers
from warroom.oncall import OnCallConfig, OnCallError, OnCallSource, load_oncall
from warroom.runbooks import RunbookError, RunbookLibrary
from warroom.delivery.war_rooms import WarRoomError, WarRoomProvider, provider_for
from warroom.secrets import server_key
from warroom.upgrades import Upgrades, UpgradesError, load_upgrades
from warroom.settings import Settings
from workflows.converter import DATA_CONVERTER
from workflows.heartbeat import Heartbeat
from workflows.handover import OncallHandover
from workflows.incident import IncidentResponse
from workflows.maintenance import MaintenanceWindow
from workflows.ticket import Ticket

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

WORKFLOWS = [IncidentResponse, Ticket, MaintenanceWindow, Heartbeat, OncallHandover]
# The sandbox imports a workflow's module afresh for every run it starts or replays (with no
# bytecode cache, PYTHONDONTWRITEBYTECODE, that is a compile of workflows/incident.py per new
# incident). workflows/ is deterministic by construction (STYLE.md; the replay tests hold it)
# and keeps no mutable module state, and what the workflow classes build on (core, deadlines,
# waits, calls, contracts) is passed through already; so the whole package is shared by runs.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows"))


def build_id() -> str:
    """What the worker reports as its build (Temporal UI, worker identity): warroom's version.
    Without it temporalio hashes the bytecode of every loaded module at every start (~780
    modules read from disk: 40 ms of a rehearsal). No worker versioning is in use, so it
    decides nothing about which worker runs what."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"warroom-{version('warroom')}"
    except PackageNotFoundError:  # a checkout that was never installed
        return "warroom-source"


def activities_for(engine: Engine | None, runbooks: RunbookLibrary, keywords: Keywords,
                   channels: dict[str, Channel] | None = None, recovery: RecoveryActivities | None = None,
                   approvers: dict[str, list[str]] | None = None, *,
                   oncall: Callable[[], OnCallConfig] | None = None, war_room: WarRoomProvider | None = None,
                   public_url: str = "", delivery_attempts: int = 3, retry_delay: float = 0.5,
                   send: Send | None = None, ack_key: bytes = b"", ack_link_hours: float = 24.0,
                   rehearsal: bool = False, upgrades: Upgrades | None = None) -> list[Any]:
    notify = NotifyActivities(engine, channels, oncall=oncall, war_room=war_room, public_url=public_url,
                              attempts_per_contact=delivery_attempts, retry_delay=retry_delay, send=send,
                              ack_key=ack_key, ack_ttl_seconds=ack_link_hours * 3600, rehearsal=rehearsal)
    recovery = recovery or RecoveryActivities()
    return [
        AssessActivities(runbooks, keywords, approvers, engine, oncall).assess_incident,
        notify.send_notification,
        notify.send_notifications,
        WarRoomActivities(engine, war_room, oncall=oncall, public_url=public_url).open_war_room,
        recovery.run_action,
        recovery.run_check,
        StoreActivities(engine).record_events,
        *_maintenance(engine),
        CascadeActivities(engine, lambda: upgrades or Upgrades()).find_related,
        *_handover_activities(engine, oncall),
    ]


def _maintenance(engine: Engine | None) -> list[Any]:
    m = MaintenanceActivities(engine)
    return [m.maintenance_started, m.maintenance_ended]


def _handover_activities(engine: Engine | None, oncall: Callable[[], OnCallConfig] | None) -> list[Any]:
    handover = HandoverActivities(engine, oncall or OnCallConfig.empty)
    return [handover.plan_handover, handover.record_handover]


def build_worker(client: Client, settings: Settings, *, engine: Engine | None, runbooks: RunbookLibrary,
                 channels: dict[str, Channel] | None = None, recovery: Any = None,
                 oncall: Callable[[], OnCallConfig] | None = None, war_room: WarRoomProvider | None = None,
                 retry_delay: float = 0.5, send: Send | None = None, rehearsal: bool = False,
                 **worker_options: Any) -> Worker:
    """The worker on settings.task_queue, every part built from `settings` (the only Settings:
    commands, Prometheus, action modules, approvers, on-call files, public URL, delivery tries,
    the war-room provider, the server key that signs the acknowledge links in pages: the API's
    own, Settings.secret_key or the one kept in the data dir). The action modules, the on-call
    files and the classification's keyword lists are loaded here, so a broken one stops the
    worker at start (ActionModuleError / OnCallError / KeywordsError naming the file). The
    keyword arguments replace one piece: `recovery` answers run_action / run_check (the
    simulator's rehearsal), `send` replaces the channel delivery (a rehearsal resolves who would
    be paged and sends nothing; `rehearsal` marks its pages REHEARSAL, not SENT); `engine` None keeps no records (a rehearsal: its timeline is the
    workflow's, and SQLAlchemy is never loaded); `worker_options` go to temporalio's Worker."""
    actions.load_modules(settings.action_modules)
    keywords = load_keywords(settings.classification_file)
    upgrades = load_upgrades(settings.upgrades_file)
    # Re-read when a file changes (an edit, a PUT through the API); invalid at start: no worker.
    oncall = oncall or OnCallSource(settings.oncall_dir)
    war_room = war_room or provider_for(settings)
    recovery = recovery or RecoveryActivities(commands=settings.commands, prometheus_url=settings.prometheus_url)
    # Only worth making (a file in the data dir when unset) where a page can carry a link.
    ack_key = server_key(settings.secret_key, settings.data_dir) if settings.public_url else b""
    heartbeats = HeartbeatActivities(engine, settings)  # monitors' outages (workflows/heartbeat.py)
    return Worker(
        client, task_queue=settings.task_queue, workflows=WORKFLOWS,
        activities=[*activities_for(engine, runbooks, keywords, channels, recovery, settings.approvers, oncall=oncall,
                                    war_room=war_room, public_url=settings.public_url,
                                    delivery_attempts=settings.delivery_attempts, retry_delay=retry_delay,
                                    send=send, ack_key=ack_key, ack_link_hours=settings.ack_link_hours,
                                    rehearsal=rehearsal, upgrades=upgrades),
                    heartbeats.heartbeat_missed, heartbeats.heartbeat_recovered],
        activity_executor=ThreadPoolExecutor(max_workers=32),
        # A heartbeat reaches the server within HEARTBEAT_THROTTLE (the SDK's default may hold one
        # back longer than the sending activities' heartbeat timeout, workflows/calls.py).
        **{"workflow_runner": WORKFLOW_RUNNER, "build_id": build_id(),
           "max_heartbeat_throttle_interval": HEARTBEAT_THROTTLE, **worker_options},
    )


def metrics_runtime(address: str) -> Runtime | None:
    """A Temporal runtime exporting the SDK's metrics (workflow and activity task latencies,
    polls, slots, sticky cache) for Prometheus on `address` (Settings.worker_metrics_address),
    named by Prometheus' conventions (`_total` counters, unit suffixes, seconds); None: no
    endpoint. One per process: the runtime owns the HTTP listener."""
    if not address:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(
        bind_address=address, counters_total_suffix=True, unit_suffix=True, durations_as_seconds=True)))


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = records.make_engine(settings.db_url())
    records.create_schema(engine)
    runbooks = RunbookLibrary(settings.runbooks_dir)
    # The starters put the service levels into each incident's input; the worker checks the file
    # it shares with them at start, so a broken one is found before any incident needs it.
    levels = load_levels(settings.service_levels)
    client = await Client.connect(settings.temporal_address, namespace=settings.namespace,
                                  data_converter=DATA_CONVERTER,
                                  runtime=metrics_runtime(settings.worker_metrics_address),
                                  interceptors=tracing.interceptors(settings.otel_tracing, "warroom-worker"))
    worker = build_worker(client, settings, engine=engine, runbooks=runbooks)
    # One OncallHandover per schedule (started, or asked to plan again: the files may have changed).
    await ensure_handovers(client, load_oncall(settings.oncall_dir), task_queue=settings.task_queue)
    log = logging.getLogger("warroom")
    log.info("worker on %s, task queue %s, %d runbooks, service levels: %s", settings.temporal_address,
             settings.task_queue, len(runbooks.entries), levels.source)
    if settings.worker_metrics_address:
        log.info("worker metrics for Prometheus at http://%s/metrics", settings.worker_metrics_address)
    log.info("recovery: commands %s, python actions %s, prometheus %s", sorted(settings.commands) or "none",
             sorted(actions.registered()) or "none", settings.prometheus_url or "not configured")
    async with worker:
        await (stop.wait() if stop else asyncio.Event().wait())


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully (finish in-flight tasks)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(settings, stop)


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas (settings.malloc_arenas) before any thread starts; what
    MALLOC_ARENA_MAX does, set from the Settings. False where the C library is not glibc."""
    if arenas <= 0:
        return False
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(-8, arenas))  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to cap
        return False


def main() -> None:
    settings = Settings()
    limit_malloc_arenas(settings.malloc_arenas)
    logs.configure(settings.log_level, settings.log_format)
    try:
        asyncio.run(serve(settings))
    except (RunbookError, actions.ActionModuleError, OnCallError, KeywordsError, WarRoomError, ServiceLevelsError,
            UpgradesError, tracing.TracingUnavailable) as err:
        # An invalid runbook, action module, on-call file, keyword list, war-room setting, service-levels
        # file or tracing setting: the worker does not start.
        print(f"worker refuses to start: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
