"""Room: api (HTTP edge) — senders told to slow down, never dropped: a token bucket per API key
in front of every alert endpoint (api/routes/alerts.py), decided before an alert reaches
Temporal, so a refused alert is never half-counted.

Each key has a bucket holding up to `burst` alerts that refills at `per_minute / 60` alerts a
second. An alert takes one (a request carrying several, as Alertmanager's and Grafana's do,
takes one per alert, at most the whole bucket, so any request fits in a full one). When the
request's alerts are not in the bucket, nothing is taken and the answer is 429 with
`Retry-After`: the whole seconds (at least 1) until they are.

Counted per key id in this API process's memory: with N API processes behind a balancer a key
may post N times the limit. The buckets are read and written on the event loop only (the
routes are async, nothing awaits in between), so they need no lock. Why a small bucket rather
than the `limits` library, with the figures measured: docs/integrations.md#rate-limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException

from api.schemas import Problem, Responses
from warroom.records.keys import ApiKey
from warroom.settings import Settings

RETRY_AFTER = {"Retry-After": {"description": "whole seconds to wait before sending again (at least 1)",
                               "schema": {"type": "integer", "minimum": 1}}}
RATE_LIMITED: Responses = {
    429: {"model": Problem, "headers": RETRY_AFTER,
          "description": "the key is over its alert rate (WARROOM_ALERT_RATE_PER_MINUTE): nothing was "
                         "accepted; send again after Retry-After seconds"}}


class AlertRateLimit:
    """The alert rate of every key, as seen by this process. `clock` is monotonic seconds."""

    def __init__(self, per_minute: int, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.burst = max(1, burst)
        self._per_second = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (alerts left, when counted)

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> AlertRateLimit:
        return cls(settings.alert_rate_per_minute, settings.alert_rate_burst, **kw)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def describe(self) -> str:
        return f"{self.per_minute} alerts a minute per key, in bursts of up to {self.burst}"

    def take(self, key_id: str, alerts: int = 1) -> int:
        """Take `alerts` from the key's bucket: 0 when they were there, else the whole seconds
        until they will be (and nothing taken)."""
        if self.per_minute <= 0:
            return 0
        cost = min(max(alerts, 1), self.burst)
        now = self._clock()
        left, then = self._buckets.get(key_id, (self.burst, now))
        left = min(self.burst, left + (now - then) * self._per_second)
        if left >= cost:
            self._buckets[key_id] = (left - cost, now)
            return 0
        self._buckets[key_id] = (left, now)
        return max(1, math.ceil((cost - left) / self._per_second))

    def check(self, principal: ApiKey, alerts: int = 1) -> None:
        """Raise 429 with Retry-After when the key is over its rate; else count its alerts."""
        wait = self.take(principal.id, alerts)
        if wait:
            raise HTTPException(
                429, f"the key {principal.name!r} is over its alert rate ({self.describe()}, "
                     f"WARROOM_ALERT_RATE_PER_MINUTE); nothing was accepted: send again in {wait} s",
                headers={"Retry-After": str(wait)})
