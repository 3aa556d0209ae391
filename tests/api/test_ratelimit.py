"""Senders told to slow down, never dropped: a key over its alert rate gets 429 with
Retry-After (in PagerDuty's shape on PagerDuty's paths), counted per key and per alert, and a
refused request never reaches Temporal; once the wait has passed the key is accepted again.
The limiter runs on the test's own clock, so the wait passes without sleeping."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import httpx

from api.app import create_app
from api.ratelimit import AlertRateLimit
from tests.helpers import new_key, open_marker, running_worker, until
from warroom import records
from warroom.records import keys as auth
from warroom.settings import Settings


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@asynccontextmanager
async def limited(env: Any, engine: Any, task_queue: str, *, per_minute: int,
                  burst: int) -> AsyncIterator[tuple[httpx.AsyncClient, Clock]]:
    """The app with this alert rate (the settings a deployment would set) on a test clock,
    a worker behind it."""
    settings = Settings(task_queue=task_queue, alert_rate_per_minute=per_minute, alert_rate_burst=burst)
    app = create_app(settings, client=env.client, engine=engine)
    clock = Clock()
    app.state.rate_limit = AlertRateLimit.from_settings(settings, clock=clock)
    async with running_worker(env.client, task_queue, engine), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        yield http, clock


def alert(dedup_key: str, n: int) -> dict[str, Any]:
    # distinct alerts of one incident (their labels differ), so each one counts as a new alert
    return {"title": "Queue backlog growing", "service": "billing", "priority": "P3",
            "dedup_key": dedup_key, "labels": {"n": str(n)}}


async def test_a_key_over_its_rate_is_told_to_wait_and_only_accepted_alerts_count(env, engine, task_queue):
    sender, other = new_key(engine, "integration"), new_key(engine, "integration")
    reader = new_key(engine, "viewer")
    name = auth.authenticate(engine, sender).name
    k = f"rate-{uuid.uuid4().hex[:10]}"
    # 60 a minute = one a second, in bursts of 3
    async with limited(env, engine, task_queue, per_minute=60, burst=3) as (http, clock):
        for n in range(3):
            r = await http.post("/api/v1/alerts/generic", json=alert(k, n), headers=bearer(sender))
            assert r.status_code == 202, r.text
        iid = r.json()["incidents"][0]["id"]

        r = await http.post("/api/v1/alerts/generic", json=alert(k, 3), headers=bearer(sender))
        assert r.status_code == 429, r.text
        assert r.headers["Retry-After"] == "1"
        detail = r.json()["detail"]
        assert repr(name) in detail and "60 alerts a minute per key, in bursts of up to 3" in detail

        # another key is counted apart
        r = await http.post("/api/v1/alerts/generic", json=alert(k, 4), headers=bearer(other))
        assert r.status_code == 202, r.text

        # half the wait: still refused, and Retry-After stays whole seconds, at least 1
        clock.now += 0.5
        r = await http.post("/api/v1/alerts/generic", json=alert(k, 5), headers=bearer(sender))
        assert (r.status_code, r.headers["Retry-After"]) == (429, "1")
        # the wait over: accepted again
        clock.now += 0.5
        r = await http.post("/api/v1/alerts/generic", json=alert(k, 6), headers=bearer(sender))
        assert r.status_code == 202, r.text

        async def count() -> int:
            return (await http.get(f"/api/v1/incidents/{iid}", headers=bearer(reader))).json()["alert_count"]

        # the last accepted alert is the fifth counted: neither refused one ever reached the incident
        assert await until(count, "the five accepted alerts to be counted", ok=lambda c: c >= 5) == 5


async def test_pagerduty_paths_answer_429_as_pagerduty_does(env, engine, task_queue):
    key, marker = new_key(engine, "integration"), new_key(engine, "integration")
    name = auth.authenticate(engine, key).name
    first, refused = f"pd-{uuid.uuid4().hex[:10]}", f"pd-{uuid.uuid4().hex[:10]}"

    def event(dedup_key: str) -> dict[str, Any]:
        return {"routing_key": key, "event_action": "trigger", "dedup_key": dedup_key,
                "payload": {"summary": "Disk full on db-1", "source": "db-1", "severity": "warning"}}

    async with limited(env, engine, task_queue, per_minute=60, burst=1) as (http, clock):
        r = await http.post("/v2/enqueue", json=event(first))
        assert r.status_code == 202, r.text
        # one key, one count, whichever of the two PagerDuty paths it posts to
        for path in ("/v2/enqueue", "/api/v1/alerts/pagerduty"):
            r = await http.post(path, json=event(refused))
            assert r.status_code == 429, (path, r.text)
            assert r.headers["Retry-After"] == "1"
            body = r.json()
            assert (body["status"], body["message"]) == ("throttled", "Rate limit exceeded")
            assert len(body["errors"]) == 1 and repr(name) in body["errors"][0]
        await open_marker(http, engine, env.client, headers=bearer(marker))
        assert records.incident(engine, incident_id=f"incident-{refused}") is None  # nothing was opened
        clock.now += 1
        r = await http.post("/api/v1/alerts/pagerduty", json=event(refused))
        assert r.status_code == 202, r.text
        assert r.json()["dedup_key"] == refused


async def test_a_webhook_counts_each_alert_it_carries(env, engine, task_queue, payloads_dir):
    body = (payloads_dir / "alertmanager" / "am-oncall-demo-firing-2-alerts.json").read_bytes()
    key = new_key(engine, "integration")
    post = {"content": body, "headers": {**bearer(key), "content-type": "application/json"}}
    async with limited(env, engine, task_queue, per_minute=60, burst=3) as (http, clock):
        assert (await http.post("/api/v1/alerts/alertmanager", **post)).status_code == 202
        r = await http.post("/api/v1/alerts/alertmanager", **post)  # two more alerts, one left
        assert (r.status_code, r.headers["Retry-After"]) == (429, "1")
        clock.now += 1
        assert (await http.post("/api/v1/alerts/alertmanager", **post)).status_code == 202


def test_the_bucket_refills_at_its_rate_and_zero_means_no_limit():
    clock = Clock()
    rate = AlertRateLimit(120, 4, clock=clock)  # two a second, bursts of 4
    assert [rate.take("a") for _ in range(5)] == [0, 0, 0, 0, 1]
    assert rate.take("b", 10) == 0  # more than a burst takes the whole bucket, so it can pass
    assert rate.take("b") == 1
    clock.now += 1.0  # two back
    assert rate.take("a", 3) == 1 and rate.take("a", 2) == 0
    clock.now += 3600  # a long quiet spell refills to the burst, no further
    assert [rate.take("a") for _ in range(5)] == [0, 0, 0, 0, 1]
    off = AlertRateLimit(0, 1, clock=clock)
    assert all(off.take("a") == 0 for _ in range(1000))
