"""`warroom heartbeats ...`: make, list, show, delete and ping heartbeat monitors through the API.

Room: CLI (a client of the API, like `warroom incidents`): it works the same against `warroom dev`
and production. Exit codes as `warroom incidents`: 0 done, 1 the API refused, 2 usage, 3 unreachable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from warroom.cli.incidents import (
    JsonOpt,
    KeyOpt,
    Priority,
    UrlOpt,
    _api,
    _clock,
    _console,
    _print_json,
    _relative,
)

heartbeats_app = typer.Typer(help="Heartbeat monitors: a job or pipeline that must ping every interval; a missed "
                                  "ping opens an incident, the next ping resolves it (--json for scripts).",
                             no_args_is_help=True)
NameArg = Annotated[str, typer.Argument(help="the heartbeat's name (its ping URL is /api/v1/heartbeats/NAME)")]


def _line(h: dict[str, Any]) -> str:
    now = datetime.now(UTC)
    out = (f"{h['name']}: {h['state']}, a ping every {h['interval']}, last ping {_relative(h.get('last_ping_at'), now)}"
           f", a miss opens a {h['priority']} on {h.get('service') or '-'}")
    if h.get("due_at"):
        out += f", next due {_relative(h['due_at'], now)}"
    if h.get("state") == "down" and h.get("incident_id"):
        out += f", incident {h['incident_id']} (since {_clock(h.get('down_since'))})"
    return out


@heartbeats_app.command("create")
def create(
    name: NameArg,
    interval: Annotated[str, typer.Option("--interval", help="a ping is expected this often: 5m, 1h, 90s")],
    priority: Annotated[Priority, typer.Option("--priority", help="the missed ping's incident")] = Priority.P2,
    service: Annotated[str, typer.Option("--service", help="its service (service levels, on-call policy)")] = "",
    title: Annotated[str, typer.Option("--title", help="its title (default: Heartbeat NAME missed)")] = "",
    integration: Annotated[str | None, typer.Option(
        "--integration", help="bind to this integration: its Alertmanager Watchdog pings the heartbeat, and only "
                              "it (or an admin) may ping it")] = None,
    as_json: JsonOpt = False, url: UrlOpt = None, key: KeyOpt = None,
) -> None:
    """Make a heartbeat monitor (admin). It starts watching at its first ping."""
    body: dict[str, Any] = {"name": name, "interval": interval, "priority": priority.value, "service": service,
                            "title": title, "integration": integration}
    with _api(url, key) as api:
        made = api._request("POST", "/api/v1/heartbeats", json=body)
    if as_json:
        _print_json(made)
        return
    typer.echo(f"created heartbeat {made['name']}: a ping every {made['interval']}, a miss opens a "
               f"{made['priority']}{' bound to ' + made['integration'] if made.get('integration') else ''}")
    typer.echo(f"ping it with: curl -X POST -H 'Authorization: Bearer <integration key>' {url}/api/v1/heartbeats/{name}")


@heartbeats_app.command("list")
def list_(as_json: JsonOpt = False, url: UrlOpt = None, key: KeyOpt = None) -> None:
    """Every heartbeat with its state and last ping."""
    with _api(url, key) as api:
        page = api._request("GET", "/api/v1/heartbeats")
    if as_json:
        _print_json(page)
        return
    rows = page.get("heartbeats", [])
    if not rows:
        typer.echo("no heartbeats (warroom heartbeats create NAME --interval 5m)")
        return
    from rich.table import Table

    now = datetime.now(UTC)
    table = Table()
    for col in ("name", "state", "every", "last ping", "priority", "service", "integration", "incident"):
        table.add_column(col, no_wrap=col in ("name", "incident"))
    for h in rows:
        table.add_row(h["name"], h["state"], h["interval"], _relative(h.get("last_ping_at"), now), h["priority"],
                      h.get("service") or "-", h.get("integration") or "-",
                      h.get("incident_id") or "-" if h["state"] == "down" else "-")
    _console().print(table)


@heartbeats_app.command("show")
def show(name: NameArg, as_json: JsonOpt = False, url: UrlOpt = None, key: KeyOpt = None) -> None:
    """One heartbeat, with when its next ping is due."""
    with _api(url, key) as api:
        h = api._request("GET", f"/api/v1/heartbeats/{name}")
    if as_json:
        _print_json(h)
    else:
        typer.echo(_line(h))


@heartbeats_app.command("delete")
def delete(name: NameArg, as_json: JsonOpt = False, url: UrlOpt = None, key: KeyOpt = None) -> None:
    """Delete a heartbeat (admin): it stops watching at once."""
    with _api(url, key) as api:
        h = api._request("DELETE", f"/api/v1/heartbeats/{name}")
    if as_json:
        _print_json(h)
    else:
        typer.echo(f"deleted heartbeat {h['name']}")


@heartbeats_app.command("ping")
def ping(name: NameArg, as_json: JsonOpt = False, url: UrlOpt = None, key: KeyOpt = None) -> None:
    """Ping a heartbeat (an integration key): what a cron job runs when it succeeds."""
    with _api(url, key) as api:
        answer = api._request("POST", f"/api/v1/heartbeats/{name}")
    if as_json:
        _print_json(answer)
    else:
        was = answer.get("was", "")
        typer.echo(f"pinged {answer['heartbeat']}" + (": it was down, its incident resolves" if was == "down" else
                                                      ": watching from now" if was == "new" else ""))
