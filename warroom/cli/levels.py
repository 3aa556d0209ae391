"""`warroom levels …`: validate the service-levels file and show the numbers in force.

Room: CLI (a composition root). Reads Settings().service_levels (WARROOM_SERVICE_LEVELS;
unset: the built-in defaults) directly; nothing here talks to Temporal. `validate` is what an
SRE (and CI) runs before shipping a change: one `file:line: field.path: message` per problem,
exit 2 if there is any.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the loader and Settings load when a command runs, not for `warroom --help`
    from warroom.levels import ServiceLevels

levels_app = typer.Typer(help="Service levels: validate the file (WARROOM_SERVICE_LEVELS) and show the SLAs and "
                              "timers in force per priority.", no_args_is_help=True)


def _configured() -> Path | None:
    from warroom.settings import Settings

    return Settings().service_levels


def _levels() -> ServiceLevels:
    from warroom.levels import ServiceLevelsError, load_levels

    try:
        return load_levels(_configured())
    except ServiceLevelsError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


@levels_app.command("validate")
def validate(paths: Annotated[list[Path] | None, typer.Argument(
        help="service-levels files or directories of them (default: the configured file)")] = None) -> None:
    """Check service-levels files against the format; one `file:line: field.path: message` per problem."""
    from warroom.levels import level_files, validate_paths

    configured = _configured()
    targets = list(paths or ([configured] if configured else []))
    if not targets:
        typer.echo("no service-levels file configured (WARROOM_SERVICE_LEVELS): the built-in defaults are in "
                   "force (levels/service-levels.yaml shows them)")
        return
    problems = validate_paths(targets)
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {len({p.file for p in problems})} file(s)", err=True)
        raise typer.Exit(2)
    count = sum(len(level_files(t)) if t.is_dir() else 1 for t in targets)
    typer.echo(f"{count} service-levels file(s) valid")


def _span(seconds: int) -> str:
    from workflows.deadlines import span

    return span(seconds) if seconds else "-"


@levels_app.command("show")
def show(service: Annotated[str, typer.Option("--service", help="the numbers of this service's tier")] = "",
         as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """The service levels in force (for a service: its tier's), one row per priority."""
    from warroom.levels import as_json as levels_json
    from warroom.levels import table

    levels = _levels()
    if as_json:
        typer.echo(levels_json(levels, service))
        return
    tier = levels.tier_of(service)
    out = Console(width=None if sys.stdout.isatty() else 200)
    title = f"service levels ({levels.source}){f', tier {tier}' if tier else ''}"
    grid = Table(title=title)
    for col in ("priority", "ack", "update", "resolve", "review", "ladder", "top level", "briefed", "resolve missed",
                "silence", "nudge"):
        grid.add_column(col, overflow="fold")
    for row in table(levels, service):
        grid.add_row(
            row["priority"], _span(row["ack_seconds"]), _span(row["update_seconds"]), _span(row["resolve_seconds"]),
            _span(row["review_seconds"]), ", ".join(_span(s) for s in row["ladder_seconds"]) or "-",
            f"L{row['top_level']}", ", ".join(f"{t} {_span(s)}" for t, s in row["briefings"].items()) or "-",
            ", ".join(row["resolve_notify"]) or "-",
            f"{row['silence_intervals']} updates" if row["silence_intervals"] else "never",
            f"{row['nudge_percent']}%" if row["nudge_percent"] else "never")
    out.print(grid)
    policy = levels.policy_for(service)
    out.print(f"reminders: a waiting review every {_span(policy.escalation.review_reminder_seconds)}, a waiting "
              f"manual step every {_span(policy.escalation.manual_step_reminder_seconds)}; P2-P4 (tickets) have "
              "no ladder and no stakeholder updates", highlight=False)
