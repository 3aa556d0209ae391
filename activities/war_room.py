"""open_war_room: open the incident's dedicated channel/bridge and post the brief.

Room: activities. The default opens a named log channel and records the brief as a
communication; chat and bridge providers replace it with the channels issue.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy.engine import Engine
from temporalio import activity

from warroom import db
from workflows.contracts import WarRoomRequest, WarRoomResult

log = logging.getLogger("warroom.war_room")


class WarRoomActivities:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name="open_war_room")
    def open_war_room(self, req: WarRoomRequest) -> WarRoomResult:
        channel = "#war-" + re.sub(r"[^a-z0-9-]+", "-", req.incident_id.lower()).strip("-")[:60]
        row = db.claim_communication(self.engine, key=req.key, incident_id=req.incident_id, kind="INITIAL",
                                     target="war_room", subject=f"[{req.priority}] war room {channel}",
                                     body=req.brief)
        if row.status != "SENT":
            log.warning("WAR ROOM %s opened for %s; commander %s\n%s", channel, req.incident_id,
                        req.commander or "first acknowledger", req.brief)
            db.finish_communication(self.engine, key=req.key, status="SENT", channel="log",
                                    recipients=[channel])
        return WarRoomResult(channel=channel, bridge="")
