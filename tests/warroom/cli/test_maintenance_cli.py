"""`warroom maintenance ...` as an engineer uses it: the real commands, each in its own process,
against the real API on loopback with a worker and a (time-skipping) Temporal server
(tests/warroom/cli/test_cli_client.py's harness)."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.helpers import events, new_key, until
from tests.warroom.cli.test_cli_client import Api, served, warroom
from warroom import client as temporal


async def mw(api: Api, *args: str, key: str | None = None):
    return await warroom("maintenance", *args, WARROOM_URL=api.url, WARROOM_API_KEY=key or api.responder,
                         WARROOM_DATA_DIR=str(api.data_dir))


async def test_make_list_show_and_end_a_window(env, engine, task_queue, tmp_path):
    service = f"search-{uuid.uuid4().hex[:6]}"
    async with served(env, engine, task_queue, tmp_path) as api:
        made = await mw(api, "create", "--service", service, "--match", "team=search", "--duration", "90m",
                        "--reason", "reindex", "--json")
        assert made.exit_code == 0, made.output
        w = json.loads(made.stdout)
        assert w["status"] == "active" and w["created_by"] == "alice"
        assert w["scope"] == f"service={service}, team=search"

        listed = await mw(api, "list")
        assert listed.exit_code == 0, listed.output
        row = next((line for line in listed.stdout.splitlines() if w["id"] in line), "")  # other tests' windows too
        assert "reindex" in row and "active" in row and "alice" in row, listed.output

        shown = await mw(api, "show", w["id"])
        assert shown.exit_code == 0 and "reason: reindex  (made by alice)" in shown.stdout, shown.output

        # an alert of the service with the label: held by the window
        async with httpx.AsyncClient(base_url=api.url) as http:
            r = await http.post("/api/v1/alerts/generic", headers={"Authorization": f"Bearer {new_key(engine, 'admin')}"},
                                json={"title": "Search latency", "priority": "P1", "service": service,
                                      "labels": {"team": "search"}, "dedup_key": f"cli-{uuid.uuid4().hex[:10]}"})
        assert r.status_code == 202, r.text
        iid = r.json()["incidents"][0]["id"]
        await until(lambda: temporal.state(env.client, iid), "the incident held by the window",
                    ok=lambda s: events(s, "maintenance.held"))

        ended = await mw(api, "end", w["id"], "--note", "reindex finished early")
        assert ended.exit_code == 0, ended.output
        assert "ended" in ended.stdout and "by alice" in ended.stdout
        s = await until(lambda: temporal.state(env.client, iid), "the incident released",
                        ok=lambda s: events(s, "maintenance.ended"))
        assert events(s, "maintenance.ended")[0].details["ended_by"] == "alice"

        again = await mw(api, "end", w["id"])
        assert again.exit_code == 1 and "has ended already" in again.stderr, again.output
        current = await mw(api, "list", "--json")
        assert current.exit_code == 0 and w["id"] not in current.stdout, current.output
        past = await mw(api, "list", "--ended", "--json")
        assert [x["status"] for x in json.loads(past.stdout)["windows"] if x["id"] == w["id"]] == ["ended"]


async def test_bad_windows_and_viewers_exit_1_with_the_reason(env, engine, task_queue, tmp_path):
    async with served(env, engine, task_queue, tmp_path) as api:
        bad = await mw(api, "create", "--match", "team=~(", "--duration", "1h", "--reason", "x")
        assert bad.exit_code == 1 and "invalid regex" in bad.stderr, bad.output
        both = await mw(api, "create", "--service", "a", "--reason", "x")
        assert both.exit_code == 1 and "either ends_at or duration" in both.stderr, both.output
        viewer = await mw(api, "create", "--service", "a", "--duration", "1h", "--reason", "x",
                          key=new_key(engine, "viewer"))
        assert viewer.exit_code == 1 and "viewer" in viewer.stderr, viewer.output
        missing = await mw(api, "show", "mw-nope")
        assert missing.exit_code == 1 and "no maintenance window" in missing.stderr, missing.output
