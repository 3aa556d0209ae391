"""API keys and roles: who may send alerts, act on incidents, read, or administer.

Room: records (warroom/records; imported by the API and the CLI, never by workflows/). A key is `wr` plus 30
hex characters (32 in all, the length PagerDuty clients expect of a routing key). Only its
SHA-256 is stored: the key is printed once, when it is created, and cannot be shown again.

Roles (docs/integrations.md has the endpoint table):
  integration  alerts in only (a monitoring system); may carry a format, a signing secret and,
               for a custom integration, a mapping
  responder    act on incidents and read them
  viewer       read only
  admin        everything, including keys and integrations

A responder, viewer or admin key belongs to a person (an on-call person id or a free name):
the actor the timeline records for what the key does (api.deps.actor_of). A key without one,
such as a key made before people were recorded, acts as its own name. An integration is not a
person: it acts as itself.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from warroom.records.models import ApiKeyRow, now_utc

Role = Literal["integration", "responder", "viewer", "admin"]
ROLES: tuple[str, ...] = ("integration", "responder", "viewer", "admin")
# The formats an integration key can be bound to (the /api/v1/alerts/{format} endpoints).
FORMATS: tuple[str, ...] = ("alertmanager", "grafana", "pagerduty", "datadog", "generic", "custom")
# Senders that can sign their deliveries: Grafana natively, generic/custom with warroom's scheme.
SIGNED_FORMATS: tuple[str, ...] = ("grafana", "generic", "custom")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
PERSON_MAX = 200


class KeyProblem(ValueError):
    """A key or integration cannot be created or found; str() says why."""


@dataclass
class ApiKey:
    """A stored key, without its hash. `signing_secret` is for the API's checks only: never listed."""

    id: str
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    format: str | None = None
    mapping: dict[str, Any] | None = None
    signing_secret: str | None = field(default=None, repr=False)
    person: str | None = None

    @property
    def acts_as(self) -> str:
        """The person the key belongs to, or its own name when it has none."""
        return self.person or self.name

    @property
    def signed(self) -> bool:
        return bool(self.signing_secret)

    def public(self) -> dict[str, Any]:
        """What a list or a show prints: never the secret nor the hash."""
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "role": self.role, "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }
        if self.role != "integration":
            out["person"] = self.acts_as
        else:
            out.update(format=self.format, signed=self.signed, mapping=self.mapping)
        return out


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _view(row: ApiKeyRow) -> ApiKey:
    return ApiKey(id=row.id, name=row.name, role=row.role, prefix=row.prefix, created_at=row.created_at,
                  revoked_at=row.revoked_at, format=row.format, mapping=row.mapping,
                  signing_secret=row.signing_secret, person=row.person)


def _active(session: Session, name: str) -> ApiKeyRow | None:
    return session.scalars(select(ApiKeyRow).where(ApiKeyRow.name == name, ApiKeyRow.revoked_at.is_(None))).first()


def create_key(engine: Engine, *, name: str, role: str, format: str | None = None,
               signing_secret: str | None = None, mapping: dict[str, Any] | None = None,
               person: str | None = None) -> tuple[ApiKey, str]:
    """Store a new key; return it and the key itself (shown once). A custom integration's
    mapping must already be validated by the caller (api.sources.custom.compile_mapping).
    `person` is who acts with a responder, viewer or admin key (default: the key's name)."""
    if not NAME_RE.match(name or ""):
        raise KeyProblem(f"name {name!r}: letters, digits, '.', '_' or '-', at most 100, starting with a "
                        "letter or digit")
    if role not in ROLES:
        raise KeyProblem(f"role {role!r}: one of {', '.join(ROLES)}")
    if role != "integration" and (format or signing_secret or mapping):
        raise KeyProblem("format, signing secret and mapping belong to integration keys only")
    if person is not None:
        person = person.strip()
        if not person or len(person) > PERSON_MAX or any(not c.isprintable() for c in person):
            raise KeyProblem(f"person {person!r}: a name or on-call person id, 1 to {PERSON_MAX} printable "
                             "characters")
        if role == "integration":
            raise KeyProblem("an integration key acts as its integration, not as a person: no person for it")
    if format is not None and format not in FORMATS:
        raise KeyProblem(f"format {format!r}: one of {', '.join(FORMATS)}")
    if signing_secret is not None:
        if format not in SIGNED_FORMATS:
            raise KeyProblem(f"a signing secret needs a format that signs its deliveries: {', '.join(SIGNED_FORMATS)}")
        if len(signing_secret) < 16:
            raise KeyProblem("signing secret: at least 16 characters")
    if (format == "custom") != (mapping is not None):
        raise KeyProblem("a custom integration needs a mapping, and only a custom integration has one")
    key = "wr" + secrets.token_hex(15)
    with Session(engine) as session, session.begin():
        if _active(session, name) is not None:
            raise KeyProblem(f"name {name!r} is already used by an active key; revoke it first")
        row = ApiKeyRow(id="k" + secrets.token_hex(6), name=name, role=role, key_hash=hash_key(key),
                        prefix=key[:8], format=format, signing_secret=signing_secret, mapping=mapping,
                        person=person, created_at=now_utc())
        session.add(row)
        session.flush()
        return _view(row), key


def authenticate(engine: Engine, key: str) -> ApiKey | None:
    """The active key this is, or None (unknown or revoked)."""
    if not key:
        return None
    with Session(engine) as session:
        row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_key(key))).first()
        return _view(row) if row is not None and row.revoked_at is None else None


def list_keys(engine: Engine, *, role: str | None = None, include_revoked: bool = False) -> list[ApiKey]:
    with Session(engine) as session:
        q = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.name)
        if role is not None:
            q = q.where(ApiKeyRow.role == role)
        if not include_revoked:
            q = q.where(ApiKeyRow.revoked_at.is_(None))
        return [_view(r) for r in session.scalars(q)]


def find(engine: Engine, name_or_id: str, *, role: str | None = None) -> ApiKey | None:
    """The active key with this name (or id), optionally of one role."""
    with Session(engine) as session:
        row = _active(session, name_or_id) or session.scalars(
            select(ApiKeyRow).where(ApiKeyRow.id == name_or_id, ApiKeyRow.revoked_at.is_(None))).first()
        if row is None or (role is not None and row.role != role):
            return None
        return _view(row)


def revoke(engine: Engine, name_or_id: str, *, role: str | None = None) -> ApiKey:
    """Revoke the active key with this name or id; it stops working at once."""
    with Session(engine) as session, session.begin():
        row = _active(session, name_or_id) or session.scalars(
            select(ApiKeyRow).where(ApiKeyRow.id == name_or_id, ApiKeyRow.revoked_at.is_(None))).first()
        if row is None or (role is not None and row.role != role):
            what = "integration" if role == "integration" else "active key"
            raise KeyProblem(f"no {what} named {name_or_id!r}")
        row.revoked_at = now_utc()
        session.flush()
        return _view(row)


def has_admin(engine: Engine) -> bool:
    return bool(list_keys(engine, role="admin"))
