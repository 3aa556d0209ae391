"""open_war_room: open the incident's dedicated channel/bridge, invite the responders, post the brief.

Room: activities. The provider (warroom/delivery/war_rooms.py: Slack, a generic webhook, or the log
by default) comes from the worker's settings. Responders are the people on call at the
incident's levels up to its current one, plus the commander, resolved with the on-call
configuration; their chat handles are invited. The room is recorded (war_rooms table) so
status updates can be posted into it, and the brief is a communication of its own, claimed
before opening: a retried activity reuses the room the provider already made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from temporalio import activity

from activities.common import heartbeats, incident_link, invite_handle, recorded, scheduled_at, war_room_error
from warroom.oncall import OnCallConfig
from warroom.delivery.war_rooms import LogWarRoom, WarRoomError, WarRoomProvider
from workflows.contracts_activities import WarRoomRequest, WarRoomResult

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger("warroom.war_room")


class WarRoomActivities:
    def __init__(self, engine: Engine | None, provider: WarRoomProvider | None = None, *,
                 oncall: Callable[[], OnCallConfig] | None = None, public_url: str = "") -> None:
        self.engine = engine
        self.provider = provider or LogWarRoom()
        self.oncall = oncall or OnCallConfig.empty
        self.public_url = public_url.rstrip("/")

    def responders(self, req: WarRoomRequest) -> list[str]:
        """Who is on call at levels 1..req.level, and the commander: their Slack users for a
        Slack room (people without one are left out), their person ids otherwise."""
        config = self.oncall()
        at = scheduled_at()
        targets = [f"oncall:L{i}" for i in range(1, max(1, req.level) + 1)]
        if req.commander:
            targets.append(f"person:{req.commander}")
        out: list[str] = []
        for t in targets:
            for p in config.resolve(t, service=req.service, priority=req.priority, at=at).people:
                handle = invite_handle(p, self.provider.name)
                if handle and handle not in out:
                    out.append(handle)
        return out

    @activity.defn(name="open_war_room")
    def open_war_room(self, req: WarRoomRequest) -> WarRoomResult:
        with heartbeats():  # a dead worker's room is opened again within seconds (by its key)
            return self._open(req)

    def _open(self, req: WarRoomRequest) -> WarRoomResult:
        row = recorded(self.engine, "claim_communication", key=req.key, incident_id=req.incident_id,
                       kind="INITIAL", target="war_room", subject=f"[{req.priority}] war room: {req.title}",
                       body=req.brief)
        # Only a retry (the brief recorded SENT) looks the room up: the first attempt opens it.
        stored = (recorded(self.engine, "war_room", incident_id=req.incident_id)
                  if row is not None and row.status == "SENT" else None)
        if stored is not None:
            return WarRoomResult(channel=stored.channel, bridge=stored.bridge, url=stored.url,
                                 provider=stored.provider)
        responders = self.responders(req)
        link = incident_link(self.public_url, req.incident_id)
        try:
            room = self.provider.open(incident_id=req.incident_id, title=req.title, priority=req.priority,
                                      brief=req.brief, responders=responders, link=link, idempotency_key=req.key)
        except WarRoomError as err:
            recorded(self.engine, "finish_communication", key=req.key, status="FAILED",
                     channel=self.provider.name, recipients=[], error=str(err))
            raise war_room_error(err) from None
        recorded(self.engine, "war_room_opened", key=req.key, incident_id=req.incident_id,
                 provider=room.provider, channel=room.channel, url=room.url, bridge=room.bridge,
                 recipients=[room.channel, *responders])
        return WarRoomResult(channel=room.channel, bridge=room.bridge, url=room.url, provider=room.provider)
