"""Room: workflows (contracts, shared with activities/, api/ and the CLI). The dataclasses of maintenance
windows (workflows/maintenance.py, activities/maintenance.py; docs/maintenance.md). Beside
contracts.py under its rules: standard library only, new fields get defaults, fields never
renamed, datetimes timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from workflows.contracts import resolve_annotations


# --------------------------------------------------------------------------- maintenance windows

MAINTENANCE_WORKFLOW = "MaintenanceWindow"


@dataclass
class WindowSpec:
    """A maintenance window (warroom/maintenance.py, records maintenance_windows): what it
    matches, from when to when, why, who made it. The window workflow's input."""

    window_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str = ""
    service: str = ""
    matchers: list[str] = field(default_factory=list)  # Alertmanager-style: name=value, name=~regex...
    integration: str = ""


@dataclass
class EndWindow:
    """Signal `end`: end the window now (early), by whom."""

    by: str
    note: str = ""


@dataclass
class HeldIncident:
    """Signal `incident_held`: an incident that started inside the window (its workflow id)."""

    workflow_id: str
    incident_id: str = ""


@dataclass
class WindowEvent:
    """Activities maintenance_started / maintenance_ended: the window and what happened."""

    window: WindowSpec
    event: str  # started | ended
    by: str = ""


@dataclass
class AffectedIncidents:
    """Open incidents a window affects (their workflow ids), from the records."""

    workflow_ids: list[str] = field(default_factory=list)


@dataclass
class WindowState:
    """Query `get_window`: where the window's workflow is."""

    window_id: str
    status: str  # scheduled | active | ended
    ended_by: str = ""
    ended_at: datetime | None = None
    incidents: list[str] = field(default_factory=list)  # workflow ids told of it


resolve_annotations(globals())
