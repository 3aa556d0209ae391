"""`warroom maintenance ...`: make, list, show and end maintenance windows through the HTTP API
(docs/maintenance.md).

Room: CLI (a client of the API), like `warroom incidents`: never Temporal or the records
directly. Exit codes as there: 1 the API refused (`error: <detail>`), 2 a usage error, 3 the
API cannot be reached.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from warroom.cli.incidents import (
    ByOpt,
    JsonOpt,
    KeyOpt,
    UrlOpt,
    _api,
    _by,
    _clock,
    _console,
    _print_json,
    _relative,
)

maintenance_app = typer.Typer(help="Maintenance windows: alerts they match are recorded and page nobody "
                                   "until they end (--json for scripts).", no_args_is_help=True)
IdArg = Annotated[str, typer.Argument(help="window id, e.g. mw-3f2a1b0c")]
PATH = "/api/v1/maintenance"


def _show(w: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    typer.echo(f"{w['id']}  {w['status']}  {w['scope']}")
    typer.echo(f"  from {_clock(w['starts_at'])} ({_relative(w['starts_at'], now)}) "
               f"to {_clock(w['ends_at'])} ({_relative(w['ends_at'], now)})")
    typer.echo(f"  reason: {w['reason']}  (made by {w['created_by']})")
    if w.get("ended_at"):
        typer.echo(f"  ended {_clock(w['ended_at'])}" + (f" by {w['ended_by']}" if w.get("ended_by") else ""))


@maintenance_app.command("create")
def create(
    reason: Annotated[str, typer.Option("--reason", "-r", help="why (on the timeline of every incident it holds)")],
    service: Annotated[str, typer.Option("--service", "-s", help="hold alerts of this service")] = "",
    match: Annotated[list[str] | None, typer.Option(
        "--match", "-m", help="a label matcher, Alertmanager-style: name=value, name!=value, name=~regex, "
                              "name!~regex (repeat for several; all must hold)")] = None,
    integration: Annotated[str, typer.Option("--integration", "-i",
                                             help="hold alerts sent by this integration")] = "",
    start: Annotated[str | None, typer.Option("--start", help="when it starts (ISO 8601 with a zone); "
                                                              "default now")] = None,
    end: Annotated[str | None, typer.Option("--end", help="when it ends (ISO 8601 with a zone)")] = None,
    duration: Annotated[str | None, typer.Option("--duration", "-d", help="how long instead of --end: "
                                                                          "30m, 2h, 1h30m, 1d")] = None,
    by: ByOpt = None, url: UrlOpt = None, key: KeyOpt = None, as_json: JsonOpt = False,
) -> None:
    """Make a maintenance window (service, label matchers and/or integration; an end or a duration)."""
    body: dict[str, Any] = {"reason": reason, "service": service, "matchers": list(match or []),
                            "integration": integration, **_by(by)}
    for name, value in (("starts_at", start), ("ends_at", end), ("duration", duration)):
        if value:
            body[name] = value
    with _api(url, key) as client:
        w = client._request("POST", PATH, json=body)
    _print_json(w) if as_json else _show(w)


@maintenance_app.command("list")
def list_windows(
    ended: Annotated[bool, typer.Option("--ended", help="include the windows that have ended")] = False,
    url: UrlOpt = None, key: KeyOpt = None, as_json: JsonOpt = False,
) -> None:
    """The maintenance windows, latest start first (scheduled and active; --ended for all)."""
    with _api(url, key) as client:
        found = client._request("GET", PATH, params={"ended": str(ended).lower()})
    if as_json:
        _print_json(found)
        return
    if not found["windows"]:
        typer.echo("no maintenance windows" + ("" if ended else " scheduled or active (--ended for past ones)"))
        return
    now = datetime.now(UTC)
    table = Table(show_lines=False)
    for col in ("id", "status", "matches", "starts", "ends", "reason", "by"):
        table.add_column(col, overflow="fold" if col in ("matches", "reason") else "ellipsis")
    for w in found["windows"]:
        table.add_row(w["id"], w["status"], w["scope"], _relative(w["starts_at"], now),
                      _relative(w["ended_at"] or w["ends_at"], now), w["reason"], w["created_by"])
    _console().print(table)


@maintenance_app.command("show")
def show(window_id: IdArg, url: UrlOpt = None, key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """One maintenance window."""
    with _api(url, key) as client:
        w = client._request("GET", f"{PATH}/{quote(window_id, safe='')}")
    _print_json(w) if as_json else _show(w)


@maintenance_app.command("end")
def end(
    window_id: IdArg,
    note: Annotated[str, typer.Option("--note", help="why it ends early")] = "",
    by: ByOpt = None, url: UrlOpt = None, key: KeyOpt = None, as_json: JsonOpt = False,
) -> None:
    """End a window now: the incidents it holds start paging if their problem still fires."""
    with _api(url, key) as client:
        w = client._request("DELETE", f"{PATH}/{quote(window_id, safe='')}", json={"note": note, **_by(by)})
    _print_json(w) if as_json else _show(w)
