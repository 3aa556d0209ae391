"""Room: workflows (deterministic). How the workflows wait: wake ranks, the wake-order
dispatcher, and alarms (timers that are never cancelled).

Every wait in the workflows goes through `Waits.wait(condition, rank)`. With the patch
`ordered-wakeups` (patches.py) one dispatcher holds the only SDK condition and wakes the
satisfied waits of the first rank only; runs from before it use workflow.wait_condition
directly, as they did (docs/engine.md, "Waits wake in a fixed order").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

# Who wakes first when several waits come true in one activation.
WAKE_TIMERS, WAKE_MAIN, WAKE_WAR_ROOM, WAKE_PAGER, WAKE_RECORDS = range(5)


class Waits:
    """ordered: the run has the patch ordered-wakeups. on_alarm: called when an alarm rings
    (the incident bumps its plan, so the timer loop looks at its deadlines again)."""

    def __init__(self, *, ordered: bool, on_alarm: Callable[[], None]) -> None:
        self.ordered = ordered
        self._on_alarm = on_alarm
        self._alarms: set[datetime] = set()
        self._waiters: list[tuple[int, int, Callable[[], bool], asyncio.Future[None]]] = []
        self._seq = 0

    async def wait(self, condition: Callable[[], bool], rank: int = WAKE_MAIN) -> None:
        """workflow.wait_condition, except that when waits come true together they wake by
        `rank` (timers, the phases, the war room, pages, records), one rank at a time, not in
        the order they began waiting. That order depends on which activation resumed each loop:
        a worker replaying from scratch can deliver a command-less workflow task's events
        together with the next task's update, after it, where the original run had them in an
        activation of their own. With the SDK's order, the same history then issued its
        commands in another order (a nondeterminism error, and a stuck incident)."""
        if not self.ordered:
            await workflow.wait_condition(condition)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        self._waiters.append((rank, self._seq, condition, fut))
        await fut

    async def dispatcher(self) -> None:
        """The one SDK condition of an ordered run: wakes the satisfied waits of the first rank."""
        def ready() -> bool:
            return any(not f.done() and cond() for _, _, cond, f in self._waiters)

        while True:
            await workflow.wait_condition(ready)
            # Only the first rank with a satisfied wait wakes; the others are looked at again
            # once it has run to its next wait. A loop that resumes from an activity later in
            # the same activation then finds the same state as on a replay that resumed it in
            # an activation of its own.
            waiting = [w for w in self._waiters if not w[3].done() and w[2]()]
            if waiting:
                first = min(w[0] for w in waiting)
                for _, _, _, fut in sorted((w for w in waiting if w[0] == first), key=lambda w: w[1]):
                    fut.set_result(None)
            self._waiters = [w for w in self._waiters if not w[3].done()]

    def alarm(self, when: datetime) -> None:
        """Make sure a timer wakes the workflow at `when` (one timer per instant). Timers are
        never cancelled: one no longer needed rings, finds nothing due and the loop plans
        again. Cancelling a timer in the instant it fires trips the time-skipping test server,
        and a few spare timer events in history are cheap."""
        if when in self._alarms:
            return
        self._alarms.add(when)

        async def ring() -> None:
            await workflow.sleep(max(0.001, (when - workflow.now()).total_seconds()))
            self._alarms.discard(when)
            self._on_alarm()

        asyncio.get_running_loop().create_task(ring())

    async def wait_until(self, condition: Callable[[], bool], seconds: float) -> bool:
        """wait_condition with a timeout that never cancels its timer. True if condition met."""
        when = workflow.now() + timedelta(seconds=seconds)
        self.alarm(when)
        await self.wait(lambda: condition() or workflow.now() >= when)
        return condition()
