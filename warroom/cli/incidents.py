"""`warroom incidents ...`: list, show and act on incidents through the HTTP API.

Room: CLI (a client of the API). Everything goes through warroom.client over HTTP, never to
Temporal or the records database, so it works the same against a laptop `warroom dev` and a
production API. Tables for people, --json for scripts.

Exit codes: 0 success; 1 the API refused (4xx/5xx, `error: <detail>` on stderr); 2 a usage
error (Typer's own); 3 the API cannot be reached.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from warroom.cli.timeline import describe
from warroom.timeparse import relative, utc

if TYPE_CHECKING:  # httpx loads when a command calls the API, not for `warroom --help`
    from warroom.cli.api_client import WarroomClient

EXIT_REFUSED, EXIT_UNREACHABLE = 1, 3

incidents_app = typer.Typer(help="List, show and act on incidents through the warroom API "
                                 "(--json for scripts).", no_args_is_help=True)


class Priority(str, Enum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


# Options every command takes (after the command name: `warroom incidents list --url ...`).
UrlOpt = Annotated[str | None, typer.Option(
    "--url", envvar="WARROOM_URL", show_default=False,
    help="the warroom API; default: http://WARROOM_API_HOST:WARROOM_API_PORT (127.0.0.1:8000)")]
KeyOpt = Annotated[str | None, typer.Option(
    "--key", envvar="WARROOM_API_KEY", show_default=False,
    help="API key; default: the dev admin key `warroom dev` wrote to <data dir>/admin.key")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the JSON the API answered")]
ByOpt = Annotated[str | None, typer.Option(
    "--by", show_default=False,
    help="act for this person (an admin key only); default: the key's person, filled in by the server")]
IdArg = Annotated[str, typer.Argument(help="incident id, e.g. incident-3f2a...")]


# --------------------------------------------------------------------------- plumbing


def _dev_key() -> str:
    """The admin key `warroom dev` leaves in the data directory, if there is one."""
    from warroom.settings import Settings

    try:
        path = Settings().data_dir / "admin.key"
        return path.read_text().strip() if path.is_file() else ""
    except Exception:  # a bad WARROOM_* setting or an unreadable file: just no default key
        return ""


def default_url() -> str:
    """Where `warroom dev` / `warroom api` listen on this machine: WARROOM_API_HOST and
    WARROOM_API_PORT (a wildcard host is reached on loopback)."""
    from warroom.settings import Settings

    try:
        settings = Settings()
        host, port = settings.api_host, settings.api_port
    except Exception:  # a bad WARROOM_* setting: the documented default
        host, port = "127.0.0.1", 8000
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _by(by: str | None) -> dict[str, str]:
    """The body's `by`: only when given. The server records the key's person (api.deps.actor_of)."""
    return {"by": by} if by else {}


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _api(url: str | None, key: str | None) -> Iterator[WarroomClient]:
    """A client for the command; an ApiError becomes `error: ...` on stderr and exit 1 or 3."""
    from warroom.cli.api_client import UNREACHABLE, ApiError, WarroomClient

    try:
        with WarroomClient(url or default_url(), key or _dev_key()) as client:
            yield client
    except ApiError as err:
        if err.status == UNREACHABLE:
            raise _fail(err.detail, EXIT_UNREACHABLE) from None
        message = err.detail
        if err.status == 401:
            message += " (pass a valid key with --key or WARROOM_API_KEY)"
        elif err.status >= 500:
            message = f"the API failed ({err.status}): {message}"
        raise _fail(message, EXIT_REFUSED) from None


def _console() -> Console:
    # No markup or emoji: titles and details are other people's text. Wide when piped, so
    # ids are not folded in half.
    return Console(width=None if sys.stdout.isatty() else 140, markup=False, emoji=False, highlight=False)


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _parse_time(value: str | None) -> datetime | None:
    """A time the API answered (ISO 8601), or None when it is missing or unreadable."""
    try:
        return utc(value)
    except ValueError:
        return None


def _relative(value: str | None, now: datetime) -> str:
    """'1h 59m ago' or 'in 14m 30s' (or '-'): exact, never rounded to a whole hour."""
    t = _parse_time(value)
    if t is None:
        return "-"
    return relative((t - now).total_seconds())


def _clock(value: str | None) -> str:
    t = _parse_time(value)
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def _summary(verb: str, state: dict[str, Any]) -> str:
    return (f"{verb} {state.get('incident_id', '?')}: {state.get('priority')}, {state.get('status')}, "
            f"phase {state.get('phase')}, escalation level {state.get('escalation_level')}, "
            f"commander {state.get('commander') or '-'}")


def _act(url: str, key: str | None, as_json: bool, incident_id: str, action: str, body: dict[str, Any],
         say: Callable[[dict[str, Any]], str]) -> None:
    with _api(url, key) as api:
        state = api.act(incident_id, action, body)
    if as_json:
        _print_json(state)
    else:
        typer.echo(say(state))


# --------------------------------------------------------------------------- read


@incidents_app.command("list")
def list_(
    status: Annotated[list[str] | None, typer.Option("--status", help="triggered, acknowledged, resolved, "
                                                                      "closed (repeat for several)")] = None,
    priority: Annotated[list[str] | None, typer.Option("--priority", help="P0..P4 (repeatable)")] = None,
    service: Annotated[list[str] | None, typer.Option("--service", help="service name (repeatable)")] = None,
    phase: Annotated[list[str] | None, typer.Option("--phase", help="phase name (repeatable)")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="at most this many")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="skip this many (newest first)")] = 0,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    key: KeyOpt = None,
) -> None:
    """Incidents as recorded, newest first (a change shows here a moment after it happens)."""
    with _api(url, key) as api:
        page = api.list_incidents(status=status, priority=[p.upper() for p in priority or []], service=service,
                                  phase=phase, limit=limit, offset=offset)
    if as_json:
        _print_json(page)
        return
    rows, total = page.get("incidents", []), page.get("total", 0)
    console = _console()
    if rows:
        now = datetime.now(UTC)
        table = Table(show_lines=False)
        table.add_column("id", no_wrap=True)
        for col in ("priority", "status", "phase"):
            table.add_column(col)
        table.add_column("level", justify="right")
        table.add_column("commander")
        table.add_column("alerts", justify="right")
        table.add_column("title", overflow="fold")
        table.add_column("created")
        for inc in rows:
            table.add_row(inc.get("id", "?"), inc.get("priority", ""), inc.get("status", ""), inc.get("phase", ""),
                          str(inc.get("escalation_level", "")), inc.get("commander") or "-",
                          str(inc.get("alert_count", "")), inc.get("title", ""),
                          _relative(inc.get("created_at"), now))
        console.print(table)
    footer = f"{len(rows)} of {total} incidents"
    if offset + len(rows) < total:
        footer += f" (next page: --offset {offset + len(rows)})"
    console.print(footer)


@incidents_app.command()
def show(incident_id: IdArg, as_json: JsonOpt = False, url: UrlOpt = None, key: KeyOpt = None) -> None:
    """One incident: its state, deadlines and timeline."""
    with _api(url, key) as api:
        state = api.get_incident(incident_id)
    if as_json:
        _print_json(state)
        return

    console = _console()
    now = datetime.now(UTC)
    console.print(f"{state.get('priority')}  {state.get('title')}")
    fields: list[tuple[str, str]] = [
        ("id", state.get("incident_id", incident_id)),
        ("status", str(state.get("status"))),
        ("phase", str(state.get("phase"))),
        ("escalation level", str(state.get("escalation_level"))),
        ("commander", state.get("commander") or "-"),
        ("service", state.get("service") or "-"),
        ("alerts", f"{state.get('alert_count', 0)}" + (f" (+{n} re-sent)" if (n := state.get("resent_count")) else "")),
        ("created", f"{_clock(state.get('created_at'))} ({_relative(state.get('created_at'), now)})"),
    ]
    if state.get("runbook"):
        version = f" (version {state['runbook_version']})" if state.get("runbook_version") else ""
        fields.append(("runbook", f"{state['runbook']}{version}"))
    room = state.get("war_room") or {}
    if room.get("channel") or room.get("url"):
        where = room.get("url") or room.get("channel")
        fields.append(("war room", where + (f" (bridge {room['bridge']})" if room.get("bridge") else "")))
    for name, at in (state.get("deadlines") or {}).items():
        if at:
            fields.append((name.replace("_", " "), f"{_clock(at)} ({_relative(at, now)})"))
    if state.get("impact_signals") or state.get("expected_recovery_minutes") is not None:
        said = [s.replace("_", " ") for s in state.get("impact_signals") or []]
        if state.get("expected_recovery_minutes") is not None:
            said.append(f"expected recovery {state['expected_recovery_minutes']} min")
        fields.append(("impact", ", ".join(said)))
    if state.get("parent_incident"):
        fields.append(("part of", f"cascade of {state['parent_incident']} (its parent)"))
    if state.get("children"):
        fields.append(("cascade", "parent of " + ", ".join(state["children"])))
    update = state.get("latest_update")
    if update:
        fields.append(("latest update", f"{update.get('message')} ({update.get('by')}, "
                                        f"{_relative(update.get('at'), now)})"))
    review = state.get("review")
    if review:
        fields.append(("review", f"root cause: {review.get('root_cause')} ({review.get('by')})"))
    width = max(len(n) for n, _ in fields)
    for name, value in fields:
        console.print(f"  {name + ':':<{width + 1}} {value}")
    table = Table(title="timeline", title_justify="left")
    for col in ("time", "event", "actor"):
        table.add_column(col, no_wrap=True)
    table.add_column("details", overflow="fold")
    for ev in state.get("timeline") or []:
        table.add_row(_clock(ev.get("at")), ev.get("type", ""), ev.get("actor", ""),
                      describe({"type": ev.get("type"), "details": ev.get("details") or {}}))
    console.print(table)


# --------------------------------------------------------------------------- act


@incidents_app.command()
def ack(incident_id: IdArg, by: ByOpt = None,
        note: Annotated[str, typer.Option("--note", help="a note for the timeline")] = "",
        as_json: JsonOpt = False, url: UrlOpt = None, key: KeyOpt = None) -> None:
    """Acknowledge: you take the incident (and become its commander if it has none)."""
    _act(url, key, as_json, incident_id, "acknowledge", {**_by(by), "note": note},
         lambda s: _summary("acknowledged", s))


@incidents_app.command()
def update(incident_id: IdArg, message: Annotated[str, typer.Argument(help="the status update")],
           data_loss: Annotated[bool, typer.Option("--data-loss", help="data was lost (raises to P0)")] = False,
           security_risk: Annotated[bool, typer.Option("--security-risk",
                                                       help="a security risk or breach is found (raises to P0)")] = False,
           all_users: Annotated[bool, typer.Option("--all-users", help="all users are affected (raises to P0)")] = False,
           business_down: Annotated[bool, typer.Option("--business-down",
                                                       help="the customer's business is fully down (raises to P0)")] = False,
           expected_recovery: Annotated[int | None, typer.Option(
               "--expected-recovery", min=0, metavar="MINUTES",
               help="expected recovery in minutes (beyond 4 h raises a P1 to P0)")] = None,
           by: ByOpt = None, as_json: JsonOpt = False, url: UrlOpt = None, key: KeyOpt = None) -> None:
    """Post a status update (it resets the update reminder), with the impact found (docs/upgrades.md)."""
    body: dict[str, Any] = {**_by(by), "message": message}
    body.update({k: True for k, v in (("data_loss", data_loss), ("security_risk", security_risk),
                                      ("all_users", all_users), ("business_down", business_down)) if v})
    if expected_recovery is not None:
        body["expected_recovery_minutes"] = expected_recovery
    _act(url, key, as_json, incident_id, "updates", body, _updated)


def _updated(state: dict[str, Any]) -> str:
    """The summary, and what the update set off: an automatic upgrade, or a suggestion to confirm."""
    lines = [_summary("update posted to", state)]
    after: list[dict[str, Any]] = []
    for e in reversed(state.get("timeline") or []):
        if e.get("type") == "status_update.posted":
            break
        after.insert(0, e)
    for e in after:
        d = e.get("details") or {}
        if e.get("type") == "priority.changed" and d.get("automatic"):
            lines.append(f"raised to {d.get('to')} automatically: {d.get('reason')}")
        elif e.get("type") == "upgrade.suggested":
            lines.append(f"suggested, not applied: raise to {d.get('to')}: {d.get('reason')} "
                         f"(confirm with --{str((d.get('signals') or ['data-loss'])[0]).replace('_', '-')} "
                         "or `warroom incidents priority`)")
    return "\n".join(lines)


@incidents_app.command()
def escalate(incident_id: IdArg,
             reason: Annotated[str, typer.Option("--reason", help="why, for the timeline and the page")] = "",
             to_level: Annotated[int | None, typer.Option("--to-level", min=2, max=4,
                                                          help="jump to this level (default: the next)")] = None,
             by: ByOpt = None, as_json: JsonOpt = False, url: UrlOpt = None, key: KeyOpt = None) -> None:
    """Escalate now, to the next level or to --to-level."""
    body: dict[str, Any] = {**_by(by), "reason": reason}
    if to_level is not None:
        body["to_level"] = to_level
    _act(url, key, as_json, incident_id, "escalate", body, lambda s: _summary("escalated", s))


@incidents_app.command()
def priority(incident_id: IdArg,
             new_priority: Annotated[Priority, typer.Argument(metavar="P0..P4", case_sensitive=False,
                                                              help="the new priority")],
             reason: Annotated[str, typer.Option("--reason", help="why (required)")],
             by: ByOpt = None, as_json: JsonOpt = False, url: UrlOpt = None, key: KeyOpt = None) -> None:
    """Change the priority (deadlines follow the new one)."""
    _act(url, key, as_json, incident_id, "priority",
         {**_by(by), "priority": new_priority.value, "reason": reason},
         lambda s: _summary("priority changed on", s))


@incidents_app.command()
def resolve(incident_id: IdArg,
            resolution: Annotated[str, typer.Option("--resolution", help="what fixed it")] = "",
            root_cause: Annotated[str, typer.Option("--root-cause", help="the cause, if known")] = "",
            by: ByOpt = None, as_json: JsonOpt = False, url: UrlOpt = None, key: KeyOpt = None) -> None:
    """Resolve (the runbook's verification runs first; `show` tells when it is resolved)."""
    _act(url, key, as_json, incident_id, "resolve",
         {**_by(by), "resolution": resolution, "root_cause": root_cause},
         lambda s: _summary("resolve requested for", s))


@incidents_app.command()
def review(incident_id: IdArg,
           root_cause: Annotated[str, typer.Option("--root-cause", help="the root cause (required)")],
           factor: Annotated[list[str] | None, typer.Option("--factor", help="a contributing factor "
                                                                             "(repeatable)")] = None,
           lesson: Annotated[list[str] | None, typer.Option("--lesson", help="a lesson (repeatable)")] = None,
           action_item: Annotated[list[str] | None, typer.Option("--action-item", help="a follow-up action "
                                                                                       "(repeatable)")] = None,
           by: ByOpt = None, as_json: JsonOpt = False, url: UrlOpt = None, key: KeyOpt = None) -> None:
    """Submit the post-incident review of a resolved incident (it closes the incident)."""
    _act(url, key, as_json, incident_id, "review",
         {**_by(by), "root_cause": root_cause, "contributing_factors": factor or [],
          "lessons": lesson or [], "action_items": action_item or []},
         lambda s: _summary("review submitted for", s))
