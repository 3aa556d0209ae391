"""The `warroom` command: run the stack, rehearse incidents, manage records.

Room: CLI (a composition root). Subcommands build Settings and hand over to the module
that does the work; nothing durable happens here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from warroom.cli.console import console_app
from warroom.cli.incidents import incidents_app
from warroom.cli.keys import integrations_app, keys_app
from warroom.cli.oncall import oncall_app
from warroom.cli.reports import report_command, stats_command
from warroom.cli.runbooks import runbooks_app
from warroom.cli.timeline import describe, format_offset
from warroom.settings import Settings

app = typer.Typer(help="warroom: incident response as durable Temporal workflows.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="The records database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(console_app, name="console")
app.add_typer(incidents_app, name="incidents")
app.add_typer(oncall_app, name="oncall")


def _logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def dev() -> None:
    """Start the embedded stack: Temporal dev server (SQLite), worker and API."""
    from warroom.cli.dev import run_dev

    settings = Settings()
    _logging(settings)
    asyncio.run(run_dev(settings))


@app.command()
def worker() -> None:
    """Run only the worker, against WARROOM_TEMPORAL_ADDRESS (production)."""
    from worker import main

    main()


@app.command()
def api() -> None:
    """Run only the HTTP API (production)."""
    import uvicorn

    from api.app import create_app

    settings = Settings()
    _logging(settings)
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the records schema (Alembic migrations, warroom/records/migrations/)."""
    from warroom import records

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = records.make_engine(settings.db_url())
    records.create_schema(engine)
    typer.echo(f"records schema at revision {records.schema_revision(engine)} "
               f"({engine.url.render_as_string(hide_password=True)})")


@app.command()
def simulate(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML (see runbooks/scenarios/)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Run one incident of a scenario in virtual time and print its timeline."""
    from warroom.cli.simulate import ScenarioError, load_scenario, run_scenario

    settings = Settings()
    logging.basicConfig(level=logging.ERROR)
    try:
        sc = load_scenario(scenario)
        result = asyncio.run(run_scenario(sc, settings))
    except ScenarioError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    console = Console(width=None if sys.stdout.isatty() else 140)
    inc = result["incident"]
    table = Table(title=f"{inc['priority']} {inc['title']}  ({inc['incident_id']})", show_lines=False)
    for col in ("offset", "event", "actor", "details"):
        table.add_column(col, overflow="fold")
    for row in result["timeline"]:
        table.add_row(format_offset(row["offset_seconds"]), row["type"], row["actor"], describe(row))
    console.print(table)
    console.print(f"final: status {inc['status']}, phase {inc['phase']}, priority {inc['priority']}, "
                  f"escalation level {inc['escalation_level']}, commander {inc['commander'] or '-'}")
    for r in result["refused"]:
        console.print(f"[yellow]refused at {format_offset(r['offset_seconds'])} (line {r['line']}, "
                      f"{r['event']}): {r['reason']}[/yellow]")


app.add_typer(keys_app, name="keys")
app.add_typer(integrations_app, name="integrations")
app.add_typer(runbooks_app, name="runbooks")
app.command("report", help="An incident's post-incident report (Markdown, or --format html).")(report_command)
app.command("stats", help="SLA figures per priority: MTTA, MTTR, attainments, rates.")(stats_command)

if __name__ == "__main__":
    app()
