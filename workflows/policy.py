"""Room: workflows (deterministic, standard library only). Default service levels (SPEC 2).

The worker never reads these at workflow time: the starter builds a ResponsePolicy
(defaults + configuration) and puts it into the workflow input, so a running incident
keeps the numbers it started with.
"""

from __future__ import annotations

from workflows.contracts import EscalationTimers, PriorityPolicy, ResponsePolicy

MIN = 60
HOUR = 3600


def default_policy() -> ResponsePolicy:
    p = {
        "P0": PriorityPolicy(
            "P0", ack_seconds=15 * MIN, update_seconds=15 * MIN, resolve_seconds=2 * HOUR,
            review_seconds=24 * HOUR, war_room=True,
            stakeholders=["oncall:L1", "technical_manager", "customer_success_manager"],
        ),
        "P1": PriorityPolicy(
            "P1", ack_seconds=30 * MIN, update_seconds=30 * MIN, resolve_seconds=4 * HOUR,
            review_seconds=48 * HOUR, war_room=False,
            stakeholders=["oncall:L1", "technical_lead"],
        ),
        "P2": PriorityPolicy(
            "P2", ack_seconds=2 * HOUR, update_seconds=2 * HOUR, resolve_seconds=8 * HOUR,
            stakeholders=["oncall:L1"],
        ),
        "P3": PriorityPolicy(
            "P3", ack_seconds=4 * HOUR, update_seconds=4 * HOUR, resolve_seconds=24 * HOUR,
            stakeholders=["oncall:L1"],
        ),
        "P4": PriorityPolicy(
            "P4", ack_seconds=8 * HOUR, update_seconds=24 * HOUR, resolve_seconds=48 * HOUR,
            stakeholders=["oncall:L1"],
        ),
    }
    return ResponsePolicy(priorities=p, escalation=EscalationTimers())
