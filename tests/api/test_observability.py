"""Observability as an operator meets it: Prometheus scrapes the API's request figures (by route
template and status, with latency) and the worker's Temporal SDK figures, and promtool (from
Debian's prometheus package) passes both; WARROOM_LOG_FORMAT=json writes one JSON object a line
carrying the incident and workflow ids, in an activity and in an API request."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from api.app import create_app
from tests.helpers import get_state, new_key, running_worker, serving, start, until
from warroom import logs
from warroom.settings import Settings
from workflows.converter import DATA_CONVERTER
from worker import metrics_runtime


def promtool(text: str) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: apt-get install prometheus (.ci/run does)"
    return subprocess.run([tool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_prometheus_scrapes_the_api_by_route_and_status_and_promtool_passes(env, engine, task_queue):
    app = create_app(Settings(task_queue=task_queue), client=env.client, engine=engine)
    viewer = {"Authorization": f"Bearer {new_key(engine, 'viewer')}"}
    async with serving(app) as url, httpx.AsyncClient(base_url=url, headers=viewer) as http:
        assert (await http.get("/api/v1/incidents")).status_code == 200
        assert (await http.get("/api/v1/incidents/incident-nope-1")).status_code == 404
        assert (await http.get("/api/v1/incidents/incident-nope-2")).status_code == 404
        assert (await http.get("/no/such/path")).status_code == 404
        assert (await http.get("/api/v1/incidents", headers={"Authorization": ""})).status_code == 401
        scrape = await http.get("/metrics")  # what Prometheus does, with a viewer key
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    found = {(m["route"], m["status"]): float(m["n"]) for m in re.finditer(
        r'warroom_http_requests_total\{method="GET",route="(?P<route>[^"]+)",status="(?P<status>\d+)"\} (?P<n>\S+)',
        text)}
    assert found[("/api/v1/incidents/{incident_id}", "404")] == 2  # the template, never the incident id
    assert found[("/api/v1/incidents", "200")] == 1 and found[("/api/v1/incidents", "401")] == 1
    assert found[("unmatched", "404")] == 1
    assert "incident-nope" not in text
    assert re.search(r'warroom_http_request_duration_seconds_bucket\{le="0.005",method="GET",'
                     r'route="/api/v1/incidents"\} \d', text)
    assert "warroom_incidents_open" in text  # the records' figures are still there
    checked = promtool(text)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


async def test_the_worker_exports_temporal_sdk_metrics_that_promtool_passes(env, engine, task_queue):
    address = f"127.0.0.1:{free_port()}"
    runtime = metrics_runtime(address)
    assert metrics_runtime("") is None  # off unless an address is set
    client = await Client.connect(env.client.service_client.config.target_host, runtime=runtime,
                                  data_converter=DATA_CONVERTER)
    async with running_worker(client, task_queue, engine):
        handle = await start(client, task_queue, priority="P1")
        await until(lambda: get_state(handle), "the incident to reach recover", ok=lambda s: s.phase == "recover")
        await env.sleep(timedelta(minutes=1))

        async def scrape() -> str:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://{address}/metrics")).text

        text = await until(scrape, "the worker's task metrics", ok=lambda t: "temporal_workflow_task" in t)
    assert re.search(r"^temporal_activity_execution_latency_seconds_bucket\{", text, re.MULTILINE), text[:2000]
    assert re.search(r'^temporal_workflow_task_queue_poll_succeed_total\{.*task_queue="' + task_queue, text,
                     re.MULTILINE), text[:2000]
    checked = promtool(text)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


# ---------------------------------------------------------------- JSON logs

@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    out = io.StringIO()
    logs.configure("INFO", "json", stream=out)
    try:
        yield out
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in before:
            root.addHandler(h)
        root.setLevel(level)


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


async def test_json_logs_of_an_activity_carry_its_incident_and_workflow(json_logs):
    @activity.defn(name="send_notifications")
    def page() -> None:
        logging.getLogger("warroom.pages").warning("PAGE %s", "oncall:L1")

    aenv = ActivityEnvironment()
    aenv.info = activity.Info(**{**aenv.info.__dict__, "workflow_id": "incident-db-down",
                                 "workflow_run_id": "run-1", "activity_type": "send_notifications"})
    await asyncio.to_thread(aenv.run, page)
    [line] = [x for x in lines(json_logs) if x["logger"] == "warroom.pages"]
    assert line["message"] == "PAGE oncall:L1" and line["level"] == "WARNING" and line["time"]
    assert (line["incident_id"], line["workflow_id"], line["run_id"], line["activity"]) == (
        "incident-db-down", "incident-db-down", "run-1", "send_notifications")


async def test_json_logs_of_an_api_request_carry_the_incident_of_its_path(json_logs, engine):
    app = create_app(Settings(), engine=engine, client=object())  # type: ignore[arg-type]

    @app.post("/api/v1/incidents/{incident_id}/probe")
    async def probe(incident_id: str) -> dict:
        logging.getLogger("warroom.api").info("probed")
        return {}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        assert (await http.post("/api/v1/incidents/incident-db-down~2/probe")).status_code == 200
    [line] = [x for x in lines(json_logs) if x["logger"] == "warroom.api"]
    assert (line["incident_id"], line["workflow_id"], line["route"], line["method"]) == (
        "incident-db-down~2", "incident-db-down", "/api/v1/incidents/{incident_id}/probe", "POST")
    logging.getLogger("warroom.api").info("outside a request")
    assert "incident_id" not in lines(json_logs)[-1]


def test_an_unknown_log_format_is_refused_by_name():
    with pytest.raises(ValueError, match="json"):
        Settings(log_format="yaml")
