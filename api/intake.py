"""Room: api (HTTP edge) — alert intake: parsed events become started, joined, resolved or
acknowledged incidents, through warroom.client (Temporal).

`Intake` is what intake keeps between requests in one API process: the compiled custom
mappings and the per-key turn of start/join. create_app builds one (app.state.intake) and
routes reach it through `IntakeDep` (api/deps.py); nothing of it is durable, so a restart
loses nothing but a cache.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import HTTPException
from temporalio.client import Client

from api.schemas import Accepted, GenericAlert, IncidentRef
from api.sources import Parsed, SourceEvent
from api.sources.custom import CustomMapping, compile_mapping
from warroom import client as temporal
from warroom.classify import fallback_dedup_key, incident_workflow_id
from warroom.settings import Settings
from workflows.contracts import AlertInfo
from workflows.policy import default_policy


class Intake:
    """Alert intake of one API process (app.state.intake)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.mappings: dict[str, CustomMapping] = {}  # compiled once per integration key (by key id)
        # Alerts for one dedup key are started/joined one at a time by this process. A storm of
        # repeats would otherwise send a query per alert to one workflow at once, and Temporal
        # refuses queries beyond its small per-workflow buffer (RESOURCE_EXHAUSTED) after the
        # alert's signal was already accepted: the sender would see an error for a counted alert.
        self.joining: dict[str, tuple[asyncio.Lock, int]] = {}

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
            ev.alert.source = ev.alert.source if ev.alert.source not in ("", "generic") else source
            if ev.action == "trigger":
                t = await self._trigger(client, ev.alert)
                # a joined incident answers with its own status and priority
                status = t.joined.status if t.joined else "triggered"
                refs.append(IncidentRef(id=t.incident_id, priority=t.priority, status=status,
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
        lock, users = self.joining.get(alert.dedup_key) or (asyncio.Lock(), 0)
        self.joining[alert.dedup_key] = (lock, users + 1)
        try:
            async with lock:
                return await temporal.trigger(client, alert, task_queue=self.settings.task_queue,
                                              policy=default_policy(), tier1_services=self.settings.tier1_services)
        finally:
            lock, users = self.joining[alert.dedup_key]
            if users == 1:
                del self.joining[alert.dedup_key]
            else:
                self.joining[alert.dedup_key] = (lock, users - 1)
