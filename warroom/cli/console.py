"""`warroom console login`: a sign-in link for the web console, for a person's key.

Room: CLI (a composition root). Works on the records database directly (like `warroom keys`)
and signs with the server key the API uses (Settings.secret_key, or <data_dir>/secret.key), so
run it where the API's settings are. The link expires after a few minutes; opening it shows a
Sign in button (a POST: link previewers sign no one in).
"""

from __future__ import annotations

from typing import Annotated

import typer

from warroom.cli.keys import records_engine

console_app = typer.Typer(help="The web console.", no_args_is_help=True)


@console_app.command("login")
def login(name: Annotated[str, typer.Option("--name", help="the key's name (warroom keys list)")],
          minutes: Annotated[int | None, typer.Option(
              min=1, max=60, help="minutes the link stays valid (default: the console's link lifetime)")] = None,
          ) -> None:
    """Print a sign-in link for the console, for the active key NAME (viewer, responder or admin)."""
    # The API (FastAPI) and the records (SQLAlchemy) load when the command runs, not for `warroom --help`.
    from api.console.session import LINK_MINUTES, link_token
    from warroom.records import keys as auth
    from warroom.secrets import server_key
    from warroom.settings import Settings

    minutes = LINK_MINUTES if minutes is None else minutes
    settings = Settings()
    principal = auth.find(records_engine(), name)
    if principal is None:
        typer.echo(f"no active key named {name!r} (warroom keys list)", err=True)
        raise typer.Exit(1)
    if principal.role not in ("viewer", "responder", "admin"):
        typer.echo(f"the key {name!r} is an integration key: the console is for people's keys", err=True)
        raise typer.Exit(1)
    from warroom.cli.incidents import default_url

    base = (settings.public_url or default_url()).rstrip("/")  # a wildcard listen address: loopback
    token = link_token(server_key(settings.secret_key, settings.data_dir), principal.id, minutes=minutes)
    typer.echo(f"sign-in link for {principal.name} ({principal.role}), valid {minutes} min:")
    typer.echo(f"{base}/login/link?t={token}")
