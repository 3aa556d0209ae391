"""Room: api (HTTP edge) — alert intake: parsed events become started, joined, resolved or
acknowledged incidents, through warroom.client (Temporal).

`Intake` is what intake keeps between requests in one API process: the compiled custom
mappings, the alerts of each dedup key waiting for their signal-with-start (concurrent alerts
of one key share one), and what the last signal told about each key's run. create_app builds one (app.state.intake) and
routes reach it through `IntakeDep` (api/deps.py); nothing of it is durable, so a restart
loses nothing but a cache.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from temporalio.client import Client

from api.schemas import Accepted, GenericAlert, IncidentRef
from api.sources import Parsed, SourceEvent
from api.sources.custom import CustomMapping, compile_mapping
from warroom import client as temporal
from warroom.classify import fallback_dedup_key, incident_workflow_id
from warroom.levels import load_levels
from warroom.upgrades import load_upgrades, with_rules
from workflows.upgrades import label_problems
from warroom.settings import Settings
from workflows.contracts import AlertInfo, MaintenanceHold

# One signal-with-start carries at most this many alerts, and about this many bytes of their
# text (Temporal warns on payloads over 512 KB and refuses them over 2 MB).
BATCH_ALERTS = 200
BATCH_BYTES = 256 * 1024
# How long what a signal-with-start told about a key's run is trusted to predict the id of the
# next incident should that run have closed meanwhile. Within one API process it is exact;
# with several, another process could have opened and closed an incident on the key in between,
# so the knowledge is refreshed (one describe) after this long without an alert for the key.
KNOWN_FOR = 10.0  # seconds
# A key that had an alert this recently is hot (a storm): its next call waits this long for
# more of its alerts before it leaves, so a storm costs a few calls a second per key instead of
# one per alert even when the senders' requests trickle in. An idle key's alert leaves at once.
HOT_WITHIN = 0.25  # seconds
LINGER = 0.005  # seconds


# What the door lets through of each alert text, whichever source it came from (the generic
# alert's schema refuses more with a 422; a monitoring system's webhook cannot be fixed by its
# sender, so there the text is cut and the answer says so). Each bound fits the records'
# column (service: 255) with room to spare, so an alert accepted on SQLite is stored on
# PostgreSQL too (docs/limits.md).
TEXT_BOUNDS = {"title": 500, "description": 20000, "service": 200, "severity": 50, "business_impact": 50,
               "fingerprint": 200, "dedup_key": 1000}
LABELS, LABEL_KEY, LABEL_VALUE, LINKS, LINK = 100, 200, 2000, 50, 2000
MAX_USERS = 10**10  # affected users: more than there are people


def _cut(text: str, bound: int) -> str:
    return text.replace("\x00", "")[:bound]


def fit_alert(alert: AlertInfo) -> list[str]:
    """Bound the alert's texts in place (and remove NUL characters, which PostgreSQL cannot
    store); returns what was cut, for the answer's message."""
    cut = []
    for name, bound in TEXT_BOUNDS.items():
        value = getattr(alert, name)
        if isinstance(value, str) and (len(value) > bound or "\x00" in value):
            fitted = _cut(value, bound)
            if name in ("dedup_key", "fingerprint") and len(value) > bound:
                # an identity: two long keys that share their start must stay two incidents
                digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
                fitted = f"{fitted[:bound - 33]}#{digest}"
            setattr(alert, name, fitted)
            if len(value) > bound:
                cut.append(f"{name} cut to {bound} characters")
    if alert.affected_users is not None and not 0 <= alert.affected_users <= MAX_USERS:
        alert.affected_users = min(max(alert.affected_users, 0), MAX_USERS)
        cut.append(f"affected_users: between 0 and {MAX_USERS}")
    labels = alert.labels
    long = len(labels) > LABELS or any(len(k) > LABEL_KEY or len(v) > LABEL_VALUE for k, v in labels.items())
    if long or any("\x00" in k + v for k, v in labels.items()):
        alert.labels = {_cut(k, LABEL_KEY): _cut(v, LABEL_VALUE) for k, v in list(labels.items())[:LABELS]}
        if long:
            cut.append(f"labels cut to {LABELS}, each key to {LABEL_KEY} and value to {LABEL_VALUE} characters")
    if len(alert.links) > LINKS or any(len(u) > LINK for u in alert.links):
        alert.links = [u for u in alert.links[:LINKS] if len(u) <= LINK]
        cut.append(f"links: at most {LINKS}, each at most {LINK} characters")
    return cut


@dataclass
class _Waiting:
    alert: AlertInfo
    done: asyncio.Future[temporal.Triggered]


