"""Room: workflows (contracts, shared with activities/, api/ and the CLI). What the workflows send to
their activities and get back (workflows/calls.py, activities/). Beside
contracts.py under its rules: standard library only, new fields get defaults, fields never
renamed, datetimes timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workflows.contracts import (
    resolve_annotations, ActionSpec, AlertInfo, CheckSpec, IncidentState, Notification, RunbookSpec, TimelineEvent,
)


# --------------------------------------------------------------------------- activities


@dataclass
class AssessRequest:
    incident_id: str
    alert: AlertInfo
    priority: str
    runbook: RunbookSpec | None = None


@dataclass
class AssessResult:
    category: str
    runbook: RunbookSpec
    known_issues: list[dict[str, Any]] = field(default_factory=list)
    route_to: str = "senior"  # senior | on_duty
    impact: str = ""
    # The on-call escalation policy for this service and priority (docs/oncall.md): its id and
    # each level's wait before the next; the engine's ack SLA is the ceiling of every wait.
    escalation_policy: str = ""
    level_wait_seconds: list[int] = field(default_factory=list)
    # Why this category, in words: the alert's label, or the terms and the field they were in,
    # with the keyword lists' version and digest (warroom.classify.Classification.reason). On the
    # timeline, so a later edit of the lists never reinterprets the incident.
    classified_by: str = ""


@dataclass
class NotificationResult:
    key: str
    channel: str
    recipients: list[str] = field(default_factory=list)
    status: str = "SENT"  # SENT | FAILED | PENDING; REHEARSAL in a rehearsal (warroom simulate: nothing sent)
    duplicate: bool = False
    error: str = ""
    via: str = ""  # how the target resolved to people (on-call policy, schedule, override...)
    # One per person and contact point tried: {person, contact_kind, contact, status, error}.
    deliveries: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class NotificationBatch:
    """The pages of one moment, sent by one activity (patch generation-2026-12: batched-pages).
    Each page keeps its own key; the activity sends them side by side."""

    notifications: list[Notification]


@dataclass
class NotificationBatchResult:
    results: list[NotificationResult]  # one per notification, in the batch's order


@dataclass
class WarRoomRequest:
    key: str
    incident_id: str
    title: str
    priority: str
    commander: str | None
    brief: str
    service: str = ""
    level: int = 1  # responders invited: the on-call levels up to this one, and the commander


@dataclass
class WarRoomResult:
    channel: str
    bridge: str = ""
    url: str = ""
    provider: str = ""


@dataclass
class ActionRequest:
    key: str
    incident_id: str
    action: ActionSpec


@dataclass
class ActionResult:
    ok: bool
    detail: str = ""


@dataclass
class CheckRequest:
    key: str
    incident_id: str
    check: CheckSpec


@dataclass
class CheckResult:
    ok: bool
    detail: str = ""


@dataclass
class RecordEvents:
    incident_id: str
    run_id: str
    snapshot: IncidentState
    events: list[TimelineEvent] = field(default_factory=list)


@dataclass
class Recorded:
    written: int = 0


resolve_annotations(globals())
