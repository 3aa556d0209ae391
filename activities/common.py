"""What the activities share: calling the records (again at once on a dropped connection, and
for pages without ever being held back by them), the incident's link and a person's acknowledge
link, when the engine scheduled the call, whom to invite, war-room errors.

Room: activities (the I/O side of the engine).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from warroom import acklink
from warroom.delivery.war_rooms import WarRoomError
from warroom.oncall import Person

log = logging.getLogger("warroom.pages")
T = TypeVar("T")


def records_call(engine: Engine, write: Callable[..., T], **kw: Any) -> T:
    """Call a records function; once more at once when the connection it got had been dropped
    by the server (the engine checks no connection at checkout: warroom/records/models.py). The
    records functions are idempotent, so a call repeated after a lost answer writes nothing twice."""
    try:
        return write(engine, **kw)
    except DBAPIError as err:
        if not err.connection_invalidated:
            raise
        log.info("records connection was dropped, calling %s again: %s", getattr(write, "__name__", write),
                 str(err).splitlines()[0][:200])
        return write(engine, **kw)


def recorded(engine: Engine, write: Callable[..., T], **kw: Any) -> T | None:
    """Call a records function; None (logged) when the database does not answer."""
    try:
        return records_call(engine, write, **kw)
    except SQLAlchemyError as err:
        log.warning("records unavailable, going on without them (%s): %s", write.__name__,
                    str(err).splitlines()[0][:200])
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
