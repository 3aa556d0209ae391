"""Benchmark: the bare-Temporal counterpart of `warroom simulate` on a 6-hour scenario.

Room: benchmarks. The floor under benchmarks/simulate_bench.py: the same time-skipping test
server (warroom.binaries), one worker (sandboxed workflows, as warroom's), one workflow that
runs one activity and sleeps 6 virtual hours, then the process exits. Nothing of warroom is
imported but the path of the server binary, so the ratio warroom / bare is what warroom adds.

    .venv/bin/python benchmarks/simulate_baseline.py      # prints the virtual hours it slept
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow

if not workflow.unsafe.in_sandbox():  # run as a script: warroom importable for its binaries
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HOURS = 6


@activity.defn(name="page")
def page(who: str) -> str:
    return f"paged {who}"


@workflow.defn(name="BareIncident")
class BareIncident:
    @workflow.run
    async def run(self, who: str) -> float:
        start = workflow.now()
        await workflow.execute_activity(page, who, start_to_close_timeout=timedelta(seconds=30))
        await asyncio.sleep(timedelta(hours=HOURS).total_seconds())  # a durable timer
        return (workflow.now() - start).total_seconds() / 3600


async def main() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from warroom import binaries

    async with await WorkflowEnvironment.start_time_skipping(test_server_existing_path=binaries.test_server(),
                                                              test_server_startup_timeout=binaries.STARTUP_TIMEOUT) as env:
        queue = f"bare-{uuid.uuid4().hex[:8]}"
        with ThreadPoolExecutor(max_workers=4) as pool:
            async with Worker(env.client, task_queue=queue, workflows=[BareIncident], activities=[page],
                              activity_executor=pool):
                hours = await env.client.execute_workflow(BareIncident.run, "oncall:L1", id=f"bare-{queue}",
                                                          task_queue=queue)
    print(f"slept {hours:.1f} virtual hours")


if __name__ == "__main__":
    asyncio.run(main())
    # Core's threads can outlive the loop and abort the interpreter's teardown (1 run in 10
    # here: "PyGILState_Release: thread state ... must be current", temporalio/sdk-python#300);
    # the work is done, so leave without the teardown (a few ms this side of the ratio).
    sys.stdout.flush()
    os._exit(0)
