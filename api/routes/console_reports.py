"""Room: api (HTTP edge) — the console's SLA figures and On call now pages.

SLA figures come from warroom.records.reports.sla_figures, the code behind /api/v1/metrics/sla,
once per period; the table per category and priority over the last 30 days from
warroom.records.statistics, the code behind /api/v1/statistics; the charts are inline SVG drawn here (no script, no external host). On call
now reads the same on-call files as /api/v1/oncall/now (warroom.oncall). Every signed-in
role sees it (a manager watching an incident needs who is on call): it shows names, levels and
hand-overs, never contact points, which stay with the admin-only API. Its Subscribe buttons make
a calendar feed token (api/routes/calendars.py, the same rules as POST /api/v1/oncall/feeds) and
show the feed's address once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.body import JsonRoute
from api.console import session as sessions
from api.deps import OnCallDirDep, RecordsDep, SettingsDep
from api.routes.calendars import feed_url, make_feed
from api.routes.console import PRIORITIES, SignedIn, form_of, page
from warroom.oncall import OnCallError, load_oncall
from warroom.records import reports
from warroom.records import statistics as stats

router = APIRouter(route_class=JsonRoute, include_in_schema=False)

PERIODS = {"day": timedelta(days=1), "week": timedelta(weeks=1), "month": timedelta(days=30)}
SPANS = 8  # periods shown, the current one last


def periods(kind: str, now: datetime) -> list[tuple[datetime, datetime]]:
    step = PERIODS[kind]
    if kind == "day":
        end = now.replace(hour=0, minute=0, second=0, microsecond=0) + step
    elif kind == "week":
        end = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0) + step
    else:
        end = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return [(end - step * (i + 1), end - step * i) for i in reversed(range(SPANS))]


def figures(db: Any, kind: str, priority: str, service: str, now: datetime) -> dict[str, Any]:
    rows = []
    for start, end in periods(kind, now):
        f = reports.sla_figures(db, start=start, end=end, priority=priority or None, service=service or None, now=now)
        rows.append({"start": start, "end": end, "by_priority": f["by_priority"]})
    total = reports.sla_figures(db, start=rows[0]["start"], end=rows[-1]["end"], priority=priority or None,
                                service=service or None, now=now)
    return {"periods": rows, "total": total["by_priority"]}


def chart(series: list[tuple[str, float | None]], *, unit: str, width: int = 360, height: int = 120) -> str:
    """A bar chart as inline SVG: one bar per period, its value on top (None: no bar)."""
    top = max([v for _, v in series if v is not None] + [0.0]) or 1.0
    bar = width / max(len(series), 1)
    parts = [f'<svg viewBox="0 0 {width} {height + 30}" width="100%" role="img" class="chart">']
    for i, (label, v) in enumerate(series):
        x = i * bar + 4
        if v is not None:
            h = max(2.0, (height - 16) * v / top)
            parts.append(f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar - 8:.1f}" height="{h:.1f}" rx="2"/>')
            parts.append(f'<text x="{x + (bar - 8) / 2:.1f}" y="{height - h - 3:.1f}" text-anchor="middle">'
                         f'{v:.0f}{unit}</text>')
        parts.append(f'<text x="{x + (bar - 8) / 2:.1f}" y="{height + 16}" text-anchor="middle" class="axis">'
                     f'{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def charts(data: dict[str, Any], priority: str, kind: str) -> dict[str, str]:
    def label(p: dict[str, Any]) -> str:
        return p["start"].strftime("%m-%d")

    def value(p: dict[str, Any], pick: Any) -> float | None:
        figs = [f for k, f in p["by_priority"].items() if not priority or k == priority]
        vals = [pick(f) for f in figs if pick(f) is not None]
        return sum(vals) / len(vals) if vals else None

    ps = data["periods"]
    mtta = [(label(p), value(p, lambda f: (f["mtta_seconds"]["mean"] or 0) / 60 if f["count"] and
                             f["mtta_seconds"]["mean"] is not None else None)) for p in ps]
    mttr = [(label(p), value(p, lambda f: (f["mttr_seconds"]["mean"] or 0) / 60 if f["count"] and
                             f["mttr_seconds"]["mean"] is not None else None)) for p in ps]
    att = [(label(p), value(p, lambda f: f["response_sla"]["rate"] * 100 if f["response_sla"]["rate"] is not None
                            else None)) for p in ps]
    return {"MTTA (mean, minutes)": chart(mtta, unit="m"), "MTTR (mean, minutes)": chart(mttr, unit="m"),
            "Response SLA attainment (%)": chart(att, unit="%")}


@router.get("/sla", response_class=HTMLResponse)
async def sla_page(request: Request, db: RecordsDep, who: SignedIn, settings: SettingsDep,
                   period: str = "week", priority: str = "", service: str = "") -> Response:
    period = period if period in PERIODS else "week"
    priority = priority if priority in PRIORITIES else ""
    now = datetime.now(UTC)
    data = await run_in_threadpool(figures, db, period, priority, service, now)
    by_category = await run_in_threadpool(lambda: stats.incident_statistics(
        db, now=now, service=service or None, keywords=stats.configured_keywords(settings.classification_file)))
    if priority:
        by_category["rows"] = [r for r in by_category["rows"] if r["priority"] == priority]
    return page(request, "console/sla.html", who, data=data, charts=charts(data, priority, period), period=period,
                periods=list(PERIODS), priority=priority, service=service, priorities=PRIORITIES,
                by_category=by_category)


# ---------------------------------------------------------------------- on call now

def next_handover(config: Any, now: datetime, *, horizon: timedelta = timedelta(days=14)) -> dict[str, datetime]:
    """When each schedule's people next change, within the horizon (the calendar's expansion)."""
    found = {}
    for sid, schedule in config.schedules.items():
        spans = schedule.spans(now, now + horizon)
        current = spans[0].shifts if spans and spans[0].start <= now else ()
        change = next((s.start for s in spans if s.start > now and s.shifts != current), None)
        if change is None and spans and spans[-1].end < now + horizon:
            change = spans[-1].end  # then nobody
        if change is not None:
            found[sid] = change
    return found


def oncall_view(directory: Any, now: datetime) -> dict[str, Any]:
    try:
        config = load_oncall(directory)
    except OnCallError as err:
        return {"error": str(err), "teams": {}}
    handovers = next_handover(config, now)
    teams: dict[str, list[dict[str, Any]]] = {}
    for e in config.on_call(now):
        teams.setdefault(e.team, []).append({"schedule": e.schedule, "layer": e.layer, "levels": list(e.levels),
                                             "person": e.person.name if e.person else "nobody",
                                             "local_time": e.local_time, "source": e.source,
                                             "handover": handovers.get(e.schedule)})
    return {"error": "", "teams": teams}


@router.get("/oncall", response_class=HTMLResponse)
async def oncall_page(request: Request, directory: OnCallDirDep,
                      who: SignedIn) -> Response:
    now = datetime.now(UTC)
    view = await run_in_threadpool(oncall_view, directory, now)
    return page(request, "console/oncall.html", who, view=view, at=now, feed=None)


@router.post("/oncall/subscribe", response_class=HTMLResponse)
async def oncall_subscribe(request: Request, directory: OnCallDirDep, db: RecordsDep, settings: SettingsDep,
                           who: SignedIn) -> Response:
    """A feed token for a team's shifts (form field `team`) or the signed-in person's own, shown once."""
    form = await form_of(request)
    if not sessions.csrf_ok(request, who, form.get("csrf", "")):
        raise HTTPException(403, "the form's CSRF token is missing or not this session's: reload the page")
    now = datetime.now(UTC)
    view = await run_in_threadpool(oncall_view, directory, now)
    if view["error"]:
        return page(request, "console/oncall.html", who, view=view, at=now, feed=None, status_code=503)
    config = await run_in_threadpool(load_oncall, directory)
    try:
        made, token = await run_in_threadpool(lambda: make_feed(db, config, who.principal,
                                                                team=form.get("team") or None, person=None))
    except HTTPException as err:  # not an on-call person, an unknown team: said on the page
        return page(request, "console/oncall.html", who, view=view, at=now, feed={"error": err.detail},
                    status_code=err.status_code)
    url, webcal = feed_url(request, settings.public_url, made.feed, token)
    return page(request, "console/oncall.html", who, view=view, at=now,
                feed={"feed": made.feed, "url": url, "webcal": webcal})
