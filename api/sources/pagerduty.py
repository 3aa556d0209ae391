"""Room: api (HTTP edge) — source: PagerDuty Events API v2 (`POST /v2/enqueue`), one event a request.

Pure parsing (the only side effect is a fresh uuid4 for a trigger without a
dedup_key, which PagerDuty itself generates and returns, so each repeat opens a new incident).

Rules follow PagerDuty's own validation: routing_key and event_action are required; a trigger
needs payload.summary, payload.source and payload.severity (critical|error|warning|info);
acknowledge and resolve need the dedup_key of the alert they act on. A dedup_key of ""
counts as absent. Events API v1 bodies (service_key/event_type) and change events (no
event_action) are refused there, naming the missing fields; change events have their own
endpoint (`POST /v2/change/enqueue`, parse_change below). routing_key length is not enforced
(real clients and PagerDuty's own docs send short keys).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from api.sources import Parsed, PayloadError, SourceEvent, require_object
from warroom.timeparse import parse_time
from workflows.contracts import AlertInfo

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024


class PagerDutyAccepted(BaseModel):
    """What PagerDuty answers for an accepted event (HTTP 202)."""

    status: Literal["success"] = "success"
    message: str = "Event processed"
    dedup_key: str


class PagerDutyInvalid(BaseModel):
    """What PagerDuty answers for an invalid event (HTTP 400)."""

    status: str = "invalid event"  # "unauthorized" / "forbidden" for a 401 / 403
    message: str = "Event object is invalid"
    errors: list[str]


class PagerDutyError(PayloadError):
    """All that is wrong with the event; str() joins them."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def parse_timestamp(raw: Any) -> datetime | None:
    """ISO 8601 in the shapes senders use (`+0000`, no zone meaning UTC, `Z`); None if unusable."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return parse_time(raw)
    except ValueError:
        return None


def parse(body: Any) -> Parsed:
    body = require_object(body)
    errors: list[str] = []

    routing_key = body.get("routing_key")
    if routing_key is None:
        hint = " (this looks like an Events API v1 body: service_key/event_type)" if "service_key" in body else ""
        errors.append(f"routing_key: required{hint}")
    elif not _nonempty_str(routing_key):
        errors.append("routing_key: must be a non-empty string")

    action = body.get("event_action")
    if action is None:
        hint = ""
        if "event_type" in body:
            hint = " (event_type is Events API v1)"
        elif isinstance(body.get("payload"), dict):
            hint = " (a change event has none; post it to /v2/change/enqueue)"
        errors.append(f"event_action: required, one of {', '.join(ACTIONS)}{hint}")
    elif action not in ACTIONS:
        errors.append(f"event_action: must be one of {', '.join(ACTIONS)}, not {action!r}")

    dedup_key = body.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append("dedup_key: must be a string")
        dedup_key = None
    elif isinstance(dedup_key, str) and len(dedup_key) > MAX_DEDUP_KEY:
        errors.append(f"dedup_key: at most {MAX_DEDUP_KEY} characters")
    dedup_key = (dedup_key or "").strip()

    if action in ("acknowledge", "resolve"):
        if not dedup_key:
            errors.append(f"dedup_key: required for {action}")
        if errors:
            raise PagerDutyError(errors)
        return Parsed(events=[SourceEvent(action=action, alert=AlertInfo(
            title=f"{action} from PagerDuty event", dedup_key=dedup_key, source="pagerduty"))])

    payload = body.get("payload")
    if action is None:  # v1 body or change event: the payload means something else
        raise PagerDutyError(errors)
    if payload is None:
        errors.append("payload: required for trigger")
    elif not isinstance(payload, dict):
        errors.append("payload: must be an object")
    if not isinstance(payload, dict):
        raise PagerDutyError(errors)
    # One answer lists everything wrong, the payload's problems included.
    summary, source, severity = payload.get("summary"), payload.get("source"), payload.get("severity")
    if not _nonempty_str(summary):
        errors.append("payload.summary: required, a non-empty string")
    elif len(summary) > MAX_SUMMARY:
        errors.append(f"payload.summary: at most {MAX_SUMMARY} characters")
    if not _nonempty_str(source):
        errors.append("payload.source: required, a non-empty string")
    if severity not in SEVERITIES:
        errors.append(f"payload.severity: required, one of {', '.join(SEVERITIES)}"
                      + (f", not {severity!r}" if severity is not None else ""))
    for name in ("component", "group", "class"):
        if payload.get(name) is not None and not isinstance(payload.get(name), str | int | float):
            errors.append(f"payload.{name}: must be a string")
    links = body.get("links")
    if links is not None and not isinstance(links, list):
        errors.append("links: must be an array")
    if errors:
        raise PagerDutyError(errors)

    notes: list[str] = []
    received_at = None
    if payload.get("timestamp") is not None:
        received_at = parse_timestamp(payload.get("timestamp"))
        if received_at is None:
            notes.append(f"payload.timestamp {payload.get('timestamp')!r} not understood; receive time used")

    labels = {name: str(payload[name]) for name in ("class", "group", "component", "source")
              if payload.get(name) not in (None, "")}
    details = payload.get("custom_details")
    if details in (None, "", {}, []):
        description = ""
    elif isinstance(details, str):
        description = details
    else:
        description = json.dumps(details, indent=2, ensure_ascii=False, sort_keys=True)
    texts: dict[str, str] = {}  # url -> the link's text (PagerDuty shows it as the link)
    for link in links or []:
        if isinstance(link, dict) and _nonempty_str(link.get("href")):
            texts.setdefault(link["href"], str(link.get("text") or "link").strip()[:80])
    if _nonempty_str(body.get("client_url")):
        client = body.get("client")
        texts.setdefault(body["client_url"], str(client).strip()[:80] if _nonempty_str(client) else "source")
    hrefs = list(texts)

    if not dedup_key:
        dedup_key = uuid.uuid4().hex
        notes.append("no dedup_key: generated one")
    component = payload.get("component")
    alert = AlertInfo(
        title=summary.strip(), description=description,
        service=str(component) if component not in (None, "") else source.strip(),
        severity=severity, labels=labels, dedup_key=dedup_key, source="pagerduty",
        received_at=received_at, links=hrefs, link_texts=texts,
    )
    return Parsed(events=[SourceEvent(action="trigger", alert=alert)], notes=notes)


# ---------------------------------------------------------------- change events (POST /v2/change/enqueue)

@dataclass(frozen=True)
class ChangeEvent:
    """A change (a deploy, a config push) of one service, from PagerDuty's Change Events API."""

    service: str
    summary: str
    source: str
    at: datetime | None  # payload.timestamp; None: the receive time
    details: dict[str, Any]
    links: list[dict[str, str]]


