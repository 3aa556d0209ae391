"""Room: api (HTTP edge) — integrations (admin): the keys alerting systems send with, each
perhaps bound to one format, signed, or (custom) carrying the mapping its bodies go through.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from api.body import JsonRoute
from api.deps import Admin, RecordsDep
from api.routes.audit import audited
from api.routes.keys import ADMIN_ERRORS, create
from api.schemas import UNAUTHORIZED, IntegrationCreate, KeyCreated, KeyView
from api.sources.custom import MappingError, compile_mapping
from warroom.records import keys as auth

router = APIRouter(route_class=JsonRoute)


@router.get("/api/v1/integrations", response_model=list[KeyView], responses=UNAUTHORIZED,
            summary="Integrations: the keys alerting systems send with (admin)")
def list_integrations(db: RecordsDep, _: Admin) -> list[KeyView]:
    return [KeyView(**k.public()) for k in auth.list_keys(db, role="integration")]


@router.post("/api/v1/integrations", status_code=201, response_model=KeyCreated, responses=ADMIN_ERRORS,
             summary="Create an integration and its key (admin); the key is in this answer only")
def create_integration(body: IntegrationCreate, db: RecordsDep, principal: Admin) -> KeyCreated:
    if body.mapping is not None:
        try:
            compile_mapping(body.mapping)
        except MappingError as err:
            raise HTTPException(422, str(err)) from None
    made = create(db, name=body.name, role="integration", format=body.format,
                  signing_secret=body.signing_secret, mapping=body.mapping)
    # never the secret itself: whether there is one
    audited(db, principal, "integration.created", made.name, format=made.format, signed=bool(body.signing_secret),
            custom=body.mapping is not None, prefix=made.prefix)
    return made


@router.get("/api/v1/integrations/{name}", response_model=KeyView, responses=ADMIN_ERRORS,
            summary="One integration (admin)")
def show_integration(name: str, db: RecordsDep, _: Admin) -> KeyView:
    found = auth.find(db, name, role="integration")
    if found is None:
        raise HTTPException(404, f"no integration named {name!r}")
    return KeyView(**found.public())


@router.delete("/api/v1/integrations/{name}", response_model=KeyView, responses=ADMIN_ERRORS,
               summary="Delete an integration (admin): its key is revoked at once")
def delete_integration(name: str, request: Request, db: RecordsDep, principal: Admin) -> KeyView:
    try:
        revoked = auth.revoke(db, name, role="integration")
    except auth.KeyProblem as err:
        raise HTTPException(404, str(err)) from None
    request.app.state.keys.forget()  # its key stops sending at once
    audited(db, principal, "integration.deleted", revoked.name, format=revoked.format, prefix=revoked.prefix)
    return KeyView(**revoked.public())
