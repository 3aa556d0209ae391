"""Room: api (HTTP edge) — source: Prometheus Alertmanager webhook (v4, also v3) -> SourceEvents.

Pure, no I/O. One SourceEvent per alert in `alerts[]`: firing -> trigger,
resolved -> resolve. An alert without `status` takes the group's top-level `status`.

Dedup key policy (what decides which incident an alert joins):

* The body has a `groupKey` (string, or a JSON number, used as `str()`): the incident is the
  Alertmanager *group*. dedup_key = `am:g<hash of (receiver, groupKey)>`. Every firing alert of
  the group is a trigger on that key, so the first opens the incident and the others (and
  later deliveries of the same group, e.g. a third InstanceDown instance) join it and count as
  alerts. Because an incident is a whole group, a *resolved* alert inside a group that still
  has firing alerts does not resolve it (noted, not sent); when no alert of the group is
  firing, one resolve is sent for the group.
* No `groupKey` (minimal or hand-made senders): the incident is the single alert.
  dedup_key = `am:<fingerprint>` when the alert has a fingerprint that is unique within the
  payload; otherwise `am:h<hash of alertname + sorted labels>`, so two alerts sharing one
  fingerprint but with different labels do not collapse into one incident.

`truncatedAlerts > 0` adds the note "truncatedAlerts: N alerts were not sent".
`alerts: []` (e.g. promgen's heartbeat) is a 2xx no-op with the note "no alerts": nothing is
wrong with the body, there is just nothing to act on.

Fields used: title from annotations.summary / annotations.title / labels.alertname;
description from annotations.description / annotations.message; service from labels
service / job / app / namespace; severity from labels.severity or labels.level (as sent:
warroom.classify maps known words, unknown ones such as "2" fall to the default rules);
labels are all labels as strings; fingerprint (the alert's identity within its incident: a
re-delivered alert is counted as a re-send) from `fingerprint`, else the label hash; links, each
with what it is (`link_texts`), from annotations.runbook_url / runbook, Grafana's dashboardURL,
panelURL, generatorURL and silenceURL (a relative one is joined to externalURL; one that is not
http(s) is left out). Unknown fields are ignored. Priority is *not* decided here (classify does it).

Refused (PayloadError naming the field, answered 422): a body that is not an object (e.g. the
Prometheus->Alertmanager alert array), `alerts` missing or not a list, an alert or its
`labels` not an object, an alert without `labels.alertname`, no status at all (neither
per-alert nor top-level), a status other than firing/resolved.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable
from urllib.parse import urljoin

from api.sources import Parsed, PayloadError, SourceEvent, require_object
from workflows.contracts import AlertInfo

STATUSES = {"firing": "trigger", "resolved": "resolve"}


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def _str(v: Any) -> str:
    return "" if v is None else v if isinstance(v, str) else str(v)


def _obj(v: Any, where: str, *, optional: bool = True) -> dict[str, Any]:
    if v is None and optional:
        return {}
    if not isinstance(v, dict):
        raise PayloadError(f"{where}: must be an object, not {type(v).__name__}")
    return v


def _first(d: dict[str, str], *keys: str) -> str:
    for k in keys:
        if d.get(k, "").strip():
            return d[k].strip()
    return ""


def group_key(body: dict[str, Any]) -> str:
    """str() of groupKey ('' when absent); a JSON number (v3 senders) is kept exactly."""
    gk = body.get("groupKey")
    if gk is None or isinstance(gk, bool):
        return ""
    if isinstance(gk, (str, int, float)):
        return str(gk)
    raise PayloadError(f"groupKey: must be a string or a number, not {type(gk).__name__}")


def label_key(labels: dict[str, str]) -> str:
    """A stable hash of alertname + sorted labels: one alert's identity without a fingerprint."""
    return "h" + _hash(labels.get("alertname", ""), *sorted(f"{k}={v}" for k, v in labels.items()))


