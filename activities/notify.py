"""send_notification: resolve a page's target to people and deliver it, once per event.

Room: activities. The workflow names a target (`oncall:L2`, `technical_manager`,
`person:<id>`, `war_room`); this activity resolves it with the on-call configuration
(warroom/oncall) at the moment the page was scheduled, renders the message in each
person's language (warroom/delivery/messages.py) and sends it through their contact points in order
(warroom/delivery/channels.py, Apprise), falling back to the next contact point when one fails.

Exactly once, as far as a channel allows (docs/channels.md):
- the communication (one per notification key) and every delivery (one per person and
  contact point, key `{notification key}:{person}:{contact index}`) are recorded PENDING
  before sending and SENT / FAILED after; a retried activity or a restarted worker skips
  every delivery already SENT, so it never re-sends what was recorded;
- the key travels as an `Idempotency-Key` header where the channel carries headers;
- the one window left is a receiver that accepted a message whose SENT record was not yet
  written (the worker died in between): that delivery is sent again. A page is sent at
  least once, never zero times.

Without any on-call configuration (no people at all) pages go to the log channel, as in
`warroom dev`; with a configuration, a target that reaches nobody is a FAILED page.

The records database being down never holds a page back: the page goes out without its
record (the Idempotency-Key still travels with it), and the communication is written from
the timeline once the database answers again (records.record_events).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import ack_link, incident_link, invite_handle, recorded, scheduled_at, war_room_error
from warroom.delivery import channels as chan
from warroom import acklink, records
from warroom.delivery import messages
from warroom.oncall import ContactPoint, OnCallConfig, Person
from warroom.delivery.war_rooms import LogWarRoom, Room, WarRoomError, WarRoomProvider
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
    """Writes the page to the log: the channel when no on-call configuration exists."""

    name = "log"

    def send(self, n: Notification) -> Delivery:
        log.warning("PAGE %s -> %s [%s] %s | %s", n.key, n.target, n.kind, n.subject,
                    n.body.replace("\n", " / "))
        return Delivery(recipients=[n.target])


Send = Callable[..., chan.Outcome]


def room_of(stored: records.WarRoomRow) -> Room:
    """The recorded war room, as its provider addresses it."""
    return Room(provider=stored.provider, channel=stored.channel, url=stored.url, bridge=stored.bridge,
                incident_id=stored.incident_id)


class NotifyActivities:
    def __init__(self, engine: Engine, channels: dict[str, Channel] | None = None, default_channel: str = "log", *,
                 oncall: Callable[[], OnCallConfig] | None = None, war_room: WarRoomProvider | None = None,
                 public_url: str = "", attempts_per_contact: int = 3, retry_delay: float = 0.5,
                 send: Send | None = None, env: Mapping[str, str] | None = None, ack_key: bytes = b"",
                 ack_ttl_seconds: float = acklink.DEFAULT_TTL_SECONDS) -> None:
        self.engine = engine
        self.channels = channels or {"log": LogChannel()}
        self.default_channel = default_channel
        self.oncall = oncall or OnCallConfig.empty
        self.war_room = war_room or LogWarRoom()
        self.public_url = public_url.rstrip("/")
        self.attempts_per_contact = max(1, attempts_per_contact)
        self.retry_delay = retry_delay
        self.send = send or chan.deliver
        self.env = env  # None: secrets come from the worker's environment (warroom.secrets)
        # The server key the API checks acknowledge links with (warroom.secrets.server_key);
        # b"": pages carry no acknowledge link.
        self.ack_key = ack_key
        self.ack_ttl_seconds = ack_ttl_seconds

    @activity.defn(name="send_notification")
    def send_notification(self, n: Notification) -> NotificationResult:
        row = self._record(records.claim_communication, key=n.key, incident_id=n.incident_id, kind=n.kind,
                           target=n.target, subject=n.subject, body=n.body)
        if row is not None and row.status == "SENT":
            # A retry after a crash between sending and answering: never page twice.
            return NotificationResult(key=n.key, channel=row.channel, recipients=list(row.recipients),
                                      status="SENT", duplicate=True)
        if n.target == "war_room":
            return self._post_to_war_room(n)
        config = self.oncall()
        if not config.people:
            return self._legacy(n)
        at = scheduled_at()
        res = config.resolve(n.target, service=n.service, priority=n.priority, at=at)
        until = _attempt_deadline()
        tried: list[dict[str, Any]] = []
        reached: list[str] = []
        kinds: list[str] = []
        for person in res.people:
            ok, kind = self._reach(n, person, res.via, tried, until)
            if ok:
                reached.append(person.id)
                kinds.append(kind)
        for i, url in enumerate(res.chat):  # a team's channel, reached through a team target
            team = Person(id=f"chat{i}", name="team channel", timezone="UTC",
                          contacts=(ContactPoint("chat", url),))
            if self._reach(n, team, res.via, tried, until)[0]:
                reached.append(f"chat:{chan.redact(url)}")
                kinds.append("chat")
        if reached:
            status, error = "SENT", "; ".join(f"{d['person']}: {d['error']}" for d in tried
                                              if d["status"] == "FAILED")
        else:
            status = "FAILED"
            error = ("; ".join(f"{d['person']} ({d['contact_kind']}): {d['error']}" for d in tried)
                     or f"nobody to page for {n.target}: {res.via}")
        channel = ",".join(dict.fromkeys(kinds))[:64]
        if n.kind == "ESCALATION":
            self._invite(n, [p for p in res.people if p.id in reached])
        self._record(records.finish_communication, key=n.key, status=status, channel=channel, recipients=reached,
                     error=error[:2000])
        return NotificationResult(key=n.key, channel=channel, recipients=reached, status=status, error=error[:500],
                                  via=res.via, deliveries=tried)

    # ------------------------------------------------------------------ one person

    def _reach(self, n: Notification, person: Person, via: str, tried: list[dict[str, Any]],
               until: float) -> tuple[bool, str]:
        """Try the person's contact points in order until one takes the message."""
        if not person.contacts:
            tried.append({"person": person.id, "contact_kind": "", "contact": "", "status": "FAILED",
                          "error": "no contact points"})
            return False, ""
        for i, cp in enumerate(person.contacts):
            key = f"{n.key}:{person.id}:{i}"
            shown = chan.redact(cp.url)
            row = self._record(records.claim_delivery, key=key, communication_key=n.key, incident_id=n.incident_id,
                               person=person.id, contact_kind=cp.kind, contact=shown)
            if row is not None and row.status == "SENT":  # recorded by an earlier attempt of this activity
                tried.append({"person": person.id, "contact_kind": cp.kind, "contact": shown, "status": "SENT",
                              "error": "", "duplicate": True})
                return True, cp.kind
            if row is not None and row.status == "FAILED":  # an earlier attempt gave up on it: the next one
                tried.append({"person": person.id, "contact_kind": cp.kind, "contact": shown, "status": "FAILED",
                              "error": row.error})
                continue
            outcome = self._send(n, person, cp, key, via, until)
            self._record(records.finish_delivery, key=key, ok=outcome.ok, error=outcome.error)
            tried.append({"person": person.id, "contact_kind": cp.kind, "contact": shown,
                          "status": "SENT" if outcome.ok else "FAILED", "error": outcome.error})
            if outcome.ok:
                return True, cp.kind
            log.warning("delivery %s to %s via %s failed: %s", key, person.id, shown, outcome.error)
        return False, ""

    def _send(self, n: Notification, person: Person, cp: ContactPoint, key: str, via: str,
              until: float) -> chan.Outcome:
        subject, body = messages.render(self._template(n), person.language, self._context(n, person, via))
        outcome = chan.Outcome(ok=False, error="not sent")
        for attempt in range(self.attempts_per_contact):
            left = until - time.monotonic()
            if left < MIN_TRY_SECONDS:
                # Stop before Temporal hands the page to a retry while a send is still running
                # (that could deliver twice). A contact point already tried counts as failed;
                # one not tried yet is left to the retry, which skips what was recorded.
                if attempt:
                    return chan.Outcome(ok=False, error=f"{outcome.error} (gave up: out of time)")
                raise ApplicationError(f"out of time before trying {key}; the next attempt goes on",
                                       type="DeliveryTimeBudget")
            try:
                outcome = self.send(cp.url, subject=subject, body=body, idempotency_key=key, env=self.env,
                                    timeout=min(SEND_TIMEOUT_SECONDS, left - 1))
            except chan.ChannelError as err:  # configuration: trying again cannot help
                return chan.Outcome(ok=False, error=f"configuration: {err}")
            if outcome.ok:
                return outcome
            if attempt + 1 < self.attempts_per_contact:
                time.sleep(min(self.retry_delay * 2 ** attempt, max(0.0, until - time.monotonic())))
        return outcome

    def _template(self, n: Notification) -> str:
        return n.template if n.template in messages.KINDS else messages.kind_for(n.kind, n.target)

    def _context(self, n: Notification, person: Person, via: str) -> dict[str, Any]:
        # Made per person and per send: each person's link acknowledges as that person.
        ack = (ack_link(self.public_url, self.ack_key, incident_id=n.incident_id, person=person.id,
                        ttl_seconds=self.ack_ttl_seconds)
               if self._template(n) in messages.ASKS_TO_ACT else "")
        return {"ack_link": ack, "incident_id": n.incident_id, "title": n.title or n.subject, "priority": n.priority,
                "service": n.service, "category": n.category, "status": n.status, "phase": n.phase,
                "level": f"L{n.level}", "commander": n.commander or "", "subject": n.subject, "message": n.body,
                "link": self.link(n.incident_id), "person_name": person.name, "via": via}

    def _record(self, write: Callable[..., T], **kw: Any) -> T | None:
        """A records call that may fail: a page is never held back by the database."""
        return recorded(self.engine, write, **kw)

    def link(self, incident_id: str) -> str:
        return incident_link(self.public_url, incident_id)

    # ------------------------------------------------------------------ other routes

    def _invite(self, n: Notification, people: list[Person]) -> None:
        """Whoever an escalation reached joins the incident's war room, if it has one."""
        stored = self._record(records.war_room, incident_id=n.incident_id)
        if stored is None or stored.provider != self.war_room.name or not people:
            return
        handles = [h for h in (invite_handle(p, stored.provider) for p in people) if h]
        if not handles:
            return
        try:
            self.war_room.invite(room_of(stored), handles)
        except WarRoomError as err:  # the page went out; a failed invitation must not undo it
            log.warning("could not invite %s to the war room of %s: %s", ", ".join(handles), n.incident_id, err)

    def _post_to_war_room(self, n: Notification) -> NotificationResult:
        stored = self._record(records.war_room, incident_id=n.incident_id)
        room = room_of(stored) if stored else None
        provider = self.war_room if room is None or room.provider == self.war_room.name else LogWarRoom()
        if room is None:
            room = Room(provider=provider.name, channel="", incident_id=n.incident_id)
        try:
            provider.post(room, text=f"{n.subject}\n{n.body}", idempotency_key=n.key)
        except WarRoomError as err:
            self._record(records.finish_communication, key=n.key, status="FAILED", channel=provider.name,
                         recipients=[], error=str(err))
            raise war_room_error(err) from None
        self._record(records.finish_communication, key=n.key, status="SENT", channel=provider.name,
                     recipients=[room.channel])
        return NotificationResult(key=n.key, channel=provider.name, recipients=[room.channel], status="SENT")

    def _legacy(self, n: Notification) -> NotificationResult:
        channel = self.channels[self.default_channel]
        try:
            d = channel.send(n)
        except Exception as err:  # a channel's failure is recorded, then retried by Temporal
            self._record(records.finish_communication, key=n.key, status="FAILED", channel=channel.name,
                         recipients=[], error=str(err))
            raise
        status = "SENT" if d.ok else "FAILED"
        self._record(records.finish_communication, key=n.key, status=status, channel=channel.name,
                     recipients=d.recipients, error=d.error)
        return NotificationResult(key=n.key, channel=channel.name, recipients=d.recipients, status=status,
                                  error=d.error)


T = TypeVar("T")
SEND_TIMEOUT_SECONDS = 10.0  # one try of one contact point: connecting, and each wait for the peer
MIN_TRY_SECONDS = 3.0  # no try starts with less of the attempt's time left than this


def _attempt_deadline() -> float:
    """time.monotonic() by which this activity attempt must be done: its start-to-close timeout
    counted from now (a moment after the server started it), less a margin for recording."""
    try:
        budget = activity.info().start_to_close_timeout
    except RuntimeError:  # outside an activity
        budget = None
    return time.monotonic() + (budget.total_seconds() - 2 if budget else 10**9)
