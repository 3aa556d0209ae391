"""The audit log: who did what administrative action, and when (keys, integrations, on-call
file edits, runbook validations), through the API or the CLI.

Room: records (warroom/records). Written by api/routes (keys, integrations, oncall, runbooks)
and warroom/cli (keys, integrations); read by GET /api/v1/audit and `warroom audit` (admins).
Rows are only ever added. Texts are cut to their columns and NUL characters removed, so an
entry is stored the same on SQLite and PostgreSQL (docs/limits.md).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from warroom.records.models import AuditRow, now_utc

# What is recorded (the `action` column).
ACTIONS = ("key.created", "key.revoked", "integration.created", "integration.deleted", "oncall.file_written",
           "runbook.validated")


@dataclass
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    via: str
    details: dict[str, Any]

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor, "action": self.action,
                "target": self.target, "via": self.via, "details": self.details}


def _text(value: str, length: int) -> str:
    return str(value).replace("\x00", "")[:length]


def cli_actor() -> str:
    """Who the CLI acts as: it works on the records directly, with no key to name a person."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        user = "unknown"
    return f"cli:{user}"


def record(engine: Engine, *, actor: str, action: str, target: str = "", via: str = "api",
           details: dict[str, Any] | None = None) -> None:
    """Add one entry (now)."""
    with Session(engine) as s, s.begin():
        s.add(AuditRow(at=now_utc(), actor=_text(actor, 255), action=_text(action, 64),
                       target=_text(target, 255), via=_text(via, 16), details=details or {}))


def entries(engine: Engine, *, action: list[str] | None = None, actor: str | None = None,
            since: datetime | None = None, limit: int = 100, offset: int = 0) -> tuple[list[AuditEntry], int]:
    """The entries, newest first, and how many match in all."""
    q = select(AuditRow)
    if action:
        q = q.where(AuditRow.action.in_(action))
    if actor:
        q = q.where(AuditRow.actor == actor)
    if since is not None:
        q = q.where(AuditRow.at >= since)
    with Session(engine) as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.scalars(q.order_by(AuditRow.id.desc()).limit(limit).offset(offset)).all()
        return [AuditEntry(id=r.id, at=r.at, actor=r.actor, action=r.action, target=r.target, via=r.via,
                           details=dict(r.details or {})) for r in rows], total
