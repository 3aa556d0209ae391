"""Room: api (HTTP edge) — source: Grafana alerting webhooks, unified (8+) and legacy (pre-8).

Pure, no I/O. The format is detected from the body:

* Unified alerting: the body has `alerts` (the Alertmanager shape plus orgId, state, title,
  message, per-alert values/valueString/silenceURL...). `alerts[]` is parsed by
  api.sources.alertmanager.parse_alerts with the same rules and dedup key policy, keys
  prefixed `grafana:` instead of `am:` (group incident on receiver + groupKey when there is a
  groupKey, else `grafana:<fingerprint>` / label hash). Zero-time `startsAt`, `values: null`
  and relative generatorURLs (joined to externalURL) are accepted. When an alert has no
  description, the top-level `message` is used. An alert whose own labels lack `alertname`
  (Grafana sometimes sends it only in commonLabels/groupLabels) is not refused: its name is
  taken from commonLabels.alertname, else groupLabels.alertname, else the rule's title
  (annotations summary/title, else the notification `title` without its "[FIRING:n]"
  prefix), else "Grafana alert"; a note says where it came from.
* Legacy alerting: no `alerts`, but ruleId / ruleName / state / evalMatches. One event per
  body. state `alerting` -> trigger; `ok` -> resolve; `no_data` -> trigger (the rule was set to
  notify on missing data, which is a problem worth an incident; the title says "[no data]");
  `paused` and `pending` -> no event (a note says why: nothing fired and nothing recovered).
  dedup_key `grafana-legacy:<ruleId>`; without ruleId, `grafana-legacy:h<hash of ruleName +
  ruleUrl>`; with neither, the body is refused. Title from ruleName (else title), description
  from message plus the evalMatches ("metric = value"), severity from tags.severity, service
  from tags.service, labels = the rule tags as strings, links = ruleUrl (and imageUrl).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from api.sources import Parsed, PayloadError, SourceEvent, require_object
from api.sources.alertmanager import _obj, _str, parse_alerts
from workflows.contracts import AlertInfo

LEGACY_FIELDS = ("ruleId", "ruleName", "state", "evalMatches")
LEGACY_STATES = {"alerting": "trigger", "ok": "resolve", "no_data": "trigger", "paused": None, "pending": None}


def is_legacy(body: dict[str, Any]) -> bool:
    return "alerts" not in body and any(k in body for k in LEGACY_FIELDS)


_STATE_PREFIX = re.compile(r"^\s*\[(FIRING|RESOLVED)(:\d+)?\]\s*", re.IGNORECASE)


def alertname_fallback(body: dict[str, Any], annotations: dict[str, str]) -> tuple[str, str]:
    """The name of an alert whose labels lack `alertname`, and where it was found."""
    for field in ("commonLabels", "groupLabels"):
        labels = body.get(field)
        if isinstance(labels, dict) and _str(labels.get("alertname")).strip():
            return _str(labels["alertname"]).strip(), f"{field}.alertname"
    for key in ("summary", "title"):
        if annotations.get(key, "").strip():
            return annotations[key].strip(), f"annotations.{key}"
    title = _STATE_PREFIX.sub("", _str(body.get("title"))).strip()
    if title:
        return title, "title"
    return "Grafana alert", "a default (no commonLabels, groupLabels or title)"


def parse(body: Any) -> Parsed:
    body = require_object(body)
    if is_legacy(body):
        return parse_legacy(body)
    return parse_alerts(body, prefix="grafana", source="grafana",
                        default_description=_str(body.get("message")).strip(),
                        alertname_fallback=alertname_fallback)


def parse_legacy(body: dict[str, Any]) -> Parsed:
    if "state" not in body:
        raise PayloadError("state: required (alerting, ok, no_data, paused or pending)")
    state = body["state"]
    if not isinstance(state, str) or state not in LEGACY_STATES:
        raise PayloadError(f"state: must be one of {', '.join(LEGACY_STATES)}, not {state!r}")
    rule_id = body.get("ruleId")
    rule_name = _str(body.get("ruleName")).strip()
    rule_url = _str(body.get("ruleUrl")).strip()
    if rule_id is not None and not isinstance(rule_id, bool) and _str(rule_id).strip():
        key = f"grafana-legacy:{_str(rule_id).strip()}"
    elif rule_name or rule_url:
        key = "grafana-legacy:h" + hashlib.sha256(f"{rule_name}\x1f{rule_url}".encode()).hexdigest()[:24]
    else:
        raise PayloadError("ruleId: required (or ruleName / ruleUrl to identify the rule)")
    action = LEGACY_STATES[state]
    if action is None:
        return Parsed(events=[], notes=[f"state {state}: nothing fired or recovered, no incident changed"])

    tags = {str(k): _str(v) for k, v in _obj(body.get("tags"), "tags").items()}
    matches = body.get("evalMatches")
    if matches is None:
        matches = []
    if not isinstance(matches, list):
        raise PayloadError(f"evalMatches: must be a list, not {type(matches).__name__}")
    lines: list[str] = []
    for i, m in enumerate(matches):
        m = _obj(m, f"evalMatches[{i}]", optional=False)
        line = f"{_str(m.get('metric')) or 'value'} = {_str(m.get('value'))}"
        if line not in lines:  # Grafana 6 repeats identical matches
            lines.append(line)
    message = _str(body.get("message")).strip()
    description = "\n".join([message, *lines]).strip()
    title = rule_name or _str(body.get("title")).strip() or "Grafana alert"
    if state == "no_data":
        title = f"[no data] {title}"
    texts = {u: t for u, t in ((_str(body.get("imageUrl")).strip(), "image"), (rule_url, "rule"))[::-1] if u}
    info = AlertInfo(title=title, description=description, service=tags.get("service", "").strip(),
                     severity=tags.get("severity", "").strip(), labels=tags, dedup_key=key,
                     source="grafana", links=list(texts), link_texts=texts)
    return Parsed(events=[SourceEvent(action=action, alert=info)])
