"""The records database: tables (models), incidents and their timeline, communications.

Room: records. The package's face: callers write `records.record_events(...)`; API keys are
`warroom.records.keys`, reports and SLA figures `warroom.records.reports`.
"""

from warroom.records.communications import (
    claim_communication,
    claim_delivery,
    communications,
    deliveries,
    finish_communication,
    finish_delivery,
    save_war_room,
    war_room,
)
from warroom.records.incidents import (
    action_item,
    count_incidents,
    detail,
    incident,
    known_issues_for,
    list_incidents,
    record_events,
    recorded_incident,
    timeline,
)
from warroom.records.models import (
    FIRST_REVISION,
    ActionItemRow,
    ApiKeyRow,
    Base,
    CommunicationRow,
    DeliveryRow,
    EscalationRow,
    IncidentRow,
    KnownIssueRow,
    KnownIssueUseRow,
    PriorityChangeRow,
    ReviewRow,
    TimelineRow,
    WarRoomRow,
    _alembic,
    create_schema,
    make_engine,
    now_utc,
    schema_revision,
)

__all__ = [
    "FIRST_REVISION", "ActionItemRow", "ApiKeyRow", "Base", "CommunicationRow", "DeliveryRow", "EscalationRow",
    "IncidentRow", "KnownIssueRow", "KnownIssueUseRow", "PriorityChangeRow", "ReviewRow", "TimelineRow",
    "WarRoomRow", "_alembic", "action_item", "claim_communication", "claim_delivery", "communications",
    "count_incidents", "create_schema", "deliveries", "detail", "finish_communication", "finish_delivery",
    "incident", "known_issues_for", "list_incidents", "make_engine", "now_utc", "record_events",
    "recorded_incident", "save_war_room", "schema_revision", "timeline", "war_room",
]