def parse_alerts(body: dict[str, Any], *, prefix: str = "am", source: str = "alertmanager",
                 default_description: str = "",
                 alertname_fallback: Callable[[dict[str, Any], dict[str, str]], tuple[str, str]] | None = None,
                 ) -> Parsed:
    """The shared `alerts[]` part of Alertmanager and Grafana unified alerting bodies.

    `alertname_fallback(body, annotations)` -> (alertname, where it came from) names an alert
    whose own labels lack `alertname` (Grafana); without it such an alert is refused."""
    if "alerts" not in body:
        raise PayloadError("alerts: required (a list of alerts)")
    alerts = body["alerts"]
    if not isinstance(alerts, list):
        raise PayloadError(f"alerts: must be a list, not {type(alerts).__name__}")
    top_status = body.get("status")
    if top_status is not None and top_status not in STATUSES:
        raise PayloadError(f"status: must be 'firing' or 'resolved', not {top_status!r}")
    notes: list[str] = []
    truncated = body.get("truncatedAlerts")
    if isinstance(truncated, int) and not isinstance(truncated, bool) and truncated > 0:
        notes.append(f"truncatedAlerts: {truncated} alerts were not sent")
    if not alerts:
        return Parsed(events=[], notes=notes + ["no alerts"])

    gk = group_key(body)
    receiver = _str(body.get("receiver"))
    external = _str(body.get("externalURL"))
    common = {str(k): _str(v) for k, v in body["commonAnnotations"].items()} \
        if isinstance(body.get("commonAnnotations"), dict) else {}

    # First pass: validate and normalise every alert, so a bad one refuses the whole body.
    rows: list[tuple[str, dict[str, str], dict[str, str], str, dict[str, str]]] = []
    for i, raw in enumerate(alerts):
        a = _obj(raw, f"alerts[{i}]", optional=False)
        if "labels" not in a:
            raise PayloadError(f"alerts[{i}].labels: required (an object with alertname)")
        labels = {str(k): _str(v) for k, v in _obj(a["labels"], f"alerts[{i}].labels", optional=False).items()}
        annotations = {str(k): _str(v) for k, v in _obj(a.get("annotations"), f"alerts[{i}].annotations").items()}
        status = a.get("status") or top_status
        if status is None:
            raise PayloadError(f"alerts[{i}].status: missing, and the body has no top-level status")
        if status not in STATUSES:
            raise PayloadError(f"alerts[{i}].status: must be 'firing' or 'resolved', not {status!r}")
        if not labels.get("alertname", "").strip():
            if alertname_fallback is None:
                raise PayloadError(f"alerts[{i}].labels.alertname: required")
            labels["alertname"], where = alertname_fallback(body, annotations)
            notes.append(f"alerts[{i}].labels.alertname: missing, taken from {where}")
        fp = _str(a.get("fingerprint")).strip()
        # the group's common annotations name the runbook when the alert's own do not
        rows.append((status, labels, annotations, fp, _links(a, {**common, **annotations}, external)))

    fp_counts: dict[str, int] = {}
    for _, _, _, fp, _ in rows:
        if fp:
            fp_counts[fp] = fp_counts.get(fp, 0) + 1
    group_dedup = f"{prefix}:g{_hash(receiver, gk)}" if gk else ""
    any_firing = any(r[0] == "firing" for r in rows)

    events: list[SourceEvent] = []
    held = 0
    resolved_keys: set[str] = set()
    for status, labels, annotations, fp, links in rows:
        if group_dedup:
            key = group_dedup
        elif fp and fp_counts[fp] == 1:
            key = f"{prefix}:{fp}"
        else:
            key = f"{prefix}:{label_key(labels)}"
        action = STATUSES[status]
        if action == "resolve":
            if group_dedup and any_firing:
                held += 1  # the group incident stays open while any of its alerts fires
                continue
            if key in resolved_keys:
                continue  # one resolve per incident
            resolved_keys.add(key)
        info = AlertInfo(
            title=_first(annotations, "summary", "title") or labels["alertname"].strip(),
            description=_first(annotations, "description", "message") or default_description,
            service=_first(labels, "service", "job", "app", "namespace"),
            severity=_first(labels, "severity", "level"),
            labels=labels,
            dedup_key=key,
            source=source,
            links=list(links), link_texts=links,
            # the alert's own identity: a later delivery of it is a re-send, not a new alert
            fingerprint=fp[:64] or label_key(labels),
        )
        events.append(SourceEvent(action=action, alert=info))
    if held:
        notes.append(f"{held} resolved alert(s) in a group that is still firing: the group incident stays open")
    return Parsed(events=events, notes=notes)


# Where an alert points, in the order a page lists them: the runbook first (the annotation
# Prometheus rules and Grafana's alert rules use), then Grafana's dashboard and panel, the rule
# that fired (generatorURL) and Grafana's silence link.
LINK_FIELDS = (("annotations", "runbook_url", "runbook"), ("annotations", "runbook", "runbook"),
               ("alert", "dashboardURL", "dashboard"), ("alert", "panelURL", "panel"),
               ("alert", "generatorURL", "source"), ("alert", "silenceURL", "silence"))


def _links(alert: dict[str, Any], annotations: dict[str, str], external: str) -> dict[str, str]:
    """url -> what it is, in LINK_FIELDS order. A relative URL (Grafana's `?orgId=1`) is joined
    to externalURL; one that is neither http(s) nor joinable is left out."""
    out: dict[str, str] = {}
    for where, name, text in LINK_FIELDS:
        url = (annotations.get(name) if where == "annotations" else _str(alert.get(name))) or ""
        url = url.strip()
        if url and not url.startswith(("http://", "https://")) and url.startswith(("?", "/")) \
                and external.startswith(("http://", "https://")):
            url = urljoin(external, url)
        if url.startswith(("http://", "https://")):
            out.setdefault(url, text)
    return out


def parse(body: Any) -> Parsed:
    return parse_alerts(require_object(body))