def _size(a: AlertInfo) -> int:
    return len(a.title) + len(a.description) + sum(len(k) + len(v) for k, v in a.labels.items()) + 200


class Intake:
    """Alert intake of one API process (app.state.intake)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Every incident starts with its service's numbers, carried in its input (an invalid
        # file stops the API at start: ServiceLevelsError names each problem).
        self.levels = load_levels(settings.service_levels)
        self.upgrades = load_upgrades(settings.upgrades_file)  # its rules go into each input too
        self.mappings: dict[str, CustomMapping] = {}  # compiled once per integration key (by key id)
        # Alerts of one dedup key are coalesced: while a signal-with-start for the key is in
        # flight, the alerts that arrive queue here, and the next one carries them all. Each
        # request is answered when the signal carrying its alert is accepted by Temporal, so
        # nothing is acknowledged that is not durable; a key's queue exists while its sender runs.
        self.queued: dict[str, list[_Waiting]] = {}
        self.senders: set[asyncio.Task[None]] = set()
        self.known: dict[str, tuple[temporal.KnownRun, float]] = {}  # workflow id -> (run, when learned)
        self.last_sent: dict[str, float] = {}  # dedup key -> when its last call left (monotonic)
        # The maintenance window that holds a new incident (warroom.windows.Holds, set by create_app).
        self.holds: Callable[[AlertInfo], Awaitable[MaintenanceHold | None]] | None = None

    def mapping(self, key_id: str, spec: dict[str, Any]) -> CustomMapping:
        """An integration's mapping, compiled on its first alert (it was checked when the
        integration was created; a key's mapping never changes, so its id is the cache key)."""
        mapping = self.mappings.get(key_id)
        if mapping is None:
            mapping = self.mappings[key_id] = compile_mapping(spec)
        return mapping

    async def alert(self, client: Client, alert: GenericAlert, source: str, *, actor: str | None = None,
                    declared_by: str | None = None) -> Accepted:
        """warroom's own alert JSON: one event through the same path as every source. `actor`
        is who acts for the source (deliver); `declared_by` who declared it by hand."""
        if alert.status == "resolve" and not alert.dedup_key:
            raise HTTPException(422, "a resolve needs the dedup_key of the alert it resolves")
        info = AlertInfo(
            title=alert.title.strip(), description=alert.description, service=alert.service,
            severity=alert.severity, priority=alert.priority or "", affected_users=alert.affected_users,
            business_impact=(alert.business_impact or "").upper(), availability=alert.availability,
            labels=alert.labels, dedup_key=alert.dedup_key, source=source, links=alert.links,
            fingerprint=alert.fingerprint,
        )
        if declared_by:
            # Keyed as a manual incident whoever declares it (two people declaring the same thing
            # join one incident); the timeline's "triggered" names who declared it.
            info.dedup_key = info.dedup_key or fallback_dedup_key(info)
            info.source = declared_by
        return await self.deliver(client, Parsed(events=[SourceEvent(action=alert.status, alert=info)]), source,
                                  actor=actor)

    async def deliver(self, client: Client, parsed: Parsed, source: str, *, actor: str | None = None) -> Accepted:
        """Start/join, resolve or acknowledge the incident of each parsed event. A source's
        resolve and acknowledgement are recorded as `actor` (api.deps.actor_of of the sending
        key: integration:<name>), or as the source when no key is given."""
        actor = actor or source
        refs: list[IncidentRef] = []
        for ev in parsed.events:
            for note in fit_alert(ev.alert):
                if note not in parsed.notes:
                    parsed.notes.append(note)
        for ev in parsed.events:
            ev.alert.source = ev.alert.source if ev.alert.source not in ("", "generic") else source
            if actor.startswith("integration:"):  # api.deps.INTEGRATION_ACTOR: a window can match it
                ev.alert.integration = actor.removeprefix("integration:")
        # Impact labels that say neither yes nor no would be dropped silently: refuse the body,
        # naming each (docs/upgrades.md). Nothing was started.
        wrong = [(i, p) for i, ev in enumerate(parsed.events) if ev.action == "trigger"
                 for p in label_problems(ev.alert.labels)]
        if wrong:
            raise HTTPException(422, "; ".join(p if len(parsed.events) == 1 else f"alert {i}: {p}" for i, p in wrong))
        if all(ev.action == "trigger" for ev in parsed.events):
            # A body of several alerts (an Alertmanager group) goes out together: its alerts of
            # one key share one signal, and different keys are signalled side by side.
            done = await asyncio.gather(*(self._trigger(client, ev.alert) for ev in parsed.events))
            refs = [IncidentRef(id=t.incident_id, priority=t.priority, status=t.status, deduplicated=t.deduplicated)
                    for t in done]
            message = "; ".join(parsed.notes)
            return Accepted(incidents=refs, message=message or ("" if refs else "no incident matched"))
        for ev in parsed.events:
            if ev.action == "trigger":
                t = await self._trigger(client, ev.alert)
                # a joined incident answers with its own status and priority
                refs.append(IncidentRef(id=t.incident_id, priority=t.priority, status=t.status,
                                        deduplicated=t.deduplicated))
                continue
            wf_id = incident_workflow_id(ev.alert.dedup_key)
            try:
                if ev.action == "resolve":
                    await temporal.source_resolved(client, wf_id, source=actor, summary=ev.alert.title)
                    if "resolve received" not in parsed.notes:
                        parsed.notes.append("resolve received")
                    state = await temporal.current(client, wf_id)
                else:
                    state = await temporal.current(client, wf_id)
                    try:
                        state = await temporal.act(client, state.incident_id, "acknowledge",
                                                   {"by": actor, "note": f"acknowledged by the source ({source})"})
                    except temporal.ActionRefused:
                        pass  # already acknowledged or resolved: the source's ack changes nothing
            except temporal.UnknownIncident:
                continue  # nothing open for that key: like PagerDuty, accept and do nothing
            refs.append(IncidentRef(id=state.incident_id, priority=state.priority, status=state.status,
                                    deduplicated=True))
        message = "; ".join(parsed.notes)
        return Accepted(incidents=refs, message=message or ("" if refs else "no incident matched"))

    async def _trigger(self, client: Client, alert: AlertInfo) -> temporal.Triggered:
        alert.dedup_key = alert.dedup_key or fallback_dedup_key(alert)
        waiting = _Waiting(alert, asyncio.get_running_loop().create_future())
        queue = self.queued.get(alert.dedup_key)
        if queue is not None:
            queue.append(waiting)
        else:
            self.queued[alert.dedup_key] = [waiting]
            task = asyncio.create_task(self._send(client, alert.dedup_key))
            self.senders.add(task)
            task.add_done_callback(self.senders.discard)
        return await waiting.done

    async def _send(self, client: Client, key: str) -> None:
        """Signal the queued alerts of one dedup key, a batch at a time, until none is left."""
        queue = self.queued[key]
        try:
            while queue:
                last = self.last_sent.get(key)
                now = time.monotonic()
                # requests already read in this loop turn join the batch; a hot key's wait a little
                await asyncio.sleep(LINGER if last is not None and now - last < HOT_WITHIN else 0)
                self.last_sent[key] = time.monotonic()
                batch, size = [], 0
                while queue and len(batch) < BATCH_ALERTS and (not batch or size + _size(queue[0].alert) <= BATCH_BYTES):
                    size += _size(queue[0].alert)
                    batch.append(queue.pop(0))
                try:
                    hold = await self.holds(batch[0].alert) if self.holds is not None else None
                    t = await temporal.trigger_many(
                        client, [w.alert for w in batch], task_queue=self.settings.task_queue,
                        policy=with_rules(self.levels.policy_for(batch[0].alert.service), self.upgrades),
                        tier1_services=self.settings.tier1_services,
                        known=self._known(incident_workflow_id(key)), maintenance=hold)
                except Exception as err:  # noqa: BLE001 - handed to each sender (503 when Temporal is away)
                    for w in batch:
                        if not w.done.done():
                            w.done.set_exception(err)
                    continue
                if t.run is not None:
                    self.known[t.workflow_id] = (t.run, time.monotonic())
                for i, w in enumerate(batch):
                    if not w.done.done():
                        # only the run's first alert opened it; the rest of its batch joined
                        w.done.set_result(t if i == 0 or t.deduplicated else dataclasses.replace(t, deduplicated=True))
        finally:
            for w in queue:  # cancelled (shutdown): nothing was sent for these
                if not w.done.done():
                    w.done.cancel()
            del self.queued[key]
            if len(self.last_sent) > 10_000:  # forget keys that are not hot
                now = time.monotonic()
                self.last_sent = {k: t for k, t in self.last_sent.items() if now - t < HOT_WITHIN}

    def _known(self, workflow_id: str) -> temporal.KnownRun | None:
        entry = self.known.get(workflow_id)
        if entry is None:
            return None
        run, at = entry
        if time.monotonic() - at > KNOWN_FOR:
            del self.known[workflow_id]
            if len(self.known) > 10_000:  # forget keys not seen for a while
                now = time.monotonic()
                self.known = {k: v for k, v in self.known.items() if now - v[1] <= KNOWN_FOR}
            return None
        return run
