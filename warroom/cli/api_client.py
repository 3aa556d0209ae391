"""A small synchronous client for the warroom HTTP API (what `warroom incidents` uses).

Room: CLI (warroom/cli), the client side of the HTTP edge. It speaks only HTTP to the API: never Temporal, never the
records database. Every failure becomes one ApiError with the HTTP status (0 when the API
cannot be reached) and a message fit to print.

A read (GET) the API answers 503 (Temporal or the records did not answer) or 429 (over a rate)
is sent again after the answer's Retry-After, a few times within RETRY_BUDGET; an action
(POST) never is: it may have taken effect, and the engineer decides whether to send it again.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx

UNREACHABLE = 0

# Sent again: reads only, on the answers that mean "not now" (the API sends Retry-After with both).
RETRIED_METHODS = frozenset({"GET"})
RETRIED_STATUSES = frozenset({429, 503})
MAX_RETRIES = 4
RETRY_BUDGET = 20.0  # seconds from the first request after which no retry starts
MAX_WAIT = 5.0  # a longer Retry-After is cut to this: a person is waiting at the terminal
DEFAULT_WAIT = 1.0  # no Retry-After, or one we do not read (an HTTP date)


class ApiError(Exception):
    """The API refused (status is the HTTP status) or could not be reached (status 0)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _detail(response: httpx.Response) -> str:
    """The `detail` of a FastAPI error (pydantic's list made readable), else the body text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # 422 from pydantic: [{"loc": [...], "msg": ...}, ...]
        parts = []
        for err in detail:
            if isinstance(err, dict):
                loc = ".".join(str(p) for p in err.get("loc", []) if p != "body")
                parts.append(f"{loc}: {err.get('msg', '')}" if loc else str(err.get("msg", "")))
            else:
                parts.append(str(err))
        return "; ".join(parts)
    return response.text.strip() or response.reason_phrase


def _retry_after(response: httpx.Response) -> float:
    """The answer's Retry-After in seconds, within [0, MAX_WAIT]; DEFAULT_WAIT unless it is whole seconds."""
    value = response.headers.get("Retry-After", "").strip()
    return min(float(value), MAX_WAIT) if value.isdigit() else DEFAULT_WAIT


class WarroomClient:
    def __init__(self, url: str, key: str, *, http: httpx.Client | None = None, timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self._own = http is None
        self._http = http or httpx.Client(timeout=timeout)

    def __enter__(self) -> WarroomClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._own:
            self._http.close()

    def _request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        try:
            response = self._send(method, self.url + path, headers=headers, **kw)
        except httpx.TimeoutException as err:
            raise ApiError(UNREACHABLE, f"the warroom API at {self.url} did not answer in time "
                                        f"({type(err).__name__})") from None
        except httpx.TransportError as err:
            raise ApiError(UNREACHABLE, f"cannot reach the warroom API at {self.url} ({err or type(err).__name__}); "
                                        "is it running (`warroom dev`)? Set its address with --url or "
                                        "WARROOM_URL") from None
        if response.status_code >= 400:
            raise ApiError(response.status_code, _detail(response))
        try:
            body = response.json()
        except ValueError:
            raise ApiError(response.status_code, f"{method} {path}: the answer is not JSON "
                                                 f"(is {self.url} the warroom API?)") from None
        if not isinstance(body, dict):
            raise ApiError(response.status_code, f"{method} {path}: expected a JSON object, got {type(body).__name__}")
        return body

    def _send(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """One request; a read answered 503 or 429 again after its Retry-After, while the budget lasts.
        The last answer is returned as it came, so the error shown is the API's own."""
        retries = MAX_RETRIES if method in RETRIED_METHODS else 0
        deadline = time.monotonic() + RETRY_BUDGET
        while True:
            response = self._http.request(method, url, **kw)
            if response.status_code not in RETRIED_STATUSES or retries == 0:
                return response
            wait = _retry_after(response)
            if time.monotonic() + wait > deadline:
                return response
            retries -= 1
            time.sleep(wait)

    def list_incidents(self, *, status: list[str] | str | None = None, priority: list[str] | str | None = None,
                       service: list[str] | str | None = None, phase: list[str] | str | None = None,
                       limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """{"incidents": [...], "total", "limit", "offset"}; each filter may hold several values."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        for name, value in (("status", status), ("priority", priority), ("service", service), ("phase", phase)):
            if value:
                params[name] = [value] if isinstance(value, str) else list(value)
        return self._request("GET", "/api/v1/incidents", params=params)

    def get_incident(self, incident_id: str) -> dict[str, Any]:
        """The engine's state of the incident, with its timeline."""
        return self._request("GET", f"/api/v1/incidents/{quote(incident_id, safe='')}")

    def act(self, incident_id: str, action_path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST an action (acknowledge, updates, escalate, priority, resolve, review, ...); the new state."""
        return self._request("POST", f"/api/v1/incidents/{quote(incident_id, safe='')}/{action_path.strip('/')}",
                             json=body)

    def add_handover_note(self, schedule: str, note: str, by: str | None = None) -> dict[str, Any]:
        """Leave a note for the schedule's next hand-over (docs/oncall.md, "Hand-over")."""
        return self._request("POST", "/api/v1/oncall/handover-notes",
                             json={"schedule": schedule, "note": note, **({"by": by} if by else {})})

    def handovers(self, schedule: str | None = None, limit: int = 20) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, **({"schedule": schedule} if schedule else {})}
        return self._request("GET", "/api/v1/oncall/handovers", params=params)
