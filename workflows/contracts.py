"""Room: workflows (contracts, shared with activities/, api/ and the CLI). The plain
dataclasses that cross the workflow boundary.

Standard library only, so the workflow sandbox can pass this module through. Rules
(STYLE.md 3): one dataclass in, one out; new fields get defaults; fields are never renamed
while incidents carrying them may be running; datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

# The one place that names priorities, statuses and phases; the API schemas use these Literals.
Priority = Literal["P0", "P1", "P2", "P3", "P4"]
Status = Literal["triggered", "acknowledged", "resolved", "closed"]
# "open" is the Ticket's single phase; the others are IncidentResponse's (SPEC section 3).
Phase = Literal["assess", "notify", "war_room", "recover", "verify", "review", "closed", "open"]
PRIORITIES: tuple[str, ...] = get_args(Priority)
STATUSES: tuple[str, ...] = get_args(Status)
PHASES: tuple[str, ...] = get_args(Phase)
FULL_RESPONSE_PRIORITIES = ("P0", "P1")
OPEN_STATUSES = ("triggered", "acknowledged")

# Escalation levels: 1 on-duty, 2 senior, 3 architect, 4 external/vendor support.
MAX_LEVEL = 4
LEVEL_NAMES = {
    1: "L1 on-duty engineer",
    2: "L2 senior engineer",
    3: "L3 architect",
    4: "external/vendor support",
}

# Workflow type names: never derived from the Python class names (STYLE.md 1).
INCIDENT_WORKFLOW = "IncidentResponse"
TICKET_WORKFLOW = "Ticket"


# --------------------------------------------------------------------------- policy


@dataclass
class PriorityPolicy:
    """Service levels of one priority (SPEC section 2). Seconds, so tests can shrink them.

    Built from the service-levels file (warroom/levels.py, docs/service-levels.md) by the
    starter and carried in the input. The fields after `war_room` came with that file; their
    defaults are what a run did before them, so the input of a run started earlier (which has
    none of them) keeps it doing exactly that."""

    priority: str
    ack_seconds: int
    update_seconds: int
    resolve_seconds: int
    review_seconds: int = 0  # 0: no post-incident review for this priority
    stakeholders: list[str] = field(default_factory=list)
    war_room: bool = False
    # The highest level an automatic escalation reaches (ack SLA, no progress, resolve target,
    # silence, failed verification); there it pages that level again. A person may go higher.
    top_level: int = MAX_LEVEL
    # Silence after acknowledgement that lifts the level (L2, L3, vendor); None: the escalation's.
    no_progress_seconds: list[int] | None = None
    # Who is briefed and when, after the trigger: {target: seconds}. None: management after
    # escalation.management_notify_seconds, for P0 only (runs from before the file).
    briefings: dict[str, int] | None = None
    # Who is told (FOLLOW_UP) when the resolve target passes, besides the escalation.
    resolve_notify: list[str] = field(default_factory=lambda: ["management"])
    # Stakeholder-update intervals in a row without an engineer update, after acknowledgement,
    # that escalate one level; 0: never.
    silence_intervals: int = 0
    # At this percentage of the ack SLA the level being waited on is nudged (one page); 0: never.
    nudge_percent: int = 0

    def ladder(self, escalation: EscalationTimers) -> list[int]:
        """The no-progress waits in force: this priority's, else the escalation's."""
        return list(self.no_progress_seconds) if self.no_progress_seconds is not None else \
            list(escalation.no_progress_seconds)


@dataclass
class EscalationTimers:
    """When the workflow escalates by itself. Whom each level pages is the on-call
    configuration's EscalationPolicy (warroom/oncall), a different thing."""

    # Silence after acknowledgement (no update, no completed step) that lifts the
    # escalation level: 30 min -> L2, 1 h -> L3, 2 h -> external.
    no_progress_seconds: list[int] = field(default_factory=lambda: [1800, 3600, 7200])
    review_reminder_seconds: int = 4 * 3600
    management_notify_seconds: int = 1800  # P0: management informed by 30 min
    manual_step_reminder_seconds: int = 900
    # Affected-user growth reports after which impact counts as "spreading" (-> L3).
    spreading_reports: int = 2
    # 0: continue-as-new only when Temporal suggests it. Tests set a small number.
    continue_as_new_after_events: int = 0


