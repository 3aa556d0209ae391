"""Room: api (HTTP edge) — the audit log (admin): who did which administrative action, when.

`audited` is what the admin routes call after an action (keys, integrations, on-call file
edits, runbook validations); GET /api/v1/audit reads the log, newest first. Stored by
warroom.records.audit, which the CLI writes too (`warroom keys`, `warroom integrations`) and
reads (`warroom audit`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from api.body import JsonRoute
from api.deps import Admin, RecordsDep, actor_of
from api.schemas import UNAUTHORIZED
from warroom.records import audit
from warroom.records.keys import ApiKey
from warroom.timeparse import parse_time

log = logging.getLogger("warroom.audit")
router = APIRouter(route_class=JsonRoute, tags=["audit"])

Action = Literal["key.created", "key.revoked", "integration.created", "integration.deleted", "oncall.file_written",
                 "runbook.validated"]


def audited(db: Engine, principal: ApiKey, action: str, target: str, *, must: bool = True, **details: Any) -> None:
    """Record an administrative action by this key (its person acts; the key's name is kept).
    `must=False`: an action that changed nothing in the records (a file written, a runbook
    validated) is not undone when the records are down; the entry is then only logged."""
    try:
        audit.record(db, actor=actor_of(principal), action=action, target=target, via="api",
                     details={"key": principal.name, **details})
    except SQLAlchemyError as err:
        if must:
            raise
        log.warning("audit entry not recorded (records unavailable): %s %s by %s: %s", action, target,
                    actor_of(principal), str(err).splitlines()[0][:200])


async def audited_async(db: Engine, principal: ApiKey, action: str, target: str, **details: Any) -> None:
    await run_in_threadpool(lambda: audited(db, principal, action, target, must=False, **details))


class AuditEntryView(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    target: str
    via: str
    details: dict[str, Any]


class AuditList(BaseModel):
    entries: list[AuditEntryView]
    total: int
    limit: int
    offset: int


@router.get("/api/v1/audit", response_model=AuditList, responses=UNAUTHORIZED,
            summary="The audit log (admin): keys, integrations, on-call file edits, runbook validations")
def audit_log(db: RecordsDep, _: Admin,
              action: Annotated[list[Action] | None, Query(description="repeat for several")] = None,
              actor: Annotated[str | None, Query(max_length=255)] = None,
              since: Annotated[str | None, Query(description="ISO 8601 time: entries at or after it")] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 100,
              offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> AuditList:
    moment: datetime | None = None
    if since:
        try:
            moment = parse_time(since)
        except ValueError as err:
            raise HTTPException(422, f"since: {err}") from None
    rows, total = audit.entries(db, action=list(action or []), actor=actor, since=moment, limit=limit, offset=offset)
    return AuditList(entries=[AuditEntryView(**r.public()) for r in rows], total=total, limit=limit, offset=offset)
