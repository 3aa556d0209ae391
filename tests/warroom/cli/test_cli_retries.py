"""`warroom incidents ...` when the API answers "not now" (503, 429): a read is sent again after
the answer's Retry-After, an action never is, and a read that keeps failing gives up within the
budget with the API's own error.

The commands run as their own processes (test_cli_client's `warroom`) against a tiny fake API on
loopback that answers the first requests with the API's real 503 (api.app's handlers) or a 429,
with Retry-After: 0 so nothing waits, and counts the requests it received.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.service import RPCError, RPCStatusCode

from api.app import records_unavailable, temporal_unavailable
from tests.helpers import serving
from tests.warroom.cli.test_cli_client import Run, warroom
from warroom.cli import api_client
from warroom.cli.api_client import MAX_RETRIES, ApiError, WarroomClient

STATE = {"incident_id": "incident-r1", "title": "Checkout failing", "priority": "P1", "status": "triggered",
         "phase": "triage", "escalation_level": 1, "commander": None, "timeline": []}
DEADLINE = RPCError("context deadline exceeded", RPCStatusCode.DEADLINE_EXCEEDED, b"")
TEMPORAL_503 = "the API failed (503): Temporal did not answer (DEADLINE_EXCEEDED: context deadline exceeded); " \
               "try again shortly"


async def temporal_busy(request: Request) -> JSONResponse:
    return await temporal_unavailable(request, DEADLINE)


async def records_busy(request: Request) -> JSONResponse:
    return await records_unavailable(request, ConnectionRefusedError())


async def rate_limited(request: Request) -> JSONResponse:
    return JSONResponse({"detail": "over the rate; send again in 1 s"}, status_code=429)


@dataclass
class FakeApi:
    url: str
    received: list[str] = field(default_factory=list)  # "GET /api/v1/incidents/incident-r1", ...

    async def run(self, *args: str) -> Run:
        return await warroom("incidents", *args, "--url", self.url, "--key", "wr-test")


@asynccontextmanager
async def fake_api(failures: int, answer=temporal_busy) -> AsyncIterator[FakeApi]:
    """An API whose first `failures` requests get `answer` (with Retry-After: 0), the rest STATE."""
    app = FastAPI()
    api = FakeApi(url="")

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def anything(request: Request, path: str) -> JSONResponse:
        api.received.append(f"{request.method} /{path}")
        if len(api.received) > failures:
            return JSONResponse(STATE if path.startswith("api/v1/incidents/") else
                                {"incidents": [], "total": 0, "limit": 50, "offset": 0})
        response = await answer(request)
        response.headers["Retry-After"] = "0"
        return response

    async with serving(app) as url:
        api.url = url
        yield api


@pytest.mark.parametrize("answer", [temporal_busy, records_busy, rate_limited])
async def test_show_succeeds_after_two_not_now_answers(answer):
    async with fake_api(failures=2, answer=answer) as api:
        shown = await api.run("show", "incident-r1", "--json")
    assert shown.exit_code == 0 and shown.stderr == "", shown.output
    assert json.loads(shown.stdout) == STATE
    assert api.received == ["GET /api/v1/incidents/incident-r1"] * 3


async def test_list_succeeds_after_a_503():
    async with fake_api(failures=1) as api:
        listed = await api.run("list")
    assert listed.exit_code == 0 and "0 of 0 incidents" in listed.stdout, listed.output
    assert api.received == ["GET /api/v1/incidents"] * 2


async def test_an_action_answered_503_is_not_sent_again():
    async with fake_api(failures=1) as api:
        acked = await api.run("ack", "incident-r1", "--note", "on it")
    assert acked.exit_code == 1 and acked.stdout == "", acked.output
    assert acked.stderr == f"error: {TEMPORAL_503}\n"
    assert api.received == ["POST /api/v1/incidents/incident-r1/acknowledge"]


async def test_a_read_that_keeps_failing_gives_up_with_the_apis_error():
    async with fake_api(failures=1000) as api:
        shown = await api.run("show", "incident-r1")
    assert shown.exit_code == 1 and shown.stdout == "", shown.output
    assert shown.stderr == f"error: {TEMPORAL_503}\n"
    assert api.received == ["GET /api/v1/incidents/incident-r1"] * (1 + MAX_RETRIES)


class FakeClock:
    """api_client's `time`: each request takes 2 s, a sleep is recorded and takes its time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_long_retry_after_is_cut_and_the_budget_ends_the_retries(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(api_client, "time", clock)
    requests = []

    def always_busy(request: httpx.Request) -> httpx.Response:
        requests.append(request.method)
        clock.now += 2
        return httpx.Response(503, json={"detail": "the records database did not answer"},
                              headers={"Retry-After": "3600"})

    with httpx.Client(transport=httpx.MockTransport(always_busy)) as http, \
            WarroomClient("http://warroom.test", "wr-test", http=http) as client, pytest.raises(ApiError) as err:
        client.get_incident("incident-r1")
    assert (err.value.status, err.value.detail) == (503, "the records database did not answer")
    # 2 s + 5 + 2 + 5 + 2 = 16 s: one more wait of 5 s would end past the 20 s budget
    assert clock.slept == [api_client.MAX_WAIT] * 2 and requests == ["GET"] * 3
    assert clock.now <= api_client.RETRY_BUDGET
