"""Room: api (HTTP edge) — the bodies the API accepts and answers, and its documented errors.

Pydantic lives here, at the edge: the routes (api/routes/) convert these to the workflows'
dataclasses (workflows.contracts); nothing here knows what a phase means.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.contracts import Phase, Priority, Status  # noqa: F401  (a filter outside them is answered 422)

Name = Field(min_length=1, max_length=200, pattern=r"\S")
# Who acts. Optional: the key's person acts (api.deps.actor_of); a responder's `by` must be that
# person, an admin's may name someone else (recorded "<admin> for <by>").
By = Field(None, min_length=1, max_length=200, pattern=r"\S",
           description="who acts; default and only choice for a responder: the key's person")


def Note(description: str = "") -> Any:  # noqa: N802 - a Field, named like one
    """A free text an engineer writes (a note, a reason, a resolution): bounded at the door."""
    return Field("", max_length=20000, description=description or None)


# A list of texts in a review (contributing factors, lessons).
Texts = Annotated[list[Annotated[str, Field(max_length=2000)]], Field(max_length=200)]


class GenericAlert(BaseModel):
    """warroom's own alert JSON (also the body for declaring an incident by hand)."""

    model_config = ConfigDict(extra="ignore")
    title: str = Field(min_length=1, max_length=500, pattern=r"\S")
    description: str = Field("", max_length=20000)
    service: str = Field("", max_length=200)
    severity: str = Field("", max_length=50)
    priority: Priority | None = None
    affected_users: int | None = Field(None, ge=0, le=10**10)  # more than there are people
    business_impact: Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "critical", "high", "medium", "low"] | None = None
    availability: float | None = Field(None, ge=0, le=100)
    labels: dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=2000)]] = Field(
        default_factory=dict, max_length=100)
    dedup_key: str = Field("", max_length=1000)
    # This alert's identity within its incident: the same fingerprint again is a re-send,
    # counted apart. Omitted: source, service, title and labels identify it.
    fingerprint: str = Field("", max_length=200)
    status: Literal["trigger", "resolve"] = "trigger"
    links: list[Annotated[str, Field(max_length=2000)]] = Field(default_factory=list, max_length=50)


class IncidentRef(BaseModel):
    id: str
    priority: str
    status: str
    deduplicated: bool


class Accepted(BaseModel):
    incidents: list[IncidentRef]
    message: str = ""


class Problem(BaseModel):
    detail: str


class AckBody(BaseModel):
    by: str | None = By
    note: str = Note()


class CommanderBody(BaseModel):
    by: str | None = By
    commander: str = Name


class UpdateBody(BaseModel):
    by: str | None = By
    message: str = Field(min_length=1, max_length=20000, pattern=r"\S")
    # Impact the engineer reports (docs/upgrades.md): any of these raises the incident to P0 at
    # once; an expected recovery beyond the limit (4 h by default) raises a P1.
    data_loss: bool = Field(False, description="data was lost")
    security_risk: bool = Field(False, description="a security risk or breach is found")
    all_users: bool = Field(False, description="impact reaches all users")
    business_down: bool = Field(False, description="the customer's business is fully down")
    expected_recovery_minutes: int | None = Field(None, ge=0, le=525600,
                                                  description="when recovery is expected, in minutes from now")


class EscalateBody(BaseModel):
    by: str | None = By
    reason: str = Note()
    to_level: int | None = Field(None, ge=2, le=4)


class PriorityBody(BaseModel):
    by: str | None = By
    priority: Priority
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S")


class StepBody(BaseModel):
    by: str | None = By
    result: Literal["done", "passed", "failed"] = "done"
    note: str = Note()


class ResolveBody(BaseModel):
    by: str | None = By
    resolution: str = Note()
    root_cause: str = Note()


class ActionItemBody(BaseModel):
    title: str = Field(min_length=1, max_length=2000, pattern=r"\S")
    owner: str = Field(default="", max_length=200)
    due: date | None = None

    def plain(self) -> dict[str, str]:
        return {"title": self.title, "owner": self.owner, "due": self.due.isoformat() if self.due else ""}


