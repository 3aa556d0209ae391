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
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
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


RECORDS_WAIT_SECONDS = 5.0  # the longest a page (or war room) waits on one records call
RECORDS_REST_SECONDS = 15.0  # after a call that got no answer, none is asked for this long

# Records calls on the page path run here, so a page can stop waiting for one: a database that
# accepts connections and answers nothing (frozen, locked, a dead network path) would otherwise
# hold the page until the activity's timeout, and Temporal would send it again.
_RECORDS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="records")


class _Silence:
    """Of one records engine: its calls past their wait that have not returned yet, and until
    when it is not asked (time.monotonic())."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hung: set[Future[Any]] = set()
        self.rest_until = 0.0

    def resting(self) -> bool:
        with self.lock:
            return bool(self.hung) or time.monotonic() < self.rest_until

    def no_answer(self, call: Future[Any]) -> None:
        with self.lock:
            self.hung.add(call)
            self.rest_until = time.monotonic() + RECORDS_REST_SECONDS
        call.add_done_callback(self.returned)

    def returned(self, call: Future[Any]) -> None:
        with self.lock:
            self.hung.discard(call)


_silences: weakref.WeakKeyDictionary[Engine, _Silence] = weakref.WeakKeyDictionary()
_silences_lock = threading.Lock()


def _silence(engine: Engine) -> _Silence:
    with _silences_lock:
        found = _silences.get(engine)
        if found is None:
            found = _silences[engine] = _Silence()
        return found


def recorded(engine: Engine | None, write: str, *, wait: float = RECORDS_WAIT_SECONDS, **kw: Any) -> Any:
    """Call the records function named `write`; None (logged) when the database does not answer
    (an error, or no answer within `wait` seconds), or without an engine (no records).

    After a call got no answer within `wait`, that database is taken as not answering: nothing
    is asked of it while that call is still hung, and for RECORDS_REST_SECONDS after it (each
    page would otherwise wait `wait` seconds again). What a page did while the records were away
    reaches them from the timeline (`notification.sent`: warroom/records/incidents.py), which
    wins over a claim left PENDING."""
    if engine is None:
        return None
    from sqlalchemy.exc import SQLAlchemyError

    silence = _silence(engine)
    if silence.resting():
        log.warning("records not answering, going on without them (%s)", write)
        return None
    call = _RECORDS.submit(records_call, engine, write, **kw)
    try:
        return call.result(timeout=wait)
    except FuturesTimeout:
        silence.no_answer(call)
        log.warning("records did not answer within %.0f s, going on without them (%s)", wait, write)
        return None
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


class _Beats:
    """One daemon thread that heartbeats every running sending activity of the process (a sync
    activity's own thread is busy sending). One thread for all, started once: a helper thread
    per call meant a thread start in every delivery, and twice a suite run under load hung for
    good in one of those starts (Thread.start() waiting for a thread that never ran)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[int, list[Any]] = {}  # n -> [beat, ctx, details, every, next due]
        self._count = 0
        self._thread: threading.Thread | None = None

    def add(self, beat: Callable[..., Any], ctx: Any, details: Callable[[], tuple[Any, ...]], every: float) -> int:
        with self._lock:
            self._count += 1
            self._active[self._count] = [beat, ctx, details, every, time.monotonic() + every]
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="warroom-heartbeats", daemon=True)
                self._thread.start()
            return self._count

    def remove(self, n: int) -> None:
        with self._lock:
            self._active.pop(n, None)

    def _run(self) -> None:
        while True:
            now = time.monotonic()
            with self._lock:
                due = [(n, a[:3]) for n, a in self._active.items() if a[4] <= now]
                for n, _ in due:
                    self._active[n][4] = now + self._active[n][3]
            for n, (beat, ctx, details) in due:
                with self._lock:
                    if n not in self._active:
                        continue  # ended meanwhile: no heartbeat for a finished attempt
                try:
                    ctx.run(beat, *details())
                except Exception as err:  # noqa: BLE001 - a lost heartbeat must never fail the delivery
                    log.debug("heartbeat failed: %s", err)
            with self._lock:
                wake = min((a[4] for a in self._active.values()), default=now + 0.5)
            time.sleep(min(0.5, max(0.02, wake - time.monotonic())))


_BEATS = _Beats()


@contextlib.contextmanager
def heartbeats(details: Callable[[], tuple[Any, ...]] = tuple, every: float = HEARTBEAT_EVERY) -> Iterator[None]:
    """Heartbeat `details()` every `every` seconds while the block runs, from the process's one
    heartbeat thread (_Beats). Outside an activity (tests of the class itself) nothing is sent."""
    try:
        activity.info()
    except RuntimeError:
        yield
        return
    beat = activity.heartbeat  # bound to this activity's context, usable from another thread
    import contextvars

    ctx = contextvars.copy_context()
    ctx.run(beat, *details())  # at once: the server knows from the start that this attempt is alive
    n = _BEATS.add(beat, ctx, details, every)
    try:
        yield
    finally:
        _BEATS.remove(n)
