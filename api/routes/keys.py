"""Room: api (HTTP edge) — API keys (admin): list, create, revoke. Integration keys are made
in api/routes/integrations.py; both store through warroom.records.keys.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.engine import Engine

from api.body import JsonRoute
from api.deps import Admin, RecordsDep
from api.routes.audit import audited
from api.schemas import UNAUTHORIZED, KeyCreate, KeyCreated, KeyView, Problem, Responses
from warroom.records import keys as auth

router = APIRouter(route_class=JsonRoute)

ADMIN_ERRORS: Responses = {**UNAUTHORIZED, 404: {"model": Problem, "description": "no such active key"},
                           409: {"model": Problem, "description": "the name is taken by an active key"},
                           422: {"model": Problem, "description": "invalid key or integration, naming the field"}}


def create(db: Engine, **kwargs: Any) -> KeyCreated:
    """A new key (or integration) and the key itself, shown in this answer only."""
    try:
        view, key = auth.create_key(db, **kwargs)
    except auth.KeyProblem as err:
        raise HTTPException(409 if "already used" in str(err) else 422, str(err)) from None
    return KeyCreated(**view.public(), key=key)


@router.get("/api/v1/keys", response_model=list[KeyView], responses=UNAUTHORIZED, summary="API keys (admin)")
def list_keys(db: RecordsDep, _: Admin) -> list[KeyView]:
    return [KeyView(**k.public()) for k in auth.list_keys(db)]


@router.post("/api/v1/keys", status_code=201, response_model=KeyCreated, responses=ADMIN_ERRORS,
             summary="Create an API key (admin); the key is in this answer only")
def create_key(body: KeyCreate, db: RecordsDep, principal: Admin) -> KeyCreated:
    if body.role == "integration":
        raise HTTPException(422, "role integration: create it with POST /api/v1/integrations")
    made = create(db, name=body.name, role=body.role, person=body.person)
    audited(db, principal, "key.created", made.name, role=made.role, person=made.person, prefix=made.prefix)
    return made


@router.delete("/api/v1/keys/{name}", response_model=KeyView, responses=ADMIN_ERRORS,
               summary="Revoke an API key by name or id (admin); it stops working at once")
def revoke_key(name: str, request: Request, db: RecordsDep, principal: Admin) -> KeyView:
    try:
        revoked = auth.revoke(db, name)
    except auth.KeyProblem as err:
        raise HTTPException(404, str(err)) from None
    request.app.state.keys.forget()  # no alert key lookup outlives a revocation
    audited(db, principal, "key.revoked", revoked.name, role=revoked.role, prefix=revoked.prefix)
    return KeyView(**revoked.public())
