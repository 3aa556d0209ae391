"""plan_handover and record_handover: the on-call hand-over at each rotation change of a
schedule (workflows/handover.py; docs/oncall.md, "Hand-over").

Room: activities. plan_handover reads the on-call files (who the schedule puts on call after a
moment, and when that changes); record_handover gathers the open incidents of the schedule's team
and the notes the outgoing people left, writes the hand-over once (keyed) and returns the message
the workflow pages to the incoming people. Without records (a rehearsal) there are no incidents
or notes to hand over, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import activity

from activities.common import records_call
from warroom.oncall import OnCallConfig
from workflows.contracts_links import HandoverPlan, HandoverPlanRequest, HandoverRecord, HandoverRecordRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# How far ahead a change is looked for: a weekly rotation changes within 7 days; a schedule with
# no change for 60 days is asked again when the workflow continues (or the files change).
HORIZON = timedelta(days=60)


def team_targets(config: OnCallConfig, team: str) -> set[str]:
    """The targets that reach a team: `team:<id>` and each of its schedules."""
    found = config.teams.get(team)
    schedules = found.schedules if found and found.schedules else tuple(
        s.id for s in config.schedules.values() if s.team == team)
    return {f"team:{team}", *(f"schedule:{s}" for s in schedules)}


def pages_team(config: OnCallConfig, team: str, *, service: str, priority: str) -> bool:
    """The incident's escalation policy pages this team at one of its levels."""
    policy = config.policy_for(service=service, priority=priority)
    targets = team_targets(config, team)
    return policy is not None and any(t in targets for level in policy.levels for t in level.targets)


class HandoverActivities:
    def __init__(self, engine: Engine | None, oncall: Callable[[], OnCallConfig]) -> None:
        self.engine = engine
        self.oncall = oncall

    @activity.defn(name="plan_handover")
    def plan_handover(self, req: HandoverPlanRequest) -> HandoverPlan:
        config = self.oncall()
        schedule = config.schedules.get(req.schedule)
        if schedule is None:
            return HandoverPlan(schedule=req.schedule)
        now = [s.person for s in schedule.shifts(req.after)]
        for span in schedule.spans(req.after, req.after + HORIZON):
            people = [s.person for s in span.shifts]
            if span.start > req.after and set(people) != set(now):
                return HandoverPlan(schedule=req.schedule, team=schedule.team, at=span.start, outgoing=now,
                                    incoming=people)
        return HandoverPlan(schedule=req.schedule, team=schedule.team)

    @activity.defn(name="record_handover")
    def record_handover(self, req: HandoverRecordRequest) -> HandoverRecord:
        from warroom.records import handovers as notes_records  # SQLAlchemy only with records

        plan = req.plan
        if self.engine is not None and (done := notes_records.handover(self.engine, key=req.key)) is not None:
            return HandoverRecord(key=req.key, subject=done.subject, body=done.body,
                                  incidents=[i["id"] for i in done.incidents], notes=len(done.notes))
        config = self.oncall()
        rows = records_call(self.engine, "open_incidents") or []
        incidents = [{"id": r.incident_id, "priority": r.priority, "status": r.status, "title": r.title,
                      "service": r.service, "commander": r.commander}
                     for r in rows if pages_team(config, plan.team, service=r.service or "", priority=r.priority)]
        notes = [] if self.engine is None else notes_records.pending_notes(
            self.engine, schedule=plan.schedule, people=plan.outgoing, before=plan.at)
        subject, body = self._message(config, plan, incidents, notes)
        if self.engine is not None:
            assert plan.at is not None
            notes_records.record_handover(self.engine, key=req.key, schedule=plan.schedule, team=plan.team,
                                          at=plan.at, outgoing=plan.outgoing, incoming=plan.incoming,
                                          incidents=incidents, notes=notes, subject=subject, body=body)
        return HandoverRecord(key=req.key, subject=subject, body=body, incidents=[i["id"] for i in incidents],
                              notes=len(notes))

    @staticmethod
    def _message(config: OnCallConfig, plan: HandoverPlan, incidents: list[dict[str, Any]],
                 notes: list[Any]) -> tuple[str, str]:
        def names(ids: list[str]) -> str:
            return ", ".join(config.people[i].name if i in config.people else i for i in ids) or "nobody"

        schedule = config.schedules.get(plan.schedule)
        title = (schedule.name if schedule and schedule.name else plan.schedule)
        subject = f"On-call hand-over: {title} — {len(incidents)} open incident(s)"
        lines = [f"{names(plan.outgoing)} hands {title} ({plan.team or 'no team'}) over to {names(plan.incoming)} "
                 f"at {plan.at.isoformat() if plan.at else '?'}.", "",
                 f"Open incidents ({len(incidents)}):" if incidents else "No open incident."]
        lines += [f"- {i['id']} {i['priority']} {i['status']}: {i['title']} (service {i['service'] or '-'}, "
                  f"commander {i['commander'] or 'none'})" for i in incidents]
        lines += ["", "Notes:" if notes else "No notes."]
        lines += [f"- {names([n.person])}: {n.text}" for n in notes]
        return subject, "\n".join(lines)
