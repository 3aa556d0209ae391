"""Room: api (HTTP edge) — what routes depend on: settings, records, Temporal, the caller's key.

`Annotated` aliases, one per thing a route may need, each read from what the composition root
(api/app.py: create_app and its lifespan) put on app.state:

    SettingsDep   app.state.settings   the Settings the app was made with
    RecordsDep    app.state.engine     the records database (a SQLAlchemy Engine)
    TemporalDep   app.state.temporal   the Temporal client: the only way routes reach Temporal
    IntakeDep     app.state.intake     what alert intake keeps between requests (api/intake.py)
    RateLimitDep  app.state.rate_limit every key's alert rate (api/ratelimit.py)
                  app.state.keys       the API keys verified lately (KeyCache)
    RunbooksDep   app.state.runbooks   the runbooks the worker loads
    OnCallDirDep  app.state.oncall_dir the on-call files the worker pages from (settings.oncall_dir)
    IncidentId    the path's incident id, through the one id parser (404 for no possible id)

and the caller checks: Reader, Responder, Declarer, Admin (a key of one of the roles), Sender
and CustomSender (the key posting alerts). Who may call what: docs/integrations.md.
"""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path as PathParam, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client

from api.intake import Intake
from api.ratelimit import AlertRateLimit
from api.sources.registry import PARSERS
from warroom import signatures
from warroom.classify import BadIncidentId, parse_incident_id
from warroom.records import keys as auth
from warroom.runbooks import RunbookLibrary
from warroom.secrets import server_key
from warroom.settings import Settings


# The getters are `async def`: FastAPI runs a plain `def` dependency in its threadpool, a
# thread hop per dependency per request (on an alert that was five of them, most of the API's
# CPU in a storm); reading app.state needs no thread.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_records(request: Request) -> Engine:
    return request.app.state.engine


async def get_temporal(request: Request) -> Client:
    return request.app.state.temporal


async def get_intake(request: Request) -> Intake:
    return request.app.state.intake


async def get_rate_limit(request: Request) -> AlertRateLimit:
    return request.app.state.rate_limit


async def get_runbooks(request: Request) -> RunbookLibrary:
    return request.app.state.runbooks


def server_key_of(request: Request) -> bytes:
    """The API's own HMAC key (console sessions, acknowledge links), read once per app."""
    state = request.app.state
    if getattr(state, "server_key", None) is None:
        state.server_key = server_key(state.settings.secret_key, state.settings.data_dir)
    return state.server_key


async def get_oncall_dir(request: Request) -> Path:
    return Path(request.app.state.oncall_dir)


async def incident_id_path(incident_id: Annotated[str, PathParam(
        description="an incident id: incident-<key>, or incident-<key>~<n> for a key that fired again")]) -> str:
    """The path's incident id, read by the one parser of ids (warroom.classify): a text no
    incident can have is an unknown incident, 404, never a call to Temporal with it."""
    try:
        parse_incident_id(incident_id)
    except BadIncidentId as err:
        raise HTTPException(404, str(err)) from None
    return incident_id


