"""Room: api (HTTP edge) — the console's SLA figures and On call now pages.

SLA figures come from warroom.records.reports.sla_figures, the code behind /api/v1/metrics/sla,
once per period; the charts are inline SVG drawn here (no script, no external host). On call
now reads the same on-call files as /api/v1/oncall/now (warroom.oncall). Every signed-in
role sees it (a manager watching an incident needs who is on call): it shows names, levels and
hand-overs, never contact points, which stay with the admin-only API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.deps import OnCallDirDep, RecordsDep
from api.routes.console import PRIORITIES, SignedIn, page
from warroom.oncall import OnCallError, load_oncall
from warroom.records import reports

router = APIRouter(include_in_schema=False)

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
async def sla_page(request: Request, db: RecordsDep, who: SignedIn,
                   period: str = "week", priority: str = "", service: str = "") -> Response:
    period = period if period in PERIODS else "week"
    priority = priority if priority in PRIORITIES else ""
    data = await run_in_threadpool(figures, db, period, priority, service, datetime.now(UTC))
    return page(request, "console/sla.html", who, data=data, charts=charts(data, priority, period), period=period,
                periods=list(PERIODS), priority=priority, service=service, priorities=PRIORITIES)


# ---------------------------------------------------------------------- on call now

def next_handover(config: Any, now: datetime, *, horizon: timedelta = timedelta(days=14)) -> dict[str, datetime]:
    """When each schedule's person next changes, within the horizon: hour steps, then the minute."""
    def who(at: datetime) -> dict[tuple[str, str], str]:
        return {(e.schedule, e.layer): e.person.id if e.person else "" for e in config.on_call(at)}

    current, found = who(now), {}
    at = now
    while at < now + horizon and len(found) < len(current):
        later = at + timedelta(hours=1)
        seen = who(later)
        for key, person in current.items():
            if key[0] in found or seen.get(key, "") == person:
                continue
            lo, hi = at, later  # the change is in (lo, hi]
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if who(mid).get(key, "") == person:
                    lo = mid
                else:
                    hi = mid
            found[key[0]] = hi.replace(second=0, microsecond=0)
        at = later
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
    return page(request, "console/oncall.html", who, view=view, at=now)
