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
    # the patch upgrade-triggers: a suggestion, an automatic upgrade, an announced downgrade
    "p1-upgrade-triggers": HERE / "scenarios/p1-upgrade-triggers.yaml",
}
ONCALL = {"p0-oncall-waits": HERE / "oncall", "p0-generation-2026-12": HERE / "oncall"}


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


async def main(names: list[str]) -> None:
    for name in names or SCENARIOS:
        await record(name, SCENARIOS[name])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
