"""Room: api (HTTP edge) — which parser serves which /api/v1/alerts/{source} path.

Add a module, add a line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.sources import Parsed, alertmanager, datadog, grafana, pagerduty

PARSERS: dict[str, Callable[[Any], Parsed]] = {}
PARSERS["alertmanager"] = alertmanager.parse
PARSERS["grafana"] = grafana.parse
PARSERS["pagerduty"] = pagerduty.parse
PARSERS["datadog"] = datadog.parse
