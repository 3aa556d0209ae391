"""assess_incident: classify, pick the runbook, look up known issues.

Room: activities (I/O allowed). Reads runbook files from the worker's runbooks directory;
the chosen runbook returns into workflow history and stays with the incident.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from warroom.classify import classify_category
from warroom.runbooks import RunbookError, RunbookLibrary
from workflows.contracts import AssessRequest, AssessResult


class AssessActivities:
    def __init__(self, runbooks: RunbookLibrary) -> None:
        self.runbooks = runbooks

    @activity.defn(name="assess_incident")
    def assess_incident(self, req: AssessRequest) -> AssessResult:
        a = req.alert
        category = classify_category(a)
        try:
            runbook = req.runbook or self.runbooks.select(category=category, service=a.service,
                                                          priority=req.priority, labels=a.labels)
        except RunbookError as err:
            raise ApplicationError(str(err), type="RunbookError", non_retryable=True) from err
        # Known issues (earlier incidents of this category and service) come with the
        # records of the review issue; until then every incident is routed as unknown.
        known: list[dict] = []
        impact = ", ".join(
            part for part in (
                f"{a.affected_users} users affected" if a.affected_users is not None else "",
                f"business impact {a.business_impact}" if a.business_impact else "",
                f"availability {a.availability}%" if a.availability is not None else "",
            ) if part
        )
        activity.logger.info("assessed %s: %s, runbook %s", req.incident_id, category, runbook.name)
        return AssessResult(category=category, runbook=runbook, known_issues=known,
                            route_to="on_duty" if known and req.priority == "P1" else "senior", impact=impact)
