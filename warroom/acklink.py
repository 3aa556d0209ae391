"""Acknowledge links: a signed, expiring token that lets one person acknowledge one incident.

Room: shared library (pure: no I/O, no clock of its own; the caller passes `now`). The notify
activity makes one per person at send time (so it never sits in workflow history); the API's
/ack/{token} route checks it. The token is the capability: whoever holds it may acknowledge
that incident as that person, until it expires.

Format (URL-safe, no padding, so it sits in a path segment as is):

    <payload>.<signature>
    payload   = base64url(JSON {"v": 1, "i": incident id, "p": person id, "e": expiry, unix seconds})
    signature = base64url(HMAC-SHA256(server key, "warroom-ack-v1." + payload))

The purpose prefix keeps the server key's other uses (console sessions) from ever minting or
accepting an acknowledge token, and the other way round.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

__all__ = ["DEFAULT_TTL_SECONDS", "AckGrant", "AckLinkError", "check", "make", "path"]

DEFAULT_TTL_SECONDS = 24 * 3600
VERSION = 1
_PURPOSE = b"warroom-ack-v1."
_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_MAX_TOKEN = 2048  # longer than any real token: refused before any decoding work


class AckLinkError(ValueError):
    """Why a token is refused. `reason` is one of REASONS; str() is a sentence for the person."""

    REASONS = ("malformed", "forged", "expired", "wrong_incident")

    def __init__(self, reason: str, message: str) -> None:
        assert reason in self.REASONS, reason
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class AckGrant:
    """What a valid token allows: `person` may acknowledge `incident_id` until `expires_at`."""

    incident_id: str
    person: str
    expires_at: int  # unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _digest(key: bytes, payload: str) -> bytes:
    return hmac.new(key, _PURPOSE + payload.encode("ascii"), hashlib.sha256).digest()


def make(key: bytes, *, incident_id: str, person: str, now: float, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> str:
    """A token letting `person` acknowledge `incident_id` for `ttl_seconds` from `now`."""
    if not key:
        raise ValueError("an acknowledge link needs the server key")
    if not incident_id or not person:
        raise ValueError("an acknowledge link names one incident and one person")
    body = {"v": VERSION, "i": incident_id, "p": person, "e": int(now + ttl_seconds)}
    payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{payload}.{_b64(_digest(key, payload))}"


def check(key: bytes, token: str, *, now: float, incident_id: str | None = None) -> AckGrant:
    """The grant a token carries, or AckLinkError: malformed (not a token at all), forged (the
    signature does not match: altered, or made with another key), expired, or wrong_incident
    (valid, but for another incident than `incident_id`, when given). The signature is checked
    before anything in the payload is believed."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN or not _SHAPE.fullmatch(token):
        raise AckLinkError("malformed", "this is not an acknowledge link (it may have been cut short)")
    payload, signature = token.split(".")
    try:
        _unb64(signature)
    except (binascii.Error, ValueError):  # a length no base64 text has
        raise AckLinkError("malformed", "this is not an acknowledge link (it may have been cut short)") from None
    # Compared as the text issued, not as decoded bytes: base64's last character carries unused
    # bits, so a link with that character altered (A -> B) would decode to the same signature.
    if not hmac.compare_digest(signature, _b64(_digest(key, payload))):
        raise AckLinkError("forged", "this acknowledge link was not issued by this warroom server, or it was altered")
    try:
        body = json.loads(_unb64(payload))
        grant = AckGrant(incident_id=body["i"], person=body["p"], expires_at=body["e"])
        ok = (body.get("v") == VERSION and isinstance(grant.incident_id, str) and isinstance(grant.person, str)
              and isinstance(grant.expires_at, int) and grant.incident_id and grant.person)
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        ok = False
    if not ok:  # signed by us but unreadable: a version this server does not know
        raise AckLinkError("malformed", "this acknowledge link is of a kind this server cannot read")
    if now >= grant.expires_at:
        raise AckLinkError("expired", "this acknowledge link has expired; acknowledge from the console or the CLI")
    if incident_id is not None and incident_id != grant.incident_id:
        raise AckLinkError("wrong_incident", f"this acknowledge link is for incident {grant.incident_id}, "
                                             f"not {incident_id}")
    return grant


def path(token: str) -> str:
    """Where the API serves a token (joined to the public URL by the caller)."""
    return f"/ack/{token}"
