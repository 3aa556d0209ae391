"""The `warroom` command: run the stack, rehearse incidents, manage records.

Room: CLI (a composition root). Subcommands build Settings and hand over to the module
that does the work; nothing durable happens here.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from warroom.cli.audit import audit_command
from warroom.cli.classification import classification_app
from warroom.cli.console import console_app
from warroom.cli.heartbeats import heartbeats_app
from warroom.cli.incidents import incidents_app
from warroom.cli.keys import integrations_app, keys_app
from warroom.cli.levels import levels_app
from warroom.cli.maintenance import maintenance_app
from warroom.cli.upgrades import upgrades_app
from warroom.cli.oncall import oncall_app
from warroom.cli.reports import report_command, stats_command
from warroom.cli.runbooks import runbooks_app

if TYPE_CHECKING:  # pydantic loads when a command builds its Settings, not for `warroom --help`
    from warroom.settings import Settings

app = typer.Typer(help="warroom: incident response as durable Temporal workflows.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="The records database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(console_app, name="console")
app.add_typer(incidents_app, name="incidents")
app.add_typer(heartbeats_app, name="heartbeats")
app.add_typer(oncall_app, name="oncall")


def _logging(settings: Settings) -> None:
    from warroom import logs

    logs.configure(settings.log_level, settings.log_format)


@app.command()
def dev(tls: Annotated[bool, typer.Option("--tls", help="serve the API over HTTPS with a certificate made on "
                                                        "this machine (CA in <data dir>/tls/ca.pem)")] = False) -> None:
    """Start the embedded stack: Temporal dev server (SQLite), worker and API."""
    from warroom.cli.dev import run_dev
    from warroom.settings import Settings

    settings = Settings()
    _logging(settings)
    from worker import limit_malloc_arenas

    limit_malloc_arenas(settings.malloc_arenas)  # the worker runs in this process
    asyncio.run(run_dev(settings, tls=tls))


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
    from warroom.settings import Settings

    settings = Settings()
    _logging(settings)
    # log_config None: uvicorn's own lines go through the root handler, JSON when asked
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the records schema (Alembic migrations, warroom/records/migrations/)."""
    from warroom import records
    from warroom.settings import Settings

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = records.make_engine(settings.db_url())
    records.create_schema(engine)
    typer.echo(f"records schema at revision {records.schema_revision(engine)} "
               f"({engine.url.render_as_string(hide_password=True)})")


@app.command()
def simulate(
    scenarios: Annotated[list[Path], typer.Argument(
        help="scenario YAML files, or directories of them (see runbooks/scenarios/)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="wall-clock seconds one scenario may take before it counts as an error")] = 300,
    horizon: Annotated[str, typer.Option(
        "--horizon", help="virtual time after which an `until: closed` scenario stops and says what its "
                          "incident was waiting on (e.g. 36h, 14d)")] = "7d",
) -> None:
    """Rehearse scenarios in virtual time: each incident's timeline, then a summary.

    Every scenario of a run shares one time-skipping server and one worker. Exit status 1 when
    a scenario misses its `expect:` section or stops at the horizon still open, 2 when one
    cannot be loaded or run."""
    from warroom.cli.rehearse import run_files

    logging.basicConfig(level=logging.ERROR)
    code = run_files(scenarios, as_json=as_json, timeout=timeout, horizon=horizon)
    if code:
        raise typer.Exit(code)


app.add_typer(keys_app, name="keys")
app.add_typer(integrations_app, name="integrations")
app.add_typer(runbooks_app, name="runbooks")
app.add_typer(classification_app, name="classification")
app.add_typer(levels_app, name="levels")
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(upgrades_app, name="upgrades")
app.command("report", help="An incident's post-incident report (Markdown, or --format html).")(report_command)
app.command("stats", help="SLA figures per priority: MTTA, MTTR, attainments, rates.")(stats_command)
app.command("audit", help="The audit log: keys, integrations, on-call file edits, runbook validations.")(audit_command)

if __name__ == "__main__":
    app()
