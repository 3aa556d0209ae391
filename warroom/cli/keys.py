"""`warroom keys …` and `warroom integrations …`: API keys, managed on the records database.

Room: CLI (a composition root). These commands work on the database directly
(WARROOM_DATABASE_URL, or the SQLite file in the data directory), so the first admin key can
be made before anyone can call the API. A new key is printed once, alone on the last line.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from warroom.secrets import read as read_secret

if TYPE_CHECKING:  # the records (SQLAlchemy) load when a command runs, not for `warroom --help`
    from sqlalchemy.engine import Engine

    from warroom.records.keys import ApiKey

keys_app = typer.Typer(help="API keys and their roles (integration, responder, viewer, admin).",
                       no_args_is_help=True)
integrations_app = typer.Typer(help="Integrations: the keys alerting systems send alerts with.",
                               no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def records_engine() -> Engine:
    from warroom import records
    from warroom.settings import Settings

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = records.make_engine(settings.db_url())
    records.create_schema(engine)
    return engine


def audited(engine: Engine, action: str, target: str, **details: Any) -> None:
    """The audit entry of an action taken here (warroom.records.audit): the CLI works on the
    records directly, so it is recorded as the machine's user (cli:<user>)."""
    from warroom.records import audit

    audit.record(engine, actor=audit.cli_actor(), action=action, target=target, via="cli", details=details)


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def show_table(rows: list[dict[str, Any]], columns: list[str], title: str) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row[c]) for c in columns))
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def print_created(view: ApiKey, key: str, *, secret: str | None = None) -> None:
    what = (f"integration {view.name!r}" if view.role == "integration"
            else f"{view.role} key {view.name!r} for {view.acts_as}")
    typer.echo(f"created {what} (id {view.id})")
    if secret:
        typer.echo(f"signing secret (configure it in the sender; shown this once): {secret}")
    typer.echo("the key is shown this once; store it now:")
    typer.echo(key)


# ---------------------------------------------------------------------- keys


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="integration, responder, viewer or admin")],
    name: Annotated[str, typer.Option(help="a unique name: who or what uses the key")],
    person: Annotated[str | None, typer.Option(
        help="who acts with it (an on-call person id or a name): the timeline records them; "
             "default: the key's name")] = None,
) -> None:
    """Create a key; it is printed alone on the last line, and only this once."""
    from warroom.records import keys as auth

    engine = records_engine()
    try:
        view, key = auth.create_key(engine, name=name, role=role, person=person)
    except auth.KeyProblem as err:
        raise fail(str(err)) from None
    audited(engine, "key.created", view.name, role=view.role, person=view.person, prefix=view.prefix)
    print_created(view, key)


@keys_app.command("list")
def keys_list(all_: Annotated[bool, typer.Option("--all", help="include revoked keys")] = False,
              as_json: JsonOpt = False) -> None:
    """The keys (never the keys themselves: a prefix to recognise them)."""
    from warroom.records import keys as auth

    rows = [k.public() for k in auth.list_keys(records_engine(), include_revoked=all_)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    show_table(rows, ["name", "role", "person", "prefix", "id", "created_at", "revoked_at"], "API keys")


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument(help="the key's name or id")]) -> None:
    """Revoke a key: it stops working at once."""
    from warroom.records import keys as auth

    engine = records_engine()
    try:
        view = auth.revoke(engine, name)
    except auth.KeyProblem as err:
        raise fail(str(err)) from None
    audited(engine, "key.revoked", view.name, role=view.role, prefix=view.prefix)
    typer.echo(f"revoked {view.role} key {view.name!r} (id {view.id})")


# ---------------------------------------------------------------------- integrations


@integrations_app.command("create")
def integrations_create(
    name: Annotated[str, typer.Option(help="the integration's name (the custom endpoint's path uses it)")],
    format: Annotated[str | None, typer.Option(
        "--format", help="the only endpoint it may post to: an alert format (docs/integrations.md)")] = None,
    mapping: Annotated[Path | None, typer.Option(
        help="custom format: the mapping file (YAML or JSON, see docs/integrations.md)")] = None,
    secret_env: Annotated[str | None, typer.Option(
        "--signing-secret-env", help="name of an environment variable holding the signing secret")] = None,
    generate_secret: Annotated[bool, typer.Option(
        "--generate-secret", help="make a random signing secret and print it once")] = False,
) -> None:
    """Create an integration and its key (printed alone on the last line, only this once)."""
    from api.sources.custom import MappingError, compile_mapping, load_mapping_file
    from warroom.records import keys as auth

    spec = None
    if mapping is not None:
        try:
            spec = load_mapping_file(mapping)
            compile_mapping(spec)
        except MappingError as err:
            raise fail(str(err)) from None
    secret = None
    if secret_env and generate_secret:
        raise fail("give --signing-secret-env or --generate-secret, not both")
    if secret_env:
        secret = read_secret(secret_env)
        if not secret:
            raise fail(f"environment variable {secret_env} is not set")
    elif generate_secret:
        secret = secrets.token_urlsafe(32)
    engine = records_engine()
    try:
        view, key = auth.create_key(engine, name=name, role="integration", format=format,
                                    signing_secret=secret, mapping=spec)
    except auth.KeyProblem as err:
        raise fail(str(err)) from None
    audited(engine, "integration.created", view.name, format=view.format, signed=bool(secret),
            custom=spec is not None, prefix=view.prefix)
    print_created(view, key, secret=secret if generate_secret else None)


@integrations_app.command("list")
def integrations_list(as_json: JsonOpt = False) -> None:
    """The integrations (active keys of role integration)."""
    from warroom.records import keys as auth

    rows = [k.public() for k in auth.list_keys(records_engine(), role="integration")]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    show_table(rows, ["name", "format", "signed", "prefix", "id", "created_at"], "Integrations")


@integrations_app.command("show")
def integrations_show(name: str, as_json: JsonOpt = False) -> None:
    """One integration: its format, whether it signs, its mapping and where it posts."""
    from warroom.records import keys as auth

    found = auth.find(records_engine(), name, role="integration")
    if found is None:
        raise fail(f"no integration named {name!r}")
    view = found.public()
    fmt = found.format
    view["endpoint"] = ("/v2/enqueue (routing_key = the key)" if fmt == "pagerduty"
                        else f"/api/v1/alerts/custom/{found.name}" if fmt == "custom"
                        else f"/api/v1/alerts/{fmt}" if fmt else "/api/v1/alerts/<source>")
    if as_json:
        typer.echo(json.dumps(view, indent=2, ensure_ascii=False))
        return
    for field in ("name", "id", "format", "signed", "prefix", "created_at", "endpoint"):
        typer.echo(f"{field:>10}: {view.get(field)}")
    if found.mapping is not None:
        typer.echo("   mapping:")
        typer.echo(json.dumps(found.mapping, indent=2, ensure_ascii=False))


@integrations_app.command("delete")
def integrations_delete(name: str) -> None:
    """Delete an integration: its key stops working at once."""
    from warroom.records import keys as auth

    engine = records_engine()
    try:
        view = auth.revoke(engine, name, role="integration")
    except auth.KeyProblem as err:
        raise fail(str(err)) from None
    audited(engine, "integration.deleted", view.name, format=view.format, prefix=view.prefix)
    typer.echo(f"deleted integration {view.name!r} (id {view.id}); its key no longer works")
