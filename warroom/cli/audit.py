"""`warroom audit`: the audit log (who did which administrative action, when).

Room: CLI (a composition root). Reads the records database directly, like `warroom keys`
(WARROOM_DATABASE_URL, or the SQLite file in the data directory): whoever can run it on the
server is an admin already. Over HTTP: GET /api/v1/audit with an admin key.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from warroom.cli.keys import JsonOpt, fail, records_engine, show_table


def audit_command(
    action: Annotated[list[str] | None, typer.Option(
        "--action", help="only these actions (repeat): key.created, key.revoked, integration.created, "
                         "integration.deleted, oncall.file_written, runbook.validated")] = None,
    actor: Annotated[str | None, typer.Option(help="only this actor (a person, or cli:<user>)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="at most this many, newest first")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The audit log, newest first."""
    from warroom.records import audit

    unknown = sorted(set(action or []) - set(audit.ACTIONS))
    if unknown:
        raise fail(f"unknown action {', '.join(unknown)}; one of {', '.join(audit.ACTIONS)}")
    rows, total = audit.entries(records_engine(), action=action, actor=actor, limit=limit)
    out = [r.public() for r in rows]
    if as_json:
        typer.echo(json.dumps({"entries": out, "total": total}, indent=2, ensure_ascii=False))
        return
    for r in out:
        r["details"] = ", ".join(f"{k}={v}" for k, v in r["details"].items())
    show_table(out, ["at", "actor", "action", "target", "via", "details"], f"Audit log ({len(out)} of {total})")
