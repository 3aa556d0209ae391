"""send_notification: resolve a page's target to people and deliver it, once per event.

Room: activities. The workflow names a target (`oncall:L2`, `technical_manager`,
`person:<id>`, `war_room`); this activity resolves it with the on-call configuration
(warroom/oncall) at the moment the page was scheduled, renders the message in each
person's language (warroom/delivery/messages.py) and sends it through their contact points in order
(warroom/delivery/channels.py, Apprise), falling back to the next contact point when one fails.

Exactly once, as far as a channel allows (docs/channels.md), in two records transactions per
page (docs/records.md):
- before sending, one transaction claims the communication (one per notification key) and
  records PENDING every delivery about to be sent (one per person and contact point, key
  `{notification key}:{person}:{contact index}`); a retried activity or a restarted worker reads
  them there and skips every delivery already SENT, so it never re-sends what was recorded;
- after sending, one transaction writes every delivery's result (SENT / FAILED) and the
  communication's outcome; an attempt that stops early writes the results it has before it
  raises. Falling back to a person's next contact point claims it first (one more transaction,
  with the results so far), once per round: every person's first contact point is tried before
  anyone's second;
- the key travels as an `Idempotency-Key` header where the channel carries headers;
- the one window left is a receiver that accepted a message whose SENT record was not yet
  written (the worker died before the page's results were): that delivery is sent again. A
  page is sent at least once, never zero times.

Without any on-call configuration (no people at all) pages go to the log channel, as in
`warroom dev`; with a configuration, a target that reaches nobody is a FAILED page.

The records database being down never holds a page back: the page goes out without its
record (the Idempotency-Key still travels with it), and the communication is written from
the timeline once the database answers again (records.record_events).
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import (
    ack_link,
    heartbeats,
    incident_link,
    invite_handle,
    recorded,
    scheduled_at,
    war_room_error,
)
from warroom.delivery import channels as chan
from warroom import acklink, records
from warroom.delivery import messages
from warroom.oncall import ContactPoint, OnCallConfig, Person, Resolution
from warroom.delivery.war_rooms import LogWarRoom, Room, WarRoomError, WarRoomProvider
from workflows.contracts import Notification
from workflows.contracts_activities import NotificationBatch, NotificationBatchResult, NotificationResult

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

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
        details = [n.description, *(f"{label}: {url}" for label, url in messages.link_labels(n.links, n.link_texts, "en"))]
        log.warning("PAGE %s -> %s [%s] %s | %s", n.key, n.target, n.kind, n.subject,
                    " | ".join([n.body, *filter(None, details)]).replace("\n", " / "))
        return Delivery(recipients=[n.target])


Send = Callable[..., chan.Outcome]


def room_of(stored: records.WarRoomRow, own: str) -> Room:
    """The recorded war room, as its provider addresses it. A room recorded from the timeline
    (opened while the records were down) may not name its provider: it is `own`, the worker's
    (warroom/records/incidents.py)."""
    return Room(provider=stored.provider or own, channel=stored.channel, url=stored.url, bridge=stored.bridge,
                incident_id=stored.incident_id)


class NotifyActivities:
    def __init__(self, engine: Engine | None, channels: dict[str, Channel] | None = None, default_channel: str = "log", *,
                 oncall: Callable[[], OnCallConfig] | None = None, war_room: WarRoomProvider | None = None,
                 public_url: str = "", attempts_per_contact: int = 3, retry_delay: float = 0.5,
                 send: Send | None = None, env: Mapping[str, str] | None = None, ack_key: bytes = b"",
                 ack_ttl_seconds: float = acklink.DEFAULT_TTL_SECONDS, rehearsal: bool = False) -> None:
        self.engine = engine
        # A rehearsal (warroom simulate): pages are resolved and rendered but go nowhere, and every
        # one that would have been sent says REHEARSAL instead of SENT (timeline and output).
        self.rehearsal = rehearsal
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

    @activity.defn(name="send_notifications")
    def send_notifications(self, batch: NotificationBatch) -> NotificationBatchResult:
        """The pages of one moment, side by side (one does not wait for another), each exactly
        as send_notification sends it. A page that raised is retried with the batch while
        attempts are left: what this attempt sent is in the heartbeat (and in the records'
        claims), so the retry sends only the rest. On the last attempt it comes back FAILED."""
        done: dict[str, NotificationResult] = {}
        info = activity.info()
        for d in info.heartbeat_details[:1]:
            if isinstance(d, dict):
                done.update({k: _result(v) for k, v in d.items() if isinstance(v, dict)})
        todo = [n for n in batch.notifications if n.key not in done]
        shared = self._shared(batch.notifications)
        errors: dict[str, BaseException] = {}
        lock = threading.Lock()

        def finished(key: str, result: NotificationResult) -> None:
            with lock:
                done[key] = result

        def sent_so_far() -> tuple[dict[str, Any]]:
            # The heartbeat carries what is sent so far: a retry after this worker died skips it,
            # even where the records were down and hold no claim for it.
            with lock:
                return ({k: dataclasses.asdict(r) for k, r in done.items()},)

        with heartbeats(sent_so_far):
            outcomes = self._side_by_side(todo, shared, finished)
        for n, outcome in zip(todo, outcomes):
            if isinstance(outcome, NotificationResult):
                done[n.key] = outcome
            else:
                errors[n.key] = outcome
        if errors:
            last = info.retry_policy is not None and 0 < info.retry_policy.maximum_attempts <= info.attempt
            retryable = {k: e for k, e in errors.items()
                         if not (isinstance(e, ApplicationError) and e.non_retryable)}
            if retryable and not last:
                activity.heartbeat({k: dataclasses.asdict(r) for k, r in done.items()})
                raise next(iter(retryable.values()))
            for k, e in errors.items():
                done[k] = NotificationResult(key=k, channel="", status="FAILED", error=str(e)[:500])
        return NotificationBatchResult(results=[self._as_run(_with_shared(done[n.key], shared.get(n.key), done))
                                                for n in batch.notifications])

    def _as_run(self, r: NotificationResult) -> NotificationResult:
        """In a rehearsal, what would have been sent says so: REHEARSAL, never SENT."""
        if not self.rehearsal:
            return r
        return dataclasses.replace(
            r, status=REHEARSAL if r.status == "SENT" else r.status,
            deliveries=[{**d, "status": REHEARSAL} if d.get("status") == "SENT" else d for d in r.deliveries])

    def _shared(self, batch: list[Notification]) -> dict[str, _Shared]:
        """One page per person per event: where several pages of the batch carry the same message
        (kind, subject, body) and reach the same person (one person in two roles: the on-call L1
        who is also the technical manager), only the first of them pages that person, and says
        every role they are paged for. The others list the person among their recipients, with
        that page's outcome (docs/channels.md)."""
        config = self.oncall()
        if not config.people or len(batch) < 2:
            return {}
        at = scheduled_at()
        first: dict[tuple[str, str, str, str], dict[str, str]] = {}  # message -> person id -> page key
        out: dict[str, _Shared] = {}
        for n in batch:
            if n.target == "war_room":
                continue
            res = config.resolve(n.target, service=n.service, priority=n.priority, at=at)
            pages = first.setdefault((n.kind, n.template, n.subject, n.body), {})
            covered = {p.id: pages[p.id] for p in res.people if p.id in pages}
            for p in res.people:
                pages.setdefault(p.id, n.key)
            out[n.key] = _Shared(res, covered)
            for pid, key in covered.items():
                out[key].paged_as.setdefault(pid, [out[key].resolution.target]).append(n.target)
        return out

    def _side_by_side(self, todo: list[Notification], shared: Mapping[str, _Shared],
                      finished: Callable[[str, NotificationResult], None]) -> list[NotificationResult | BaseException]:
        def one(n: Notification) -> NotificationResult | BaseException:
            try:
                result = self._page(n, shared.get(n.key))
            except Exception as err:  # noqa: BLE001 - the batch decides: retry or FAILED
                return err
            finished(n.key, result)
            return result

        if len(todo) <= 1:
            return [one(n) for n in todo]
        # Each page in this activity's context (activity.info(): its deadline, its scheduled time).
        futures = [_PAGES.submit(contextvars.copy_context().run, one, n) for n in todo]
        return [f.result() for f in futures]

    @activity.defn(name="send_notification")
    def send_notification(self, n: Notification) -> NotificationResult:
        with heartbeats():
            return self._as_run(self._page(n, None))

    def _page(self, n: Notification, shared: _Shared | None) -> NotificationResult:
        """One page; with `shared`, only to the people no earlier page of its batch reaches."""
        if n.target == "war_room":
            return self._claimed(n) or self._post_to_war_room(n)
        config = self.oncall()
        if not config.people:
            return self._claimed(n) or self._legacy(n)
        res = shared.resolution if shared is not None else config.resolve(
            n.target, service=n.service, priority=n.priority, at=scheduled_at())
        covered = shared.covered if shared is not None else {}
        paged_as = shared.paged_as if shared is not None else {}
        page = [_Recipient(p, p.id, n.key, paged_as.get(p.id, [n.target])) for p in res.people if p.id not in covered]
        if not page and not res.chat and covered:  # everyone it reaches is paged by an earlier page
            return NotificationResult(key=n.key, channel="", status="SENT", via=res.via)
        for i, url in enumerate(res.chat):  # a team's channel, reached through a team target
            team = Person(id=f"chat{i}", name="team channel", timezone="UTC", contacts=(ContactPoint("chat", url),))
            page.append(_Recipient(team, f"chat:{chan.redact(url)}", n.key, [n.target]))

        def choose(found: Mapping[str, Any]) -> list[dict[str, str]]:
            return [claim for r in page if (claim := r.plan(found)) is not None]

        claim = self._record("claim_page", key=n.key, incident_id=n.incident_id, kind=n.kind, target=n.target,
                             subject=n.subject, body=n.body, choose=choose)
        if claim is not None and claim.communication.status == "SENT":
            return _duplicate(n, claim.communication)
        for r in page:  # the plan as recorded (or, with the records down, from nothing recorded)
            r.plan(claim.deliveries if claim is not None else {})
        until = _attempt_deadline()
        results: list[dict[str, Any]] = []  # delivery results not yet written to the records
        try:
            todo = [r for r in page if r.next is not None]
            while todo:
                for j, r in enumerate(todo):
                    self._try(n, r, res.via, until, results)
                    if r.reached and j < len(todo) - 1 and \
                            self._record("finish_page", key=n.key, results=results, status=None):
                        # Who was reached is recorded before the next person is paged: a worker
                        # dying while paging them never pages this one again (one write per
                        # person reached; a page to one person is the claim and the finish).
                        results = []
                todo = [r for r in todo if r.next is not None]
                if todo:  # the next round's contact points are claimed before they are tried
                    written = self._record("next_contacts", communication_key=n.key, incident_id=n.incident_id,
                                           results=results, claims=[r.claim() for r in todo])
                    if written is not None:
                        results = []
        except BaseException:
            if results:  # what did go out is recorded, so the retry does not send it again
                self._record("finish_page", key=n.key, results=results, status=None)
            raise
        tried = [d for r in page for d in r.tried]
        reached = [r for r in page if r.reached]
        if reached:
            status, error = "SENT", "; ".join(f"{d['person']}: {d['error']}" for d in tried if d["status"] == "FAILED")
        else:
            status = "FAILED"
            error = ("; ".join(f"{d['person']} ({d['contact_kind']}): {d['error']}" for d in tried)
                     or f"nobody to page for {n.target}: {res.via}")
        recipients = [r.shown for r in reached]
        channel = ",".join(dict.fromkeys(r.reached for r in reached))[:64]
        if n.kind == "ESCALATION":
            self._invite(n, [p for p in res.people if p.id in recipients])
        self._record("finish_page", key=n.key, results=results, status=status, channel=channel,
                     recipients=recipients, error=error[:2000])
        return NotificationResult(key=n.key, channel=channel, recipients=recipients, status=status, error=error[:500],
                                  via=res.via, deliveries=tried)

    def _claimed(self, n: Notification) -> NotificationResult | None:
        """Claim a message sent as one (a war-room post, the log channel); its recorded result
        when an earlier attempt sent it already (a retry after a crash: never page twice)."""
        row = self._record("claim_communication", key=n.key, incident_id=n.incident_id, kind=n.kind,
                           target=n.target, subject=n.subject, body=n.body)
        return _duplicate(n, row) if row is not None and row.status == "SENT" else None

    # ------------------------------------------------------------------ one person

    def _try(self, n: Notification, r: _Recipient, via: str, until: float, results: list[dict[str, Any]]) -> None:
        """Send to the recipient's next contact point; on failure the one after it is next."""
        assert r.next is not None
        i = r.next
        cp = r.person.contacts[i]
        key, shown = r.key(i), chan.redact(cp.url)
        outcome = self._send(n, r.person, cp, key, via, until, r.paged_as)
        results.append({"key": key, "ok": outcome.ok, "error": outcome.error})
        r.tried.append({"person": r.person.id, "contact_kind": cp.kind, "contact": shown,
                        "status": "SENT" if outcome.ok else "FAILED", "error": outcome.error})
        if outcome.ok:
            r.reached, r.next = cp.kind, None
            return
        log.warning("delivery %s to %s via %s failed: %s", key, r.person.id, shown, outcome.error)
        r.next = i + 1 if i + 1 < len(r.person.contacts) else None

    def _send(self, n: Notification, person: Person, cp: ContactPoint, key: str, via: str,
              until: float, paged_as: list[str]) -> chan.Outcome:
        subject, body = messages.render(self._template(n), person.language,
                                        self._context(n, person, via, paged_as))
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

    def _context(self, n: Notification, person: Person, via: str,
                 paged_as: list[str] | None = None) -> dict[str, Any]:
        # Made per person and per send: each person's link acknowledges as that person; only while
        # the incident waits for an acknowledgement (a link to an acknowledged one only says so).
        ack = (ack_link(self.public_url, self.ack_key, incident_id=n.incident_id, person=person.id,
                        ttl_seconds=self.ack_ttl_seconds)
               if self._template(n) in messages.ASKS_TO_ACT and n.status in ("", "triggered") else "")
        return {"ack_link": ack, "incident_id": n.incident_id, "title": n.title or n.subject, "priority": n.priority,
                "service": n.service, "category": n.category, "status": n.status, "phase": n.phase,
                "level": f"L{n.level}", "commander": n.commander or "", "subject": n.subject, "message": n.body,
                "link": self.link(n.incident_id), "person_name": person.name, "via": via,
                "paged_as": messages.paged_as(paged_as or [n.target], person.language),
                "target_level": n.target.removeprefix("oncall:") if n.target.startswith("oncall:") else "",
                "description": n.description, "links": messages.link_labels(n.links, n.link_texts, person.language)}

    def _record(self, write: str, **kw: Any) -> Any:
        """A records call (the function's name) that may fail: a page is never held back by the database."""
        return recorded(self.engine, write, **kw)

    def link(self, incident_id: str) -> str:
        return incident_link(self.public_url, incident_id)

    # ------------------------------------------------------------------ other routes

    def _invite(self, n: Notification, people: list[Person]) -> None:
        """Whoever an escalation reached joins the incident's war room, if it has one."""
        stored = self._record("war_room", incident_id=n.incident_id)
        room = room_of(stored, self.war_room.name) if stored is not None else None
        if room is None or room.provider != self.war_room.name or not people:
            return
        handles = [h for h in (invite_handle(p, room.provider) for p in people) if h]
        if not handles:
            return
        try:
            self.war_room.invite(room, handles)
        except WarRoomError as err:  # the page went out; a failed invitation must not undo it
            log.warning("could not invite %s to the war room of %s: %s", ", ".join(handles), n.incident_id, err)

    def _post_to_war_room(self, n: Notification) -> NotificationResult:
        stored = self._record("war_room", incident_id=n.incident_id)
        room = room_of(stored, self.war_room.name) if stored else None
        provider = self.war_room if room is None or room.provider == self.war_room.name else LogWarRoom()
        if room is None:
            room = Room(provider=provider.name, channel="", incident_id=n.incident_id)
        try:
            provider.post(room, text=f"{n.subject}\n{n.body}", idempotency_key=n.key)
        except WarRoomError as err:
            self._record("finish_communication", key=n.key, status="FAILED", channel=provider.name,
                         recipients=[], error=str(err))
            raise war_room_error(err) from None
        self._record("finish_communication", key=n.key, status="SENT", channel=provider.name,
                     recipients=[room.channel])
        return NotificationResult(key=n.key, channel=provider.name, recipients=[room.channel], status="SENT")

    def _legacy(self, n: Notification) -> NotificationResult:
        channel = self.channels[self.default_channel]
        try:
            d = channel.send(n)
        except Exception as err:  # a channel's failure is recorded, then retried by Temporal
            self._record("finish_communication", key=n.key, status="FAILED", channel=channel.name,
                         recipients=[], error=str(err))
            raise
        status = "SENT" if d.ok else "FAILED"
        self._record("finish_communication", key=n.key, status=status, channel=channel.name,
                     recipients=d.recipients, error=d.error)
        return NotificationResult(key=n.key, channel=channel.name, recipients=d.recipients, status=status,
                                  error=d.error)


