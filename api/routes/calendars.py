"""Room: api (HTTP edge) — on-call calendars: iCalendar feeds of a team's or a person's shifts,
and the feed tokens that open them (docs/oncall.md#calendars).

A calendar app subscribes to `…/api/v1/oncall/<team>.ics?token=…` or
`…/api/v1/oncall/people/<person>.ics?token=…`; it cannot send an API key, and an API key in a
URL would give the calendar every right the key has. So a feed takes a feed token
(warroom/records/feeds.py) that opens that one feed only, or, for scripts, a reader's API key
in the Authorization header. The shifts come from the same on-call files and the same
expansion as `warroom oncall now` (OnCallConfig.shifts_between); the text is
warroom.oncall.calendar's.

Who may make a token: any reader for a team's feed; a person's feed for the key's own person,
or an admin for anyone. A token is listed and revoked by the person who made it, or an admin.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials

from api.body import JsonRoute
from api.deps import READ, OnCallDirDep, Reader, RecordsDep, SettingsDep, check_role, identify
from api.routes.oncall import get_oncall
from api.schemas import UNAUTHORIZED, FeedCreate, FeedCreated, Problem
from warroom.oncall import OnCallConfig
from warroom.oncall import calendar as ical
from warroom.records import feeds
from warroom.records.keys import ApiKey, KeyProblem

router = APIRouter(route_class=JsonRoute, prefix="/api/v1/oncall", tags=["oncall"])

ICS = "text/calendar; charset=utf-8"
TokenQuery = Annotated[str, Query(description="the feed token (from POST /api/v1/oncall/feeds)")]
FEED_ERRORS = {401: {"model": Problem, "description": "no token (or key), or one that does not open this feed"},
               404: {"model": Problem, "description": "no such team or person in the on-call files"}}


def _allowed(request: Request, db: Any, token: str, feed: str) -> None:
    if token:
        if feeds.opens(db, token, feed):
            return
        raise HTTPException(401, f"this feed token does not open {feed} (revoked, or made for another feed)")
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise HTTPException(401, "a calendar feed needs ?token=<feed token> (POST /api/v1/oncall/feeds makes one) "
                                 "or a reader's API key in Authorization")
    check_role(identify(db, HTTPAuthorizationCredentials(scheme="Bearer", credentials=credentials.strip())), READ)


def _serve(config: OnCallConfig, name: str, ident: str, **which: str) -> Response:
    now = datetime.now(UTC)
    shifts = config.shifts_between(now - ical.PAST, now + ical.AHEAD, **which)
    body = ical.feed(name, ident, shifts, stamp=now)
    filename = ident.replace(":", "-") + ".ics"
    return Response(body, media_type=ICS, headers={"Content-Disposition": f'inline; filename="{filename}"',
                                                   "Cache-Control": "private, max-age=300"})


@router.get("/people/{person}.ics", summary="A person's shifts as an iCalendar feed", responses=FEED_ERRORS,
            response_class=Response)
def person_feed(person: str, request: Request, db: RecordsDep, directory: OnCallDirDep,
                token: TokenQuery = "") -> Response:
    _allowed(request, db, token, f"person:{person}")
    config = get_oncall(directory)
    if person not in config.people:
        raise HTTPException(404, f"no person {person!r} in the on-call files")
    return _serve(config, f"On call: {config.people[person].name}", f"person:{person}", person=person)


@router.get("/{team}.ics", summary="A team's shifts as an iCalendar feed", responses=FEED_ERRORS,
            response_class=Response)
def team_feed(team: str, request: Request, db: RecordsDep, directory: OnCallDirDep,
              token: TokenQuery = "") -> Response:
    _allowed(request, db, token, f"team:{team}")
    config = get_oncall(directory)
    if team not in config.teams:
        raise HTTPException(404, f"no team {team!r} in the on-call files")
    return _serve(config, f"On call: {config.teams[team].name}", f"team:{team}", team=team)


def feed_url(request: Request, public_url: str, feed: str, token: str) -> tuple[str, str]:
    """The feed's https address with its token, and the same as webcal://."""
    base = (public_url or str(request.base_url)).rstrip("/")
    kind, _, ident = feed.partition(":")
    path = f"/api/v1/oncall/{ident}.ics" if kind == "team" else f"/api/v1/oncall/people/{ident}.ics"
    url = f"{base}{path}?token={token}"
    return url, "webcal://" + url.split("://", 1)[1]


def make_feed(db: Any, config: OnCallConfig, principal: ApiKey, *, team: str | None,
              person: str | None) -> tuple[feeds.FeedToken, str]:
    """Check who may subscribe to what, then store a new token (shared with the console's button)."""
    if team and person:
        raise HTTPException(422, "give team or person, not both")
    if team:
        if team not in config.teams:
            raise HTTPException(404, f"no team {team!r} in the on-call files")
        feed = f"team:{team}"
    else:
        person = person or principal.acts_as
        if person not in config.people:
            raise HTTPException(404, f"no person {person!r} in the on-call files"
                                     + ("" if principal.person else " (the key has no person: give `person`)"))
        if person != principal.acts_as and principal.role != "admin":
            raise HTTPException(403, f"this key belongs to {principal.acts_as}; only an admin makes a feed of "
                                     f"{person}'s shifts (a team's feed is open to every reader)")
        feed = f"person:{person}"
    return feeds.create(db, feed=feed, person=principal.acts_as)


@router.post("/feeds", status_code=201, response_model=FeedCreated, summary="Make a calendar feed token",
             responses={**UNAUTHORIZED, 404: {"model": Problem, "description": "no such team or person"}})
def create_feed(body: FeedCreate, request: Request, db: RecordsDep, directory: OnCallDirDep,
                settings: SettingsDep, principal: Reader) -> FeedCreated:
    made, token = make_feed(db, get_oncall(directory), principal, team=body.team, person=body.person)
    url, webcal = feed_url(request, settings.public_url, made.feed, token)
    return FeedCreated(id=made.id, feed=made.feed, person=made.person, url=url, webcal=webcal)


@router.get("/feeds", summary="Calendar feed tokens: your own (an admin: everyone's)", responses=UNAUTHORIZED)
def list_feeds(db: RecordsDep, principal: Reader) -> dict[str, Any]:
    mine = None if principal.role == "admin" else principal.acts_as
    return {"feeds": [t.public() for t in feeds.list_tokens(db, person=mine)]}


@router.delete("/feeds/{token_id}", summary="Revoke a calendar feed token",
               responses={**UNAUTHORIZED, 404: {"model": Problem, "description": "no such active token of yours"}})
def revoke_feed(token_id: str, db: RecordsDep, principal: Reader) -> dict[str, Any]:
    try:
        return feeds.revoke(db, token_id, person=None if principal.role == "admin" else principal.acts_as).public()
    except KeyProblem as err:
        raise HTTPException(404, str(err)) from None
