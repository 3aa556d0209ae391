"""assess_incident: classify, pick the runbook, look up known issues.

Room: activities (I/O allowed). Reads runbook files from the worker's runbooks directory;
the chosen runbook returns into workflow history and stays with the incident. So does the
category with why it was given (the terms, and the keyword lists' version and digest): a later
edit of the lists never reinterprets an incident.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import recorded
from warroom.classify import Keywords, classify_category
from warroom.oncall import OnCallConfig
from warroom.runbooks import RunbookError, RunbookLibrary
from workflows.contracts import MAX_LEVEL, ActionSpec, RunbookSpec
from workflows.contracts_activities import AssessRequest, AssessResult

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def with_approvers(runbook: RunbookSpec, roles: dict[str, list[str]]) -> RunbookSpec:
    """Approval steps that name a `role` and no `approvers` get the people who hold that role
    now (WARROOM_APPROVERS). Resolved here, in an activity, so the names travel in history:
    a later change of who holds the role does not change a running incident."""
    def fill(a: ActionSpec | None) -> ActionSpec | None:
        if a is None:
            return None
        params = a.params
        if a.kind == "approval" and params.get("role") and not params.get("approvers"):
            params = {**params, "approvers": list(roles.get(str(params["role"]), []))}
        return dataclasses.replace(a, params=params, rollback=fill(a.rollback))

    return dataclasses.replace(runbook, recover=[fill(a) for a in runbook.recover],
                               on_verify_failure=[fill(a) for a in runbook.on_verify_failure])


class AssessActivities:
    def __init__(self, runbooks: RunbookLibrary, keywords: Keywords, approvers: dict[str, list[str]] | None = None,
                 engine: Engine | None = None, oncall: Callable[[], OnCallConfig] | None = None) -> None:
        self.runbooks = runbooks
        self.keywords = keywords  # the lists the worker loaded at start (warroom/keywords.py)
        self.approvers = approvers or {}
        self.engine = engine  # the records: known issues (none without it)
        self.oncall = oncall or OnCallConfig.empty

    @activity.defn(name="assess_incident")
    def assess_incident(self, req: AssessRequest) -> AssessResult:
        a = req.alert
        classified = classify_category(a, self.keywords)
        category = classified.category
        try:
            runbook = req.runbook or self.runbooks.select(category=category, service=a.service,
                                                          priority=req.priority, labels=a.labels)
        except RunbookError as err:
            raise ApplicationError(str(err), type="RunbookError", non_retryable=True) from err
        runbook = with_approvers(runbook, self.approvers)
        # Known issues: what reviewed incidents of this category and service taught. A records
        # database that does not answer (an error, or nothing within a few seconds) makes the
        # incident "unknown", never a failed or a held-back assess.
        known: list[dict] = recorded(self.engine, "known_issues_for", category=category, service=a.service,
                                     incident_id=req.incident_id) or []
        impact = ", ".join(
            part for part in (
                f"{a.affected_users} users affected" if a.affected_users is not None else "",
                f"business impact {a.business_impact}" if a.business_impact else "",
                f"availability {a.availability}%" if a.availability is not None else "",
            ) if part
        )
        policy = self.oncall().policy_for(service=a.service, priority=req.priority)
        activity.logger.info("assessed %s: %s, runbook %s", req.incident_id, category, runbook.name)
        return AssessResult(category=category, classified_by=classified.reason, runbook=runbook, known_issues=known,
                            route_to="on_duty" if known and req.priority == "P1" else "senior", impact=impact,
                            escalation_policy=policy.id if policy else "",
                            level_wait_seconds=policy.wait_seconds(MAX_LEVEL) if policy else [])
