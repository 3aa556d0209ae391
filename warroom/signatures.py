"""Webhook HMAC signatures: Grafana's contact point scheme and warroom's own.

Room: shared library (warroom/; pure, no I/O): the API checks senders with it, the webhook war room signs with it. The endpoint passes the raw body bytes, the
request headers (Starlette Headers or a plain dict; names are compared case-insensitively)
and the current time; a SignatureError's str() says what is wrong, in words fit to send back
to the sender. Digests are compared in constant time.

* Grafana (12+) webhook contact point with an HMAC secret: `X-Grafana-Alerting-Signature`
  is the lowercase hex HMAC-SHA256 of the raw body (no `sha256=` prefix; one is tolerated).
  When the contact point names a timestamp header (Grafana has no default name), the digest
  is over `"<timestamp>:<body>"` and the timestamp (Unix seconds) must be within the window.
  Without a configured name, `X-Grafana-Alerting-Timestamp` and then
  `X-Grafana-Alerting-Signature-Timestamp` are looked for.
* warroom (generic and custom integrations, Stripe-like): `X-Warroom-Timestamp: <Unix seconds>`
  and `X-Warroom-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. The timestamp
  is required, so a captured request cannot be replayed after the window.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping

GRAFANA_SIGNATURE = "X-Grafana-Alerting-Signature"
GRAFANA_TIMESTAMP_HEADERS = ("X-Grafana-Alerting-Timestamp", "X-Grafana-Alerting-Signature-Timestamp")
WARROOM_SIGNATURE = "X-Warroom-Signature"
WARROOM_TIMESTAMP = "X-Warroom-Timestamp"
WINDOW_S = 300


class SignatureError(Exception):
    """The request is not signed as configured; str() says what is wrong."""


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    # Starlette Headers iterate lower-case already; a dict may not.
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _digest(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _check_timestamp(raw: str, header: str, now: float, window_s: int) -> None:
    try:
        ts = float(raw.strip())
    except ValueError:
        ts = math.nan
    if not math.isfinite(ts):
        raise SignatureError(f"{header} header must be Unix seconds, not {raw[:40]!r}")
    if ts < now - window_s:
        raise SignatureError(f"timestamp too old (window {window_s} s)")
    if ts > now + window_s:
        raise SignatureError(f"timestamp in the future (window {window_s} s)")


def _compare(expected: str, given: str) -> None:
    given = given.strip()
    if given[:7].lower() == "sha256=":
        given = given[7:]
    if not hmac.compare_digest(expected.encode(), given.lower().encode()):
        raise SignatureError("signature does not match the body")


def verify_grafana(secret: str, body: bytes, headers: Mapping[str, str], *, now: float,
                   timestamp_header: str | None = None, window_s: int = WINDOW_S) -> None:
    """Raise SignatureError unless the body carries a valid Grafana contact point HMAC."""
    h = _lower(headers)
    signature = h.get(GRAFANA_SIGNATURE.lower())
    if not signature:
        raise SignatureError(f"{GRAFANA_SIGNATURE} header missing")
    names = (timestamp_header,) if timestamp_header else GRAFANA_TIMESTAMP_HEADERS
    found = next(((name, h[name.lower()]) for name in names if h.get(name.lower())), None)
    if found is None:
        if timestamp_header:  # configured in Grafana, so it must come
            raise SignatureError(f"{timestamp_header} header missing")
        _compare(_digest(secret, body), signature)
        return
    name, timestamp = found
    # Check the digest first: a stale but genuine request and a forged one answer differently.
    _compare(_digest(secret, timestamp.strip().encode() + b":" + body), signature)
    _check_timestamp(timestamp, name, now, window_s)


def sign_warroom(secret: str, body: bytes, *, now: float) -> dict[str, str]:
    """The two headers a sender adds (for tests, the CLI and the docs' examples)."""
    timestamp = str(int(now))
    return {WARROOM_TIMESTAMP: timestamp,
            WARROOM_SIGNATURE: "sha256=" + _digest(secret, timestamp.encode() + b"." + body)}


def verify_warroom(secret: str, body: bytes, headers: Mapping[str, str], *, now: float,
                   window_s: int = WINDOW_S) -> None:
    """Raise SignatureError unless the body carries a valid, fresh X-Warroom-Signature."""
    h = _lower(headers)
    signature = h.get(WARROOM_SIGNATURE.lower())
    if not signature:
        raise SignatureError(f"{WARROOM_SIGNATURE} header missing")
    timestamp = h.get(WARROOM_TIMESTAMP.lower())
    if not timestamp:
        raise SignatureError(f"{WARROOM_TIMESTAMP} header missing")
    _compare(_digest(secret, timestamp.strip().encode() + b"." + body), signature)
    _check_timestamp(timestamp, WARROOM_TIMESTAMP, now, window_s)
