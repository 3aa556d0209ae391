"""Room: api (HTTP edge) — source: Datadog monitor webhooks, as rendered by Keep's webhook template.

Pure parsing. The template adds severity, alert_type, alert_query,
alert_transition, scopes, url, tags and monitor_id to Datadog's default
body/last_updated/event_type/title/date/org/id. One delivery is one event:

- alert_transition Triggered / Re-Triggered / Warn / Re-Warn -> trigger; Recovered -> resolve.
- dedup key `datadog:<monitor_id>:<scopes>`: one incident per monitor and group, so the
  recovery of a monitor resolves what its trigger opened.
- severity: `severity` when non-empty (Datadog priorities such as "P2"), else `priority`,
  else `alert_type` (error / warning); classification maps the word.
- service: the `service:` scope, else the `service:` tag. Scope and tag values may contain ':'.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.sources import Parsed, PayloadError, SourceEvent, require_object
from workflows.contracts import AlertInfo

TRIGGER = {"triggered", "re-triggered", "warn", "re-warn"}
RESOLVE = {"recovered"}


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{name}: must be a string")
    return value.strip()


def _pairs(raw: Any, name: str) -> list[tuple[str, str]]:
    """`a:b,c,d:e:f` (or a list of such) -> [(a, b), (c, ''), (d, e:f)]."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        items = raw.split(",")
    elif isinstance(raw, list) and all(isinstance(i, str) for i in raw):
        items = raw
    else:
        raise PayloadError(f"{name}: must be a comma-separated string")
    out = []
    for item in items:
        item = item.strip()
        if item:
            k, _, v = item.partition(":")
            out.append((k.strip(), v.strip()))
    return out


def _epoch_ms(raw: Any) -> datetime | None:
    try:
        ms = int(raw)
    except (TypeError, ValueError):
        return None
    if isinstance(raw, bool) or ms <= 0:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _description(body: str) -> str:
    text = body.strip()
    if text.startswith("%%%"):
        text = text[3:]
    if text.endswith("%%%"):
        text = text[:-3]
    return text.strip()


def parse(body: Any) -> Parsed:
    body = require_object(body)
    transition = _text(body, "alert_transition")
    if not transition:
        raise PayloadError("alert_transition: required (Triggered, Re-Triggered, Warn or Recovered)")
    kind = transition.lower()
    if kind in TRIGGER:
        action = "trigger"
    elif kind in RESOLVE:
        action = "resolve"
    else:
        raise PayloadError(f"alert_transition: {transition!r} is not Triggered, Re-Triggered, Warn or Recovered")

    monitor_id = body.get("monitor_id")
    if isinstance(monitor_id, bool) or not isinstance(monitor_id, str | int) or str(monitor_id).strip() == "":
        raise PayloadError("monitor_id: required, a number or a non-empty string")
    monitor_id = str(monitor_id).strip()

    scopes = _text(body, "scopes")
    scope_pairs = _pairs(scopes, "scopes")
    tag_pairs = _pairs(body.get("tags"), "tags")
    title = _text(body, "title") or f"Datadog monitor {monitor_id} {transition}"
    severity = _text(body, "severity") or _text(body, "priority") or _text(body, "alert_type")

    service = next((v for k, v in scope_pairs if k == "service" and v), "") or \
        next((v for k, v in tag_pairs if k == "service" and v), "")
    labels: dict[str, str] = {k: v for k, v in tag_pairs if k}
    labels.update({k: v for k, v in scope_pairs if k})
    labels["monitor_id"] = monitor_id
    for name in ("alert_type", "event_type", "priority"):
        value = body.get(name)
        if isinstance(value, str) and value.strip():
            labels[name] = value.strip()
    url = body.get("url")

    alert = AlertInfo(
        title=title, description=_description(_text(body, "body")), service=service, severity=severity,
        labels=labels, dedup_key=f"datadog:{monitor_id}:{scopes}", source="datadog",
        received_at=_epoch_ms(body.get("date")),
        links=[url] if isinstance(url, str) and url.strip() else [],
        link_texts={url: "monitor"} if isinstance(url, str) and url.strip() else {},
    )
    return Parsed(events=[SourceEvent(action=action, alert=alert)])
