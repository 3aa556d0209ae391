"""A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, installed by .ci/run) on
127.0.0.1 for tests, sending webhooks to a warroom API.

Room: tests. One process per `RealAlertmanager`, with its own config, storage and port, no
cluster, and timings cut to a second so a test waits seconds, not minutes:

    with RealAlertmanager(f"{api}/api/v1/alerts/alertmanager", key) as am:
        am.fire({"alertname": "CheckoutDown", "severity": "critical", "service": "checkout"})
        am.resolve({...same labels...})                  # endsAt now: the resolved notification follows

`routes` adds routes before the default one (a dict each, Alertmanager's route syntax): the
hook where heartbeats will route the `Watchdog` alert to their own receiver
(`receivers` adds receivers), e.g.
    RealAlertmanager(url, key, routes=[{"matchers": ['alertname="Watchdog"'], "receiver": "heartbeat",
                                       "repeat_interval": "1m"}],
                     receivers=[{"name": "heartbeat", "webhook_configs": [...]}])
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

BINARY = "prometheus-alertmanager"  # Debian's name; upstream's is `alertmanager`


def binary() -> str:
    found = shutil.which(BINARY) or shutil.which("alertmanager")
    if not found:
        raise RuntimeError("Alertmanager is not installed: apt-get install prometheus-alertmanager (.ci/run does)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealAlertmanager:
    def __init__(self, webhook_url: str, bearer: str, *, routes: list[dict[str, Any]] | None = None,
                 receivers: list[dict[str, Any]] | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="alertmanager-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        warroom = {"name": "warroom", "webhook_configs": [{
            "url": webhook_url, "send_resolved": True, "max_alerts": 0,
            "http_config": {"authorization": {"type": "Bearer", "credentials": bearer}}}]}
        config = {
            "route": {"receiver": "warroom", "group_by": ["alertname", "service"],
                      "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h",
                      "routes": routes or []},
            "receivers": [warroom, *(receivers or [])],
        }
        (self.dir / "alertmanager.yml").write_text(yaml.safe_dump(config))
        self.log = self.dir / "alertmanager.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RealAlertmanager:
        out = open(self.log, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [binary(), f"--config.file={self.dir / 'alertmanager.yml'}", f"--storage.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=debug"],
            stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Alertmanager exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"Alertmanager did not get ready in 30 s: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RealAlertmanager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def post(self, labels: dict[str, str], *, annotations: dict[str, str] | None = None,
             ends_at: datetime | None = None) -> None:
        """POST /api/v2/alerts, as Prometheus sends alerts to Alertmanager."""
        alert: dict[str, Any] = {"labels": labels, "annotations": annotations or {},
                                 "startsAt": (datetime.now(UTC) - timedelta(seconds=5)).isoformat()}
        if ends_at is not None:
            alert["endsAt"] = ends_at.isoformat()
        r = httpx.post(f"{self.url}/api/v2/alerts", json=[alert], timeout=5)
        r.raise_for_status()

    def fire(self, labels: dict[str, str], **kw: Any) -> None:
        self.post(labels, **kw)

    def resolve(self, labels: dict[str, str], **kw: Any) -> None:
        self.post(labels, ends_at=datetime.now(UTC), **kw)

    def notifications_sent(self) -> str:
        """Alertmanager's own log (debug level), for a failing test's message."""
        return self.log.read_text() if self.log.exists() else ""

    def alerts(self) -> list[dict[str, Any]]:
        return json.loads(httpx.get(f"{self.url}/api/v2/alerts", timeout=5).text)