@dataclass
class UpgradeRules:
    """What raises an incident to P0 by itself besides the alert's figures (SPEC 3, the P1 -> P0
    triggers; docs/upgrades.md). From the upgrades file (warroom/upgrades.py), carried in the
    input like the service levels, so a running incident keeps the rules it started with."""

    # An expected recovery longer than this raises a P1 (the P1 resolve target by default).
    recovery_beyond_seconds: int = 4 * 3600
    # Terms in an engineer update's text that suggest a signal: signal -> terms. Suggested on the
    # timeline (`upgrade.suggested`), never applied.
    suggest: dict[str, list[str]] = field(default_factory=dict)
    version: str = ""  # the file's version and digest, written on the events the rules decide


@dataclass
class ResponsePolicy:
    priorities: dict[str, PriorityPolicy] = field(default_factory=dict)
    escalation: EscalationTimers = field(default_factory=EscalationTimers)
    # None: the built-in rules (workflows/policy.py default_upgrade_rules), for starters that set none.
    upgrades: UpgradeRules | None = None

    def of(self, priority: str) -> PriorityPolicy:
        return self.priorities[priority]

    def sla(self, priority: str) -> dict[str, int] | None:
        """The priority's service levels as written on the events that set a priority (`sla` on
        `triggered`, `priority.changed`): the reports judge each SLA against the numbers in force."""
        pp = self.priorities.get(priority)
        return None if pp is None else {"ack": pp.ack_seconds, "update": pp.update_seconds,
                                        "resolve": pp.resolve_seconds, "review": pp.review_seconds}


# --------------------------------------------------------------------------- runbooks


@dataclass
class ActionSpec:
    """One recovery action (docs/runbooks.md). kind: http | command | python run in the
    run_action activity; manual | wait | approval are waits the workflow does itself."""

    id: str
    kind: str
    title: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: int = 60
    max_attempts: int = 3
    backoff_seconds: int = 5
    rollback: ActionSpec | None = None  # run when verification fails after this action ran
    # Not "": the action is rehearsed, never run (its runbook is an example, `live: false`); says why.
    rehearse: str = ""


@dataclass
class CheckSpec:
    """One verification check. kind: http | prometheus | manual. Retried every interval until timeout."""

    id: str
    kind: str
    title: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: int = 300
    interval_seconds: int = 30
    rehearse: str = ""  # as ActionSpec.rehearse: the check is answered as passed, never probed


@dataclass
class RunbookSpec:
    name: str = "default"
    version: str = "1"
    description: str = ""
    source: str = ""  # file it was loaded from, for people reading the timeline
    war_room: bool | None = None  # None: the priority decides
    notify: list[str] = field(default_factory=list)  # extra targets for the first page
    recover: list[ActionSpec] = field(default_factory=list)
    verify: list[CheckSpec] = field(default_factory=list)
    on_verify_failure: list[ActionSpec] = field(default_factory=list)
    escalate_on_verify_failure: bool = True
    match: dict[str, Any] = field(default_factory=dict)  # how it was selected (for people reading)
    update_minutes: int | None = None  # stakeholder update cadence, only shorter than the priority's
    ack_minutes: int | None = None  # ack SLA, only shorter than the priority's
    # False: an example (the shipped runbooks): its automatic steps are rehearsed, never run,
    # until an SRE sets `live: true` (docs/runbooks.md).
    live: bool = True


# --------------------------------------------------------------------------- input


@dataclass
class AlertInfo:
    """A normalised alert: what every source format is turned into at the edge."""

    title: str
    description: str = ""
    service: str = ""
    severity: str = ""
    priority: str = ""  # explicit priority on the request, if any
    affected_users: int | None = None
    business_impact: str = ""
    availability: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    dedup_key: str = ""
    source: str = "generic"
    received_at: datetime | None = None
    links: list[str] = field(default_factory=list)
    # What each of `links` is, as the source says it ("runbook", "dashboard", "source", a
    # PagerDuty link's text), by URL; a link without an entry is shown as "link".
    link_texts: dict[str, str] = field(default_factory=dict)
    # This alert's own identity within its incident (the source's fingerprint or alert id, or
    # warroom.classify.alert_fingerprint): a second alert with the same one is a re-send, not
    # a new alert. "" (alerts signalled before fingerprints existed): every one counts.
    fingerprint: str = ""
    # The integration (API key of role integration) that sent it, "" for people and other keys:
    # a maintenance window can match it (docs/maintenance.md).
    integration: str = ""


@dataclass
class MaintenanceHold:
    """The maintenance window an incident started in (docs/maintenance.md): the incident is
    recorded but pages nobody until the window ends (its own timer at `ends_at`, or the window's
    `maintenance` signal when it is ended early). Set by the API's intake on a new incident."""

    window_id: str
    reason: str
    ends_at: datetime
    created_by: str = ""
    workflow_id: str = ""  # the window's workflow (maintenance-<window id>)