def parse_change(body: Any) -> ChangeEvent:
    """PagerDuty's change event: routing_key and payload.summary required; payload.timestamp,
    source and custom_details and links optional. Its service (PagerDuty's is the routing key's;
    warroom's keys serve every service) is custom_details.service, else the payload's component,
    else its source: the same fields an alert's service comes from, so both sides meet."""
    body = require_object(body)
    errors: list[str] = []
    if not _nonempty_str(body.get("routing_key")):
        errors.append("routing_key: required, a non-empty string")
    if body.get("event_action") is not None:
        errors.append("event_action: a change event has none (send alerts to /v2/enqueue)")
    payload = body.get("payload")
    if not isinstance(payload, dict):
        errors.append("payload: required, an object")
        raise PagerDutyError(errors)
    summary, source = payload.get("summary"), payload.get("source")
    if not _nonempty_str(summary):
        errors.append("payload.summary: required, a non-empty string")
    elif len(summary) > MAX_SUMMARY:
        errors.append(f"payload.summary: at most {MAX_SUMMARY} characters")
    if source is not None and not isinstance(source, str):
        errors.append("payload.source: must be a string")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        errors.append("payload.custom_details: must be an object")
    at = None
    if payload.get("timestamp") is not None:
        at = parse_timestamp(payload.get("timestamp"))
        if at is None:
            errors.append(f"payload.timestamp: {payload.get('timestamp')!r} is not an ISO 8601 date-time")
    links = body.get("links")
    if links is not None and (not isinstance(links, list) or
                              not all(isinstance(x, dict) and _nonempty_str(x.get("href")) for x in links)):
        errors.append("links: must be an array of {href, text}")
    if errors:
        raise PagerDutyError(errors)
    details = details or {}
    service = next((str(v).strip() for v in (details.get("service"), payload.get("component"), source)
                    if v not in (None, "") and str(v).strip()), "")
    return ChangeEvent(service=service, summary=summary.strip(), source=(source or "").strip(), at=at,
                       details=details, links=[{"href": x["href"], "text": str(x.get("text") or "")}
                                               for x in links or []])
