"""Room: api (HTTP edge) — heartbeat pings: who may ping which monitor, the ping itself, and
Alertmanager's `Watchdog` turned into pings of the monitors bound to the sending integration.

Monitors are looked up in the records (a Watchdog's bindings are reused for a few seconds: one
arrives with every Alertmanager group flush); while the records database does not answer, a
monitor seen before keeps being pinged: a records outage must not look like every job dying at
once (docs/heartbeats.md). The ping's arrival is written to the monitor's row after Temporal
holds it, and a failed write loses only the list's "last ping" until the next one.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client

from api.deps import actor_of, check_sender
from api.sources import Parsed
from warroom import heartbeats as beats
from warroom.records import heartbeats as monitors
from warroom.records import keys as auth

log = logging.getLogger("warroom.heartbeats")
WATCHDOG = "Watchdog"  # kube-prometheus' always-firing alert, made to be a dead man's switch


class Monitors:
    """Monitor lookups of one API process (app.state.heartbeat_monitors), reused for TTL seconds."""

    TTL = 5.0

    def __init__(self) -> None:
        self.by_name: dict[str, tuple[monitors.Monitor | None, float]] = {}
        self.bound: dict[str, tuple[list[monitors.Monitor], float]] = {}

    def forget(self) -> None:
        self.by_name.clear()
        self.bound.clear()

    async def find(self, db: Engine, name: str, *, fresh: bool = False) -> monitors.Monitor | None:
        """The monitor of this name; `fresh` reads the records even within the TTL (the HTTP door,
        whose answer says the state), falling back to what was read before only if they fail."""
        entry, now = self.by_name.get(name), time.monotonic()
        if entry is not None and now - entry[1] < self.TTL and not fresh:
            return entry[0]
        try:
            found = await run_in_threadpool(monitors.find, db, name)
        except SQLAlchemyError:
            if entry is not None:
                return entry[0]
            raise
        self.by_name[name] = (found, now)
        return found

    async def bound_to(self, db: Engine, integration: str) -> list[monitors.Monitor]:
        entry, now = self.bound.get(integration), time.monotonic()
        if entry is not None and now - entry[1] < self.TTL:
            return entry[0]
        try:
            found = await run_in_threadpool(monitors.list_monitors, db, integration=integration)
        except SQLAlchemyError:
            if entry is not None:
                return entry[0]
            raise
        self.bound[integration] = (found, now)
        return found


def of(request: Request) -> Monitors:
    state = request.app.state
    if getattr(state, "heartbeat_monitors", None) is None:
        state.heartbeat_monitors = Monitors()
    return state.heartbeat_monitors


async def may_ping(request: Request, principal: auth.ApiKey, monitor: monitors.Monitor) -> None:
    """403 unless this key may ping this monitor: an admin; the integration it is bound to; any
    integration without a format when it is bound to none. A signed integration signs the ping."""
    if principal.role != "integration":
        return
    if monitor.integration:
        if principal.name != monitor.integration:
            raise HTTPException(403, f"heartbeat {monitor.name!r} is pinged by integration "
                                     f"{monitor.integration!r} only (or an admin)")
    elif principal.format:
        raise HTTPException(403, f"integration {principal.name!r} sends {principal.format} alerts; bind the "
                                 f"heartbeat to it (integration: {principal.name}) to let it ping {monitor.name!r}")
    if principal.format:
        await check_sender(request, principal, principal.format)


async def deliver_ping(request: Request, client: Client, db: Engine, monitor: monitors.Monitor,
                       source: str) -> None:
    settings = request.app.state.settings
    await beats.ping(client, monitor, task_queue=settings.task_queue, source=source)
    try:
        await run_in_threadpool(monitors.pinged, db, monitor.id, at=datetime.now(UTC), source=source)
    except SQLAlchemyError as err:  # the ping is in Temporal: only the list's "last ping" lags
        log.warning("heartbeat %s: ping delivered, its time not recorded (%s)", monitor.name, err)


async def watchdog(request: Request, client: Client, db: Engine, principal: auth.ApiKey,
                   parsed: Parsed) -> Parsed:
    """An Alertmanager delivery from an integration that heartbeats are bound to: its `Watchdog`
    alerts (and an empty `alerts: []`) ping those heartbeats and open no incident; a resolved
    Watchdog only says Alertmanager stopped getting it from Prometheus, and is dropped (the
    missing pings will tell). Deliveries of keys nothing is bound to pass unchanged."""
    if principal.role != "integration":
        return parsed
    is_dog = [ev.alert.labels.get("alertname") == WATCHDOG for ev in parsed.events]
    try:
        bound = await of(request).bound_to(db, principal.name)
    except SQLAlchemyError as err:  # never seen and the records are down: the alerts go on, the Watchdog waits
        log.warning("Watchdog from %s not handled: the records database did not answer (%s)", principal.name, err)
        if any(is_dog):
            parsed.notes.append("Watchdog not handled: the records database did not answer")
        parsed.events = [ev for d, ev in zip(is_dog, parsed.events, strict=True) if not d]
        return parsed
    if not bound:
        return parsed
    firing = any(d and ev.action == "trigger" for d, ev in zip(is_dog, parsed.events, strict=True))
    if not firing and (parsed.events or "no alerts" not in parsed.notes):
        if any(is_dog):
            parsed.notes.append("Watchdog resolved: not a ping")
        parsed.events = [ev for d, ev in zip(is_dog, parsed.events, strict=True) if not d]
        return parsed
    source = f"{actor_of(principal)} Watchdog" if parsed.events else f"{actor_of(principal)} (empty delivery)"
    for monitor in bound:
        await deliver_ping(request, client, db, monitor, source)
        parsed.notes.append(f"heartbeat {monitor.name} pinged")
    parsed.events = [ev for d, ev in zip(is_dog, parsed.events, strict=True) if not d]
    return parsed
