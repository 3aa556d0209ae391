"""Room: api (HTTP edge) — `GET /metrics`: the records database and the API's own requests in the
Prometheus text format.

It reads the records database only (RecordsDep), never Temporal, so a scrape costs a few
grouped queries and works while Temporal is down. Every scrape rebuilds the figures from the
database (a fresh registry and a collector over one snapshot), so every API replica reports
the same numbers and nothing is lost when a process restarts.

Metrics (HELP texts as exposed):

- ``warroom_incidents_open{priority, phase}`` gauge — "Incidents not yet resolved or
  closed, by current priority and phase."
- ``warroom_time_to_acknowledge_seconds{priority}`` histogram — "Seconds from an incident's
  creation to its acknowledgement, for acknowledged incidents, by current priority."
  Buckets: 60, 300, 900, 1800, 3600, 7200, +Inf.
- ``warroom_time_to_resolve_seconds{priority}`` histogram — "Seconds from an incident's
  creation to its resolution, for resolved incidents, by current priority."
  Buckets: 900, 1800, 3600, 7200, 14400, 28800, 86400, +Inf.
- ``warroom_pages_total{channel, outcome}`` counter — "Pages recorded on incident timelines
  (notification.sent / notification.failed), by delivery channel and outcome
  (sent, failed, pending)." A page that never reached a channel has channel "none".
- ``warroom_escalations_total{reason}`` counter — "Escalations recorded on incident
  timelines, by reason (ack_timeout, no_progress, resolve_target, manual, ...)."

The counters are totals over the records kept, so they only go down if records are deleted.

The API process's own traffic, counted by the `RequestMetrics` middleware (per process, since
it started; each API replica is its own target):

- ``warroom_http_requests_total{method, route, status}`` counter — "HTTP requests the API
  answered, by method, route template and status." `route` is the path template
  (`/api/v1/incidents/{incident_id}`), never the path, so an incident id is no label value;
  a path no route matches is `unmatched`.
- ``warroom_http_request_duration_seconds{method, route}`` histogram — "Seconds from a
  request's arrival to the end of its answer." Prometheus' default buckets (5 ms to 10 s).

The worker's figures (Temporal's SDK metrics: workflow and activity task latencies, polls,
slots) are the worker's own endpoint (WARROOM_WORKER_METRICS_ADDRESS, worker.py).
No authentication here: whoever includes the router decides who may call it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.body import JsonRoute
from api.deps import RecordsDep
from warroom.records import IncidentRow, TimelineRow

ACK_BUCKETS: tuple[float, ...] = (60, 300, 900, 1800, 3600, 7200)
RESOLVE_BUCKETS: tuple[float, ...] = (900, 1800, 3600, 7200, 14400, 28800, 86400)
_DONE = ("resolved", "closed")
_PAGE_EVENTS = ("notification.sent", "notification.failed")

router = APIRouter(route_class=JsonRoute)


@dataclass
class Snapshot:
    """What one scrape read from the records."""

    open: dict[tuple[str, str], int] = field(default_factory=dict)  # (priority, phase) -> count
    to_ack: dict[str, list[float]] = field(default_factory=dict)  # priority -> seconds
    to_resolve: dict[str, list[float]] = field(default_factory=dict)
    pages: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, outcome) -> count
    escalations: dict[str, int] = field(default_factory=dict)  # reason -> count


def read_snapshot(db: Engine) -> Snapshot:
    snap = Snapshot()
    with Session(db) as session:
        for priority, phase, n in session.execute(
            select(IncidentRow.priority, IncidentRow.phase, func.count())
            .where(func.lower(IncidentRow.status).not_in(_DONE))
            .group_by(IncidentRow.priority, IncidentRow.phase)
        ):
            snap.open[(priority, phase)] = n

        for priority, created, acked, resolved in session.execute(
            select(IncidentRow.priority, IncidentRow.created_at, IncidentRow.acknowledged_at,
                   IncidentRow.resolved_at).where(IncidentRow.created_at.is_not(None))
        ):
            if acked is not None:
                snap.to_ack.setdefault(priority, []).append(_seconds(created, acked))
            if resolved is not None:
                snap.to_resolve.setdefault(priority, []).append(_seconds(created, resolved))

        channel = TimelineRow.details["channel"].as_string()
        status = TimelineRow.details["status"].as_string()
        for type_, ch, st, n in session.execute(
            select(TimelineRow.type, channel, status, func.count())
            .where(TimelineRow.type.in_(_PAGE_EVENTS))
            .group_by(TimelineRow.type, channel, status)
        ):
            outcome = "failed" if type_ == "notification.failed" else (st or "sent").lower()
            key = (ch or "none", outcome)
            snap.pages[key] = snap.pages.get(key, 0) + n

        reason = TimelineRow.details["reason"].as_string()
        for r, n in session.execute(
            select(reason, func.count()).where(TimelineRow.type == "escalated").group_by(reason)
        ):
            key = r or "unknown"
            snap.escalations[key] = snap.escalations.get(key, 0) + n
    return snap


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


def _histogram(name: str, doc: str, bounds: Sequence[float], samples: dict[str, list[float]]) -> Metric:
    fam = HistogramMetricFamily(name, doc, labels=["priority"])
    for priority, values in sorted(samples.items()):
        buckets = [(_le(b), sum(1 for v in values if v <= b)) for b in bounds]
        buckets.append(("+Inf", len(values)))
        fam.add_metric([priority], buckets, sum(values))
    return fam


def _le(bound: float) -> str:
    return str(float(bound))


class RecordsCollector(Collector):
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        s = self.snap
        g = GaugeMetricFamily("warroom_incidents_open",
                              "Incidents not yet resolved or closed, by current priority and phase.",
                              labels=["priority", "phase"])
        for (priority, phase), n in sorted(s.open.items()):
            g.add_metric([priority, phase], n)
        yield g
        yield _histogram("warroom_time_to_acknowledge_seconds",
                         "Seconds from an incident's creation to its acknowledgement, for acknowledged "
                         "incidents, by current priority.", ACK_BUCKETS, s.to_ack)
        yield _histogram("warroom_time_to_resolve_seconds",
                         "Seconds from an incident's creation to its resolution, for resolved incidents, "
                         "by current priority.", RESOLVE_BUCKETS, s.to_resolve)
        yield _counter("warroom_pages", "Pages recorded on incident timelines (notification.sent / "
                       "notification.failed), by delivery channel and outcome (sent, failed, pending).",
                       ["channel", "outcome"], s.pages.items())
        yield _counter("warroom_escalations", "Escalations recorded on incident timelines, by reason.",
                       ["reason"], (((r,), n) for r, n in s.escalations.items()))


def _counter(name: str, doc: str, labels: list[str], items: Iterable[tuple[tuple[str, ...], int]]) -> Metric:
    # The family name has no _total; the exposition adds it to the sample.
    fam = CounterMetricFamily(name, doc, labels=labels)
    for values, n in sorted(items):
        fam.add_metric(list(values), n)
    return fam


# ---------------------------------------------------------------------- the API's own requests

class HttpMetrics:
    """The request figures of one app (create_app makes one: app.state.http_metrics)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("warroom_http_requests", "HTTP requests the API answered, by method, route "
                                "template and status.", ["method", "route", "status"], registry=self.registry)
        self.duration = Histogram("warroom_http_request_duration_seconds", "Seconds from a request's arrival "
                                  "to the end of its answer, by method and route template.", ["method", "route"],
                                  registry=self.registry)

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


class RequestMetrics:
    """ASGI middleware counting every HTTP request by its route template and status."""

    def __init__(self, app: Any, metrics: HttpMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # the router leaves the matched route in the scope (a Mount for /static)
            route = getattr(scope.get("route"), "path", "") or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(time.perf_counter() - start)


def exposition(db: Engine, http: HttpMetrics | None = None) -> bytes:
    registry = CollectorRegistry()
    registry.register(RecordsCollector(read_snapshot(db)))
    if http is not None:
        registry.register(http)
    return generate_latest(registry)


@router.get("/metrics", include_in_schema=False)
def metrics(db: RecordsDep, request: Request) -> Response:
    # A sync endpoint: FastAPI runs it in its threadpool, so the blocking queries never
    # hold the event loop.
    return Response(content=exposition(db, getattr(request.app.state, "http_metrics", None)),
                    media_type=CONTENT_TYPE_LATEST)
