"""OpenTelemetry tracing, off by default (WARROOM_OTEL_TRACING=true, with the `otel` extra).

Room: shared library, called by the composition roots only: the API (its Temporal client; its
requests are FastAPI's own OpenTelemetry spans, which create_app turns on with the setting) and
the worker (its Temporal client, whose interceptor the worker inherits).
Temporal's TracingInterceptor carries the trace across the workflow: a request that starts or
signals an incident, the workflow run and every activity it calls are one trace. Where the
spans go is OpenTelemetry's own configuration (OTEL_EXPORTER_OTLP_ENDPOINT and friends, read
by its OTLP exporter); a process that set a tracer provider itself (a test, a distro) keeps it.
"""

from __future__ import annotations

from typing import Any

EXTRA = "pip install 'warroom[otel]'"


class TracingUnavailable(RuntimeError):
    """Tracing is asked for but the `otel` extra is not installed."""


def setup(service: str) -> None:
    """An SDK tracer provider exporting over OTLP/HTTP, unless one is set already."""
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as err:
        raise TracingUnavailable(f"WARROOM_OTEL_TRACING needs the otel extra ({EXTRA}): {err}") from None
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def interceptors(enabled: bool, service: str) -> list[Any]:
    """The Temporal client interceptors for tracing (none when off)."""
    if not enabled:
        return []
    setup(service)
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]
