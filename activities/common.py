"""What the activities share: calling the records (again at once on a dropped connection, and
for pages without ever being held back by them), the incident's link and a person's acknowledge
link, when the engine scheduled the call, whom to invite, war-room errors, and the heartbeat
that lets Temporal notice a dead worker's delivery within seconds.

Room: activities (the I/O side of the engine).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from warroom import acklink, records
from warroom.delivery.war_rooms import WarRoomError
from warroom.oncall import Person

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger("warroom.pages")


def records_call(engine: Engine | None, write: str, **kw: Any) -> Any:
    """Call the records function named `write` (warroom.records.<write>); once more at once
    when the connection it got had been dropped by the server (the engine checks no connection
    at checkout: warroom/records/models.py). The records functions are idempotent, so a call
    repeated after a lost answer writes nothing twice.
    Without an engine (a worker that keeps no records: a rehearsal) nothing is called: None.
    The function is named, not passed, and SQLAlchemy imported here: a worker without records
    never loads them (warroom/records/__init__.py)."""
    if engine is None:
        return None
    from sqlalchemy.exc import DBAPIError

    call = getattr(records, write)
    try:
        return call(engine, **kw)
    except DBAPIError as err:
        if not err.connection_invalidated:
            raise
        log.info("records connection was dropped, calling %s again: %s", write, str(err).splitlines()[0][:200])
        return call(engine, **kw)


def recorded(engine: Engine | None, write: str, **kw: Any) -> Any:
    """Call the records function named `write`; None (logged) when the database does not answer (or, without
    an engine, when there are no records)."""
    if engine is None:
        return None
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return records_call(engine, write, **kw)
    except SQLAlchemyError as err:
        log.warning("records unavailable, going on without them (%s): %s", write, str(err).splitlines()[0][:200])
        return None


def incident_link(public_url: str, incident_id: str) -> str:
    """Where a person reaches the incident ("" when the public URL is not configured)."""
    return f"{public_url.rstrip('/')}/api/v1/incidents/{incident_id}" if public_url else ""


def ack_link(public_url: str, key: bytes, *, incident_id: str, person: str,
             ttl_seconds: float = acklink.DEFAULT_TTL_SECONDS) -> str:
    """The one-tap link that lets `person` acknowledge the incident ("" without a public URL or
    a key). Made at send time on the worker's wall clock, which the API checks it against: the
    token never enters workflow history, so it is not replayed and its expiry is real time."""
    if not public_url or not key:
        return ""
    token = acklink.make(key, incident_id=incident_id, person=person, now=time.time(), ttl_seconds=ttl_seconds)
    return public_url.rstrip("/") + acklink.path(token)


def scheduled_at() -> datetime:
    """When the engine decided to page (the server's clock, virtual under time skipping)."""
    try:
        at = activity.info().scheduled_time
    except RuntimeError:  # called outside an activity (tests of the class itself)
        return datetime.now(UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def invite_handle(person: Person, provider: str) -> str:
    """Who to invite for a person: Slack invites its own users (people without one are left
    out, ""); a webhook or the log gets warroom's person id."""
    return person.handle("slack") if provider == "slack" else person.id


def war_room_error(err: WarRoomError) -> ApplicationError:
    """A war-room failure as Temporal sees it: retried when the provider says it may pass."""
    delay = timedelta(seconds=err.retry_after) if err.retry_after else None
    return ApplicationError(str(err), type=f"WarRoom:{err.code or 'error'}", non_retryable=not err.retryable,
                            next_retry_delay=delay)


# A sending activity heartbeats this often while it runs (workflows/calls.py SEND_HEARTBEAT_TIMEOUT
# is several times longer, and worker.py lets the SDK pass a heartbeat on within
# HEARTBEAT_THROTTLE seconds), so a worker killed mid-delivery is noticed within seconds and its
# deliveries retried on another worker, not after the whole start-to-close timeout.
HEARTBEAT_EVERY = 2.0
HEARTBEAT_THROTTLE = timedelta(seconds=3)


@contextlib.contextmanager
def heartbeats(details: Callable[[], tuple[Any, ...]] = tuple, every: float = HEARTBEAT_EVERY) -> Iterator[None]:
    """Heartbeat `details()` every `every` seconds from a helper thread while the block runs (a
    sync activity's own thread is busy sending). Outside an activity (tests of the class
    itself) nothing is sent."""
    try:
        activity.info()
    except RuntimeError:
        yield
        return
    beat = activity.heartbeat  # bound to this activity's context, usable from the helper thread
    import contextvars

    ctx = contextvars.copy_context()
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            try:
                ctx.run(beat, *details())
            except Exception as err:  # noqa: BLE001 - a lost heartbeat must never fail the delivery
                log.debug("heartbeat failed: %s", err)

    thread = threading.Thread(target=loop, name="warroom-heartbeat", daemon=True)
    ctx.run(beat, *details())  # at once: the server knows from the start that this attempt is alive
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 1)
