"""Room: workflows (contracts, shared with activities/, api/ and the CLI). The dataclasses of the
links between incidents and between shifts: cascades (workflows/triggers.py, activities/cascade.py;
docs/upgrades.md) and the on-call hand-over (workflows/handover.py, activities/handover.py;
docs/oncall.md "Hand-over"). Beside contracts.py under its rules: standard library only, new
fields get defaults, fields never renamed, datetimes timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from workflows.contracts import resolve_annotations

HANDOVER_WORKFLOW = "OncallHandover"


# --------------------------------------------------------------------------- cascades


@dataclass
class LinkParent:
    """This incident is a child of `parent` in a cascade (sent by the incident that found it)."""

    parent: str
    reason: str = ""


@dataclass
class LinkChild:
    """`child` is a child of this incident in a cascade: the parent is raised to P0."""

    child: str
    reason: str = ""
    service: str = ""
    title: str = ""


@dataclass
class RelatedRequest:
    """find_related: which open incidents this one cascades with (records + the upgrades file)."""

    incident_id: str
    service: str
    priority: str
    created_at: datetime | None = None


@dataclass
class RelatedIncident:
    incident_id: str
    workflow_id: str
    reason: str = ""


@dataclass
class RelatedResult:
    """The cascade as found: this incident's parent (None: it is the parent, or in none), and the
    other incidents that become the parent's children (this one's, when it is the parent)."""

    parent: RelatedIncident | None = None
    children: list[RelatedIncident] = field(default_factory=list)


# --------------------------------------------------------------------------- on-call hand-over


@dataclass
class HandoverInput:
    """One schedule's hand-overs (workflows/handover.py; docs/oncall.md "Hand-over")."""

    schedule: str
    after: datetime | None = None  # look for the next rotation change after this; None: from the start
    done: int = 0  # hand-overs sent by the runs before this one (continue-as-new)


@dataclass
class HandoverPlanRequest:
    schedule: str
    after: datetime


@dataclass
class HandoverPlan:
    """The schedule's next rotation change after `after`: who hands over to whom."""

    schedule: str
    team: str = ""
    at: datetime | None = None  # None: the schedule is gone or has no change ahead
    outgoing: list[str] = field(default_factory=list)  # person ids
    incoming: list[str] = field(default_factory=list)


@dataclass
class HandoverRecordRequest:
    key: str
    plan: HandoverPlan


@dataclass
class HandoverRecord:
    """What the incoming people are sent: the team's open incidents and the outgoing notes."""

    key: str
    subject: str
    body: str
    incidents: list[str] = field(default_factory=list)
    notes: int = 0


resolve_annotations(globals())
