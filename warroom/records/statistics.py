"""Incident statistics per category and priority over a window (the SOP's `incident_statistics`
view): how many incidents of each kind, how many are still open, and how long they took to be
acknowledged and resolved (mean and median).

Room: records (warroom/records). Read by `GET /api/v1/statistics`, `warroom stats --by-category`
and the console's SLA page. One query over the incidents table (five columns), aggregated here
so the figures are the same on SQLite and PostgreSQL (neither a portable median nor interval
arithmetic exists in SQL across the two).

Definitions:
- the window is [now - days, now), on the incident's creation time (default 30 days);
- an incident counts once per run (a key that fires again after its incident closed opens a new
  incident `<id>~2`, counted on its own), under the category and priority it has now;
- time to acknowledge = acknowledged_at - created_at, over the incidents acknowledged;
  time to resolve = resolved_at - created_at, over the incidents resolved (an incident closed
  without being acknowledged counts in the second and not in the first);
- open = neither resolved nor closed;
- a median of an even count is the mean of the two middle values (statistics.median);
- the category is the one the incident was assessed as. P2-P4 tickets are not assessed (no
  runbook is chosen for them), so with the keyword lists given (`keywords`, what the worker
  classifies with) an incident recorded without a category counts under the category its title
  and description classify as (warroom.classify.classify_category: the SPEC's fallback
  SYSTEM_UNAVAILABLE when no term matches); without lists, under `UNCLASSIFIED`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from warroom.classify import Keywords, classify_category
from warroom.records.models import IncidentRow
from workflows.contracts import AlertInfo

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "UNCLASSIFIED", "configured_keywords", "incident_statistics"]

DEFAULT_DAYS = 30
MAX_DAYS = 366
UNCLASSIFIED = "UNCLASSIFIED"


def _summary(values: list[float]) -> dict[str, float | None]:
    return {"mean": statistics.fmean(values) if values else None,
            "median": statistics.median(values) if values else None}


@dataclass
class _Group:
    count: int = 0
    open: int = 0
    ack: list[float] = field(default_factory=list)
    resolve: list[float] = field(default_factory=list)

    def add(self, created: datetime | None, acked: datetime | None, resolved: datetime | None,
            closed: datetime | None) -> None:
        self.count += 1
        if resolved is None and closed is None:
            self.open += 1
        if created is not None and acked is not None:
            self.ack.append(max(0.0, (acked - created).total_seconds()))
        if created is not None and resolved is not None:
            self.resolve.append(max(0.0, (resolved - created).total_seconds()))

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "open": self.open, "acknowledged": len(self.ack), "resolved": len(self.resolve),
                "time_to_ack_seconds": _summary(self.ack), "time_to_resolve_seconds": _summary(self.resolve)}


def configured_keywords(path: Any) -> Keywords | None:
    """The keyword lists of Settings.classification_file, or None (then `UNCLASSIFIED`) when the
    file cannot be loaded: figures are still worth showing; the worker refuses such a file at start."""
    from warroom.keywords import KeywordsError, load_keywords

    try:
        return load_keywords(path)
    except KeywordsError:
        return None


def _category(recorded: str | None, title: str, description: str, keywords: Keywords | None) -> str:
    if (recorded or "").strip():
        return str(recorded).strip()
    if keywords is None:
        return UNCLASSIFIED
    return classify_category(AlertInfo(title=title or "", description=description or ""), keywords).category


def incident_statistics(engine: Engine, *, days: int = DEFAULT_DAYS, now: datetime | None = None,
                        service: str | None = None, keywords: Keywords | None = None) -> dict[str, Any]:
    """Figures per (category, priority) over the `days` before `now`:
    {"from", "to", "days", "service", "rows": [{"category", "priority", "count", "open",
    "acknowledged", "resolved", "time_to_ack_seconds": {"mean", "median"},
    "time_to_resolve_seconds": {...}}, ...] (by category, then priority), "by_priority": {P: the
    same figures over all categories}, "total": {...}}. Raises ValueError for a window outside
    1..MAX_DAYS days."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days: from 1 to {MAX_DAYS}, not {days}")
    end = now or datetime.now(UTC)
    start = end - timedelta(days=days)
    t = IncidentRow
    query = select(t.category, t.title, t.description, t.priority, t.created_at, t.acknowledged_at, t.resolved_at,
                   t.closed_at).where(t.created_at >= start, t.created_at < end)
    if service:
        query = query.where(t.service == service)
    groups: dict[tuple[str, str], _Group] = {}
    by_priority: dict[str, _Group] = {}
    total = _Group()
    with engine.connect() as conn:
        for category, title, description, priority, created, acked, resolved, closed in conn.execute(query):
            key = (_category(category, title, description, keywords), priority or "")
            for group in (groups.setdefault(key, _Group()), by_priority.setdefault(key[1], _Group()), total):
                group.add(created, acked, resolved, closed)
    return {
        "from": start.isoformat(), "to": end.isoformat(), "days": days, "service": service,
        "rows": [{"category": c, "priority": p, **g.as_dict()} for (c, p), g in sorted(groups.items())],
        "by_priority": {p: g.as_dict() for p, g in sorted(by_priority.items())},
        "total": total.as_dict(),
    }
