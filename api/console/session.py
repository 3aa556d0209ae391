"""Room: api (HTTP edge) — console sign-in: the session cookie and the CSRF token of its forms.

A session is `<key id>.<issued at>.<nonce>.<HMAC>` signed with the server key
(warroom.secrets.server_key): the API key itself never sits in the cookie, and a revoked key
ends its sessions at once (the key is looked up on every request). A form's CSRF token is an
HMAC of the session cookie, so it is tied to that session and dies with it. The sign-in form,
before any session, is tied the same way to a short-lived nonce cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.engine import Engine

from api.deps import server_key_of
from warroom.records import keys as auth

SESSION_COOKIE = "warroom_session"
LOGIN_COOKIE = "warroom_login"
SESSION_AGE = 12 * 3600  # a shift: sign in again the next day
LOGIN_AGE = 3600


def _mac(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


@dataclass
class Session:
    principal: auth.ApiKey
    cookie: str


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")


def sign_in(request: Request, response: Response, principal: auth.ApiKey) -> None:
    body = f"{principal.id}.{int(time.time())}.{secrets.token_urlsafe(12)}"
    set_cookie(request, response, SESSION_COOKIE, f"{body}.{_mac(server_key_of(request), 'session', body)}", SESSION_AGE)
    response.delete_cookie(LOGIN_COOKIE, path="/")


def sign_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def current(request: Request, db: Engine) -> Session | None:
    """The signed-in person's session, or None (no cookie, forged, expired, key revoked)."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    body, _, mac = cookie.rpartition(".")
    if not body or not hmac.compare_digest(mac, _mac(server_key_of(request), "session", body)):
        return None
    key_id, issued, _nonce = (body.split(".") + ["", "", ""])[:3]
    if not issued.isdigit() or time.time() - int(issued) > SESSION_AGE:
        return None
    principal = auth.find(db, key_id)
    if principal is None or principal.id != key_id:
        return None
    return Session(principal=principal, cookie=cookie)


def csrf_token(request: Request, session: Session) -> str:
    return _mac(server_key_of(request), "csrf", session.cookie)


def csrf_ok(request: Request, session: Session, token: str) -> bool:
    return bool(token) and hmac.compare_digest(token, csrf_token(request, session))


# ------------------------------------------------------------------ the sign-in form

def login_nonce(request: Request) -> str:
    """The nonce the sign-in form is tied to (the cookie's, or a new one to set)."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)


def login_token(request: Request, nonce: str) -> str:
    return _mac(server_key_of(request), "login", nonce)


def login_ok(request: Request, token: str) -> bool:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    return bool(nonce and token) and hmac.compare_digest(token, login_token(request, nonce))


# ------------------------------------------------------------------ sign-in links (`warroom console login`)

LINK_MINUTES = 10


def link_token(key: bytes, key_id: str, *, minutes: int = LINK_MINUTES, now: float | None = None) -> str:
    """A signed, expiring sign-in token for this key (made by the CLI with the same server key)."""
    body = f"{key_id}.{int((now or time.time()) + minutes * 60)}.{secrets.token_urlsafe(8)}"
    return f"{body}.{_mac(key, 'link', body)}"


def link_key_id(key: bytes, token: str, *, now: float | None = None) -> str | None:
    """The key id a sign-in token was made for, or None if it is forged, malformed or expired."""
    body, _, mac = token.rpartition(".")
    if not body or not hmac.compare_digest(mac, _mac(key, "link", body)):
        return None
    key_id, expires, _nonce = (body.split(".") + ["", "", ""])[:3]
    if not expires.isdigit() or (now or time.time()) > int(expires):
        return None
    return key_id


def request_key(request: Request) -> bytes:
    """The server key this app signs with (public for the sign-in link routes)."""
    return server_key_of(request)
