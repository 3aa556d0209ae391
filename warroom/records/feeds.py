"""Calendar feed tokens: what a calendar app holds in its subscription URL.

Room: records (warroom/records; imported by the API, never by workflows/). A calendar app
cannot send an Authorization header, so the on-call feeds take a token in the URL; an API key
there would leak every right the key has into a calendar's settings and its server's logs.
A feed token opens exactly one feed (`team:<id>` or `person:<id>`) and nothing else, is
revocable, and, like an API key (keys.py), only its SHA-256 is stored: the URL with the token
is shown once, when it is made.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from warroom.records.keys import KeyProblem, hash_key
from warroom.records.models import FeedTokenRow, now_utc

TOKEN_PREFIX = "wf"
FEED_KINDS = ("team", "person")


@dataclass
class FeedToken:
    id: str
    feed: str  # team:<id> | person:<id>
    person: str  # who made it
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None

    def public(self) -> dict[str, object]:
        return {"id": self.id, "feed": self.feed, "person": self.person, "prefix": self.prefix,
                "created_at": self.created_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}


def _view(row: FeedTokenRow) -> FeedToken:
    return FeedToken(id=row.id, feed=row.feed, person=row.person, prefix=row.prefix, created_at=row.created_at,
                     revoked_at=row.revoked_at)


def create(engine: Engine, *, feed: str, person: str) -> tuple[FeedToken, str]:
    """A new token for `feed`, made by `person`; returns it and the token itself (shown once)."""
    kind, _, ident = feed.partition(":")
    if kind not in FEED_KINDS or not ident:
        raise KeyProblem(f"feed {feed!r}: team:<id> or person:<id>")
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    with Session(engine) as session, session.begin():
        row = FeedTokenRow(id="f" + secrets.token_hex(6), feed=feed, person=person, token_hash=hash_key(token),
                           prefix=token[:8], created_at=now_utc())
        session.add(row)
        session.flush()
        return _view(row), token


def opens(engine: Engine, token: str, feed: str) -> bool:
    """Whether `token` is an active token of exactly this feed."""
    if not token:
        return False
    with Session(engine) as session:
        row = session.scalars(select(FeedTokenRow).where(FeedTokenRow.token_hash == hash_key(token))).first()
        return row is not None and row.revoked_at is None and row.feed == feed


def list_tokens(engine: Engine, *, person: str | None = None) -> list[FeedToken]:
    """Active tokens, oldest first; only `person`'s when given."""
    with Session(engine) as session:
        q = select(FeedTokenRow).where(FeedTokenRow.revoked_at.is_(None)).order_by(FeedTokenRow.created_at)
        if person is not None:
            q = q.where(FeedTokenRow.person == person)
        return [_view(r) for r in session.scalars(q)]


def revoke(engine: Engine, token_id: str, *, person: str | None = None) -> FeedToken:
    """Revoke an active token (only `person`'s when given); the feed stops opening with it at once."""
    with Session(engine) as session, session.begin():
        row = session.get(FeedTokenRow, token_id)
        if row is None or row.revoked_at is not None or (person is not None and row.person != person):
            raise KeyProblem(f"no active feed token {token_id!r}" + (f" of {person}" if person else ""))
        row.revoked_at = now_utc()
        session.flush()
        return _view(row)
