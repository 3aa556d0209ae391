"""Acknowledge-link tokens (warroom/acklink.py): what a valid one grants and how each bad one is told apart."""

from __future__ import annotations

import base64
import json

import pytest

from warroom import acklink
from warroom.acklink import AckLinkError

KEY = b"k" * 48
NOW = 1_800_000_000.0


def reason(token: str, *, key: bytes = KEY, now: float = NOW, incident_id: str | None = None) -> str:
    with pytest.raises(AckLinkError) as err:
        acklink.check(key, token, now=now, incident_id=incident_id)
    assert str(err.value)  # a sentence for the person who opened the link
    return err.value.reason


def test_a_token_grants_one_person_one_incident_until_it_expires() -> None:
    token = acklink.make(KEY, incident_id="incident-db~2", person="olga", now=NOW, ttl_seconds=3600)
    grant = acklink.check(KEY, token, now=NOW + 3599, incident_id="incident-db~2")
    assert grant == acklink.AckGrant(incident_id="incident-db~2", person="olga", expires_at=int(NOW + 3600))
    assert acklink.check(KEY, token, now=NOW).person == "olga"  # without an expected incident
    assert reason(token, now=NOW + 3600) == "expired"
    assert reason(token, incident_id="incident-db") == "wrong_incident"
    assert acklink.path(token) == f"/ack/{token}"


def test_tokens_are_url_safe_and_24_hours_by_default() -> None:
    token = acklink.make(KEY, incident_id="incident-h" + "a" * 32, person="李雷", now=NOW)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert acklink.check(KEY, token, now=NOW).expires_at == NOW + 24 * 3600
    assert acklink.check(KEY, token, now=NOW).person == "李雷"


def test_forged_tokens_are_refused() -> None:
    token = acklink.make(KEY, incident_id="incident-x", person="olga", now=NOW)
    payload, sig = token.split(".")
    assert reason(token, key=b"another server's key") == "forged"
    # a payload rewritten to name someone else (or live longer) keeps the old signature
    other = base64.urlsafe_b64encode(json.dumps({"v": 1, "i": "incident-x", "p": "mallory",
                                                 "e": int(NOW) + 10**6}).encode()).rstrip(b"=").decode()
    assert reason(f"{other}.{sig}") == "forged"
    assert reason(f"{payload}.{sig[:-2]}AA") == "forged"
    # the last character's unused bits: every other last character decodes to other bytes, or
    # (the ones differing only in those bits) to the same; none of them is the link issued
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bytes = [c for c in alphabet if c != sig[-1]
                  and base64.urlsafe_b64decode(sig[:-1] + c + "==") == base64.urlsafe_b64decode(sig + "==")]
    assert same_bytes  # there are such look-alikes, and each is refused
    assert all(reason(f"{payload}.{sig[:-1]}{c}") == "forged" for c in alphabet if c != sig[-1])
    # the same key signing something else (a console session) does not make a token
    import hashlib
    import hmac
    session_sig = base64.urlsafe_b64encode(hmac.new(KEY, payload.encode(), hashlib.sha256).digest()).rstrip(b"=")
    assert reason(f"{payload}.{session_sig.decode()}") == "forged"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", ".sig", "payload.", "x" * 5000, "päyload.sig", "a.b@c",
                                   "abcde.f"])
def test_malformed_tokens_are_refused(token: str) -> None:
    assert reason(token) == "malformed"


def test_a_signed_token_of_an_unknown_version_is_malformed() -> None:
    import hashlib
    import hmac

    payload = base64.urlsafe_b64encode(json.dumps({"v": 2, "i": "x", "p": "y", "e": int(NOW) + 60}).encode())
    payload_s = payload.rstrip(b"=").decode()
    sig = hmac.new(KEY, b"warroom-ack-v1." + payload_s.encode(), hashlib.sha256).digest()
    assert reason(f"{payload_s}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}") == "malformed"


def test_making_a_token_needs_a_key_an_incident_and_a_person() -> None:
    for kw in ({"incident_id": "", "person": "p"}, {"incident_id": "i", "person": ""}):
        with pytest.raises(ValueError):
            acklink.make(KEY, now=NOW, **kw)
    with pytest.raises(ValueError):
        acklink.make(b"", incident_id="i", person="p", now=NOW)
