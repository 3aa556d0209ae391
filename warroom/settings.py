"""Configuration: one pydantic-settings class, read from WARROOM_* environment variables.

Room: settings, the lowest floor. Built only in the composition roots (worker.py, the API's
lifespan, warroom/cli) and passed down, never at import time, so tests can give each run its
own settings. With warroom/secrets.py, the only module that reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_runbooks_dir() -> Path:
    shipped = REPO_ROOT / "runbooks"
    return shipped if shipped.is_dir() else Path("runbooks")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARROOM_", extra="ignore")

    temporal_address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = "warroom"
    data_dir: Path = Path(".warroom")
    database_url: str = ""  # empty: SQLite file in the data directory
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    runbooks_dir: Path = Field(default_factory=_default_runbooks_dir)
    # The keyword lists that classify alerts (docs/classification.md); default: the shipped ones
    # (package data, in every install). Read by the worker at start, like the runbooks.
    classification_file: Path = Path(__file__).resolve().parent / "classification.yaml"
    # What raises an incident to P0 by itself and what makes a cascade (docs/upgrades.md); default:
    # the shipped warroom/upgrades.yaml. Read by the starters (into each input) and the worker.
    upgrades_file: Path = Path(__file__).resolve().parent / "upgrades.yaml"
    log_level: str = "INFO"
    # glibc malloc arenas of the worker process (docs/production.md): 0 = glibc's default (8 per
    # core). Every thread that allocates (activity threads, page threads, temporalio's core) gets
    # an arena of its own and keeps what it freed: 2 keeps a worker with 1,000 open incidents
    # about 15 MB smaller, for no CPU cost measured (issue 13, figure e).
    malloc_arenas: int = Field(2, ge=0)
    # Observability (docs/production.md#observability): `json` writes one JSON object a line with
    # the incident and workflow ids where known; the worker's Temporal SDK metrics in the
    # Prometheus format on this address ("127.0.0.1:9464"; "" = none); OpenTelemetry traces of
    # the API and of workflows and activities (needs the `otel` extra; OTLP exporter settings
    # from the standard OTEL_* variables).
    log_format: Literal["text", "json"] = "text"
    worker_metrics_address: str = ""
    otel_tracing: bool = False
    # Services whose `critical` alerts are P0 rather than P1 (SPEC 2: per service tier).
    tier1_services: list[str] = Field(default_factory=list)
    # Recovery actions (docs/runbooks.md). The `command` allow-list, name -> argv (JSON object in
    # WARROOM_COMMANDS); an argv ending in "..." accepts a step's `args` in its place.
    commands: dict[str, list[str]] = Field(default_factory=dict)
    # Modules that register `python` actions with @warroom.actions.action (JSON list), imported at worker start.
    action_modules: list[str] = Field(default_factory=list)
    # Base URL of Prometheus for `prometheus` checks (instant queries on /api/v1/query).
    prometheus_url: str = ""
    # Who holds each approval role (JSON object role -> names, WARROOM_APPROVERS): an approval
    # step naming a `role` and no `approvers` waits for one of them (resolved at assess).
    approvers: dict[str, list[str]] = Field(default_factory=dict)
    # On-call configuration (docs/oncall.md): people, schedules, escalation policies, roles.
    oncall_dir: Path = Path("oncall")
    # The service-levels file (docs/service-levels.md): every priority's SLAs and timers, per
    # service tier; None = the built-in defaults (levels/service-levels.yaml says what they are).
    # Read at start by the API and the worker; an invalid file stops them.
    service_levels: Path | None = None
    # The address people reach the API at, for links in pages and war rooms ("" = no link).
    public_url: str = ""
    # The server's HMAC key for console sessions and the acknowledge links in pages (a secret
    # of the API's own; "" = a random key made once and kept in <data_dir>/secret.key, which is
    # right for one API process; set it when several API processes serve the same people).
    secret_key: str = Field("", repr=False)
    # Senders told to slow down, never dropped (docs/integrations.md#rate-limit): each API key may
    # post this many alerts a minute to the alert endpoints, in bursts of up to `alert_rate_burst`,
    # counted per API process; over it, 429 with Retry-After. 0 = no limit. Far above what one
    # key needs at the goal figures (500 alerts/s on one hot key, a 2,000-alert storm at once).
    alert_rate_per_minute: int = Field(120_000, ge=0)
    alert_rate_burst: int = Field(20_000, ge=1)
    # How long the acknowledge link in a page stays valid, in hours, counted from when it is sent.
    ack_link_hours: float = 24.0
    # Tries per contact point before falling back to the person's next one (docs/channels.md).
    delivery_attempts: int = 3
    # War rooms (docs/war_rooms.md): the provider and where it lives. Its tokens, the webhook's
    # URL and signing secret are NOT settings but secrets (warroom/secrets.py), like channel
    # `${NAME}` placeholders and runbook `secret_headers` (env WARROOM_SECRET_<NAME>): read when
    # used, so their values never sit in Settings or its repr.
    war_room: str = "log"  # slack | webhook | log
    war_room_timeout: float = 10.0  # seconds, every war-room HTTP call
    slack_api_url: str = ""  # "" = https://slack.com/api/
    slack_workspace_url: str = ""  # room links become <workspace>/archives/<channel id>
    war_room_bridge_url: str = ""  # a standing meeting bridge, added to the brief and the room

    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'warroom.db').resolve()}"