class _Recipient:
    """One person (or a team's chat channel) of a page: which contact point is next, what was tried."""

    def __init__(self, person: Person, shown: str, communication_key: str, paged_as: list[str]) -> None:
        self.person = person
        self.shown = shown  # as the page's recipients list it
        self.communication_key = communication_key
        self.paged_as = paged_as  # the targets this one message reaches them for (one page per event)
        self.next: int | None = None  # the contact point to try next; None: reached or nothing left
        self.reached = ""  # the contact kind that took the page
        self.tried: list[dict[str, Any]] = []

    def key(self, i: int) -> str:
        return f"{self.communication_key}:{self.person.id}:{i}"

    def plan(self, found: Mapping[str, Any]) -> dict[str, str] | None:
        """Where to start, from the deliveries an earlier attempt recorded (by key): a contact
        point recorded SENT means reached (nothing is sent), one recorded FAILED is passed over,
        the first other one is next. Returns the delivery to claim, if any."""
        self.next, self.reached, self.tried = None, "", []
        if not self.person.contacts:
            self.tried.append({"person": self.person.id, "contact_kind": "", "contact": "", "status": "FAILED",
                               "error": "no contact points"})
            return None
        for i, cp in enumerate(self.person.contacts):
            row = found.get(self.key(i))
            shown = chan.redact(cp.url)
            if row is not None and row.status == "SENT":  # recorded by an earlier attempt of this activity
                self.tried.append({"person": self.person.id, "contact_kind": cp.kind, "contact": shown,
                                   "status": "SENT", "error": "", "duplicate": True})
                self.reached = cp.kind
                return None
            if row is not None and row.status == "FAILED":  # an earlier attempt gave up on it: the next one
                self.tried.append({"person": self.person.id, "contact_kind": cp.kind, "contact": shown,
                                   "status": "FAILED", "error": row.error})
                continue
            self.next = i
            return self.claim()
        return None

    def claim(self) -> dict[str, str]:
        """The next contact point as a delivery to record PENDING."""
        assert self.next is not None
        cp = self.person.contacts[self.next]
        return {"key": self.key(self.next), "person": self.person.id, "contact_kind": cp.kind,
                "contact": chan.redact(cp.url)}


