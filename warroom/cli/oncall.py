"""`warroom oncall …`: who is on call now, who a page target reaches, and validate the files.

Room: CLI (a composition root). Reads the on-call files of Settings().oncall_dir
(WARROOM_ONCALL_DIR, default ./oncall) directly; nothing here talks to Temporal or sends
anything. `validate` is what an SRE (and CI) runs before shipping a change: one
`file:line: field.path: message` per problem, exit 2 if there is any.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the on-call model and Settings load when a command runs, not for `warroom --help`
    from warroom.oncall import OnCallConfig, Resolution

oncall_app = typer.Typer(help="On call: who is on call, who a page reaches, and validate the files in the "
                              "on-call directory (WARROOM_ONCALL_DIR, default ./oncall).", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
AtOpt = Annotated[str | None, typer.Option("--at", help="ISO date-time with offset (default: now), "
                                                        "e.g. 2026-12-01T09:00+08:00")]


def _directory() -> Path:
    from warroom.settings import Settings

    return Settings().oncall_dir


def empty_notice(directory: Path) -> str | None:
    """What to say when the on-call directory holds no on-call file (None when it holds some):
    nobody is on call, every page goes to the worker's log, and where the example is. The same
    words for `oncall now`, `who`, `validate` and the `warroom dev` banner."""
    from warroom.oncall import oncall_files

    if oncall_files(directory):
        return None
    examples = directory / "examples"
    sample = next(iter(oncall_files(examples)), None)
    start = (f"to start, copy {sample} into {directory}/ and edit it; to look at the example first, "
             f"set WARROOM_ONCALL_DIR={examples}" if sample else
             "to start, add a people/teams/schedules file (docs/oncall.md)")
    return (f"no on-call files in {directory}/ (WARROOM_ONCALL_DIR): nobody is on call and every page goes "
            f"to the worker's log; {start}")


def _config() -> OnCallConfig:
    from warroom.oncall import OnCallError, load_oncall

    try:
        return load_oncall(_directory())
    except OnCallError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


def _at(value: str | None) -> datetime:
    from warroom.oncall import parse_at

    try:
        return parse_at(value)
    except ValueError as err:
        typer.echo(f"error: --at {err}", err=True)
        raise typer.Exit(2) from None


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160)


@oncall_app.command("now")
def now(team: Annotated[str | None, typer.Option("--team", help="only this team's schedules")] = None,
        at: AtOpt = None, as_json: JsonOpt = False) -> None:
    """Who is on call: per schedule, the person, their time zone and local time, and why."""
    config, moment = _config(), _at(at)
    notice = empty_notice(_directory())
    try:
        entries = config.on_call(moment, team=team)
    except KeyError:
        typer.echo(f"error: no team {team!r} " + (f"({notice})" if notice else
                                                  f"(teams: {', '.join(sorted(config.teams)) or 'none'})"), err=True)
        raise typer.Exit(1) from None
    if notice and not as_json:
        typer.echo(notice, err=True)
        return
    if as_json:
        typer.echo(json.dumps({"at": moment.isoformat(), "entries": [e.as_dict() for e in entries]},
                              indent=2, ensure_ascii=False))
        return
    table = Table(title=f"on call at {moment.isoformat(timespec='minutes')}")
    for col in ("schedule", "levels", "person", "time zone", "local time", "from"):
        table.add_column(col, overflow="fold")
    for e in entries:
        p = e.person
        source = f"swap for {e.swapped_from}" if e.swapped_from else e.source
        if e.layer and e.layer != e.source and e.source != "override":
            source += f" ({e.layer})"
        table.add_row(e.schedule, ", ".join(e.levels) or "-", f"{p.name} ({p.id})" if p else "nobody",
                      p.timezone if p else "", e.local_time.replace("T", " ")[:16] if p else "", source)
    _console().print(table)
    if not entries:
        typer.echo(f"no schedules{f' for team {team}' if team else ''} in {_directory()}")


def _resolution_dict(r: Resolution, at: datetime) -> dict[str, Any]:
    return {"target": r.target, "via": r.via, "at": at.isoformat(), "chat": list(r.chat), "people": [
        {"id": p.id, "name": p.name, "timezone": p.timezone, "language": p.language,
         "local_time": at.astimezone(ZoneInfo(p.timezone)).isoformat(timespec="minutes"),
         "contacts": [{"kind": c.kind, "url": c.url} for c in p.contacts]} for p in r.people]}


@oncall_app.command("who")
def who(target: Annotated[str, typer.Argument(help="oncall:L<n>, person:<id>, team:<id>, schedule:<id> or a role")],
        service: Annotated[str, typer.Option("--service", help="the incident's service (picks the policy)")] = "",
        priority: Annotated[str, typer.Option("--priority", help="the incident's priority (picks the policy)")] = "P1",
        at: AtOpt = None, as_json: JsonOpt = False) -> None:
    """Who a page to TARGET reaches: the chain from the target to the people, in page order."""
    config, moment = _config(), _at(at)
    r = config.resolve(target, service=service, priority=priority.upper(), at=moment)
    if (notice := empty_notice(_directory())) and not as_json:
        typer.echo(notice, err=True)
    if as_json:
        typer.echo(json.dumps(_resolution_dict(r, moment), indent=2, ensure_ascii=False))
        return
    out = _console()
    out.print(f"{target}: {r.via}", highlight=False)
    if not r.people:
        out.print("nobody would be paged", highlight=False)
    else:
        table = Table()
        for col in ("#", "person", "time zone", "local time", "language", "contacts (in order)"):
            table.add_column(col, overflow="fold")
        for n, row in enumerate(_resolution_dict(r, moment)["people"], 1):
            table.add_row(str(n), f"{row['name']} ({row['id']})", row["timezone"],
                          row["local_time"].replace("T", " ")[:16], row["language"],
                          ", ".join(c["kind"] for c in row["contacts"]))
        out.print(table)
    for url in r.chat:
        out.print(f"team chat: {url}", highlight=False)


@oncall_app.command("validate")
def validate(paths: Annotated[list[Path] | None, typer.Argument(
        help="on-call directory or files, checked together (default: the on-call directory)")] = None) -> None:
    """Check the on-call files against the format; one `file:line: field.path: message` per problem."""
    from warroom.oncall import oncall_files, validate_paths

    targets = list(paths or [_directory()])
    if not paths and (notice := empty_notice(targets[0])):
        # nothing is wrong, and nothing is configured: say so, as `oncall now` does
        typer.echo(f"nothing to validate: {notice}")
        return
    problems = validate_paths(targets)
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {len({p.file for p in problems})} file(s)", err=True)
        raise typer.Exit(2)
    count = sum(len(oncall_files(t)) if t.is_dir() else 1 for t in targets)
    typer.echo(f"{count} on-call file(s) valid")


# --------------------------------------------------------------------------- hand-over (through the API)


@oncall_app.command("note")
def note(schedule: Annotated[str, typer.Argument(help="the schedule whose next hand-over carries the note")],
         text: Annotated[str, typer.Argument(help="what the next person should know")],
         by: Annotated[str | None, typer.Option("--by", show_default=False,
                                                help="for this person (an admin key only)")] = None,
         url: Annotated[str, typer.Option("--url", envvar="WARROOM_URL", help="the warroom API")] = "",
         key: Annotated[str | None, typer.Option("--key", envvar="WARROOM_API_KEY", show_default=False,
                                                 help="API key (a responder's: the note is its person's)")] = None,
         ) -> None:
    """Leave a note for the next hand-over of a schedule: sent to the incoming person at the
    rotation change, with the team's open incidents (docs/oncall.md, "Hand-over")."""
    from warroom.cli.incidents import _api

    with _api(url, key) as api:
        row = api.add_handover_note(schedule, text, by)
    typer.echo(f"note {row['id']} by {row['person']} waits for the next hand-over of {row['schedule']}")


@oncall_app.command("handovers")
def handovers(schedule: Annotated[str | None, typer.Option("--schedule", help="only this schedule")] = None,
              as_json: Annotated[bool, typer.Option("--json", help="print the JSON the API answered")] = False,
              url: Annotated[str, typer.Option("--url", envvar="WARROOM_URL", help="the warroom API")] = "",
              key: Annotated[str | None, typer.Option("--key", envvar="WARROOM_API_KEY", show_default=False,
                                                      help="API key")] = None) -> None:
    """The latest hand-overs (and, with --schedule, the notes waiting for the next one)."""
    from warroom.cli.incidents import _api

    with _api(url, key) as api:
        found = api.handovers(schedule)
    if as_json:
        typer.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    for h in found["handovers"]:
        typer.echo(f"{h['at']}  {h['schedule']}: {', '.join(h['outgoing']) or 'nobody'} -> "
                   f"{', '.join(h['incoming']) or 'nobody'}, {len(h['incidents'])} open incident(s), "
                   f"{len(h['notes'])} note(s)")
    for n in found["pending_notes"]:
        typer.echo(f"waiting: note {n['id']} by {n['person']}: {n['note']}")
    if not found["handovers"] and not found["pending_notes"]:
        typer.echo("no hand-over yet")
