"""A scenario's `expect:` section: what the rehearsed incident must show at the end.

Room: CLI (warroom/cli), pure: parsing the section (with the line of every entry) and checking
a finished rehearsal's result against it. `warroom simulate` exits 1 when a check fails, so a
directory of scenarios can gate a runbook change in CI.

    expect:
      status: acknowledged          # any plain field of the final state (IncidentState)
      escalation_level: 4
      refused: 1                    # how many events the incident refused
      timeline:                     # entries that must be in the timeline
        - escalated                 #   a type
        - {type: escalated, at: 30m, reason: ack_timeout}   # at an offset, with details
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from workflows.contracts import IncidentState

# The final state's plain fields a scenario may name (deadlines, steps, the timeline... are not plain).
STATE_FIELDS = tuple(f.name for f in dataclasses.fields(IncidentState)
                     if f.name not in ("incident_id", "workflow", "created_at", "acknowledged_at", "resolved_at",
                                       "closed_at", "deadlines", "war_room", "latest_update", "steps", "review",
                                       "known_issues", "timeline"))


@dataclasses.dataclass
class Expect:
    key: str  # a state field, "refused" or "timeline"
    want: Any  # the value; for timeline: {"type": ..., "at": seconds or None, "details": {...}}
    line: int


def parse_expect(path: str, raw: Any, line_of: Callable[[tuple[Any, ...]], int],
                 parse_duration: Callable[[Any], timedelta]) -> list[Expect]:
    """The `expect:` mapping as a list of checks; ValueError names the file, line and field."""
    top = line_of(("expect",))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}:{top}: expect: must be a mapping")
    out: list[Expect] = []
    for key, want in raw.items():
        line = line_of(("expect", key))
        if key == "refused":
            if isinstance(want, bool) or not isinstance(want, int) or want < 0:
                raise ValueError(f"{path}:{line}: expect.refused: a count of refused events, not {want!r}")
            out.append(Expect(key, want, line))
        elif key == "timeline":
            if not isinstance(want, list):
                raise ValueError(f"{path}:{line}: expect.timeline: must be a list of event types or mappings")
            for i, entry in enumerate(want):
                eline = line_of(("expect", "timeline", i))
                where = f"{path}:{eline}: expect.timeline[{i}]"
                if isinstance(entry, str):
                    entry = {"type": entry}
                if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
                    raise ValueError(f"{where}: an event type, or a mapping with type (and at, details)")
                details = {k: v for k, v in entry.items() if k not in ("type", "at")}
                at = None
                if "at" in entry:
                    try:
                        at = int(parse_duration(entry["at"]).total_seconds())
                    except ValueError as err:
                        raise ValueError(f"{where}.at: {err}") from None
                out.append(Expect("timeline", {"type": entry["type"], "at": at, "details": details}, eline))
        elif key in STATE_FIELDS:
            out.append(Expect(key, want, line))
        else:
            raise ValueError(f"{path}:{line}: expect.{key}: unknown field; expected refused, timeline or one of "
                             f"{', '.join(STATE_FIELDS)}")
    return out


def _describe(want: dict[str, Any]) -> str:
    parts = [want["type"]]
    if want["at"] is not None:
        parts.append(f"at {want['at']} s")
    parts += [f"{k}={v!r}" for k, v in want["details"].items()]
    return " ".join(parts)


def failures(path: str, checks: list[Expect], result: dict[str, Any]) -> list[str]:
    """One `file:line: expect.field: ...` message per check the result does not meet."""
    out = []
    incident = result["incident"]
    for c in checks:
        if c.key == "refused":
            got = len(result["refused"])
            if got != c.want:
                out.append(f"{path}:{c.line}: expect.refused: {c.want}, got {got}")
        elif c.key == "timeline":
            want = c.want
            if not any(row["type"] == want["type"]
                       and (want["at"] is None or row["offset_seconds"] == want["at"])
                       and all(row["details"].get(k) == v for k, v in want["details"].items())
                       for row in result["timeline"]):
                seen = sorted({row["offset_seconds"] for row in result["timeline"] if row["type"] == want["type"]})
                out.append(f"{path}:{c.line}: expect.timeline: no {_describe(want)} in the timeline"
                           + (f" ({want['type']} at {', '.join(f'{s} s' for s in seen)})" if seen else ""))
        else:
            got = incident.get(c.key)
            if got != c.want and str(got) != str(c.want):
                out.append(f"{path}:{c.line}: expect.{c.key}: {c.want!r}, got {got!r}")
    return out