@dataclass
class _Shared:
    """A page of a batch as the batch shares it out: its people (resolved once), the people an
    earlier page of the batch already reaches with the same message (person id -> that page's
    key), and, for the people it pages itself, every target it reaches them for."""
    resolution: Resolution
    covered: dict[str, str]
    paged_as: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def _with_shared(own: NotificationResult, shared: _Shared | None,
                 results: Mapping[str, NotificationResult]) -> NotificationResult:
    """A page's result with the people an earlier page of its batch reached for it."""
    if shared is None or not shared.covered:
        return own
    reached, missed = list(own.recipients), []
    for pid, key in shared.covered.items():
        first = results[key]
        (reached if pid in first.recipients else missed).append(pid)
    with_ = sorted({results[k].key for k in shared.covered.values()})
    note = f"one page with {', '.join(with_)}"
    errors = [e for e in (own.error, f"{', '.join(missed)}: not reached ({note})" if missed else "") if e]
    return dataclasses.replace(
        own, recipients=list(dict.fromkeys(reached)), status="SENT" if reached else "FAILED",
        channel=own.channel or ",".join(dict.fromkeys(results[k].channel for k in shared.covered.values()
                                                       if results[k].channel))[:64],
        error="; ".join(errors)[:500], via=f"{own.via} ({note})" if own.via else note)


def _result(d: dict[str, Any]) -> NotificationResult:
    """A result an earlier attempt of the batch put in its heartbeat."""
    fields = {f.name for f in dataclasses.fields(NotificationResult)}
    return NotificationResult(**{k: v for k, v in d.items() if k in fields})


# The threads a batch's pages are sent on, shared by every batch of the worker (a page mostly
# waits on the network). The worker's activity executor holds the batch itself.
_PAGES = ThreadPoolExecutor(max_workers=32, thread_name_prefix="warroom-page")


def _duplicate(n: Notification, row: Any) -> NotificationResult:
    return NotificationResult(key=n.key, channel=row.channel, recipients=list(row.recipients), status="SENT",
                              duplicate=True)


REHEARSAL = "REHEARSAL"  # a rehearsal's page: resolved, rendered, not sent
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
