"""Logging for every process: plain text, or one JSON object a line (WARROOM_LOG_FORMAT=json).

Room: shared library. The composition roots call `configure(settings)` once (worker.py,
`warroom api`, `warroom dev`); nothing else sets up handlers. JSON lines come from
python-json-logger; each carries, where they are known:

- `incident_id` and `workflow_id`: in an activity (from temporalio's activity info: the
  incident's workflow id; a reopened key's later incidents share it, `~2` tells them apart in
  the API), in a workflow's own log lines (temporalio's `temporal_workflow` extra), and in an
  API request on an incident's path (`/api/v1/incidents/{incident_id}/…`);
- `activity` (its type) and `run_id` in an activity; `method` and `route` (the path template)
  in an API request.

`RequestContext` is the API's piece: a pure ASGI middleware that remembers the request's scope
for the log lines written while it is served (the router fills in the path template and
parameters once it matches).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_request: ContextVar[dict[str, Any] | None] = ContextVar("warroom_request_scope", default=None)


def context() -> dict[str, str]:
    """The incident, workflow, activity or route the current code is serving, where known."""
    from temporalio import activity

    if activity.in_activity():
        info = activity.info()
        return {"incident_id": info.workflow_id or "", "workflow_id": info.workflow_id or "",
                "run_id": info.workflow_run_id or "", "activity": info.activity_type}
    scope = _request.get()
    if scope is None:
        return {}
    route = scope.get("route")
    out = {"method": scope.get("method", ""), "route": getattr(route, "path", "") or "unmatched"}
    incident = (scope.get("path_params") or {}).get("incident_id")
    if incident:
        out.update(incident_id=incident, workflow_id=str(incident).split("~")[0])
    return out


class ContextFilter(logging.Filter):
    """Adds context() to every record a handler writes (fields the call set itself win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in context().items():
            if value and not hasattr(record, name):
                setattr(record, name, value)
        workflow = getattr(record, "temporal_workflow", None)  # temporalio's workflow.logger extra
        if isinstance(workflow, dict) and not hasattr(record, "workflow_id"):
            record.workflow_id = record.incident_id = workflow.get("workflow_id", "")
            record.run_id = workflow.get("run_id", "")
        return True


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                             rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                             json_ensure_ascii=False)
    return logging.Formatter(TEXT)


def configure(level: str = "INFO", fmt: str = "text", stream: Any = None) -> logging.Handler:
    """One handler on the root logger, on stderr (or `stream`), in `fmt` (text | json); it
    replaces any handler before it. Returns the handler."""
    if fmt not in FORMATS:
        raise ValueError(f"WARROOM_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


class RequestContext:
    """ASGI middleware: the request's scope is the log context while it is served."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _request.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            _request.reset(token)
