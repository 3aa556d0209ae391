"""Room: api (HTTP edge) — the web console: sign-in, the board, and what every page shares.

Pages are server-rendered (api/console/templates) from the same records and engine state the
JSON API answers with; the incident page and its forms are in console_incident.py. A person
signs in with their API key (api/console/session.py keeps the session); roles are the API's:
viewers see, responders act, admins administer. These are pages, not API operations: they stay
out of the OpenAPI document, and tests/api/test_console.py walks them with every role.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.body import JsonRoute
from api.console import session as sessions
from api.console import templates
from api.deps import ACT, READ, RecordsDep
from warroom import records
from warroom.records import keys as auth
from warroom.timeparse import span

router = APIRouter(route_class=JsonRoute, include_in_schema=False)

PRIORITIES = ("P0", "P1", "P2", "P3", "P4")
STATUSES = ("triggered", "acknowledged", "resolved")  # open ones; "closed" is the other board
PHASES = ("assess", "notify", "war_room", "recover", "verify", "review", "open")
DEADLINES = (("ack_due", "acknowledge"), ("next_update_due", "next update"), ("resolve_due", "resolve"),
             ("review_due", "review"))


# ---------------------------------------------------------------------- who is signed in

def login_redirect(request: Request) -> HTTPException:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return HTTPException(303, "sign in first", headers={"Location": f"/login?next={quote(target, safe='')}"})


async def signed_in(request: Request, db: RecordsDep) -> sessions.Session:
    """A page's reader: a signed-in person of a role that may read (else off to /login)."""
    found = await run_in_threadpool(sessions.current, request, db)
    if found is None or found.principal.role not in READ:
        raise login_redirect(request)
    return found


