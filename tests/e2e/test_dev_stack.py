"""`warroom dev` as a user runs it: one command brings up the dev server, worker and API;
Ctrl-C stops everything; a restart on the same data directory keeps every incident."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from tests.helpers import alert, until
from warroom import client as temporal

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.devserver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dev(env: dict[str, str], log: Path, *options: str) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "warroom.cli", "dev", *options], cwd=REPO, env=env, stdout=out,
                            stderr=subprocess.STDOUT)


async def wait_ready(api: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> dict:
    async def readyz() -> httpx.Response | None:
        assert proc.poll() is None, f"warroom dev exited early:\n{log.read_text()}"
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                return await http.get(f"{api}/readyz")
        except httpx.HTTPError:
            return None  # not listening yet

    try:
        r = await until(readyz, "warroom dev to be ready", ok=lambda r: r is not None and r.status_code == 200,
                        timeout=timeout, interval=0.3)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{log.read_text()}") from None
    return r.json()


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_dev_server_checks_no_version_and_fetches_no_news():
    from warroom.cli.dev import dev_server_command
    from warroom.settings import Settings

    cmd = dev_server_command(Settings())
    assert "--ui-disable-news-fetch" in cmd and "frontend.enableServerVersionCheck=false" in cmd
    assert cmd[cmd.index("--ip") + 1] == "127.0.0.1"


async def test_dev_runs_everything_stops_cleanly_and_keeps_incidents(tmp_path):
    tport, uport, aport = free_port(), free_port(), free_port()
    env = {**os.environ, "WARROOM_DATA_DIR": str(tmp_path / "data"), "WARROOM_TEMPORAL_PORT": str(tport),
           "WARROOM_TEMPORAL_UI_PORT": str(uport), "WARROOM_API_PORT": str(aport),
           "WARROOM_TASK_QUEUE": "dev-test", "WARROOM_DATABASE_URL": ""}
    api = f"http://127.0.0.1:{aport}"
    log = tmp_path / "dev.log"
    proc = start_dev(env, log)
    try:
        ready = await wait_ready(api, proc, log)
        assert ready == {"status": "ok", "checks": {"temporal": "ok", "database": "ok"}}
        assert httpx.get(f"{api}/healthz").json() == {"status": "ok"}
        client = await Client.connect(f"127.0.0.1:{tport}")
        t = await temporal.trigger(client, alert(priority="P1", title="Search is down"), task_queue="dev-test")
        st = await until(lambda: temporal.state(client, t.incident_id), "the incident to reach recover",
                         ok=lambda st: st.phase == "recover", interval=0.2)
        assert st.phase == "recover"
        await temporal.act(client, t.incident_id, "acknowledge", {"by": "erin"})
        # the first start made an admin key for this machine, readable by its owner only
        key_file = tmp_path / "data" / "admin.key"
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        admin = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
        assert httpx.get(f"{api}/api/v1/incidents/{t.incident_id}").status_code == 401
        r = httpx.get(f"{api}/api/v1/incidents/{t.incident_id}", headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "acknowledged"
        assert httpx.get(f"{api}/api/v1/incidents/incident-nope", headers=admin).status_code == 404
    finally:
        code = stop(proc)
    assert code == 0, log.read_text()
    assert "warroom is running" in log.read_text() and "warroom stopped." in log.read_text()
    assert f"admin key:   in {tmp_path / 'data' / 'admin.key'}" in log.read_text()
    assert (tmp_path / "data" / "temporal.db").exists() and (tmp_path / "data" / "warroom.db").exists()

    proc = start_dev(env, log)  # same data directory: the incident is still there, still running
    try:
        await wait_ready(api, proc, log)
        client = await Client.connect(f"127.0.0.1:{tport}")
        st = await temporal.state(client, t.incident_id)
        assert st.status == "acknowledged" and st.commander == "erin"
        st = await temporal.act(client, t.incident_id, "post_update", {"by": "erin", "message": "after restart"})
        assert st.latest_update.message == "after restart"
        # the same admin key still works: a restart makes no new one
        assert httpx.get(f"{api}/api/v1/keys", headers=admin).json()[0]["name"] == "dev-admin"
    finally:
        assert stop(proc) == 0


async def test_dev_rehearses_example_runbooks_and_its_server_dies_with_it(tmp_path):
    """The issue's first try of the product: "Login down" sent to `warroom dev` picks the shipped
    auth-outage runbook, whose steps name example hosts; they are rehearsed on the timeline and
    nothing is sent to auth-admin.internal. Then `warroom dev` is killed with SIGKILL (no cleanup
    runs in it): the dev server gets SIGTERM from the kernel when its parent dies
    (PR_SET_PDEATHSIG, warroom/reaper.py) and stops."""
    from tests.warroom.cli.test_simulate_many import _alive, _children

    tport, uport, aport = free_port(), free_port(), free_port()
    env = {**os.environ, "WARROOM_DATA_DIR": str(tmp_path / "data"), "WARROOM_TEMPORAL_PORT": str(tport),
           "WARROOM_TEMPORAL_UI_PORT": str(uport), "WARROOM_API_PORT": str(aport),
           "WARROOM_TASK_QUEUE": "dev-kill", "WARROOM_DATABASE_URL": ""}
    log = tmp_path / "dev.log"
    proc = start_dev(env, log)
    try:
        await wait_ready(f"http://127.0.0.1:{aport}", proc, log)
        client = await Client.connect(f"127.0.0.1:{tport}")
        t = await temporal.trigger(client, alert(priority="P1", title="Login down", service="auth"),
                                   task_queue="dev-kill")
        await temporal.act(client, t.incident_id, "acknowledge", {"by": "erin"})
        st = await until(lambda: temporal.state(client, t.incident_id), "the runbook's first step",
                         ok=lambda st: any(e.type == "action.succeeded" for e in st.timeline), interval=0.2)
        assert st.runbook == "auth-outage"
        first = next(e for e in st.timeline if e.type == "action.succeeded")
        assert first.details["detail"].startswith(
            "REHEARSAL, not run: POST http://auth-admin.internal:8080/admin/rolling-restart")
        servers = [p for p, cmd in _children(proc.pid) if "start-dev" in cmd]
        assert len(servers) == 1, _children(proc.pid)
        proc.kill()
        assert proc.wait(timeout=30) == -signal.SIGKILL
        await until(lambda: not _alive(servers[0]), "the dev server to stop after its parent died", timeout=30)
        with socket.socket() as s:  # and its port is free again
            assert s.connect_ex(("127.0.0.1", tport)) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
