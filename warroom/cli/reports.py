"""`warroom report ID` and `warroom stats`: the post-incident report and SLA figures.

Room: CLI (a composition root). Both read the records database directly (WARROOM_DATABASE_URL,
or the SQLite file in the data directory), like `warroom keys`.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from warroom.cli.keys import fail, records_engine
from warroom.timeparse import utc


class ReportFormat(str, Enum):
    md = "md"
    html = "html"


def _when(value: str | None, name: str) -> datetime | None:
    try:
        return utc(value)
    except ValueError:
        raise fail(f"{name}: not an ISO date or time: {value!r}") from None


def report_command(
    incident_id: Annotated[str, typer.Argument(help="incident id")],
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="md or html")] = ReportFormat.md,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file")] = None,
) -> None:
    """The post-incident report of a recorded incident (Markdown, or a standalone HTML page)."""
    from warroom.records import reports  # SQLAlchemy: loaded when the command runs

    engine = records_engine()
    try:
        report = reports.incident_report(engine, incident_id)
    finally:
        engine.dispose()
    if report is None:
        raise fail(f"no recorded incident {incident_id}")
    text = reports.render_html(report) if format == ReportFormat.html else reports.render_markdown(report)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")
    else:
        typer.echo(text, nl=False)


def _secs(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v / 60:.1f}m" if v < 3600 else f"{v / 3600:.2f}h"


def _pct(r: dict[str, Any]) -> str:
    return "-" if r["rate"] is None else f"{r['rate'] * 100:.1f}% ({r['met']}/{r['total']})"


def _span(v: float | None) -> str:
    from warroom.timeparse import span

    return "-" if v is None else span(v)


def category_stats(days: int, service: str | None, as_json: bool) -> None:
    """The per-category table (warroom.records.statistics): `warroom stats --by-category`."""
    from warroom.records import statistics
    from warroom.settings import Settings

    keywords = statistics.configured_keywords(Settings().classification_file)
    engine = records_engine()
    try:
        figures = statistics.incident_statistics(engine, days=days, service=service, keywords=keywords)
    except ValueError as err:
        raise fail(f"--{err}") from None
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
        return
    title = f"Incidents per category and priority, last {days} days" + (f" — {service}" if service else "")
    table = Table(title=title, caption=f"{figures['from'][:16]} – {figures['to'][:16]} UTC")
    for col in ("category", "priority", "count", "open", "ack mean", "ack median", "resolve mean", "resolve median"):
        table.add_column(col)
    for row in [*figures["rows"], {"category": "all", "priority": "", **figures["total"]}]:
        a, r = row["time_to_ack_seconds"], row["time_to_resolve_seconds"]
        table.add_row(row["category"], row["priority"], str(row["count"]), str(row["open"]), _span(a["mean"]),
                      _span(a["median"]), _span(r["mean"]), _span(r["median"]))
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    if not figures["rows"]:
        typer.echo(f"no incidents in the last {days} days")


def stats_command(
    from_: Annotated[str | None, typer.Option("--from", help="incidents created at or after (ISO)")] = None,
    to: Annotated[str | None, typer.Option("--to", help="incidents created before (ISO)")] = None,
    priority: Annotated[str | None, typer.Option("--priority", help="P0..P4")] = None,
    service: Annotated[str | None, typer.Option("--service")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    by_category: Annotated[bool, typer.Option(
        "--by-category", help="per category and priority over the last --days: count, open, mean and median "
                              "time to ack and to resolve")] = False,
    days: Annotated[int, typer.Option("--days", help="with --by-category: the window, in days before now")] = 30,
) -> None:
    """SLA figures per priority: MTTA, MTTR, SLA attainment, escalation and reopen rates; with
    --by-category, incidents per category and priority over the last 30 days."""
    from warroom.records import reports

    if by_category:
        if from_ or to or priority:
            raise fail("--by-category takes --days and --service (not --from, --to or --priority)")
        category_stats(days, service, as_json)
        return

    start, end = _when(from_, "--from"), _when(to, "--to")
    engine = records_engine()
    try:
        figures = reports.sla_figures(engine, start=start, end=end, priority=priority, service=service)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
        return
    table = Table(title="SLA figures" + (f" — {service}" if service else ""))
    for col in ("priority", "count", "MTTA mean", "MTTA p50", "MTTA p90", "MTTR mean", "MTTR p50", "MTTR p90",
                "ack SLA", "resolve target", "updates", "escalated", "reopened"):
        table.add_column(col)
    for p, f in figures["by_priority"].items():
        a, r = f["mtta_seconds"], f["mttr_seconds"]
        table.add_row(p, str(f["count"]), _secs(a["mean"]), _secs(a["p50"]), _secs(a["p90"]), _secs(r["mean"]),
                      _secs(r["p50"]), _secs(r["p90"]), _pct(f["response_sla"]), _pct(f["resolve_target"]),
                      _pct(f["update_cadence"]), _pct(f["escalation_rate"]), _pct(f["reopen_rate"]))
    Console(width=None if sys.stdout.isatty() else 200).print(table)
