"""`warroom runbooks …`: list, validate and show the runbook files.

Room: CLI (a composition root). Reads the files in Settings().runbooks_dir directly; nothing
here talks to Temporal. `validate` is what an SRE (and CI) runs before shipping a runbook:
one `file:line: field.path: message` per problem, exit 2 if there is any.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the runbook loader and Settings load when a command runs, not for `warroom --help`
    from warroom.runbooks import RunbookLibrary

runbooks_app = typer.Typer(help="Runbooks: list, validate and show the files in the runbooks directory.",
                           no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _library() -> RunbookLibrary:
    from warroom.runbooks import RunbookError, RunbookLibrary
    from warroom.settings import Settings

    try:
        return RunbookLibrary(Settings().runbooks_dir)
    except RunbookError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160)


def _match_text(match: dict[str, Any]) -> str:
    parts = []
    for key, value in match.items():
        if key == "labels":
            parts.extend(f"{k}={v}" for k, v in value.items())
        else:
            parts.append(f"{key}={','.join(value) if isinstance(value, list) else value}")
    return " ".join(parts) or "-"


@runbooks_app.command("list")
def list_runbooks(as_json: JsonOpt = False) -> None:
    """The runbooks in the runbooks directory: name, version, match, file."""
    rows = _library().summaries()
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title="runbooks")
    for col in ("name", "version", "match", "file"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["version"], _match_text(row["match"]), row["file"])
    _console().print(table)


@runbooks_app.command("validate")
def validate(paths: Annotated[list[Path] | None, typer.Argument(
        help="runbook files or directories (default: the runbooks directory)")] = None) -> None:
    """Check runbook files against the format; one `file:line: field.path: message` per problem."""
    from warroom.runbooks import RunbookLibrary
    from warroom.settings import Settings

    targets = list(paths or [Settings().runbooks_dir])
    problems = RunbookLibrary.validate_paths(targets)
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        files = {p.file for p in problems}
        typer.echo(f"{len(problems)} problem(s) in {len(files)} file(s)", err=True)
        raise typer.Exit(2)
    count = sum(len(list(_files(t))) for t in targets)
    typer.echo(f"{count} runbooks valid")


def _files(target: Path) -> list[Path]:
    from warroom.runbooks import runbook_files

    return runbook_files(target) if target.is_dir() else [target]


@runbooks_app.command("show")
def show(name: Annotated[str, typer.Argument(help="runbook name (or path of a runbook file)")],
         as_json: JsonOpt = False) -> None:
    """One runbook as the engine will run it: its fields and steps."""
    from warroom.runbooks import RunbookError, summary

    library = _library()
    try:
        entry = library.entry(name)
    except RunbookError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    spec = entry.spec
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(spec), indent=2, ensure_ascii=False))
        return
    out = _console()
    out.print(f"[bold]{spec.name}[/bold] version {spec.version}  ({spec.source})", highlight=False)
    if spec.description:
        out.print(spec.description, highlight=False)
    info = summary(entry)
    out.print(f"match: {_match_text(info['match'])}", highlight=False)
    war_room = "priority decides" if spec.war_room is None else ("yes" if spec.war_room else "no")
    out.print(f"war room: {war_room}", highlight=False)
    out.print(f"notify: {', '.join(spec.notify) or '-'}; update every {spec.update_minutes or '(priority)'} min; "
              f"ack within {spec.ack_minutes or '(priority)'} min", highlight=False)
    table = Table(title="steps")
    for col in ("stage", "id", "kind", "title", "params", "limits"):
        table.add_column(col, overflow="fold")

    def action_rows(stage: str, actions: list[Any]) -> None:
        for a in actions:
            limits = f"timeout {a.timeout_seconds}s, {a.max_attempts} attempts, backoff {a.backoff_seconds}s"
            table.add_row(stage, a.id, a.kind, a.title, json.dumps(a.params, ensure_ascii=False), limits)
            if a.rollback:
                r = a.rollback
                table.add_row(f"{stage} rollback", r.id, r.kind, r.title, json.dumps(r.params, ensure_ascii=False),
                              f"timeout {r.timeout_seconds}s, {r.max_attempts} attempts")

    action_rows("recover", spec.recover)
    for c in spec.verify:
        table.add_row("verify", c.id, c.kind, c.title, json.dumps(c.params, ensure_ascii=False),
                      f"timeout {c.timeout_seconds}s, every {c.interval_seconds}s")
    action_rows("on verify failure", spec.on_verify_failure)
    out.print(table)
    out.print(f"on verify failure: {'escalate one level' if spec.escalate_on_verify_failure else 'no escalation'}",
              highlight=False)