# Module level, so FastAPI can resolve them from the string annotations.
SettingsDep = Annotated[Settings, Depends(get_settings)]
RecordsDep = Annotated[Engine, Depends(get_records)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
IntakeDep = Annotated[Intake, Depends(get_intake)]
RateLimitDep = Annotated[AlertRateLimit, Depends(get_rate_limit)]
RunbooksDep = Annotated[RunbookLibrary, Depends(get_runbooks)]
OnCallDirDep = Annotated[Path, Depends(get_oncall_dir)]
IncidentId = Annotated[str, Depends(incident_id_path)]

# ---------------------------------------------------------------------- keys and roles

bearer = HTTPBearer(auto_error=False, scheme_name="apiKey",
                    description="A warroom API key: `Authorization: Bearer <key>` (`warroom keys create`).")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
# Who may call what (docs/integrations.md). Admin may call everything.
READ = ("viewer", "responder", "admin")
ACT = ("responder", "admin")
ALERTS = ("integration", "admin")
DECLARE = ("integration", "responder", "admin")
ADMIN = ("admin",)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def identify(db: Engine, credentials: HTTPAuthorizationCredentials | None) -> auth.ApiKey:
    if credentials is None:
        raise unauthorized("missing API key: send Authorization: Bearer <key>")
    principal = auth.authenticate(db, credentials.credentials)
    if principal is None:
        raise unauthorized("unknown or revoked API key")
    return principal


class KeyCache:
    """Every API key verified lately, so that neither a storm nor the console looks its key up in
    the records for every request, and the records are never on an alert's critical path
    (docs/records.md, "When the records do not answer").

    - A verified key is reused for `ttl` seconds (5); then the next request looks it up again.
      That is the bound on how stale an answer may be: a key revoked in another process (the
      CLI, another API) stops within `ttl`; revoking through this API forgets every key at once.
    - While the records do not answer (refused, dropped, frozen, locked), a key verified before
      keeps its last answer: a request waits at most `stale_wait` (0.5 s) on the lookup, then the
      cached answer holds. A revocation cannot be made while the records are down, so what is
      served is at most `ttl` older than the last answer the records gave.
    - A key not verified before waits at most `wait` (2 s); if the records cannot say, the answer
      is 503 with Retry-After: never accepted on trust, never a 500, never a hung request.
    - One lookup per key at a time: requests for the same key share it, so a frozen database
      holds at most one thread per key, not one per request."""

    TTL = 5.0  # seconds
    WAIT = 2.0
    STALE_WAIT = 0.5
    RETRY_AFTER = "2"

    def __init__(self, ttl: float = TTL, wait: float = WAIT, stale_wait: float = STALE_WAIT) -> None:
        self.ttl, self.wait, self.stale_wait = ttl, wait, stale_wait
        self.known: dict[str, tuple[auth.ApiKey, float]] = {}  # key hash -> (key, when verified)
        self.lookups: dict[str, asyncio.Future[auth.ApiKey | None]] = {}  # key hash -> lookup in flight
        self.generation = 0  # forget() ends it: a lookup started before a revocation is not kept

    def forget(self) -> None:
        self.known.clear()
        self.lookups.clear()
        self.generation += 1

    async def identify(self, db: Engine, key: str) -> auth.ApiKey | None:
        """The active key this is, or None (unknown or revoked); HTTPException 503 when the
        records cannot say and the key was never verified."""
        if not key:
            return None
        digest = auth.hash_key(key)
        entry = self.known.get(digest)
        if entry is not None and time.monotonic() - entry[1] < self.ttl:
            return entry[0]
        lookup = self.lookups.get(digest)
        if lookup is None:
            lookup = asyncio.ensure_future(run_in_threadpool(auth.authenticate, db, key))
            self.lookups[digest] = lookup
            lookup.add_done_callback(functools.partial(self._settle, digest, self.generation))
        try:
            return await asyncio.wait_for(asyncio.shield(lookup), self.stale_wait if entry else self.wait)
        except (SQLAlchemyError, TimeoutError):
            if entry is not None:
                return entry[0]
            raise HTTPException(503, "cannot verify the API key now: the records database did not answer; "
                                     "send again shortly", headers={"Retry-After": self.RETRY_AFTER}) from None

    def _settle(self, digest: str, generation: int, lookup: asyncio.Future[auth.ApiKey | None]) -> None:
        if self.lookups.get(digest) is lookup:
            del self.lookups[digest]
        if lookup.cancelled() or lookup.exception() is not None or generation != self.generation:
            return
        principal, now = lookup.result(), time.monotonic()
        if principal is None:
            self.known.pop(digest, None)
            return
        if len(self.known) > 10_000:
            self.known = {d: e for d, e in self.known.items() if now - e[1] < self.ttl}
        self.known[digest] = (principal, now)


RECORDS_WAIT = 1.0  # seconds an answer that does not need the records waits on them for extras


async def records_or(default: Any, call: Any, *args: Any, wait: float = RECORDS_WAIT, **kwargs: Any) -> Any:
    """A records read for an answer that stands without it (an incident's recent changes beside
    its state from Temporal): its result, or `default` when the records fail or take longer
    than `wait`. The read goes on in its thread; the request does not wait for it."""
    lookup = asyncio.ensure_future(run_in_threadpool(call, *args, **kwargs))
    lookup.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "exception was never retrieved"
    try:
        return await asyncio.wait_for(asyncio.shield(lookup), wait)
    except (SQLAlchemyError, TimeoutError):
        return default


async def identify_key(request: Request, db: Engine,
                       credentials: HTTPAuthorizationCredentials | None) -> auth.ApiKey:
    if credentials is None:
        raise unauthorized("missing API key: send Authorization: Bearer <key>")
    principal = await request.app.state.keys.identify(db, credentials.credentials)
    if principal is None:
        raise unauthorized("unknown or revoked API key")
    return principal


def check_role(principal: auth.ApiKey, roles: tuple[str, ...]) -> None:
    if principal.role not in roles:
        raise HTTPException(403, f"the key {principal.name!r} has role {principal.role}; this endpoint needs "
                                 f"{' or '.join(r for r in roles if r != 'admin')} (or admin)")


INTEGRATION_ACTOR = "integration:"  # what the timeline names for an integration key: integration:<name>


def actor_of(principal: auth.ApiKey, *, acting_for: str | None = None) -> str:
    """Who the timeline names for an action taken with this key: the one place that decides it
    (the JSON API, the console's forms and the acknowledge links all ask here).

    `acting_for` is the request's `by`, when it gave one. The rules (docs/integrations.md):
      integration key           integration:<name> (it acts for its source, never as a person)
      any other key, no `by`    the key's person (its own name when it has none)
      `by` is the key's person  the key's person
      admin, another `by`       "<admin's person> for <by>"
      responder, another `by`   refused: 403 saying whose key it is
    """
    if principal.role == "integration":
        return INTEGRATION_ACTOR + principal.name
    person = principal.acts_as
    wanted = (acting_for or "").strip()
    if not wanted or wanted == person:
        return person
    if principal.role == "admin":
        return f"{person} for {wanted}"
    raise HTTPException(403, f"this key belongs to {person}; it cannot act as {wanted} "
                             "(leave out `by`, or use that person's key; only an admin key acts for someone)")


def allow(*roles: str) -> Any:
    """A dependency admitting keys of these roles (verified through the app's KeyCache)."""

    async def dependency(request: Request, credentials: BearerDep, db: RecordsDep) -> auth.ApiKey:
        principal = await identify_key(request, db, credentials)
        check_role(principal, roles)
        return principal

    return dependency


Reader = Annotated[auth.ApiKey, Depends(allow(*READ))]
Responder = Annotated[auth.ApiKey, Depends(allow(*ACT))]
Admin = Annotated[auth.ApiKey, Depends(allow(*ADMIN))]


async def check_sender(request: Request, principal: auth.ApiKey, fmt: str) -> None:
    """An integration key bound to a format posts only there; a signed one must sign the body."""
    if principal.role != "integration":
        return
    if principal.format and principal.format != fmt:
        where = (f"/api/v1/alerts/custom/{principal.name}" if principal.format == "custom"
                 else f"/api/v1/alerts/{principal.format}")
        raise HTTPException(403, f"integration {principal.name!r} sends {principal.format} alerts: post to {where}")
    if principal.signing_secret:
        body, now = await request.body(), time.time()
        try:
            if principal.format == "grafana":
                signatures.verify_grafana(principal.signing_secret, body, request.headers, now=now)
            else:
                signatures.verify_warroom(principal.signing_secret, body, request.headers, now=now)
        except signatures.SignatureError as err:
            raise unauthorized(f"signature: {err}") from None


async def alert_sender(request: Request, credentials: BearerDep, db: RecordsDep) -> auth.ApiKey:
    """The key posting to /api/v1/alerts/{source} (the format is the path's source)."""
    principal = await identify_key(request, db, credentials)
    check_role(principal, ALERTS)
    source = request.path_params.get("source", "generic")
    if source in PARSERS or source == "generic":
        await check_sender(request, principal, source)
    return principal


async def custom_sender(integration: str, request: Request, credentials: BearerDep,
                        db: RecordsDep) -> auth.ApiKey:
    """The key posting to /api/v1/alerts/custom/{integration}: that integration's own key, or an admin."""
    principal = await identify_key(request, db, credentials)
    check_role(principal, ALERTS)
    if principal.role == "integration" and principal.name != integration:
        raise HTTPException(403, f"this key belongs to integration {principal.name!r}, not {integration!r}")
    await check_sender(request, principal, "custom")
    return principal


async def declarer(request: Request, principal: Annotated[auth.ApiKey, Depends(allow(*DECLARE))]) -> auth.ApiKey:
    """The key declaring an incident by hand (POST /api/v1/incidents): one of DECLARE's roles,
    and an integration key through the checks of every alert path: its format binding (the body
    is the generic alert) and its signature, so a leaked key of a signed integration cannot
    declare without the HMAC."""
    await check_sender(request, principal, "generic")
    return principal


Sender = Annotated[auth.ApiKey, Depends(alert_sender)]
Declarer = Annotated[auth.ApiKey, Depends(declarer)]
CustomSender = Annotated[auth.ApiKey, Depends(custom_sender)]
