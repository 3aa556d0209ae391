"""Record the replay histories committed in tests/replay/histories/.

Run by hand, only when a NEW representative incident is added, naming it:
    python -m tests.replay.record NAME
Never re-record an existing history to make the replay test pass: a failing replay means
the workflow change needs workflow.patched(...) (STYLE.md 7).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from temporalio.client import Client

from warroom import client as temporal
from warroom.settings import REPO_ROOT, Settings
from warroom.cli.simulate import load_scenario, run_scenario

HERE = Path(__file__).resolve().parent
SCENARIOS = {
    "p0-login-outage": REPO_ROOT / "runbooks/scenarios/p0-login-outage.yaml",
    "p1-checkout-6h": REPO_ROOT / "runbooks/scenarios/p1-checkout-6h.yaml",
    "ticket-upgraded": HERE / "scenarios/ticket-upgraded.yaml",
    "p1-verify-fails-once": HERE / "scenarios/p1-verify-fails-once.yaml",
    # runbook format v1 (ordered-wakeups, runbook-v1): approval, rollback-free rounds, manual check
    "data-integrity-runbook-v1": REPO_ROOT / "runbooks/scenarios/data-integrity.yaml",
    "security-breach-runbook-v1": REPO_ROOT / "runbooks/scenarios/security-breach.yaml",
    # paging through on-call files (war-room-posts, oncall-level-waits): their oncall_dir below
    "p0-oncall-waits": HERE / "scenarios/p0-oncall-waits.yaml",
    # alerts as batches counted by fingerprint (alerts_received), assess as a local activity
    "p0-alerts-batched": HERE / "scenarios/p0-alerts-batched.yaml",
    # the patch generation generation-2026-12: settled-records, batched-pages
    "p0-generation-2026-12": HERE / "scenarios/p0-generation-2026-12.yaml",
    # service levels in the input (nudge, silence, briefings) and the patch deadlines-from-due
    "p0-service-levels": HERE / "scenarios/p0-service-levels.yaml",
    # pages with the alert's description and links (page-details)
    "p0-page-details": HERE / "scenarios/p0-page-details.yaml",
    # the patch upgrade-triggers: a suggestion, an automatic upgrade, an announced downgrade
    "p1-upgrade-triggers": HERE / "scenarios/p1-upgrade-triggers.yaml",
    # the same incident with the patch cascade-after-pages: find_related after the first pages
    "p1-cascade-after-pages": HERE / "scenarios/p1-upgrade-triggers.yaml",
}
ONCALL = {"p0-oncall-waits": HERE / "oncall", "p0-generation-2026-12": HERE / "oncall",
          "p0-page-details": HERE / "oncall"}
# Histories that a scenario file cannot describe, recorded by a function of their own.
RECORDERS = {"p1-maintenance-window": "record_maintenance", "heartbeat-miss-recover": "record_heartbeat"}


async def record(name: str, path: Path) -> None:
    # The worker is configured by its Settings alone: no environment to change.
    settings = Settings(runbooks_dir=REPO_ROOT / "runbooks", oncall_dir=ONCALL.get(name, Path("oncall")))
    out = HERE / "histories"
    out.mkdir(exist_ok=True)

    async def save(client: Client, t: temporal.Triggered) -> None:
        first = await client.get_workflow_handle(t.workflow_id, run_id=t.handle.result_run_id).fetch_history()
        runs = [first]
        latest = await client.get_workflow_handle(t.workflow_id).fetch_history()
        if latest.events[0].workflow_execution_started_event_attributes.original_execution_run_id != \
                first.events[0].workflow_execution_started_event_attributes.original_execution_run_id:
            runs.append(latest)
        for i, h in enumerate(runs):
            target = out / (f"{name}.json" if i == 0 else f"{name}.run{i + 1}.json")
            target.write_text(json.dumps(json.loads(h.to_json()), indent=1) + "\n")
            print(f"wrote {target.relative_to(REPO_ROOT)} ({len(h.events)} events)")

    await run_scenario(load_scenario(path), settings, on_finish=save)


async def record_maintenance(name: str) -> None:
    """A P1 held by a maintenance window (patch maintenance-windows): recorded and silent for the
    window's hour (a re-sent alert meanwhile), released at its end with the problem still firing,
    paged, acknowledged, resolved, reviewed. Also writes the window's own workflow history
    (maintenance-window.json)."""
    import tempfile
    import uuid
    from datetime import timedelta

    from temporalio.testing import WorkflowEnvironment

    from warroom import binaries, records
    from warroom.maintenance import plan
    from warroom.runbooks import RunbookLibrary
    from warroom.windows import hold_of, open_window, window_handle
    from worker import build_worker
    from workflows.contracts import AlertInfo, IncidentState
    from workflows.converter import DATA_CONVERTER
    from workflows.policy import default_policy

    out = HERE / "histories"
    with tempfile.TemporaryDirectory() as tmp:
        engine = records.make_engine(f"sqlite:///{tmp}/records.db")
        records.create_schema(engine)
        tq = f"record-{uuid.uuid4().hex[:8]}"
        settings = Settings(task_queue=tq, runbooks_dir=REPO_ROOT / "runbooks", secret_key="record")
        env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=binaries.test_server(),
                                                            data_converter=DATA_CONVERTER)
        async with env, build_worker(env.client, settings, engine=engine, runbooks=RunbookLibrary(REPO_ROOT / "runbooks"),
                                     max_cached_workflows=0):
            now = await env.get_current_time()
            w = await open_window(env.client, engine, task_queue=tq, created_by="alice",
                                  **plan(now=now, starts_at=None, ends_at=None, duration="1h",
                                         reason="orders database upgrade", service="orders"))
            a = AlertInfo(title="Orders API 5xx above 50%", service="orders", severity="critical", priority="P1",
                          labels={"team": "db"}, dedup_key="orders-5xx", source="alertmanager", fingerprint="f1")
            t = await temporal.trigger_many(env.client, [a], task_queue=tq, policy=default_policy(),
                                            maintenance=hold_of(w))
            await env.sleep(timedelta(minutes=10))
            await temporal.trigger_many(env.client, [a], task_queue=tq, policy=default_policy())  # re-sent
            await env.sleep(timedelta(minutes=55))
            await temporal.act(env.client, t.incident_id, "acknowledge", {"by": "alice"})
            await temporal.act(env.client, t.incident_id, "resolve", {"by": "alice", "resolution": "upgrade finished"})
            await env.sleep(timedelta(minutes=5))
            await temporal.act(env.client, t.incident_id, "submit_review", {"by": "alice", "root_cause": "upgrade"})
            final = await env.client.get_workflow_handle(t.workflow_id, result_type=IncidentState).result()
            assert final.status == "closed", final.status
            await window_handle(env.client, w.id).result()
            for stem, handle in ((name, env.client.get_workflow_handle(t.workflow_id)),
                                 ("maintenance-window", window_handle(env.client, w.id))):
                h = await handle.fetch_history()
                target = out / f"{stem}.json"
                target.write_text(json.dumps(json.loads(h.to_json()), indent=1) + "\n")
                print(f"wrote {target.relative_to(REPO_ROOT)} ({len(h.events)} events)")
        engine.dispose()


async def record_heartbeat(name: str) -> None:
    """A heartbeat monitor pinged, missed (its incident opened), pinged again (resolved): one run."""
    import tempfile
    from datetime import timedelta

    from temporalio.testing import WorkflowEnvironment

    from tests.helpers import running_worker, until
    from warroom import binaries, records
    from warroom import heartbeats as beats
    from warroom.records import heartbeats as monitors
    from workflows.converter import DATA_CONVERTER
    from workflows.heartbeat import HeartbeatState, workflow_id

    with tempfile.TemporaryDirectory() as tmp:
        engine = records.make_engine(f"sqlite:///{tmp}/records.db")
        records.create_schema(engine)
        m = monitors.create_monitor(engine, name="nightly-backup", interval="5m", priority="P2", service="backups")
        async with await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=binaries.test_server(), data_converter=DATA_CONVERTER) as env:
            handle = env.client.get_workflow_handle(workflow_id(m.name))

            async def state() -> HeartbeatState:
                return await handle.query("get_state", result_type=HeartbeatState)

            async with running_worker(env.client, "record-heartbeat", engine):
                await beats.ping(env.client, m, task_queue="record-heartbeat", source="cron")
                await until(state, "up", ok=lambda s: s.state == "up")
                await env.sleep(timedelta(minutes=3))
                await beats.ping(env.client, m, task_queue="record-heartbeat", source="cron")
                await until(state, "second ping", ok=lambda s: s.pings == 2)
                await env.sleep(timedelta(minutes=6))
                await until(state, "down", ok=lambda s: s.state == "down" and s.incident_id)
                await beats.ping(env.client, m, task_queue="record-heartbeat", source="cron")
                await until(state, "up again", ok=lambda s: s.state == "up" and s.pings == 3)

                async def settled() -> bool:
                    return not (await handle.describe()).raw_description.pending_activities

                await until(settled, "the recovery activity to finish")
                history = await handle.fetch_history()
                await handle.terminate(reason="recorded")
        engine.dispose()
    target = HERE / "histories" / f"{name}.json"
    target.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
    print(f"wrote {target.relative_to(REPO_ROOT)} ({len(history.events)} events)")


async def main(names: list[str]) -> None:
    for name in names or [*SCENARIOS, *RECORDERS]:
        if name in RECORDERS:
            await globals()[RECORDERS[name]](name)
        else:
            await record(name, SCENARIOS[name])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
