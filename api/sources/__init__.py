"""Room: api (HTTP edge) — source formats: each module turns one sender's JSON into SourceEvents.

Parsing at the edge: pure functions, no I/O. A parser raises PayloadError with
a message naming the field that is wrong; the endpoint answers it as a 4xx and opens
nothing. Contract of a parser: `parse(body: Any) -> Parsed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from workflows.contracts import AlertInfo

Action = Literal["trigger", "resolve", "acknowledge"]


class PayloadError(ValueError):
    """The body cannot be used; str() names the field, e.g. "alerts[0].labels: must be an object"."""


@dataclass
class SourceEvent:
    action: Action
    alert: AlertInfo  # for resolve/acknowledge only dedup_key (and title) matter


@dataclass
class Parsed:
    events: list[SourceEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "truncatedAlerts: 3 alerts not sent"


def require_object(body: Any, where: str = "body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise PayloadError(f"{where}: must be a JSON object, not {type(body).__name__}")
    return body
