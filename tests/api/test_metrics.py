"""`GET /metrics` (issue 5): the Prometheus figures a scrape reads from the records.

The session database is shared with other tests, so every assertion is on the change a test's
own rows make between two scrapes (and its rows carry a channel/reason of their own)."""

from __future__ import annotations

import uuid
from collections import Counter
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import AsyncIterator

import httpx
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from api.routes.metrics import router
from tests.helpers import advance_to, get_state, running_worker, start, until
from warroom.records import IncidentRow, TimelineRow

Key = tuple[str, frozenset[tuple[str, str]]]


@asynccontextmanager
async def metrics_client(engine) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(router)
    app.state.engine = engine
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        yield http


async def scrape(http: httpx.AsyncClient) -> dict[Key, float]:
    r = await http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == CONTENT_TYPE_LATEST
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(r.text) for s in fam.samples}


def delta(before: dict[Key, float], after: dict[Key, float]) -> dict[Key, float]:
    # rounded: sums are floats, and a difference of two large sums carries float noise
    return {k: round(v - before.get(k, 0), 6) for k, v in after.items() if v != before.get(k, 0)}


def k(name: str, **labels: str) -> Key:
    return name, frozenset(labels.items())


T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def incident(uid: str, n: int, *, priority: str, status: str, phase: str, ack: float | None = None,
             resolve: float | None = None) -> IncidentRow:
    return IncidentRow(
        run_id=f"run-{uid}-{n}", incident_id=f"incident-{uid}-{n}", workflow="IncidentResponse",
        title="metrics test", service=f"svc-{uid}", priority=priority, status=status, phase=phase,
        created_at=T0,
        acknowledged_at=T0 + timedelta(seconds=ack) if ack is not None else None,
        resolved_at=T0 + timedelta(seconds=resolve) if resolve is not None else None,
    )


def event(uid: str, seq: int, type_: str, **details: object) -> TimelineRow:
    return TimelineRow(run_id=f"run-{uid}-1", incident_id=f"incident-{uid}-1", seq=seq,
                       at=T0 + timedelta(seconds=seq), type=type_, actor="system", details=details)


async def test_metrics_count_the_recorded_incidents_pages_and_escalations(engine):
    uid = uuid.uuid4().hex[:10]
    ch, reason = f"chat-{uid}", f"reason-{uid}"
    async with metrics_client(engine) as http:
        before = await scrape(http)
        with Session(engine) as s, s.begin():
            s.add_all([
                incident(uid, 1, priority="P1", status="acknowledged", phase="investigate", ack=120),
                incident(uid, 2, priority="P1", status="triggered", phase="investigate"),
                incident(uid, 3, priority="P1", status="resolved", phase="review", ack=30, resolve=3000),
                incident(uid, 4, priority="P1", status="closed", phase="closed", ack=1000, resolve=20000),
                incident(uid, 5, priority="P2", status="mitigated", phase="recover", ack=7300),
            ])
            s.add_all([
                event(uid, 1, "notification.sent", kind="INITIAL", target="oncall:L1", channel=ch, status="SENT"),
                event(uid, 2, "notification.sent", kind="UPDATE", target="oncall:L1", channel=ch, status="SENT"),
                event(uid, 3, "notification.sent", kind="UPDATE", target="exec", channel=ch, status="PENDING"),
                event(uid, 4, "notification.failed", kind="UPDATE", target="exec", channel=ch, status="FAILED"),
                event(uid, 5, "notification.failed", kind="UPDATE", target="exec", channel="", status="FAILED"),
                event(uid, 6, "escalated", level=2, reason="ack_timeout"),
                event(uid, 7, "escalated", level=3, reason="ack_timeout"),
                event(uid, 8, "escalated", level=3, reason=reason),
                event(uid, 9, "acknowledged", by="alice"),
            ])
        after = await scrape(http)

    ack, res = "warroom_time_to_acknowledge_seconds", "warroom_time_to_resolve_seconds"
    expected = {
        # open: not resolved and not closed
        k("warroom_incidents_open", priority="P1", phase="investigate"): 2,
        k("warroom_incidents_open", priority="P2", phase="recover"): 1,
        # time to acknowledge, P1: 30 s, 120 s, 1000 s; P2: 7300 s (past the last bound)
        **{k(f"{ack}_bucket", priority="P1", le=le): n for le, n in
           [("60.0", 1), ("300.0", 2), ("900.0", 2), ("1800.0", 3), ("3600.0", 3), ("7200.0", 3), ("+Inf", 3)]},
        k(f"{ack}_count", priority="P1"): 3,
        k(f"{ack}_sum", priority="P1"): 1150,
        k(f"{ack}_bucket", priority="P2", le="+Inf"): 1,
        k(f"{ack}_count", priority="P2"): 1,
        k(f"{ack}_sum", priority="P2"): 7300,
        # time to resolve, P1: 3000 s and 20000 s
        **{k(f"{res}_bucket", priority="P1", le=le): n for le, n in
           [("3600.0", 1), ("7200.0", 1), ("14400.0", 1), ("28800.0", 2), ("86400.0", 2), ("+Inf", 2)]},
        k(f"{res}_count", priority="P1"): 2,
        k(f"{res}_sum", priority="P1"): 23000,
        # pages by channel and outcome; a page that reached no channel counts under "none"
        k("warroom_pages_total", channel=ch, outcome="sent"): 2,
        k("warroom_pages_total", channel=ch, outcome="pending"): 1,
        k("warroom_pages_total", channel=ch, outcome="failed"): 1,
        k("warroom_pages_total", channel="none", outcome="failed"): 1,
        k("warroom_escalations_total", reason="ack_timeout"): 2,
        k("warroom_escalations_total", reason=reason): 1,
    }
    assert delta(before, after) == expected