@dataclass
class IncidentInput:
    incident_id: str
    alert: AlertInfo
    priority: str
    priority_reason: str = ""
    policy: ResponsePolicy = field(default_factory=ResponsePolicy)
    runbook: RunbookSpec | None = None  # None: assess picks one
    # Set only by continue-as-new (long incidents, ticket -> full response hand-over).
    resume: Resume | None = None
    # The maintenance window the incident started in (patch maintenance-windows), None: none.
    maintenance: MaintenanceHold | None = None


# --------------------------------------------------------------------------- state


@dataclass
class TimelineEvent:
    seq: int
    at: datetime
    type: str
    actor: str = "system"
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Deadlines:
    ack_due: datetime | None = None
    next_update_due: datetime | None = None
    resolve_due: datetime | None = None
    review_due: datetime | None = None


@dataclass
class StepState:
    id: str
    kind: str
    title: str = ""
    stage: str = "recover"  # recover | verify
    status: str = "pending"  # pending | running | waiting | succeeded | failed | skipped
    detail: str = ""


@dataclass
class EngineerUpdate:
    by: str
    message: str
    at: datetime


@dataclass
class ActionItem:
    """A review's follow-up: what, who owns it, by when (ISO date, or "")."""

    title: str
    owner: str = ""
    due: str = ""


@dataclass
class Review:
    by: str
    root_cause: str
    contributing_factors: list[str] = field(default_factory=list)
    lessons: list[str] = field(default_factory=list)
    # Plain titles (reviews submitted before owners and due dates existed) or ActionItems.
    action_items: list[ActionItem | str] = field(default_factory=list)
    submitted_at: datetime | None = None


@dataclass
class IncidentState:
    """What get_state answers: the view managers and the API see."""

    incident_id: str
    workflow: str
    title: str
    service: str = ""
    category: str = ""
    priority: str = "P3"
    status: str = "triggered"  # triggered | acknowledged | resolved | closed
    phase: str = "assess"
    escalation_level: int = 1
    commander: str | None = None
    acknowledged_by: str | None = None
    created_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    deadlines: Deadlines = field(default_factory=Deadlines)
    alert_count: int = 0  # distinct alerts (by fingerprint)
    resent_count: int = 0  # alerts that arrived again (same fingerprint): counted apart, never as new
    runbook: str = ""
    runbook_version: str = ""
    war_room: dict[str, str] | None = None
    latest_update: EngineerUpdate | None = None
    steps: list[StepState] = field(default_factory=list)
    review: Review | None = None
    review_owner: str | None = None
    reopen_count: int = 0
    known_issues: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    # The maintenance window that holds (held: true) or held this incident, or that started
    # while it was open (held: false, it kept paging): window, reason, until, held, ...
    maintenance: dict[str, Any] | None = None
    # Impact reported by alerts' labels and engineer updates (patch upgrade-triggers): the signals
    # (data_loss, security_risk, all_users, business_down) and the expected recovery in minutes.
    impact_signals: list[str] = field(default_factory=list)
    expected_recovery_minutes: int | None = None
    # A cascade (docs/upgrades.md): the incident this one is a child of, and this one's children.
    parent_incident: str | None = None
    children: list[str] = field(default_factory=list)


@dataclass
class Notification:
    """One message to one target. key makes it idempotent: a retried page is not a second page."""

    key: str
    incident_id: str
    kind: str  # INITIAL | UPDATE | RESOLUTION | FOLLOW_UP | REMINDER | ESCALATION
    target: str  # oncall:L1 .. oncall:L4, technical_manager, person:<id>, war_room, ...
    subject: str
    body: str
    priority: str = ""
    # What the message templates and the on-call resolution need (the incident as of the page).
    title: str = ""
    service: str = ""
    category: str = ""
    status: str = ""
    phase: str = ""
    level: int = 1
    commander: str | None = None
    template: str = ""  # a message template kind (warroom/delivery/messages.py); "" = chosen from `kind`
    # The alert's own words and links, on the pages that bring a person to the incident (patch
    # page-details: INITIAL and ESCALATION pages; "" / [] on the others and before the patch).
    description: str = ""
    links: list[str] = field(default_factory=list)
    link_texts: dict[str, str] = field(default_factory=dict)  # url -> what it is (AlertInfo.link_texts)


