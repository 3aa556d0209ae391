"""One chaos round: random incidents driven through the API while components are killed, then
every incident of the round closed, so the checker reads finished histories.

Room: shared library (warroom/chaos). Everything goes through the HTTP API as a sender and an
engineer would send it: alerts P0-P4 (`POST /api/v1/alerts/generic`), repeats of an alert
(the same fingerprint: one alert counted again), storms (many fingerprints of one problem at
once), engineer actions (acknowledge, post an update, escalate) and source resolves.

What counts as answered: an alert is accepted when the API answered 202; the sender retries
anything else until then, as senders do (a repeat is harmless: the same fingerprint). An action
answered 2xx must be on the timeline exactly once. An action whose answer was lost (the
connection broke, or a 5xx) is not retried, since it may have been applied: it may be there once
or not at all. Only a refused connection (the request never reached the API) is retried.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from warroom.chaos.stack import Outage, Stack
from warroom.classify import incident_workflow_id

PRIORITIES = ["P0", "P1", "P2", "P3", "P4"]
KINDS = ["worker", "temporal", "api", "database"]  # what a kill may take
# action -> (the timeline event it makes, the detail field that carries the harness's marker)
ACTION_EVENTS = {"acknowledge": ("acknowledged", "note"), "updates": ("status_update.posted", "message"),
                 "escalate": ("escalated", "note"), "resolve": ("resolve.requested", "resolution"),
                 "review": ("review.submitted", "root_cause")}
MARKER_FIELD = {"acknowledge": "note", "updates": "message", "escalate": "reason", "resolve": "resolution",
                "review": "root_cause"}
CALL_DEADLINE = 120.0  # seconds a call keeps being retried while a component is down


@dataclass
class Action:
    name: str  # a key of ACTION_EVENTS
    marker: str
    answer: int | None = None  # the HTTP status; None: no answer (lost with the connection)


@dataclass
class Incident:
    dedup: str
    priority: str
    alerts: int = 0  # distinct fingerprints sent
    accepted: bool = False  # answered 202 at least once
    incident_id: str = ""
    source_resolved: bool = False  # a source resolve was answered 202
    actions: list[Action] = field(default_factory=list)
    created: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def workflow_id(self) -> str:
        return incident_workflow_id(self.dedup)


@dataclass
class RoundLog:
    number: int
    started: float
    ended: float = 0.0
    incidents: list[Incident] = field(default_factory=list)
    kills: list[Outage] = field(default_factory=list)
    alerts_sent: int = 0
    alerts_accepted: int = 0
    closing_errors: list[str] = field(default_factory=list)


class Driver:
    def __init__(self, stack: Stack, rng: random.Random, *, drive_seconds: float, seed: int,
                 kills_per_round: tuple[int, int] = (1, 2)) -> None:
        self.stack = stack
        self.rng = rng
        self.drive_seconds = drive_seconds
        self.seed = seed
        self.kills_per_round = kills_per_round
        self.http = httpx.AsyncClient(base_url=stack.api_url, timeout=60,
                                      headers={"Authorization": f"Bearer {stack.api_key}"})
        self.marks = 0

    async def close(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------ HTTP

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                   until_answered: bool = False) -> tuple[int | None, Any]:
        """(status, JSON) of one call. A refused connection is retried (the request never left);
        with until_answered anything but a 2xx or 4xx answer is retried too."""
        deadline = time.monotonic() + CALL_DEADLINE
        while True:
            try:
                r = await self.http.request(method, path, json=body)
                if r.status_code < 500 or not until_answered:
                    try:
                        return r.status_code, r.json()
                    except ValueError:
                        return r.status_code, None
            except httpx.ConnectError:
                pass
            except httpx.TransportError:
                if not until_answered:
                    return None, None
            if time.monotonic() > deadline:
                return None, None
            await asyncio.sleep(0.3)

    def mark(self, what: str) -> str:
        self.marks += 1
        return f"chaos-{self.seed}-{what}-{self.marks}"

    # ------------------------------------------------------------------ one round

    async def round(self, number: int) -> RoundLog:
        log = RoundLog(number=number, started=time.time())
        rng, d = self.rng, self.drive_seconds
        plan: list[tuple[float, Any]] = []
        for i in range(rng.randint(3, 5)):
            inc = Incident(dedup=f"chaos-{self.seed}-r{number}-{i}", priority=rng.choice(PRIORITIES))
            log.incidents.append(inc)
            at = rng.uniform(0, d * 0.4)
            plan.append((at, self.trigger(log, inc, 1)))
            for _ in range(rng.randint(0, 2)):  # the sender repeats the same alert
                plan.append((at + rng.uniform(0.5, d * 0.5), self.trigger(log, inc, 0)))
            if rng.random() < 0.25:  # a storm: many alerts of this problem at once
                plan.append((at + rng.uniform(0.5, d * 0.4), self.trigger(log, inc, rng.randint(10, 25))))
            later = [at + rng.uniform(1, d * 0.6) for _ in range(3)]
            if rng.random() < 0.6:
                plan.append((later[0], self.act(inc, "acknowledge")))
            if rng.random() < 0.5:
                plan.append((later[1], self.act(inc, "updates")))
            if inc.priority in ("P0", "P1") and rng.random() < 0.35:
                plan.append((later[2], self.act(inc, "escalate")))
            if rng.random() < 0.3:
                plan.append((at + rng.uniform(d * 0.6, d), self.source_resolve(inc)))
        kills = self.kill_plan(number)

        async def at(t: float, work: Any) -> None:
            await asyncio.sleep(max(0.0, log.started + t - time.time()))
            await work

        await asyncio.gather(*(at(t, w) for t, w in plan), self.faults(log, kills))
        await self.close_all(log)
        log.ended = time.time()
        return log

    def kill_plan(self, number: int) -> list[tuple[float, str, float]]:
        """(when, what, for how long) of this round's kills, one after the other. The first kill
        of round n takes each kind in turn (worker, Temporal, API, database), so a short run
        kills every kind; the others are drawn at random, a worker twice as likely."""
        n = self.rng.randint(*self.kills_per_round)
        workers = [c for c in self.stack.components if c.startswith("worker-")]
        out = []
        for i, t in enumerate(sorted(self.rng.uniform(0.1, 0.8) * self.drive_seconds for _ in range(n))):
            kind = (KINDS[(number - 1) % len(KINDS)] if i == 0
                    else self.rng.choices(KINDS, weights=[2, 1, 1, 1])[0])
            out.append((t, self.rng.choice(workers) if kind == "worker" else kind, self.rng.uniform(0.5, 4.0)))
        return out

    async def faults(self, log: RoundLog, kills: list[tuple[float, str, float]]) -> None:
        for t, what, down in kills:
            await asyncio.sleep(max(0.0, log.started + t - time.time()))
            outage = await self.stack.kill(what)
            log.kills.append(outage)
            await asyncio.sleep(down)
            await self.stack.restart(outage)

    async def trigger(self, log: RoundLog, inc: Incident, fingerprints: int) -> None:
        """`fingerprints` new alerts of the incident at once (0: the first one again, a repeat)."""
        if fingerprints == 0 and not inc.created.is_set():
            await inc.created.wait()
        start = inc.alerts if fingerprints else 0
        inc.alerts += fingerprints
        n = max(1, fingerprints)
        log.alerts_sent += n

        async def one(k: int) -> None:
            status, body = await self.call("POST", "/api/v1/alerts/generic", {
                "title": f"Service {inc.dedup} is down", "service": inc.dedup, "priority": inc.priority,
                "dedup_key": inc.dedup, "fingerprint": f"fp-{k}"}, until_answered=True)
            if status == 202:
                log.alerts_accepted += 1
                inc.accepted = True
                inc.incident_id = inc.incident_id or body["incidents"][0]["id"]
            inc.created.set()  # answered or given up: actions may go

        await asyncio.gather(*(one(start + k) for k in range(n)))

    async def act(self, inc: Incident, name: str, **extra: Any) -> Action:
        await inc.created.wait()
        action = Action(name, self.mark(name))
        inc.actions.append(action)
        if not inc.accepted:
            action.answer = 0  # never sent: nothing to act on
            return action
        path = f"/api/v1/incidents/{inc.incident_id}/{name}"
        action.answer, _ = await self.call("POST", path, {MARKER_FIELD[name]: action.marker, **extra})
        return action

    async def source_resolve(self, inc: Incident) -> None:
        await inc.created.wait()
        status, _ = await self.call("POST", "/api/v1/alerts/generic", {
            "title": f"Service {inc.dedup} is down", "service": inc.dedup, "dedup_key": inc.dedup,
            "status": "resolve"}, until_answered=True)
        inc.source_resolved = inc.source_resolved or status == 202

    # ------------------------------------------------------------------ closing

    async def close_all(self, log: RoundLog) -> None:
        """With everything up again: resolve every incident of the round, submit the review
        where there is one, and wait until every workflow finished."""
        for outage in log.kills:
            if outage.end is None:
                await self.stack.restart(outage)
        results = await asyncio.gather(*(self.close_one(inc) for inc in log.incidents), return_exceptions=True)
        log.closing_errors += [f"{inc.workflow_id}: {r}" for inc, r in zip(log.incidents, results)
                               if isinstance(r, BaseException)]

    async def close_one(self, inc: Incident) -> None:
        if not inc.incident_id:
            inc.incident_id = inc.workflow_id  # unanswered: it may still exist
        deadline = time.monotonic() + CALL_DEADLINE
        resolved = False
        while time.monotonic() < deadline:
            status, state = await self.call("GET", f"/api/v1/incidents/{inc.incident_id}", until_answered=True)
            if status == 404 and not inc.accepted:
                return  # never started
            if status != 200 or not isinstance(state, dict):
                await asyncio.sleep(0.5)
                continue
            if state.get("status") == "closed":
                return
            if state.get("phase") == "review":
                await self.act(inc, "review")
            elif not resolved and state.get("status") != "resolved":
                a = await self.act(inc, "resolve")
                resolved = a.answer is not None and a.answer < 500
            await asyncio.sleep(0.5)
        raise TimeoutError(f"not closed within {CALL_DEADLINE:.0f}s")
