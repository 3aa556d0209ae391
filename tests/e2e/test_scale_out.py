"""Scale-out on Temporal (issue 14): two API processes and three workers on one task queue,
all as production runs them (`warroom api`, `python worker.py`, configured by WARROOM_*
variables), against the dev server and the suite's records database.

What a user must see: either API accepts any alert and answers for any incident (they keep
no state of their own); a repeat sent to the other API joins the same incident; a worker
SIGKILLed mid-incident leaves the other two carrying every incident on within the task
timeout (acknowledgements, status-update deadlines, pages), and no page goes out twice.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.helpers import new_key, until

pytestmark = pytest.mark.devserver

REPO = Path(__file__).resolve().parents[2]
# Upper bound of every wait: a dead worker's sticky workflow tasks go back to the shared queue
# after the sticky schedule-to-start timeout (5 s) and its activities after their heartbeat or
# start-to-close timeout; on a loaded 2-core machine processes also take a while to start.
WAIT = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env, self.tmp = env, tmp
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, cwd=REPO, env={**self.env, **env}, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((proc, log))
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {log.name} (exit {p.poll()})\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                         for p, log in self.procs)

    def stop_all(self) -> None:
        for p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        for p, _ in self.procs:
            p.wait(timeout=10)


@pytest.fixture
def processes(dev_env, engine: Engine, tmp_path: Path, task_queue: str) -> Iterator[Processes]:
    ps = Processes({
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "WARROOM_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "WARROOM_NAMESPACE": dev_env.client.namespace,
        "WARROOM_TASK_QUEUE": task_queue,
        "WARROOM_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "WARROOM_DATA_DIR": str(tmp_path / "data"),
        "WARROOM_RUNBOOKS_DIR": str(REPO / "runbooks"),
        "WARROOM_SERVICE_LEVELS": str(REPO / "levels" / "seconds.yaml"),
        "WARROOM_API_HOST": "127.0.0.1",
    }, tmp_path)
    try:
        yield ps
    finally:
        ps.stop_all()
        print(ps.logs())  # shown by pytest when the test failed


def timeline_types(state: dict[str, Any]) -> list[str]:
    return [e["type"] for e in state["timeline"]]


def sent_keys(state: dict[str, Any]) -> Counter[str]:
    """Each page's notification key, once per `notification.sent` on the timeline."""
    return Counter(e["details"].get("key", "") for e in state["timeline"] if e["type"] == "notification.sent")


async def test_two_apis_and_three_workers_carry_on_when_a_worker_dies(processes: Processes, engine: Engine):
    workers = [processes.start(f"worker-{i}", [sys.executable, "worker.py"]) for i in range(3)]
    ports = [free_port(), free_port()]
    for i, port in enumerate(ports):
        processes.start(f"api-{i}", [sys.executable, "-m", "warroom.cli", "api"], WARROOM_API_PORT=str(port))
    apis = [f"http://127.0.0.1:{p}" for p in ports]
    sender = {"Authorization": f"Bearer {new_key(engine, 'integration')}"}
    alice = {"Authorization": f"Bearer {new_key(engine, 'responder', person='alice')}"}

    async with httpx.AsyncClient(timeout=30) as http:
        async def ready(api: str) -> bool:
            assert all(w.poll() is None for w in workers), processes.logs()
            try:
                return (await http.get(f"{api}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        for api in apis:
            await until(lambda api=api: ready(api), f"{api} to be ready", timeout=WAIT, interval=0.3)

        # six P0 incidents, posted alternately to the two APIs
        ids: list[str] = []
        for n in range(6):
            r = await http.post(f"{apis[n % 2]}/api/v1/alerts/generic", headers=sender,
                                json={"title": f"Checkout region {n} is down", "service": f"checkout-{n}",
                                      "priority": "P0", "dedup_key": f"scale-{n}"})
            assert r.status_code == 202, r.text
            ref = r.json()["incidents"][0]
            assert ref["deduplicated"] is False
            ids.append(ref["id"])
        # a repeat through the other API joins the same incident
        r = await http.post(f"{apis[1]}/api/v1/alerts/generic", headers=sender,
                            json={"title": "Checkout region 0 is down", "service": "checkout-0", "priority": "P0",
                                  "dedup_key": "scale-0"})
        assert r.status_code == 202 and r.json()["incidents"][0] == {**r.json()["incidents"][0], "id": ids[0],
                                                                     "deduplicated": True}

        async def state(iid: str, api: str = apis[0]) -> dict[str, Any]:
            r = await http.get(f"{api}/api/v1/incidents/{iid}", headers=alice)
            assert r.status_code == 200, r.text
            return r.json()

        for iid in ids:  # every incident paged its responders and moved on to recover
            await until(lambda iid=iid: state(iid), f"{iid} to reach recover",
                        ok=lambda s: s["phase"] == "recover" and "notification.sent" in timeline_types(s),
                        timeout=WAIT, interval=0.3)

        # one worker dies mid-incident; the other two carry on
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)

        for n, iid in enumerate(ids):  # acknowledged through either API, answered by a live worker
            r = await http.post(f"{apis[n % 2]}/api/v1/incidents/{iid}/acknowledge", headers=alice, json={})
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "acknowledged"

        # the status-update deadline (6 s in levels/seconds.yaml) keeps coming due on every
        # incident after the kill: stakeholders are paged an update after the acknowledgement,
        # and no page went out twice
        def updated_after_ack(s: dict[str, Any]) -> bool:
            acked = [e["at"] for e in s["timeline"] if e["type"] == "acknowledged"]
            return bool(acked) and any(e["type"] == "notification.sent" and e["details"].get("kind") == "UPDATE"
                                       and e["at"] > acked[0] for e in s["timeline"])

        for iid in ids:
            final = await until(lambda iid=iid: state(iid, apis[1]), f"{iid} to page a status update after the ack",
                                ok=updated_after_ack, timeout=WAIT, interval=0.5)
            twice = {k: c for k, c in sent_keys(final).items() if c > 1}
            assert not twice, f"{iid}: pages sent twice: {twice}"
            assert final["status"] == "acknowledged" and final["commander"] == "alice"

        # both APIs list the same incidents: nothing lives in an API process
        listed = []
        for api in apis:
            r = await http.get(f"{api}/api/v1/incidents", headers=alice, params={"limit": 100})
            assert r.status_code == 200, r.text
            listed.append({i["id"] for i in r.json()["incidents"]} & set(ids))
        assert listed[0] == listed[1] == set(ids)
        assert all(w.poll() is None for w in workers[1:]), processes.logs()