@dataclass
class Bookkeeping:
    """Workflow-private progress that must survive continue-as-new."""

    ack_window_start: datetime | None = None
    last_update_tick: datetime | None = None
    updated_since_tick: bool = False
    last_progress_at: datetime | None = None
    resolve_target_fired_for: str = ""
    management_notified: bool = False
    next_review_reminder: datetime | None = None
    review_overdue_fired: bool = False
    resolve_requested_by: str = ""
    resolve_details: dict[str, Any] = field(default_factory=dict)
    recover_round: int = 0
    action_index: int = 0
    rollbacks: list[str] = field(default_factory=list)  # this round's succeeded actions that have a rollback
    completed_steps: dict[str, str] = field(default_factory=dict)  # step id -> who
    step_reminders: dict[str, datetime] = field(default_factory=dict)
    notification_seq: int = 0
    outbox: list[Notification] = field(default_factory=list)
    flushed: int = 0
    max_affected_users: int = 0
    spreading_reports: int = 0
    war_room_wanted: bool = False
    initial_targets: list[str] = field(default_factory=list)
    level_wait_seconds: list[int] = field(default_factory=list)  # the escalation policy's, per level
    fingerprints: list[str] = field(default_factory=list)  # of the distinct alerts counted so far
    briefed: list[str] = field(default_factory=list)  # briefing targets told (PriorityPolicy.briefings)
    silent_intervals: int = 0  # stakeholder intervals in a row without an engineer update, since acknowledged
    nudged_window: datetime | None = None  # the ack window (its start) whose level was nudged
    # When a maintenance window released the incident: its response clocks (trigger-relative
    # deadlines: resolve target, briefings) count from here instead of from the trigger.
    released_at: datetime | None = None
    # Targets told of a priority above the current one (the first pages, upgrades, briefings):
    # a downgrade is announced to them (patch upgrade-triggers).
    told_of_priority: list[str] = field(default_factory=list)
    cascade_checked: bool = False  # this incident looked for the incidents it cascades with


@dataclass
class Resume:
    state: IncidentState
    book: Bookkeeping
    runbook: RunbookSpec | None = None


# --------------------------------------------------------------------------- actions


@dataclass
class Acknowledge:
    by: str
    note: str = ""
    # The person an admin acknowledged for (by "root for alice": "alice"): they, not the admin,
    # take command when the incident has no commander. "": whoever `by` names.
    for_person: str = ""


@dataclass
class AssignCommander:
    by: str
    commander: str


@dataclass
class PostUpdate:
    by: str
    message: str
    # Impact the engineer reports (patch upgrade-triggers): any of these raises the incident to
    # P0; an expected recovery beyond the rules' limit raises a P1 (docs/upgrades.md).
    data_loss: bool = False
    security_risk: bool = False
    all_users: bool = False
    business_down: bool = False
    expected_recovery_minutes: int | None = None


@dataclass
class Escalate:
    by: str
    reason: str = ""
    to_level: int | None = None


@dataclass
class ChangePriority:
    by: str
    priority: str
    reason: str = ""


@dataclass
class CompleteStep:
    by: str
    step: str
    result: str = "done"
    note: str = ""


@dataclass
class Resolve:
    by: str
    resolution: str = ""
    root_cause: str = ""


@dataclass
class SubmitReview:
    by: str
    root_cause: str
    contributing_factors: list[str] = field(default_factory=list)
    lessons: list[str] = field(default_factory=list)
    action_items: list[ActionItem | str] = field(default_factory=list)


@dataclass
class Reopen:
    by: str
    reason: str = ""


@dataclass
class AlertReceived:
    alert: AlertInfo


@dataclass
class AlertsReceived:
    """Alerts for one incident that arrived together: the API coalesces concurrent alerts of
    one dedup key into one signal (api/intake.py), and the workflow applies them at once."""

    alerts: list[AlertInfo] = field(default_factory=list)


@dataclass
class AlertResolved:
    source: str = ""
    dedup_key: str = ""
    summary: str = ""


@dataclass
class MaintenanceNotice:
    """The `maintenance` signal a window's workflow sends an incident it affects."""

    window_id: str
    event: str  # started | ended
    reason: str = ""
    by: str = ""  # who ended it early ("" when it ended on time)
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def resolve_annotations(namespace: dict[str, Any]) -> None:
    """Every dataclass of a contracts module (`namespace`: its globals()) with its annotations
    evaluated once, at import. Temporal's data converter calls typing.get_type_hints on a
    dataclass each time it decodes one; with `from __future__ import annotations` that compiled
    and evaluated every field's annotation string on every decode (a third of the worker's CPU
    per incident). Evaluated annotations give the same hints, read at once."""
    import dataclasses
    import typing

    module = namespace["__name__"]
    for obj in list(namespace.values()):
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module:
            obj.__annotations__ = typing.get_type_hints(obj)


resolve_annotations(globals())
