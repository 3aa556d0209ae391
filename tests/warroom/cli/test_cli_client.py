"""`warroom incidents ...` as an engineer uses it: the real commands against the real API
served on loopback by uvicorn, with a real worker and a (time-skipping) Temporal server.

The API, the worker and the Temporal client live on the test's event loop. Each command runs
as its own process (`python -c "from warroom.cli.main import app; app()"`, what the `warroom`
script does), so its stdout, stderr and exit code are exactly what a user gets, and nothing
the server prints while it answers can mix into them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from tests.helpers import new_key, running_worker, serving, until
from warroom.settings import Settings
from warroom.timeparse import utc

REPO = Path(__file__).resolve().parents[3]
WARROOM = [sys.executable, "-c", "from warroom.cli.main import app; app(prog_name='warroom')"]


@dataclass
class Run:
    """What one `warroom ...` left: exit code, stdout, stderr."""

    args: list[str]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return f"$ warroom {' '.join(self.args)}\n[exit {self.exit_code}]\n{self.stdout}{self.stderr}"


def cli_env(**env: str | None) -> dict[str, str]:
    """The process environment without the tester's own WARROOM_* settings, plus `env`
    (None unsets)."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    out.update({k: v for k, v in env.items() if v is not None})
    return out


async def warroom(*args: str, **env: str | None) -> Run:
    """`warroom <args>` in its own process, without blocking the loop that serves the API."""
    proc = await asyncio.create_subprocess_exec(*WARROOM, *args, cwd=REPO, env=cli_env(**env),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return Run(list(args), proc.returncode, out.decode(), err.decode())


@dataclass
class Api:
    url: str
    responder: str  # a responder's key, alice's
    data_dir: Path

    async def run(self, *args: str, key: str | None = None, **env: str | None) -> Run:
        """`warroom incidents <args>` against this API; the key through WARROOM_API_KEY, as a
        script would set it; a data directory without a dev key."""
        return await warroom("incidents", *args, **{"WARROOM_URL": self.url, "WARROOM_API_KEY": key or self.responder,
                                                    "WARROOM_DATA_DIR": str(self.data_dir), **env})

    async def declare(self, **alert: Any) -> str:
        alert.setdefault("dedup_key", f"cli-{uuid.uuid4().hex[:12]}")
        async with httpx.AsyncClient(base_url=self.url) as http:
            r = await http.post("/api/v1/incidents", json=alert, headers={"Authorization": f"Bearer {self.responder}"})
        assert r.status_code == 201, r.text
        return r.json()["incidents"][0]["id"]

    async def state(self, incident_id: str) -> dict[str, Any]:
        result = await self.run("show", incident_id, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def served(env: Any, engine: Any, task_queue: str, tmp_path: Path) -> AsyncIterator[Api]:
    app = create_app(Settings(task_queue=task_queue), client=env.client, engine=engine)
    async with running_worker(env.client, task_queue, engine):  # no cache: every task replays
        async with serving(app) as url:
            yield Api(url=url, responder=new_key(engine, "responder", person="alice"), data_dir=tmp_path / "data")


async def eventually(api: Api, args: list[str], ok: Callable[[Run], bool], seconds: float = 20) -> Run:
    """The records list is written a moment after each change: ask again until it shows."""
    return await until(lambda: api.run(*args), f"`warroom incidents {' '.join(args)}` to show it", ok=ok,
                       timeout=seconds, interval=0.1)


def ids(result: Run) -> list[str]:
    assert result.exit_code == 0, result.output
    return [i["id"] for i in json.loads(result.stdout)["incidents"]]


# --------------------------------------------------------------------------- read


async def test_list_shows_a_declared_incident_and_filters_it(env, engine, task_queue, tmp_path):
    service = f"svc-{uuid.uuid4().hex[:8]}"
    async with served(env, engine, task_queue, tmp_path) as api:
        iid = await api.declare(title="Checkout failing for EU", priority="P1", service=service)
        listed = await eventually(api, ["list", "--service", service, "--json"], lambda r: iid in ids(r))
        page = json.loads(listed.stdout)
        assert page["total"] == 1 and page["limit"] == 50 and page["offset"] == 0
        row = page["incidents"][0]
        assert (row["title"], row["priority"], row["status"], row["service"]) == \
               ("Checkout failing for EU", "P1", "triggered", service)

        filters = [["--priority", "P1"], ["--priority", "P0", "--priority", "P1"], ["--priority", "P3"],
                   ["--status", "triggered"], ["--status", "resolved"]]
        table, empty, shown, *filtered = await asyncio.gather(
            api.run("list", "--service", service), api.run("list", "--service", service, "--status", "closed"),
            api.run("show", iid), *(api.run("list", "--service", service, *f, "--json") for f in filters))
    assert [ids(r) for r in filtered] == [[iid], [iid], [], [iid], []]
    assert table.exit_code == 0, table.output
    for text in (iid, "P1", "triggered", "Checkout failing for EU", "1 of 1 incidents"):
        assert text in table.stdout
    for col in ("id", "priority", "status", "phase", "level", "commander", "alerts", "title", "created"):
        assert col in table.stdout.splitlines()[1]
    assert empty.exit_code == 0 and "0 of 0 incidents" in empty.stdout, empty.output
    assert shown.exit_code == 0, shown.output
    out = shown.stdout
    assert out.startswith("P1  Checkout failing for EU")
    for text in ("id:", iid, "status:", "triggered", "escalation level:", "service:", service, "alerts:",
                 "ack due:", "timeline", "alert.received"):
        assert text in out, out
    timeline = out[out.index("timeline"):]
    assert " triggered " in timeline and "time" in timeline and "actor" in timeline


async def test_list_pages_with_limit_and_offset(env, engine, task_queue, tmp_path):
    service = f"svc-{uuid.uuid4().hex[:8]}"
    async with served(env, engine, task_queue, tmp_path) as api:
        made = [await api.declare(title=f"Queue backlog {n}", priority="P3", service=service) for n in range(3)]
        await eventually(api, ["list", "--service", service, "--json"], lambda r: sorted(ids(r)) == sorted(made))
        first, rest = await asyncio.gather(api.run("list", "--service", service, "--limit", "2"),
                                           api.run("list", "--service", service, "--limit", "2", "--offset", "2",
                                                   "--json"))
    assert first.exit_code == 0, first.output
    assert "2 of 3 incidents (next page: --offset 2)" in first.stdout
    assert sum(i in first.stdout for i in made) == 2
    assert len(ids(rest)) == 1 and ids(rest)[0] in made and ids(rest)[0] not in first.stdout


# --------------------------------------------------------------------------- act


async def test_an_incident_from_ack_to_review(env, engine, task_queue, tmp_path):
    async with served(env, engine, task_queue, tmp_path) as api:
        iid = await api.declare(title="Payments timing out", priority="P2")

        r = await api.run("ack", iid, "--note", "on it")  # no --by: the key is alice's
        assert r.exit_code == 0, r.output
        assert r.stdout.startswith(f"acknowledged {iid}: P2, acknowledged,") and "commander alice" in r.stdout
        again = await api.run("ack", iid, key=new_key(engine, "responder", person="bob"))
        assert again.exit_code == 1 and again.stdout == ""
        assert "error: already acknowledged by alice" in again.stderr
        assert "Traceback" not in again.output

        r = await api.run("update", iid, "rolling back 4.2", "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["latest_update"]["message"] == "rolling back 4.2"
        state = await api.state(iid)
        assert state["latest_update"]["message"] == "rolling back 4.2" and state["latest_update"]["by"] == "alice"

        r = await api.run("escalate", iid, "--reason", "need the db team")
        assert r.exit_code == 0, r.output
        assert "escalated" in r.stdout and "escalation level 2" in r.stdout
        assert (await api.state(iid))["escalation_level"] == 2
        r = await api.run("escalate", iid, "--to-level", "4")
        assert r.exit_code == 0, r.output
        assert (await api.state(iid))["escalation_level"] == 4

        r = await api.run("priority", iid, "p0", "--reason", "card data at risk")
        assert r.exit_code == 0, r.output
        assert r.stdout.startswith(f"priority changed on {iid}: P0,")
        assert (await api.state(iid))["priority"] == "P0"

        r = await api.run("resolve", iid, "--resolution", "rolled back", "--root-cause", "bad deploy")
        assert r.exit_code == 0, r.output
        assert r.stdout.startswith(f"resolve requested for {iid}:")
        await eventually(api, ["show", iid, "--json"], lambda r: json.loads(r.stdout)["status"] == "resolved")

        r = await api.run("review", iid, "--root-cause", "bad deploy", "--factor", "no canary",
                          "--factor", "friday", "--lesson", "canary first", "--action-item", "add canary")
        assert r.exit_code == 0, r.output
        assert r.stdout.startswith(f"review submitted for {iid}:")
        state = await api.state(iid)
        assert state["review"]["root_cause"] == "bad deploy"
        assert state["review"]["contributing_factors"] == ["no canary", "friday"]
        assert state["review"]["lessons"] == ["canary first"]
        assert state["review"]["action_items"] == ["add canary"]

        shown = await api.run("show", iid)
    assert shown.exit_code == 0, shown.output
    for text in ("acknowledged", "alice", "rolling back 4.2", "review:", "bad deploy"):
        assert text in shown.stdout, shown.stdout


async def test_acting_without_by_records_the_keys_person_and_a_wrong_by_is_refused(env, engine, task_queue,
                                                                                      tmp_path):
    async with served(env, engine, task_queue, tmp_path) as api:
        iid = await api.declare(title="Search is slow", priority="P3")
        carol = new_key(engine, "responder", person="carol")
        refused = await api.run("ack", iid, "--by", "the-cto", key=carol)
        r = await api.run("ack", iid, "--json", key=carol)
        admin = new_key(engine, "admin", person="root")
        for_carol = await api.run("update", iid, "db failover started", "--by", "carol", "--json", key=admin)
        shown = await api.run("show", iid)
    assert refused.exit_code == 1 and refused.stderr.startswith(
        "error: this key belongs to carol; it cannot act as the-cto"), refused.output
    assert r.exit_code == 0, r.output
    state = json.loads(r.stdout)
    assert state["status"] == "acknowledged" and state["commander"] == "carol"
    assert [e["actor"] for e in state["timeline"] if e["type"] == "acknowledged"] == ["carol"]
    assert for_carol.exit_code == 0, for_carol.output
    assert json.loads(for_carol.stdout)["latest_update"]["by"] == "root for carol"
    assert shown.exit_code == 0 and "root for carol" in shown.stdout, shown.output


async def test_the_dev_admin_key_is_used_when_no_key_is_given(env, engine, task_queue, tmp_path):
    async with served(env, engine, task_queue, tmp_path) as api:
        iid = await api.declare(title="Login errors", priority="P2")
        api.data_dir.mkdir(parents=True)
        (api.data_dir / "admin.key").write_text(new_key(engine, "admin") + "\n")
        with_dev_key = await api.run("show", iid, "--json", WARROOM_API_KEY=None)
    assert with_dev_key.exit_code == 0, with_dev_key.output
    assert json.loads(with_dev_key.stdout)["title"] == "Login errors"


# --------------------------------------------------------------------------- refusals


async def test_a_viewer_can_list_and_show_but_not_act(env, engine, task_queue, tmp_path):
    service = f"svc-{uuid.uuid4().hex[:8]}"
    async with served(env, engine, task_queue, tmp_path) as api:
        viewer = new_key(engine, "viewer")
        iid = await api.declare(title="Cache cold", priority="P3", service=service)
        await eventually(api, ["list", "--service", service, "--json"], lambda r: iid in ids(r))
        listed, shown, refused = await asyncio.gather(api.run("list", "--service", service, key=viewer),
                                                      api.run("show", iid, key=viewer),
                                                      api.run("ack", iid, key=viewer))
        state = await api.state(iid)
    assert listed.exit_code == 0 and iid in listed.stdout, listed.output
    assert shown.exit_code == 0 and "Cache cold" in shown.stdout, shown.output
    assert refused.exit_code == 1, refused.output
    assert refused.stderr.startswith("error: the key 'test-viewer-") and "has role viewer" in refused.stderr
    assert state["status"] == "triggered"


async def test_unknown_incident_wrong_key_and_bad_query_exit_1_with_the_reason(env, engine, task_queue, tmp_path):
    async with served(env, engine, task_queue, tmp_path) as api:
        unknown_show, unknown_ack, wrong_key, no_key, too_many = await asyncio.gather(
            api.run("show", "incident-nope-404"), api.run("ack", "incident-nope-404", "--by", "alice"),
            api.run("list", key="wr" + "0" * 30), api.run("list", WARROOM_API_KEY=None),
            api.run("list", "--limit", "500"))
    assert too_many.exit_code == 1 and too_many.stderr.startswith("error: query.limit: "), too_many.output
    for r in (unknown_show, unknown_ack):
        assert r.exit_code == 1, r.output
        assert r.stderr == "error: unknown incident 'incident-nope-404'\n"
    assert wrong_key.stderr.startswith("error: unknown or revoked API key")
    assert no_key.stderr.startswith("error: missing API key")
    for r in (wrong_key, no_key):
        assert r.exit_code == 1, r.output
        assert r.stderr.startswith("error: ") and "--key" in r.stderr and "WARROOM_API_KEY" in r.stderr
        assert "Traceback" not in r.output


async def test_an_unreachable_api_exits_3_and_says_how_to_point_at_it():
    url = f"http://127.0.0.1:{closed_port()}"
    runs = await asyncio.gather(*(warroom("incidents", *args, "--url", url, "--key", "wrx") for args in
                                  (["list"], ["show", "incident-x"], ["ack", "incident-x", "--by", "alice"])))
    for r in runs:
        assert r.exit_code == 3, r.output
        assert r.stderr.startswith(f"error: cannot reach the warroom API at {url}")
        assert "WARROOM_URL" in r.stderr and "Traceback" not in r.output


async def test_usage_errors_exit_2_before_any_request():
    url = f"http://127.0.0.1:{closed_port()}"  # nothing listens: a request would exit 3, not 2
    runs = await asyncio.gather(*(warroom("incidents", *args, "--url", url, "--key", "wrx") for args in (
        ["priority", "incident-x", "P9", "--reason", "r"], ["priority", "incident-x", "P1"], ["review", "incident-x"],
        ["escalate", "incident-x", "--to-level", "7"], ["list", "--limit", "0"], ["show"])))
    for r in runs:
        assert r.exit_code == 2, r.output
        assert "Usage: warroom incidents" in r.stderr and "Traceback" not in r.stderr


# --------------------------------------------------------------------------- newcomer defaults (issue 15)


async def test_the_default_url_follows_warroom_api_port_and_host(env, engine, task_queue, tmp_path):
    """No --url and no WARROOM_URL: the CLI calls the API where `warroom dev` put it."""
    async with served(env, engine, task_queue, tmp_path) as api:
        iid = await api.declare(title="Queue backlog", priority="P3")
        port = api.url.rsplit(":", 1)[1]
        for host in ("127.0.0.1", "0.0.0.0"):  # a wildcard listen address is reached on loopback
            r = await warroom("incidents", "show", iid, "--json", WARROOM_API_HOST=host, WARROOM_API_PORT=port,
                              WARROOM_API_KEY=api.responder, WARROOM_DATA_DIR=str(api.data_dir))
            assert r.exit_code == 0, r.output
            assert json.loads(r.stdout)["incident_id"] == iid
    closed = str(closed_port())
    r = await warroom("incidents", "list", WARROOM_API_PORT=closed, WARROOM_API_KEY="wrx")
    assert r.exit_code == 3 and f"cannot reach the warroom API at http://127.0.0.1:{closed}" in r.stderr, r.output


def _seconds(text: str) -> int:
    """'in 3h 59m' / 'in 14m 05s' / '2d 4h 05m ago' back to seconds (the sign dropped)."""
    parts = re.findall(r"(\d+)([dhms])", text)
    assert parts, text
    return sum(int(n) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


async def test_show_gives_exact_relative_times(env, engine, task_queue, tmp_path):
    """Deadlines hours away read "in 3h 59m", not "in 3h" (the old display was up to an hour off)."""
    async with served(env, engine, task_queue, tmp_path) as api:
        iid = await api.declare(title="Slow reports page", priority="P3")
        state = await api.state(iid)
        before = datetime.now(UTC)
        shown = await api.run("show", iid)
        after = datetime.now(UTC)
    assert shown.exit_code == 0, shown.output
    deadlines = {k.replace("_", " "): utc(v) for k, v in state["deadlines"].items() if v}
    far = {k: v for k, v in deadlines.items() if v - after > timedelta(hours=1)}
    assert far, state["deadlines"]
    for name, due in far.items():
        line = next(line for line in shown.stdout.splitlines() if line.strip().startswith(name))
        text = re.search(r"\((in [^)]+)\)", line).group(1)
        assert re.fullmatch(r"in (\d+d )?\d+h \d\dm", text), line
        # exact to the minute (the display truncates to whole minutes): within the run's window
        lo, hi = (due - after).total_seconds() - 60, (due - before).total_seconds()
        assert lo <= _seconds(text) <= hi, (line, lo, hi)
