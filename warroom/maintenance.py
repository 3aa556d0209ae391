"""Maintenance windows, the pure part: what a window matches and how its times are read
(docs/maintenance.md). Room: the shared library (pure: no I/O; the records are
warroom/records/maintenance.py, the window's durable timer workflows/maintenance.py).

A window matches an alert when every criterion it has holds: `service` (the alert's service),
`integration` (the integration key that sent it) and each label matcher, written as
Alertmanager writes them: `name=value`, `name!=value`, `name=~regex`, `name!~regex` (regexes
anchored at both ends, as Alertmanager anchors them; a missing label reads as ""). A window
without any criterion would silence everything, and is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from warroom.timeparse import parse_duration

# Alertmanager's matcher syntax: a label name, an operator, a value (optionally quoted).
_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$')
MAX_WINDOW = timedelta(days=90)  # a longer one is a decommission, not maintenance
MAX_MATCHERS = 20


class WindowError(ValueError):
    """A window that cannot be made, saying which field is wrong (the API answers 422)."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    pattern: re.Pattern[str] | None = None

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"

    def matches(self, labels: dict[str, str]) -> bool:
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(got) is not None
        return found if self.op == "=~" else not found


def parse_matcher(text: str) -> Matcher:
    m = _MATCHER.match(text or "")
    if not m:
        raise WindowError(f"matchers: {text!r} is not a label matcher; write name=value, name!=value, "
                          "name=~regex or name!~regex")
    name, op, value = m.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"')
    pattern = None
    if op in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as err:
            raise WindowError(f"matchers: {text!r}: invalid regex: {err}") from None
    return Matcher(name=name, op=op, value=value, pattern=pattern)


@dataclass
class Window:
    """A maintenance window as the API, the CLI and the console show it."""

    id: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str = ""
    service: str = ""
    matchers: list[str] = field(default_factory=list)
    integration: str = ""
    created_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: str = ""

    def status(self, now: datetime) -> str:
        if self.ended_at is not None and self.ended_at <= now:
            return "ended"
        if now < self.starts_at:
            return "scheduled"
        return "active" if now < self.ends_at else "ended"

    def active(self, now: datetime) -> bool:
        return self.status(now) == "active"

    def matches(self, *, service: str, labels: dict[str, str], integration: str) -> bool:
        if self.service and self.service != service:
            return False
        if self.integration and self.integration != integration:
            return False
        return all(parse_matcher(m).matches(labels) for m in self.matchers)

    def scope(self) -> str:
        """What it matches, in one line: `service=checkout, region=~eu-.*`."""
        parts = ([f"service={self.service}"] if self.service else []) + list(self.matchers)
        if self.integration:
            parts.append(f"integration={self.integration}")
        return ", ".join(parts)

    def public(self, now: datetime) -> dict[str, Any]:
        return {"id": self.id, "status": self.status(now), "service": self.service, "matchers": self.matchers,
                "integration": self.integration, "starts_at": self.starts_at.isoformat(),
                "ends_at": self.ends_at.isoformat(), "reason": self.reason, "created_by": self.created_by,
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "ended_at": self.ended_at.isoformat() if self.ended_at else None,
                "ended_by": self.ended_by or None, "scope": self.scope()}


def plan(*, now: datetime, starts_at: datetime | None, ends_at: datetime | None, duration: str | None,
         reason: str, service: str = "", matchers: list[str] | None = None, integration: str = "") -> dict[str, Any]:
    """Check what a person asked for and settle its times: start (default now), end or duration
    (exactly one). Returns the fields of a window; raises WindowError naming the field."""
    matchers = [m.strip() for m in matchers or [] if m and m.strip()]
    service, integration, reason = (service or "").strip(), (integration or "").strip(), (reason or "").strip()
    if not reason:
        raise WindowError("reason: say why (it is on the timeline of every incident the window holds)")
    if not (service or matchers or integration):
        raise WindowError("a window needs a service, a label matcher or an integration: without one it "
                          "would hold every alert")
    if len(matchers) > MAX_MATCHERS:
        raise WindowError(f"matchers: at most {MAX_MATCHERS}")
    normal = [str(parse_matcher(m)) for m in matchers]
    start = starts_at or now
    if start.tzinfo is None:
        raise WindowError("starts_at: give a time zone (2026-12-07T22:00:00Z)")
    if (ends_at is None) == (not duration):
        raise WindowError("give either ends_at or duration (how long), not both and not neither")
    if duration:
        try:
            length = parse_duration(duration)
        except ValueError as err:
            raise WindowError(f"duration: {err}") from None
        if length <= timedelta(0):
            raise WindowError("duration: must be longer than zero")
        end = start + length
    else:
        assert ends_at is not None
        if ends_at.tzinfo is None:
            raise WindowError("ends_at: give a time zone (2026-12-07T23:00:00Z)")
        end = ends_at
    if end <= start:
        raise WindowError("ends_at: must be after starts_at")
    if end <= now:
        raise WindowError("ends_at: already past; a window must end in the future")
    if end - start > MAX_WINDOW:
        raise WindowError(f"the window is longer than {MAX_WINDOW.days} days")
    return {"starts_at": start, "ends_at": end, "reason": reason, "service": service, "matchers": normal,
            "integration": integration}
