"""Schema-driven fuzzing: whatever a client sends, the API never answers 5xx.

schemathesis (its CLI, as a subprocess so this event loop keeps serving) reads the app's own
OpenAPI from uvicorn on 127.0.0.1 and sends generated valid and invalid requests to every
operation, with an admin key and without one. The keys are made by the test itself, so a
generated DELETE /api/v1/keys/{name} revokes nothing another test uses. The app runs against
the time-skipping test server with a worker, on the suite's records (SQLite, or PostgreSQL with
WARROOM_TEST_DATABASE_URL). Bounded: a fixed number of examples per operation and a time
budget. The hand-made cases (deep, huge, non-finite, NUL, odd ids) per endpoint class are in
test_bad_input.py.

Also here: when Temporal does not answer, the API says so with a 503 (not a 500), on the
real dev server stopped under a running app.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from tests.helpers import running_worker, serving
from tests.helpers import new_key
from warroom import binaries
from warroom.settings import Settings

ST = str(Path(sys.executable).parent / "st")
EXAMPLES = 10  # per operation and phase
BUDGET = 480  # seconds: the bound of one schemathesis run (its --max-time would repeat fuzzing until spent)


async def schemathesis(url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    """`st run` against the served schema; (exit code, output)."""
    proc = await asyncio.create_subprocess_exec(
        ST, "run", f"{url}/openapi.json", "--phases", "examples,coverage,fuzzing", "--max-examples", str(EXAMPLES),
        "--request-timeout", "30", "--workers", "2", "--seed", "1",
        "--generation-database", "none", "--no-color", "--suppress-health-check", "all",
        "--report-dir", str(tmp_path / "schemathesis-report"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"})
    try:
        async with asyncio.timeout(BUDGET):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        return -1, "schemathesis overran its budget\n" + out.decode(errors="replace")
    return proc.returncode or 0, out.decode(errors="replace")


def assert_clean(code: int, out: str) -> None:
    """Exit 0, every operation of the schema tested, every generated case passed its checks."""
    assert code == 0, out
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", out)
    tested = re.search(r"Tested:\s+(\d+)", out)
    cases = re.search(r"(\d+) generated, (\d+) passed", out)
    assert selected and tested and cases, out
    assert int(tested[1]) == int(selected[1]) == int(selected[2]), out
    assert int(cases[1]) == int(cases[2]) > 0 and "failed" not in cases[0], out


async def test_no_request_makes_a_server_error_with_an_admin_key(env, engine, task_queue, tmp_path):
    app = create_app(Settings(task_queue=task_queue), client=env.client, engine=engine)
    admin = new_key(engine, "admin")
    async with running_worker(env.client, task_queue, engine), serving(app) as url:
        code, out = await schemathesis(url, tmp_path, "--checks", "not_a_server_error",
                                       "-H", f"Authorization: Bearer {admin}")
    assert_clean(code, out)


async def test_no_request_makes_a_server_error_without_a_key(env, engine, task_queue, tmp_path):
    app = create_app(Settings(task_queue=task_queue), client=env.client, engine=engine)
    async with running_worker(env.client, task_queue, engine), serving(app) as url:
        code, out = await schemathesis(url, tmp_path, "--checks", "not_a_server_error")
    assert_clean(code, out)


async def test_list_filters_name_an_unknown_value(env, engine, task_queue):
    app = create_app(Settings(task_queue=task_queue), client=env.client, engine=engine)
    headers = {"Authorization": f"Bearer {new_key(engine, 'viewer')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom",
                                 headers=headers) as http:
        for param, typo in (("priority", "P7"), ("status", "triggerd"), ("phase", "warroom")):
            r = await http.get("/api/v1/incidents", params=[(param, "closed" if param != "priority" else "P1"),
                                                            (param, typo)])
            assert r.status_code == 422, r.text
            [problem] = r.json()["detail"]
            assert problem["loc"] == ["query", param, 1] and problem["input"] == typo, problem
        r = await http.get("/api/v1/incidents", params=[("priority", "P0"), ("priority", "P4"), ("status", "closed"),
                                                        ("phase", "war_room"), ("phase", "open")])
        assert r.status_code == 200 and r.json()["total"] == 0, r.text


@pytest.mark.devserver
async def test_a_temporal_that_does_not_answer_is_a_503_not_a_500(engine, tmp_path):
    """The app keeps its client to a dev server that is then stopped: reads and actions
    answer 503 saying Temporal did not answer; the records list (no Temporal) still works."""
    task_queue = f"tq-{uuid.uuid4().hex[:10]}"
    dev = await WorkflowEnvironment.start_local(dev_server_existing_path=binaries.temporal_cli(),
                                                dev_server_log_level="error",
                                                dev_server_startup_timeout=binaries.STARTUP_TIMEOUT)
    app = create_app(Settings(task_queue=task_queue), client=dev.client, engine=engine)
    headers = {"Authorization": f"Bearer {new_key(engine, 'admin')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom",
                                 headers=headers, timeout=60) as http:
        try:
            async with running_worker(dev.client, task_queue, engine):
                r = await http.post("/api/v1/incidents", json={"title": "Checkout failing", "priority": "P1"})
                assert r.status_code == 201, r.text
                iid = r.json()["incidents"][0]["id"]
        finally:
            await dev.shutdown()
        async with asyncio.timeout(120):
            for method, path, body in (("GET", f"/api/v1/incidents/{iid}", None),
                                       ("POST", f"/api/v1/incidents/{iid}/acknowledge", {"by": "alice"}),
                                       ("POST", "/api/v1/alerts/generic", {"title": "again", "dedup_key": "x"})):
                r = await http.request(method, path, json=body)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.json()["detail"].startswith("Temporal did not answer"), r.text
            r = await http.get("/api/v1/incidents", params={"priority": "P1"})
            assert r.status_code == 200, r.text
