"""Post-incident reports and SLA figures, computed from the records.

Room: records (warroom/records), readers like the queries in incidents.py, used by the API and the CLI; never by
workflows/. `report_from` is pure: it takes the incident's recorded fields and its timeline
(rows from the database, or a simulated incident's state and timeline) and builds a Report;
`incident_report` and `sla_figures` read the database and call the same pure functions.

Definitions: warroom/records/sla.py (each SLA judged against the priority in force at that
moment). The figures count each incident under its recorded (latest) priority.

- mean, p50 and p90 are in seconds; percentiles use the nearest-rank method: the value at
  rank ceil(p/100 * n) of the n values sorted ascending (always one of the observed values).
- escalation rate: incidents with at least one `escalated` event, over the count.
- reopen rate: incidents with at least one `reopened` event, over the count.
- `start`/`end` select incidents by created_at (start <= created_at < end); the as-of time
  for open incidents is `now` (default: the current time).

Attainments and rates are given as {"met": n, "total": d, "rate": n / d or None}.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from warroom import records
from warroom.records.sla import Event, SlaResult, events_of, judge
from warroom.timeparse import utc
from workflows.contracts import ResponsePolicy
from workflows.policy import default_policy

ACTION_TYPES = ("action.started", "action.succeeded", "action.failed", "rollback.started", "rollback.succeeded",
                "rollback.failed", "check.passed", "check.failed", "step.completed", "verification.passed",
                "verification.failed")


def _dt(value: Any) -> datetime | None:
    """A recorded time (a datetime, naive from SQLite, or ISO text in a timeline's details) in UTC."""
    return utc(value)


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    m = round(seconds / 60, 1)
    return f"{m:.0f} min" if m.is_integer() else f"{m:.1f} min"


# ------------------------------------------------------------------ data


@dataclass
class Report:
    incident_id: str
    title: str
    service: str
    category: str
    priority: str
    status: str
    phase: str
    escalation_level: int
    commander: str | None
    runbook: str
    runbook_version: str
    alert_count: int
    created_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    summary: str
    impact: str
    priority_history: list[dict[str, Any]]
    timeline: list[Event]
    phases: list[dict[str, Any]]  # {phase, start, end}
    actions: list[dict[str, Any]]
    communications: list[dict[str, Any]]
    escalations: list[dict[str, Any]]
    sla: SlaResult
    root_cause: str | None = None
    contributing_factors: list[str] = field(default_factory=list)
    lessons: list[str] = field(default_factory=list)
    action_items: list[dict[str, Any]] = field(default_factory=list)  # {title, owner, due}

    def to_dict(self) -> dict[str, Any]:
        def conv(v: Any) -> Any:
            if isinstance(v, datetime):
                return v.isoformat()
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            if isinstance(v, list):
                return [conv(x) for x in v]
            return v

        return conv(asdict(self))


# ------------------------------------------------------------------ report


def _action_item(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        return {"title": item, "owner": "", "due": ""}
    return {"title": str(item.get("title") or ""), "owner": str(item.get("owner") or ""),
            "due": str(item.get("due") or "")}


def _communication(c: Any) -> dict[str, Any]:
    """A communications row as the report lists it."""
    return {"at": c.sent_at or c.created_at, "kind": c.kind, "target": c.target, "channel": c.channel,
            "recipients": list(c.recipients or []), "status": c.status, "subject": c.subject, "body": c.body,
            "error": c.error}


def report_from(incident: Mapping[str, Any], events: Iterable[Mapping[str, Any] | Any], *,
                policy: ResponsePolicy | None = None, now: datetime | None = None,
                communications: Iterable[Any] | None = None) -> Report:
    """The report of one incident from its recorded fields (an IncidentRow's columns or a
    simulated IncidentState as JSON) and its timeline events (dicts or rows with seq, at,
    type, actor, details). `communications` are its communications rows (recipients, subject,
    body, delivery status); without them the list comes from the timeline's notification events."""
    policy = policy or default_policy()
    now = now or datetime.now(UTC)
    evs = events_of(events)
    g = incident.get
    created, acked, resolved, closed = (_dt(g(k)) for k in ("created_at", "acknowledged_at", "resolved_at",
                                                             "closed_at"))
    if created is None and evs:
        created = evs[0].at
    priority = str(g("priority") or "P3")

    history: list[dict[str, Any]] = []
    for e in evs:
        if e.type == "triggered":
            history.append({"at": e.at, "from": None, "to": e.details.get("priority", priority),
                            "reason": e.details.get("priority_reason") or "initial classification",
                            "actor": e.actor})
        elif e.type == "priority.changed":
            history.append({"at": e.at, "from": e.details.get("from"), "to": e.details.get("to"),
                            "reason": e.details.get("reason") or "", "actor": e.actor})

    phases: list[dict[str, Any]] = []
    for e in evs:
        if e.type == "phase.started" and e.details.get("phase"):
            if phases and phases[-1]["end"] is None:
                phases[-1]["end"] = e.at
            phases.append({"phase": e.details["phase"], "start": e.at, "end": None})
        elif e.type == "phase.completed" and phases and phases[-1]["phase"] == e.details.get("phase"):
            phases[-1]["end"] = phases[-1]["end"] or e.at
    if phases and phases[-1]["end"] is None:
        phases[-1]["end"] = evs[-1].at if evs else None

    actions: list[dict[str, Any]] = []
    started: dict[str, dict[str, Any]] = {}
    for e in evs:
        if e.type not in ACTION_TYPES:
            continue
        step = str(e.details.get("step") or "")
        if e.type in ("action.started", "rollback.started"):
            item = {"step": step, "kind": e.details.get("kind", ""), "started_at": e.at, "finished_at": None,
                    "result": "running", "detail": "", "rollback_of": e.details.get("of")}
            started[step] = item
            actions.append(item)
            continue
        if e.type in ("verification.passed", "verification.failed"):
            actions.append({"step": "verification", "kind": "verify", "started_at": e.at, "finished_at": e.at,
                            "result": e.type.split(".")[1], "detail": ", ".join(map(str, e.details.get(
                                "failed") or e.details.get("checks") or [])), "rollback_of": None})
            continue
        result = e.type.split(".")[1]
        if e.type == "step.completed":
            result = str(e.details.get("result") or "completed")
        detail = e.details.get("detail") or e.details.get("note") or ""
        item = started.pop(step, None) if e.type.split(".")[0] in ("action", "rollback") else None
        if item is None:
            item = {"step": step, "kind": e.details.get("kind", "manual" if e.type == "step.completed" else ""),
                    "started_at": e.at, "finished_at": None, "result": "", "detail": "", "rollback_of": None}
            actions.append(item)
        item.update(finished_at=e.at, result=result, detail=str(detail)[:500])

    if communications is not None:
        comms = sorted((_communication(c) for c in communications), key=lambda c: _dt(c["at"]) or datetime.min.replace(
            tzinfo=UTC))
    else:
        comms = [{"at": e.at, "kind": e.details.get("kind", ""), "target": e.details.get("target", ""),
                  "channel": e.details.get("channel", ""), "recipients": list(e.details.get("recipients") or []),
                  "status": e.details.get("status") or ("FAILED" if e.type == "notification.failed" else "SENT"),
                  "subject": e.details.get("subject", ""), "body": "", "error": e.details.get("error") or ""}
                 for e in evs if e.type in ("notification.sent", "notification.failed")]
    escalations = [{"at": e.at, "level": e.details.get("level"), "previous_level": e.details.get("previous_level"),
                    "reason": e.details.get("reason", ""), "actor": e.actor, "note": e.details.get("note") or ""}
                   for e in evs if e.type == "escalated"]
    root_cause, items = None, []
    for e in evs:
        if e.type == "review.submitted":
            root_cause = e.details.get("root_cause")
            items = [_action_item(i) for i in e.details.get("action_items") or []]
    review = g("review") or {}  # a simulated incident's state carries the whole review

    sla = judge(priority, created, acked, resolved, evs, policy, now)
    trig = next((e for e in evs if e.type == "triggered"), None)
    title, service = str(g("title") or ""), str(g("service") or "")
    summary = (f"{priority} incident '{title}' on {service or 'an unnamed service'}"
               f"{' (' + str(g('category')) + ')' if g('category') else ''}: opened {_fmt(created)}, "
               + (f"acknowledged after {_minutes(sla.ack_seconds)}" if acked else "never acknowledged")
               + (f", resolved after {_minutes(sla.resolve_seconds)}" if resolved else ", not resolved")
               + f"; status {g('status') or '-'}; escalation level {g('escalation_level') or 1}"
               + (f"; commander {g('commander')}" if g("commander") else "")
               + (f"; runbook {g('runbook')} {g('runbook_version') or ''}".rstrip() if g("runbook") else "") + ".")
    affected = [e.details.get("affected_users") for e in evs if e.details.get("affected_users")]
    impact_parts = [f"service {service or '-'}", f"{g('alert_count') or 0} alert(s)"]
    if affected:
        impact_parts.append(f"up to {max(affected)} affected users")
    if trig and trig.details.get("description"):
        impact_parts.append(str(trig.details["description"]))
    if resolved and created:
        impact_parts.append(f"duration {_minutes(sla.resolve_seconds)}")
    return Report(
        incident_id=str(g("incident_id") or ""), title=title, service=service, category=str(g("category") or ""),
        priority=priority, status=str(g("status") or ""), phase=str(g("phase") or ""),
        escalation_level=int(g("escalation_level") or 1), commander=g("commander"),
        runbook=str(g("runbook") or ""), runbook_version=str(g("runbook_version") or ""),
        alert_count=int(g("alert_count") or 0), created_at=created, acknowledged_at=acked, resolved_at=resolved,
        closed_at=closed, summary=summary, impact="; ".join(impact_parts), priority_history=history, timeline=evs,
        phases=phases, actions=actions, communications=comms, escalations=escalations, sla=sla,
        root_cause=root_cause, action_items=items,
        contributing_factors=list(review.get("contributing_factors") or []),
        lessons=list(review.get("lessons") or []),
    )


def incident_report(engine: Engine, incident_id: str, *, policy: ResponsePolicy | None = None,
                    now: datetime | None = None) -> Report | None:
    """The report of a recorded incident, or None when the records do not know it."""
    row = records.incident(engine, incident_id=incident_id)
    if row is None:
        return None
    fields: dict[str, Any] = {c: getattr(row, c) for c in records.IncidentRow.__table__.columns.keys()}
    reviews = records.detail(engine, incident_id=incident_id)["reviews"]
    if reviews:
        fields["review"] = {"contributing_factors": reviews[0].contributing_factors, "lessons": reviews[0].lessons}
    return report_from(fields, records.timeline(engine, incident_id=incident_id), policy=policy, now=now,
                       communications=records.communications(engine, incident_id=incident_id))


# ------------------------------------------------------------------ rendering


def _fmt(d: datetime | None) -> str:
    return d.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if d else "-"


def _yes(v: bool | None) -> str:
    return "pending" if v is None else ("yes" if v else "NO")


def _sla_lines(r: Report) -> list[tuple[str, str]]:
    s = r.sla
    return [
        ("Acknowledged on time", f"{_yes(s.ack_on_time)} — {_minutes(s.ack_seconds)} "
                                 f"(SLA {_minutes(s.ack_sla_seconds)}"
                                 + (f" as {s.ack_priority}" if s.ack_priority != r.priority else "") + ")"),
        ("Updates on time", f"{s.updates_on_time} of {s.updates_due} due (every {_minutes(s.update_interval_seconds)}); "
                            f"{s.stakeholder_updates_sent} stakeholder updates sent"),
        ("Resolve target met", f"{_yes(s.resolve_met)} — {_minutes(s.resolve_seconds)} "
                               f"(target {_minutes(s.resolve_target_seconds)}"
                               + (f" as {s.resolve_priority}" if s.resolve_priority != r.priority else "") + ")"),
    ]


def _details(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items() if k not in ("message", "subject", "recipients"))[:200]


def _md_cell(v: Any) -> str:
    return str("" if v is None else v).replace("|", "\\|").replace("\n", " ")


def _item_text(i: dict[str, Any]) -> str:
    extra = ", ".join(x for x in (f"owner {i['owner']}" if i["owner"] else "", f"due {i['due']}" if i["due"] else "")
                      if x)
    return i["title"] + (f" ({extra})" if extra else "")


def render_markdown(r: Report) -> str:
    out = [f"# Post-incident report: {r.title}", "", f"Incident `{r.incident_id}` · {r.priority} · {r.status}", "",
           "## Summary", "", r.summary, "", "## Impact", "", r.impact, "", "## SLA results", ""]
    out += [f"- **{k}**: {v}" for k, v in _sla_lines(r)]
    out += ["", "## Priority history", "", "| at | from | to | by | reason |", "|---|---|---|---|---|"]
    out += [f"| {_fmt(h['at'])} | {_md_cell(h['from'] or '-')} | {_md_cell(h['to'])} | {_md_cell(h['actor'])} | "
            f"{_md_cell(h['reason'])} |" for h in r.priority_history]
    out += ["", "## Escalations", ""]
    out += [f"- {_fmt(e['at'])}: level {e['level']} ({e['reason']}) by {e['actor']}"
            + (f" — {e['note']}" if e["note"] else "") for e in r.escalations] or ["None."]
    out += ["", "## Actions and results", ""]
    if r.actions:
        out += ["| step | kind | started | finished | result | detail |", "|---|---|---|---|---|---|"]
        out += [f"| {_md_cell(a['step'])} | {_md_cell(a['kind'])} | {_fmt(a['started_at'])} | {_fmt(a['finished_at'])} "
                f"| {_md_cell(a['result'])} | {_md_cell(a['detail'])} |" for a in r.actions]
    else:
        out.append("None.")
    out += ["", "## Communications sent", ""]
    if r.communications:
        out += ["| at | kind | to | recipients | channel | subject | status |", "|---|---|---|---|---|---|---|"]
        out += [f"| {_fmt(_dt(c['at']))} | {_md_cell(c['kind'])} | {_md_cell(c['target'])} "
                f"| {_md_cell(', '.join(c['recipients']))} | {_md_cell(c['channel'])} | {_md_cell(c['subject'])} "
                f"| {_md_cell(c['status'])} |" for c in r.communications]
    else:
        out.append("None.")
    out += ["", "## Root cause", "", r.root_cause or "Review not submitted yet."]
    if r.contributing_factors:
        out += ["", "Contributing factors:", ""] + [f"- {f}" for f in r.contributing_factors]
    if r.lessons:
        out += ["", "Lessons:", ""] + [f"- {x}" for x in r.lessons]
    out += ["", "## Action items", ""]
    out += [f"- [ ] {_item_text(i)}" for i in r.action_items] or ["None recorded."]
    out += ["", "## Timeline", "", "| at | event | by | details |", "|---|---|---|---|"]
    out += [f"| {_fmt(e.at)} | {_md_cell(e.type)} | {_md_cell(e.actor)} | {_md_cell(_details(e.details))} |"
            for e in r.timeline]
    return "\n".join(out) + "\n"


_PHASE_COLOURS = ["#dbeafe", "#fef3c7", "#dcfce7", "#fce7f3", "#ede9fe", "#e0f2fe", "#f3f4f6"]


def timeline_svg(r: Report, *, width: int = 960) -> str:
    """Events on a time axis (one circle.event per timeline event), phases as bands."""
    h, left, right, top = 160, 40, 20, 20
    if not r.timeline:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="40" role="img"></svg>'
    t0 = r.timeline[0].at.timestamp()
    t1 = max(r.timeline[-1].at.timestamp(), t0 + 1)
    span = t1 - t0

    def x(d: datetime) -> float:
        return round(left + (d.timestamp() - t0) / span * (width - left - right), 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" viewBox="0 0 {width} {h}" '
             f'role="img" aria-label="incident timeline">']
    for i, p in enumerate(r.phases):
        x0, x1 = x(p["start"]), x(p["end"] or r.timeline[-1].at)
        parts.append(f'<rect class="phase" x="{x0}" y="{top}" width="{max(x1 - x0, 1)}" height="90" '
                     f'fill="{_PHASE_COLOURS[i % len(_PHASE_COLOURS)]}"><title>{html.escape(p["phase"])}</title></rect>')
        parts.append(f'<text x="{x0 + 2}" y="{top + 12}" font-size="10">{html.escape(p["phase"])}</text>')
    axis_y = top + 100
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#333"/>')
    for k in range(6):
        t = t0 + span * k / 5
        tx = round(left + (width - left - right) * k / 5, 1)
        label = f"+{int((t - t0) // 3600):d}h{int((t - t0) % 3600 // 60):02d}m"
        parts.append(f'<line x1="{tx}" y1="{axis_y}" x2="{tx}" y2="{axis_y + 4}" stroke="#333"/>'
                     f'<text x="{tx}" y="{axis_y + 16}" font-size="10" text-anchor="middle">{label}</text>')
    colour = {"escalated": "#dc2626", "acknowledged": "#16a34a", "resolved": "#2563eb", "triggered": "#b91c1c"}
    for i, e in enumerate(r.timeline):
        cy = top + 30 + (i % 6) * 10
        fill = colour.get(e.type, "#dc2626" if e.type.endswith("failed") else "#555")
        parts.append(f'<circle class="event" data-seq="{e.seq}" cx="{x(e.at)}" cy="{cy}" r="4" fill="{fill}">'
                     f'<title>{html.escape(_fmt(e.at) + " " + e.type + " (" + e.actor + ")")}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(r: Report) -> str:
    esc = html.escape

    def table(head: list[str], rows: list[list[Any]]) -> str:
        if not rows:
            return "<p>None.</p>"
        th = "".join(f"<th>{esc(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{esc(str('' if c is None else c))}</td>" for c in row) + "</tr>"
                       for row in rows)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"

    sla = "".join(f"<li><strong>{esc(k)}</strong>: {esc(v)}</li>" for k, v in _sla_lines(r))
    items = "".join(f"<li>{esc(_item_text(i))}</li>" for i in r.action_items) or "<li>None recorded.</li>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Post-incident report: {esc(r.title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1000px;color:#111}}
table{{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}}
th,td{{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}}
th{{background:#f3f4f6}}
</style></head><body>
<h1>Post-incident report: {esc(r.title)}</h1>
<p>Incident <code>{esc(r.incident_id)}</code> · {esc(r.priority)} · {esc(r.status)}</p>
<h2>Summary</h2><p>{esc(r.summary)}</p>
<h2>Impact</h2><p>{esc(r.impact)}</p>
<h2>Timeline chart</h2>
{timeline_svg(r)}
<h2>SLA results</h2><ul>{sla}</ul>
<h2>Priority history</h2>
{table(["at", "from", "to", "by", "reason"], [[_fmt(h["at"]), h["from"] or "-", h["to"], h["actor"], h["reason"]]
                                            for h in r.priority_history])}
<h2>Escalations</h2>
{table(["at", "level", "reason", "by", "note"], [[_fmt(e["at"]), e["level"], e["reason"], e["actor"], e["note"]]
                                               for e in r.escalations])}
<h2>Actions and results</h2>
{table(["step", "kind", "started", "finished", "result", "detail"],
       [[a["step"], a["kind"], _fmt(a["started_at"]), _fmt(a["finished_at"]), a["result"], a["detail"]]
        for a in r.actions])}
<h2>Communications sent</h2>
{table(["at", "kind", "to", "recipients", "channel", "subject", "status"],
       [[_fmt(_dt(c["at"])), c["kind"], c["target"], ", ".join(c["recipients"]), c["channel"], c["subject"],
         c["status"]] for c in r.communications])}
<h2>Root cause</h2><p>{esc(r.root_cause or "Review not submitted yet.")}</p>
<h2>Action items</h2><ul>{items}</ul>
<h2>Timeline</h2>
{table(["at", "event", "by", "details"], [[_fmt(e.at), e.type, e.actor, _details(e.details)] for e in r.timeline])}
</body></html>
"""


# ------------------------------------------------------------------ figures


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the value at rank ceil(p/100 * n) of the sorted values."""
    if not values:
        return None
    s = sorted(values)
    return s[max(1, math.ceil(p / 100 * len(s))) - 1]


def _stats(values: list[float]) -> dict[str, float | None]:
    return {"mean": sum(values) / len(values) if values else None, "p50": percentile(values, 50),
            "p90": percentile(values, 90)}


def _rate(met: int, total: int) -> dict[str, Any]:
    return {"met": met, "total": total, "rate": met / total if total else None}


def sla_figures(engine: Engine, *, start: datetime | None = None, end: datetime | None = None,
                priority: str | None = None, service: str | None = None, policy: ResponsePolicy | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    """Figures per priority over the recorded incidents (definitions in the module docstring):
    {"as_of", "filters", "by_priority": {"P0": {count, mtta, mttr, response_sla, resolve_target,
    update_cadence, escalation_rate, reopen_rate}, ...}} with every policy priority present."""
    policy = policy or default_policy()
    now = now or datetime.now(UTC)
    conds = []
    if start is not None:
        conds.append(records.IncidentRow.created_at >= start)
    if end is not None:
        conds.append(records.IncidentRow.created_at < end)
    if priority:
        conds.append(records.IncidentRow.priority == priority)
    if service:
        conds.append(records.IncidentRow.service == service)
    with Session(engine) as session:
        rows = list(session.scalars(select(records.IncidentRow).where(*conds)))
        events: dict[str, list[records.TimelineRow]] = {r.run_id: [] for r in rows}
        ids = list(events)
        for i in range(0, len(ids), 500):
            for ev in session.scalars(select(records.TimelineRow).where(records.TimelineRow.run_id.in_(ids[i:i + 500]))):
                events[ev.run_id].append(ev)
    keys = [p for p in policy.priorities if not priority or p == priority]
    acc: dict[str, dict[str, Any]] = {
        p: {"count": 0, "tta": [], "ttr": [], "ack": [0, 0], "res": [0, 0], "upd": [0, 0], "esc": 0, "reopen": 0}
        for p in keys}
    for row in rows:
        a = acc.setdefault(row.priority, {"count": 0, "tta": [], "ttr": [], "ack": [0, 0], "res": [0, 0],
                                          "upd": [0, 0], "esc": 0, "reopen": 0})
        evs = events_of(events[row.run_id])
        s = judge(row.priority, row.created_at, row.acknowledged_at, row.resolved_at, evs, policy, now)
        a["count"] += 1
        if s.ack_seconds is not None:
            a["tta"].append(s.ack_seconds)
        if s.resolve_seconds is not None:
            a["ttr"].append(s.resolve_seconds)
        for key, ok in (("ack", s.ack_on_time), ("res", s.resolve_met)):
            if ok is not None:
                a[key][0] += int(ok)
                a[key][1] += 1
        a["upd"][0] += s.updates_on_time
        a["upd"][1] += s.updates_due
        a["esc"] += any(e.type == "escalated" for e in evs)
        a["reopen"] += any(e.type == "reopened" for e in evs)
    by_priority = {
        p: {"count": a["count"], "mtta_seconds": _stats(a["tta"]), "mttr_seconds": _stats(a["ttr"]),
            "response_sla": _rate(*a["ack"]), "resolve_target": _rate(*a["res"]), "update_cadence": _rate(*a["upd"]),
            "escalation_rate": _rate(a["esc"], a["count"]), "reopen_rate": _rate(a["reopen"], a["count"])}
        for p, a in sorted(acc.items())
    }
    return {"as_of": now.isoformat(),
            "filters": {"from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
                        "priority": priority, "service": service},
            "by_priority": by_priority}
