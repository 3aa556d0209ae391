"""`warroom upgrades …`: validate the upgrades file and show the rules in force.

Room: CLI (a composition root). Reads Settings().upgrades_file (WARROOM_UPGRADES_FILE; default
the shipped warroom/upgrades.yaml); nothing here talks to Temporal. `validate` is what an SRE
(and CI) runs before shipping a change: one `file:line: field.path: message` per problem, exit 2
if there is any (docs/upgrades.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

upgrades_app = typer.Typer(help="Upgrade triggers and cascades: validate the file (WARROOM_UPGRADES_FILE) and show "
                                "the rules in force.", no_args_is_help=True)


def _configured() -> Path:
    from warroom.settings import Settings

    return Settings().upgrades_file


@upgrades_app.command("validate")
def validate(paths: Annotated[list[Path] | None, typer.Argument(
        help="upgrades files or directories of them (default: the configured file)")] = None) -> None:
    """Check upgrades files against the format; one `file:line: field.path: message` per problem."""
    from warroom.upgrades import validate_paths

    targets = list(paths or [_configured()])
    problems = validate_paths(targets)
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {len({p.file for p in problems})} file(s)", err=True)
        raise typer.Exit(2)
    typer.echo(f"ok: {', '.join(str(t) for t in targets)}")


@upgrades_app.command("show")
def show() -> None:
    """The rules in force, as JSON: the recovery limit, the suggestion terms, the cascade rules."""
    from warroom.upgrades import UpgradesError, load_upgrades

    try:
        up = load_upgrades(_configured())
    except UpgradesError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps({
        "source": up.source, "version": up.rules.version,
        "recovery_beyond_seconds": up.rules.recovery_beyond_seconds, "suggest": up.rules.suggest,
        "cascade": {"window_seconds": up.window_seconds, "incidents": up.window_incidents,
                    "dependencies": {k: list(v) for k, v in up.dependencies.items()}},
    }, indent=2, ensure_ascii=False))
