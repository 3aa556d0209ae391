"""find_related: the open incidents a new incident cascades with (docs/upgrades.md).

Room: activities. Reads the records (the open incidents, each with its service, priority, when it
opened and its parent) and decides with warroom.upgrades.cascade over the upgrades file's rules
(dependencies, window). Read-only, so a retry is harmless; its answer goes into the incident's
history, so a replay links the same incidents. Without records (a rehearsal): no cascade.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from temporalio import activity

from activities.common import records_call
from warroom.classify import split_incident_id
from warroom.upgrades import OpenIncident, Upgrades, cascade
from workflows.contracts_links import RelatedIncident, RelatedRequest, RelatedResult

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class CascadeActivities:
    def __init__(self, engine: Engine | None, upgrades: Callable[[], Upgrades]) -> None:
        self.engine = engine
        self.upgrades = upgrades  # the upgrades file as loaded by the worker

    @activity.defn(name="find_related")
    def find_related(self, req: RelatedRequest) -> RelatedResult:
        rows = records_call(self.engine, "open_incidents")
        if not rows or req.created_at is None:
            return RelatedResult()
        me = OpenIncident(req.incident_id, req.service, req.priority, req.created_at)
        others = [OpenIncident(r.incident_id, r.service or "", r.priority, r.created_at, r.parent_incident)
                  for r in rows if r.created_at is not None and r.incident_id != req.incident_id]
        parent, children = cascade(me, others, self.upgrades())

        def ref(incident_id: str, reason: str) -> RelatedIncident:
            return RelatedIncident(incident_id, split_incident_id(incident_id)[0], reason)

        return RelatedResult(parent=ref(*parent) if parent else None, children=[ref(*c) for c in children])