async def form_of(request: Request) -> dict[str, str]:
    """The posted form (application/x-www-form-urlencoded), one value per field; NUL characters
    removed, as api/body.py does for JSON (docs/limits.md)."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k.replace("\x00", ""): v[-1].replace("\x00", "")
            for k, v in parse_qs(body, keep_blank_values=True).items()}


async def acting(request: Request, db: RecordsDep) -> tuple[sessions.Session, dict[str, str]]:
    """A form post that acts: a signed-in responder (or admin) whose form carries the session's
    CSRF token. Anything else is a 403 saying why, and nothing is done."""
    found = await run_in_threadpool(sessions.current, request, db)
    if found is None:
        raise HTTPException(403, "not signed in: sign in at /login first")
    form = await form_of(request)
    if not sessions.csrf_ok(request, found, form.get("csrf", "")):
        raise HTTPException(403, "the form's CSRF token is missing or not this session's: reload the page")
    if found.principal.role not in ACT:
        raise HTTPException(403, f"the key {found.principal.name!r} has role {found.principal.role}; "
                                 "acting on incidents needs responder (or admin)")
    return found, form


SignedIn = Annotated[sessions.Session, Depends(signed_in)]
Acting = Annotated[tuple[sessions.Session, dict[str, str]], Depends(acting)]


def page(request: Request, name: str, who: sessions.Session | None, status_code: int = 200,
         **context: Any) -> HTMLResponse:
    """Render a console template with what every page shows (who is signed in, their CSRF token)."""
    base = {"who": who.principal if who else None, "csrf": sessions.csrf_token(request, who) if who else "",
            "can_act": bool(who and who.principal.role in ACT), "is_admin": bool(who and who.principal.role == "admin"),
            "now": datetime.now(UTC)}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


# ---------------------------------------------------------------------- times shown

def countdown(due: datetime | None, now: datetime) -> str:
    if due is None:
        return ""
    left = (due - now).total_seconds()
    return f"in {span(left)}" if left >= 0 else f"overdue {span(left)}"


def as_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def next_deadline(item: Any, now: datetime) -> tuple[str, datetime] | None:
    """The deadline that comes first among those still set (the engine clears a met one)."""
    get = item.get if isinstance(item, dict) else lambda k: getattr(item, k, None)
    due = [(label, as_time(get(k))) for k, label in DEADLINES if get(k)]
    return min(due, key=lambda d: d[1]) if due else None  # type: ignore[return-value, arg-type]


templates.env.globals.update(span=span, countdown=countdown)


# ---------------------------------------------------------------------- sign-in

@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, db: RecordsDep, next: str = "/") -> Response:
    nonce = sessions.login_nonce(request)
    resp = page(request, "console/login.html", None, next=safe_next(next),
                login_csrf=sessions.login_token(request, nonce), error="")
    sessions.set_cookie(request, resp, sessions.LOGIN_COOKIE, nonce, sessions.LOGIN_AGE)
    return resp


def safe_next(target: str) -> str:
    """Only a path of this console: a sign-in never sends a person to another host."""
    # "//host" and "/\\host" are other hosts to a browser
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


@router.post("/login")
async def login(request: Request, db: RecordsDep) -> Response:
    form = await form_of(request)
    target = safe_next(form.get("next", "/"))
    if not sessions.login_ok(request, form.get("csrf", "")):
        raise HTTPException(403, "the sign-in form's CSRF token is missing or stale: reload /login")
    principal = await run_in_threadpool(auth.authenticate, db, form.get("key", "").strip())
    error = ""
    if principal is None:
        error = "That key is unknown or revoked."
    elif principal.role not in READ:
        error = (f"The key {principal.name!r} is an integration key: it posts alerts. "
                 "Sign in with a person's key (viewer, responder or admin).")
    if error:
        nonce = sessions.login_nonce(request)
        resp = page(request, "console/login.html", None, status_code=401, next=target,
                    login_csrf=sessions.login_token(request, nonce), error=error)
        sessions.set_cookie(request, resp, sessions.LOGIN_COOKIE, nonce, sessions.LOGIN_AGE)
        return resp
    resp = RedirectResponse(target, status_code=303)
    sessions.sign_in(request, resp, principal)  # type: ignore[arg-type]
    return resp


@router.post("/logout")
async def logout(request: Request, db: RecordsDep) -> Response:
    found = await run_in_threadpool(sessions.current, request, db)
    if found is not None and not sessions.csrf_ok(request, found, (await form_of(request)).get("csrf", "")):
        raise HTTPException(403, "the form's CSRF token is missing or not this session's: reload the page")
    resp = RedirectResponse("/login", status_code=303)
    sessions.sign_out(resp)
    return resp


# ---------------------------------------------------------------------- sign-in links

def link_person(request: Request, db: Any, token: str) -> auth.ApiKey | None:
    key_id = sessions.link_key_id(sessions.request_key(request), token)
    principal = auth.find(db, key_id) if key_id else None
    return principal if principal is not None and principal.id == key_id and principal.role in READ else None


@router.get("/login/link", response_class=HTMLResponse)
async def link_form(request: Request, db: RecordsDep, t: str = "") -> Response:
    """A sign-in link (`warroom console login`) shows whose it is and a button: signing in is a
    POST, so a chat app previewing the link signs no one in."""
    principal = await run_in_threadpool(link_person, request, db, t)
    if principal is None:
        return page(request, "console/denied.html", None, status_code=403,
                    reason="This sign-in link is expired or not valid. Ask for a new one "
                           "(warroom console login), or sign in with your key at /login.")
    nonce = sessions.login_nonce(request)
    resp = page(request, "console/link.html", None, person=principal, token=t,
                login_csrf=sessions.login_token(request, nonce))
    sessions.set_cookie(request, resp, sessions.LOGIN_COOKIE, nonce, sessions.LOGIN_AGE)
    return resp


@router.post("/login/link")
async def link_sign_in(request: Request, db: RecordsDep) -> Response:
    form = await form_of(request)
    if not sessions.login_ok(request, form.get("csrf", "")):
        raise HTTPException(403, "the sign-in form's CSRF token is missing or stale: open the link again")
    principal = await run_in_threadpool(link_person, request, db, form.get("t", ""))
    if principal is None:
        return page(request, "console/denied.html", None, status_code=403,
                    reason="This sign-in link is expired or not valid. Ask for a new one (warroom console login).")
    resp = RedirectResponse("/", status_code=303)
    sessions.sign_in(request, resp, principal)
    return resp


# ---------------------------------------------------------------------- the board

def board_filters(request: Request) -> dict[str, list[str]]:
    q = request.query_params
    return {"priority": [v for v in q.getlist("priority") if v in PRIORITIES],
            "service": [v for v in q.getlist("service") if v],
            "phase": [v for v in q.getlist("phase") if v in PHASES],
            "status": [v for v in q.getlist("status") if v in STATUSES]}


def board_rows(db: Any, filters: dict[str, list[str]], closed: bool, now: datetime) -> tuple[list[dict], int]:
    status = ["closed"] if closed else (filters["status"] or list(STATUSES))
    rows, total = records.list_incidents(db, status=status, priority=filters["priority"] or None,
                                         service=filters["service"] or None,
                                         phase=filters["phase"] or None, limit=200)
    out = []
    for r in rows:
        end = r.closed_at if closed else now
        deadline = None if closed else next_deadline(r, now)
        out.append({"id": r.incident_id, "priority": r.priority, "title": r.title, "service": r.service,
                    "phase": r.phase, "status": r.status, "commander": r.commander or "",
                    "level": r.escalation_level, "created_at": r.created_at,
                    "open_for": span((end - r.created_at).total_seconds()) if r.created_at and end else "",
                    "deadline": deadline})
    if not closed:  # the most urgent first: priority, then the oldest
        out.sort(key=lambda x: (x["priority"], x["created_at"] or now))
    return out, total


def services(db: Any) -> list[str]:
    rows, _ = records.list_incidents(db, limit=200)
    return sorted({r.service for r in rows if r.service})


@router.get("/", response_class=HTMLResponse)
async def board(request: Request, db: RecordsDep, who: SignedIn,
                view: str = "open") -> Response:
    closed, now, filters = view == "closed", datetime.now(UTC), board_filters(request)
    rows, total = await run_in_threadpool(board_rows, db, filters, closed, now)
    return page(request, "console/board.html", who, rows=rows, total=total, closed=closed, filters=filters,
                services=await run_in_threadpool(services, db), priorities=PRIORITIES, statuses=STATUSES,
                phases=PHASES, query=request.url.query)


@router.get("/board/rows", response_class=HTMLResponse)
async def board_fragment(request: Request, db: RecordsDep, who: SignedIn,
                         view: str = "open") -> Response:
    """The board's rows alone: what the page's script fetches every few seconds."""
    closed, now = view == "closed", datetime.now(UTC)
    rows, total = await run_in_threadpool(board_rows, db, board_filters(request), closed, now)
    return page(request, "console/_rows.html", who, rows=rows, total=total, closed=closed)
