"""Room: workflows (deterministic). Every `workflow.patched` id the workflows ask, as one table.

A patch keeps a running incident on the code it started with (STYLE.md 7): a history recorded
before the patch replays the old way, a new run takes the new way. Each row says why the patch
exists, which committed histories in tests/replay/histories were recorded with it (the others
replay its old branch; tests/workflows/test_patches.py keeps this column true), and when it can
go. Every patch is asked once, when a run is set up (`InForce`), in the order of PATCHES:
`workflow.patched` records a marker command the first time it answers True, so asking later,
earlier or in another order would change the command sequence and break replay. New patches
go at the end of PATCHES.

Generations. Every patch a run takes costs it a marker and a search-attribute upsert at start
(temporalio records both), so a new run asks `GENERATION` first: a run that has it takes every
patch of PATCHES and of GENERATION_PATCHES and asks nothing more (two events instead of two per
patch). PATCHES is closed: it is what runs from before the generation ask, one by one, as they
did. A behaviour change after the generation is a new patch in LATER, asked after it by every
run, old or new (append only).

Retiring one (the "deprecate" column): once no open incident started before the patch landed,
replace the ask with `workflow.deprecate_patch(id)` and delete the old branch; the histories
recorded without it then no longer replay and are retired with it (never re-recorded); once
no open incident started before the deprecation, remove the id.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import INCIDENT_WORKFLOW, TICKET_WORKFLOW


@dataclass(frozen=True)
class Patch:
    id: str  # the marker id in history: never change it
    why: str
    histories: tuple[str, ...]  # committed histories recorded with it (file stems)
    deprecate: str  # when it can be retired (see the module docstring for how)
    only: str = ""  # the workflow type that asks it; "" for every workflow


QUIET_RUN_END = Patch(
    "quiet-run-end",
    why="once a run is ending (continue-as-new or close) and everything is sent and recorded, the "
        "background loops start nothing more; what falls due then fires at once in the next run",
    histories=("data-integrity-runbook-v1", "p0-login-outage", "p0-oncall-waits", "p1-checkout-6h",
               "p1-engineer-actions-cold-worker", "p1-verify-fails-once", "security-breach-runbook-v1",
               "ticket-upgraded", "ticket-upgraded.run2", "p0-alerts-batched"),
    deprecate="when no incident started before commit 1df6d66 (2026-11-23) is open; no committed "
              "history replays the old branch",
)
ANCHORED_UPDATE_CADENCE = Patch(
    "anchored-update-cadence",
    why="each status update is due one interval after the previous one was due, not after its timer "
        "was handled, so late timers and continue-as-new never drift the cadence",
    histories=QUIET_RUN_END.histories,
    deprecate="with quiet-run-end (same commit 1df6d66); no committed history replays the old branch",
)
TICKET_WITHOUT_PROGRESS_LADDER = Patch(
    "ticket-without-progress-ladder",
    why="tickets (P2-P4) have response and resolve timers only (SPEC 2): no no-progress escalation",
    histories=("ticket-upgraded",),
    deprecate="when no ticket started before commit 1df6d66 (2026-11-23) is open",
    only=TICKET_WORKFLOW,
)
ORDERED_WAKEUPS = Patch(
    "ordered-wakeups",
    why="waits that come true together wake by rank (timers, phases, war room, pages, records), so a "
        "worker replaying from scratch issues the commands in the order the run did (waits.py)",
    histories=("data-integrity-runbook-v1", "p0-alerts-batched", "p0-oncall-waits", "p1-engineer-actions-cold-worker",
               "security-breach-runbook-v1"),
    deprecate="when no incident started before commit 191c3e7 (2026-11-23) is open; retires "
              "p0-login-outage, p1-checkout-6h, p1-verify-fails-once and the ticket-upgraded pair",
)
RUNBOOK_V1 = Patch(
    "runbook-v1",
    why="runbook format v1: approvals, rollbacks, per-runbook update cadence and ack SLA, retry backoff",
    histories=("data-integrity-runbook-v1", "p0-alerts-batched", "p0-oncall-waits", "security-breach-runbook-v1"),
    deprecate="when no incident started before commit c40ad6a (2026-11-23) is open",
)
WAR_ROOM_POSTS = Patch(
    "war-room-posts",
    why="stakeholder updates, engineer updates and the resolution are also posted into the war room "
        "(notifications to the target war_room; issue 6)",
    histories=("p0-alerts-batched", "p0-oncall-waits"),
    deprecate="when no incident started before commit d5726a0 (2026-11-30) is open",
)
ONCALL_LEVEL_WAITS = Patch(
    "oncall-level-waits",
    why="the on-call escalation policy's wait per level (from assess) tightens the ack SLA at that "
        "level (issue 6)",
    histories=("p0-alerts-batched", "p0-oncall-waits"),
    deprecate="with war-room-posts (same commit d5726a0)",
)

LOCAL_ASSESS = Patch(
    "local-assess",
    why="assess runs as a local activity inside the run's first workflow task, so the first pages are "
        "scheduled by that task: one workflow task and one activity dispatch before the first page",
    histories=("p0-alerts-batched",),
    deprecate="when no incident started before the commit that added it (2026-12-01) is open",
    only=INCIDENT_WORKFLOW,
)

# What runs from before GENERATION ask, in this order. Closed: a new patch goes in LATER.
PATCHES: tuple[Patch, ...] = (
    QUIET_RUN_END,
    ANCHORED_UPDATE_CADENCE,
    TICKET_WITHOUT_PROGRESS_LADDER,
    ORDERED_WAKEUPS,
    RUNBOOK_V1,
    WAR_ROOM_POSTS,
    ONCALL_LEVEL_WAITS,
    LOCAL_ASSESS,
)

SETTLED_RECORDS = Patch(
    "settled-records",
    why="the timeline goes to the records once the run is settled (no page and no war room in flight), "
        "and once at the start: one records write for a page and its outcome instead of one for each, "
        "so a P0 costs 2 record_events up to the wait for its ack instead of 4 (issue 13)",
    histories=("p0-generation-2026-12", "p0-service-levels", "p1-maintenance-window", "p0-page-details",
               "p1-upgrade-triggers", "p1-cascade-after-pages", "p1-assess-retried-task"),
    deprecate="with generation-2026-12",
)
BATCHED_PAGES = Patch(
    "batched-pages",
    why="the pages of one moment go out in one activity (send_notifications), side by side as "
        "before: one activity and one workflow task for a P0's first pages instead of one per page "
        "(issue 13)",
    histories=SETTLED_RECORDS.histories,
    deprecate="with generation-2026-12",
)
GENERATION_PATCHES: tuple[Patch, ...] = (SETTLED_RECORDS, BATCHED_PAGES)

GENERATION = Patch(
    "generation-2026-12",
    why="stands for every patch of PATCHES and GENERATION_PATCHES: a run that has it asks none of "
        "them (one marker and one search-attribute upsert instead of one of each per patch)",
    histories=SETTLED_RECORDS.histories,
    deprecate="when no incident started before the commit that added it (2026-12-01) is open; then "
              "PATCHES and their old branches go together",
)

DEADLINES_FROM_DUE = Patch(
    "deadlines-from-due",
    why="a repeating deadline (the ack window after an escalation, review and manual-step reminders) "
        "is next due one interval after it was due, not after it was handled, so a loaded worker "
        "never drifts it late, and one that came due during an outage fires once on recovery; a "
        "deadline that an action overtook (both in one activation: the worker or server was down or "
        "busy when it fell due) is recorded as `deadline.missed` instead of vanishing (issue 14)",
    histories=("p0-service-levels", "p1-maintenance-window", "p0-page-details", "p1-upgrade-triggers",
               "p1-cascade-after-pages", "p1-assess-retried-task"),
    deprecate="when no incident started before the commit that added it (2026-12) is open",
)

MAINTENANCE_WINDOWS = Patch(
    "maintenance-windows",
    why="maintenance windows (issue 16): an incident that starts inside one is recorded but pages nobody "
        "until the window ends (its clocks start then); the window's start and end go on the timelines "
        "of the incidents it affects (signal `maintenance`); the trigger records the alert's labels and "
        "integration, which a window matches",
    histories=("p1-maintenance-window", "p1-cascade-after-pages", "p1-assess-retried-task"),
    deprecate="when no incident started before the commit that added it (2026-12) is open",
)

PAGE_DETAILS = Patch(
    "page-details",
    why="the pages that bring a person to the incident (INITIAL, ESCALATION) carry the alert's "
        "description and the source's links (runbook, dashboard, generator URL...), so the person "
        "can act from the page (issue 15)",
    histories=("p0-page-details", "p1-cascade-after-pages", "p1-assess-retried-task"),
    deprecate="when no incident started before the commit that added it (2026-12) is open",
)

UPGRADE_TRIGGERS = Patch(
    "upgrade-triggers",
    why="the SPEC's P1 -> P0 triggers (issue 15): impact signals on later alerts' labels and on engineer "
        "updates raise the priority by themselves (data loss, security risk, all users, business down, "
        "expected recovery beyond the limit), terms in an update's text are suggested, a cascade of "
        "incidents is linked and its parent raised to P0, and a downgrade is announced to everyone told "
        "of the higher priority (docs/upgrades.md)",
    histories=("p1-upgrade-triggers", "p1-cascade-after-pages", "p1-assess-retried-task"),
    deprecate="when no incident started before the commit that added it (2026-12) is open",
)

CASCADE_AFTER_PAGES = Patch(
    "cascade-after-pages",
    why="the cascade lookup (find_related) starts once the first pages are out (the phase is past "
        "notify), not once assess and the first records write are done: assess is a local activity, "
        "and a worker that completed the workflow task while assess ran (no cache, an eviction) saw "
        "its result together with the records write in one activation, where a replay sees it alone "
        "in the task that recorded its marker; the lookup came before the first pages in the run and "
        "after them on replay (a nondeterminism, and a stuck incident). Page completions are ordinary "
        "activity events, the same in both",
    histories=("p1-cascade-after-pages", "p1-assess-retried-task"),
    deprecate="when no incident started before the commit that added it (2026-12) is open",
)

# Asked after GENERATION by every run, old or new, in this order. Append only.
LATER: tuple[Patch, ...] = (DEADLINES_FROM_DUE, MAINTENANCE_WINDOWS, PAGE_DETAILS, UPGRADE_TRIGGERS,
                            CASCADE_AFTER_PAGES)

ALL: tuple[Patch, ...] = (*PATCHES, *GENERATION_PATCHES, GENERATION, *LATER)


class InForce:
    """The patches this run takes the new way. Built once per run, at setup (workflow.init):
    GENERATION first, then (without it) every row of PATCHES that applies to `workflow_type`, in
    order, then LATER.
    Read with `RUNBOOK_V1 in self.patches`."""

    def __init__(self, workflow_type: str) -> None:
        def applies(p: Patch) -> bool:
            return not p.only or p.only == workflow_type

        if workflow.patched(GENERATION.id):
            on = {p.id for p in (*PATCHES, *GENERATION_PATCHES, GENERATION) if applies(p)}
        else:  # a run from before the generation: its patches as it asked them
            on = {p.id for p in PATCHES if applies(p) and workflow.patched(p.id)}
        on |= {p.id for p in LATER if applies(p) and workflow.patched(p.id)}
        self._on = frozenset(on)

    def __contains__(self, patch: Patch) -> bool:
        return patch.id in self._on
