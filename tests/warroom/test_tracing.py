"""OpenTelemetry tracing (WARROOM_OTEL_TRACING, the `otel` extra, which the test extra includes):
off by default; on, the API's requests are spans named by their route, and an incident started
through a traced Temporal client is one trace from the start through the workflow run to its
activities. Spans are read from the SDK's in-memory exporter. The API's spans are FastAPI's
own (its native OpenTelemetry support; opentelemetry-instrumentation-fastapi on top of it would
only duplicate them)."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client

from api.app import create_app
from tests.helpers import get_state, new_key, running_worker, start, until
from warroom import tracing
from warroom.settings import Settings
from workflows.converter import DATA_CONVERTER

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def provider() -> None:
    """One SDK provider for the process (OpenTelemetry allows one); warroom.tracing keeps it."""
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        current = TracerProvider()
        trace.set_tracer_provider(current)
    current.add_span_processor(SimpleSpanProcessor(EXPORTER))


def test_tracing_is_off_by_default() -> None:
    assert Settings().otel_tracing is False
    assert tracing.interceptors(False, "warroom-worker") == []


async def test_api_requests_are_spans_named_by_their_route(engine) -> None:
    EXPORTER.clear()
    app = create_app(Settings(otel_tracing=True), engine=engine, client=object())  # type: ignore[arg-type]
    viewer = {"Authorization": f"Bearer {new_key(engine, 'viewer')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom",
                                 headers=viewer) as http:
        assert (await http.get("/api/v1/incidents", params={"limit": 1})).status_code == 200
    [server] = [s for s in EXPORTER.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert server.name == "GET /api/v1/incidents"
    assert server.attributes["http.route"] == "/api/v1/incidents"
    untraced = create_app(Settings(), engine=engine, client=object())  # type: ignore[arg-type]
    EXPORTER.clear()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=untraced), base_url="http://warroom",
                                 headers=viewer) as http:
        await http.get("/api/v1/incidents")
    assert EXPORTER.get_finished_spans() == ()


async def test_an_incident_is_one_trace_from_its_start_through_its_activities(env, engine, task_queue) -> None:
    EXPORTER.clear()
    client = await Client.connect(env.client.service_client.config.target_host, data_converter=DATA_CONVERTER,
                                  interceptors=tracing.interceptors(True, "warroom-worker"))
    async with running_worker(client, task_queue, engine):
        handle = await start(client, task_queue, priority="P1")
        await until(lambda: get_state(handle), "the incident to reach recover", ok=lambda s: s.phase == "recover")
    spans = EXPORTER.get_finished_spans()
    names = {s.name for s in spans}
    assert {"SignalWithStartWorkflow:IncidentResponse", "RunWorkflow:IncidentResponse",
            "RunActivity:assess_incident"} <= names, names
    started = next(s for s in spans if s.name == "SignalWithStartWorkflow:IncidentResponse")
    assessed = next(s for s in spans if s.name == "RunActivity:assess_incident")
    assert assessed.context.trace_id == started.context.trace_id