async def test_exposition_names_and_documents_every_metric(engine):
    async with metrics_client(engine) as http:
        r = await http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"] == CONTENT_TYPE_LATEST
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert {n: fams[n].type for n in fams} == {
        "warroom_incidents_open": "gauge",
        "warroom_time_to_acknowledge_seconds": "histogram",
        "warroom_time_to_resolve_seconds": "histogram",
        "warroom_pages": "counter",
        "warroom_escalations": "counter",
    }
    assert all(f.documentation for f in fams.values())


async def test_a_real_incident_pages_and_escalation_reach_the_metrics(env, engine, task_queue):
    """A P0 left unacknowledged past its 15-minute window: the engine pages and escalates for
    ack_timeout, the store activity records it, and the next scrape counts exactly that."""
    async with metrics_client(engine) as http:
        before = await scrape(http)
        async with running_worker(env.client, task_queue, engine):
            h = await start(env.client, task_queue, priority="P0", service=f"svc-{uuid.uuid4().hex[:8]}")
            await advance_to(env, h, 16)

            async def scraped() -> tuple[dict[Key, float], dict[Key, float], Counter, Counter]:
                """What the scrape counts, what the timeline says it should, and the pages and
                escalations behind that."""
                st = await get_state(h)
                pages = Counter((e.details.get("channel") or "none",
                                 "failed" if e.type == "notification.failed" else e.details["status"].lower())
                                for e in st.timeline if e.type in ("notification.sent", "notification.failed"))
                escalations = Counter(e.details["reason"] for e in st.timeline if e.type == "escalated")
                expected = {
                    k("warroom_incidents_open", priority="P0", phase=st.phase): 1,
                    **{k("warroom_pages_total", channel=c, outcome=o): n for (c, o), n in pages.items()},
                    **{k("warroom_escalations_total", reason=r): n for r, n in escalations.items()},
                }
                return delta(before, await scrape(http)), expected, pages, escalations

            # time is held still; only the recording may still be in flight
            seen, expected, pages, escalations = await until(
                scraped, "the scrape to count what the timeline shows", ok=lambda r: r[0] == r[1])
    assert escalations["ack_timeout"] == 1 and sum(pages.values()) >= 2
    assert seen == expected
