"""send_notification: deliver one message through a channel, exactly once per key.

Room: activities. Channels are a seam: the default LogChannel writes the message to the
log (so `warroom dev` shows pages happening) and every message lands in the
communications records. Paging, schedules and real channels plug in here later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import Engine
from temporalio import activity

from warroom import db
from workflows.contracts import Notification, NotificationResult

log = logging.getLogger("warroom.pages")


@dataclass
class Delivery:
    recipients: list[str]
    ok: bool = True
    error: str = ""


class Channel(Protocol):
    name: str

    def send(self, n: Notification) -> Delivery: ...


class LogChannel:
    """Writes the page to the log. Recipients are the target role until schedules exist."""

    name = "log"

    def send(self, n: Notification) -> Delivery:
        log.warning("PAGE %s -> %s [%s] %s | %s", n.key, n.target, n.kind, n.subject,
                    n.body.replace("\n", " / "))
        return Delivery(recipients=[n.target])


class NotifyActivities:
    def __init__(self, engine: Engine, channels: dict[str, Channel] | None = None,
                 default_channel: str = "log") -> None:
        self.engine = engine
        self.channels = channels or {"log": LogChannel()}
        self.default_channel = default_channel

    def _channel_for(self, n: Notification) -> Channel:
        return self.channels[self.default_channel]

    @activity.defn(name="send_notification")
    def send_notification(self, n: Notification) -> NotificationResult:
        row = db.claim_communication(self.engine, key=n.key, incident_id=n.incident_id, kind=n.kind,
                                     target=n.target, subject=n.subject, body=n.body)
        if row.status == "SENT":
            # A retry after a crash between sending and answering: never page twice.
            return NotificationResult(key=n.key, channel=row.channel, recipients=list(row.recipients),
                                      status="SENT", duplicate=True)
        channel = self._channel_for(n)
        try:
            d = channel.send(n)
        except Exception as err:  # a channel's failure is recorded, then retried by Temporal
            db.finish_communication(self.engine, key=n.key, status="FAILED", channel=channel.name,
                                    recipients=[], error=str(err))
            raise
        status = "SENT" if d.ok else "FAILED"
        db.finish_communication(self.engine, key=n.key, status=status, channel=channel.name,
                                recipients=d.recipients, error=d.error)
        return NotificationResult(key=n.key, channel=channel.name, recipients=d.recipients, status=status,
                                  error=d.error)
