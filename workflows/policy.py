"""Room: workflows (deterministic, standard library only). Default service levels (SPEC 2).

The worker never reads these at workflow time: the starter builds a ResponsePolicy (these
defaults, or the service-levels file that warroom/levels.py loads over them) and puts it into
the workflow input, so a running incident keeps the numbers it started with. The shipped file
levels/service-levels.yaml says the same as this table (tests/warroom/test_levels.py).
"""

from __future__ import annotations

from workflows.contracts import EscalationTimers, PriorityPolicy, ResponsePolicy

MIN = 60
HOUR = 3600

# What every priority shares unless configured: two stakeholder intervals in a row without an
# engineer update escalate one level; the level being waited on is nudged at 80 % of the ack SLA.
SILENCE_INTERVALS = 2
NUDGE_PERCENT = 80
# P2-P4 escalate within the team: L1 on-duty, then L2 senior; never vendors or management.
TEAM_TOP_LEVEL = 2


def default_policy() -> ResponsePolicy:
    shared = {"silence_intervals": SILENCE_INTERVALS, "nudge_percent": NUDGE_PERCENT}
    ladder = [30 * MIN, HOUR, 2 * HOUR]  # no progress: L2 after 30 min, L3 after 1 h, vendor after 2 h

    def team() -> dict:  # fresh lists and dicts for each priority; tickets send no stakeholder updates
        return {"top_level": TEAM_TOP_LEVEL, "briefings": {}, "resolve_notify": [], "nudge_percent": NUDGE_PERCENT}

    p = {
        "P0": PriorityPolicy(
            "P0", ack_seconds=15 * MIN, update_seconds=15 * MIN, resolve_seconds=2 * HOUR,
            review_seconds=24 * HOUR, war_room=True,
            stakeholders=["oncall:L1", "technical_manager", "customer_success_manager"],
            no_progress_seconds=list(ladder), briefings={"management": 30 * MIN}, resolve_notify=["management"],
            **shared,
        ),
        "P1": PriorityPolicy(
            "P1", ack_seconds=30 * MIN, update_seconds=30 * MIN, resolve_seconds=4 * HOUR,
            review_seconds=48 * HOUR, war_room=False,
            stakeholders=["oncall:L1", "technical_lead"],
            no_progress_seconds=list(ladder), briefings={}, resolve_notify=["management"], **shared,
        ),
        "P2": PriorityPolicy(
            "P2", ack_seconds=2 * HOUR, update_seconds=2 * HOUR, resolve_seconds=8 * HOUR,
            stakeholders=["oncall:L1"], **team(),
        ),
        "P3": PriorityPolicy(
            "P3", ack_seconds=4 * HOUR, update_seconds=4 * HOUR, resolve_seconds=24 * HOUR,
            stakeholders=["oncall:L1"], **team(),
        ),
        "P4": PriorityPolicy(
            "P4", ack_seconds=8 * HOUR, update_seconds=24 * HOUR, resolve_seconds=48 * HOUR,
            stakeholders=["oncall:L1"], **team(),
        ),
    }
    return ResponsePolicy(priorities=p, escalation=EscalationTimers())
