"""Room: api (HTTP edge) — on-call hand-overs: the notes a person leaves for the next shift, and
the hand-overs sent at rotation changes (docs/oncall.md, "Hand-over"). A note is the key's
person's (an admin's `by` names whom it is for); the hand-over itself is the OncallHandover
workflow's (workflows/handover.py), never the API's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.body import JsonRoute
from api.deps import Reader, RecordsDep, Responder, actor_of
from api.routes.oncall import OnCallDep
from api.schemas import By
from warroom.records import handovers

router = APIRouter(route_class=JsonRoute, prefix="/api/v1/oncall", tags=["oncall"])


class HandoverNoteBody(BaseModel):
    schedule: str = Field(min_length=1, max_length=255, description="the schedule whose next hand-over carries it")
    note: str = Field(min_length=1, max_length=5000, pattern=r"\S")
    by: str | None = By


def _note(n: Any) -> dict[str, Any]:
    return {"id": n.id, "schedule": n.schedule, "person": n.person, "note": n.text,
            "created_at": n.created_at.isoformat(), "handover": n.handover_key}


@router.post("/handover-notes", status_code=201, summary="Leave a note for the next hand-over of a schedule",
             responses={422: {"description": "unknown schedule or empty note"}})
async def add_note(body: HandoverNoteBody, db: RecordsDep, config: OnCallDep, principal: Responder) -> dict[str, Any]:
    if body.schedule not in config.schedules:
        raise HTTPException(422, f"schedule: no schedule {body.schedule!r}; one of "
                                 f"{', '.join(sorted(config.schedules)) or 'none (no on-call files)'}")
    person = actor_of(principal, acting_for=body.by)
    row = await run_in_threadpool(handovers.add_note, db, schedule=body.schedule, person=person, text=body.note)
    return _note(row)


@router.get("/handovers", summary="The latest hand-overs and the notes waiting for the next one")
async def list_handovers(db: RecordsDep, _: Reader,
                         schedule: Annotated[str | None, Query(description="only this schedule")] = None,
                         limit: Annotated[int, Query(ge=1, le=200)] = 20) -> dict[str, Any]:
    done, waiting = await run_in_threadpool(lambda: (
        handovers.handovers(db, schedule=schedule, limit=limit),
        handovers.pending_notes(db, schedule=schedule) if schedule else []))
    return {"handovers": [{"key": h.key, "schedule": h.schedule, "team": h.team, "at": h.at.isoformat(),
                           "outgoing": h.outgoing, "incoming": h.incoming, "incidents": h.incidents,
                           "notes": h.notes, "subject": h.subject, "body": h.body} for h in done],
            "pending_notes": [_note(n) for n in waiting]}