class ReviewBody(BaseModel):
    by: str | None = By
    root_cause: str = Field(min_length=1, max_length=20000, pattern=r"\S")
    contributing_factors: Texts = Field(default_factory=list)
    lessons: Texts = Field(default_factory=list)
    # A plain title, or {title, owner, due}.
    action_items: list[ActionItemBody | Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=200)

    def command(self) -> dict[str, Any]:
        out = self.model_dump(exclude={"action_items"})
        out["action_items"] = [i.plain() if isinstance(i, ActionItemBody) else i for i in self.action_items]
        return out


class ReopenBody(BaseModel):
    by: str | None = By
    reason: str = Note()


class IncidentSummary(BaseModel):
    """One incident as recorded (the list view), read from its IncidentRow."""

    model_config = ConfigDict(from_attributes=True)
    id: str = Field(validation_alias="incident_id")
    title: str
    service: str
    category: str
    priority: str
    status: str
    phase: str
    escalation_level: int
    commander: str | None
    alert_count: int
    runbook: str
    created_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime | None
    parent_incident: str | None = None  # the incident this one is a child of, in a cascade


class IncidentList(BaseModel):
    incidents: list[IncidentSummary]
    total: int
    limit: int
    offset: int


Role = Literal["integration", "responder", "viewer", "admin"]
SourceFormat = Literal["alertmanager", "grafana", "pagerduty", "datadog", "generic", "custom"]
KeyName = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = KeyName
    role: Role
    person: str | None = Field(None, min_length=1, max_length=200, pattern=r"\S",
                               description="who acts with the key: an on-call person id or a name "
                                           "(default: the key's name); the timeline records it")


class KeyView(BaseModel):
    id: str
    name: str
    role: str
    prefix: str
    created_at: str
    revoked_at: str | None = None
    person: str | None = Field(None, description="who acts with the key (not for integrations)")
    format: str | None = None
    signed: bool | None = None
    mapping: dict[str, Any] | None = None


class KeyCreated(KeyView):
    key: str = Field(description="the key itself: shown this once, store it now")


class IntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = KeyName
    format: SourceFormat | None = Field(None, description="the only endpoint this key may post to (any when absent)")
    signing_secret: str | None = Field(None, min_length=16, max_length=500,
                                       description="HMAC secret (grafana, generic and custom formats)")
    mapping: dict[str, Any] | None = Field(None, description="custom format: how the body becomes an alert")


class FeedCreate(BaseModel):
    """A calendar feed to subscribe to: one team's shifts or one person's (exactly one of them)."""

    team: str | None = Field(None, min_length=1, max_length=200)
    person: str | None = Field(None, min_length=1, max_length=200,
                               description="an on-call person id; default for neither: the key's person")


class FeedCreated(BaseModel):
    id: str
    feed: str
    person: str
    url: str = Field(description="the feed's address with its token: give it to a calendar app (shown once)")
    webcal: str = Field(description="the same as webcal://, which calendar apps open as a subscription")


# ---------------------------------------------------------------- the error answers routes document

Responses = dict[int | str, dict[str, Any]]
UNAUTHORIZED: Responses = {
    401: {"model": Problem, "description": "missing, unknown or revoked API key (or a bad signature)"},
    403: {"model": Problem, "description": "the key's role may not call this endpoint"}}
BAD_BODY: Responses = {
    **UNAUTHORIZED, 400: {"model": Problem, "description": "the body is not JSON"},
    422: {"model": Problem, "description": "the body is not valid for this source, naming the field"}}
TEMPORAL: Responses = {
    503: {"model": Problem, "description": "Temporal did not answer (unreachable, deadline, overloaded): retry"}}
UNKNOWN: Responses = {**UNAUTHORIZED, **TEMPORAL, 404: {"model": Problem, "description": "unknown incident"}}
REFUSED: Responses = {**UNKNOWN,
                      403: {"model": Problem, "description": "the key's role may not act, or `by` names someone "
                                                             "other than the key's person (and the key is not "
                                                             "an admin's)"},
                      409: {"model": Problem, "description": "the engine refused the action, with its reason"}}

