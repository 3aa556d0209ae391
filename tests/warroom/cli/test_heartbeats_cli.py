"""`warroom heartbeats ...` as an SRE and a cron job use it: the real commands, each its own
process, against the real API on loopback with a worker and the time-skipping server."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from tests.helpers import new_key, until
from tests.warroom.cli.test_cli_client import served, warroom


async def test_create_list_ping_show_miss_and_delete_from_the_cli(env, engine, task_queue, tmp_path):
    name, service = f"nightly-{uuid.uuid4().hex[:6]}", f"backups-{uuid.uuid4().hex[:6]}"
    admin, cron, viewer = new_key(engine, "admin"), new_key(engine, "integration"), new_key(engine, "viewer")
    async with served(env, engine, task_queue, tmp_path) as api:
        def run(*args: str, key: str = admin):
            return warroom("heartbeats", *args, WARROOM_URL=api.url, WARROOM_API_KEY=key,
                           WARROOM_DATA_DIR=str(tmp_path / "data"))

        made = await run("create", name, "--interval", "10m", "--priority", "P1", "--service", service)
        assert made.exit_code == 0, made.output
        assert f"created heartbeat {name}: a ping every 10m, a miss opens a P1" in made.stdout
        assert f"/api/v1/heartbeats/{name}" in made.stdout

        bad = await run("create", f"{name}-2", "--interval", "often")
        assert bad.exit_code == 1 and "error: interval: 'often' is not a duration" in bad.stderr, bad.output
        dup = await run("create", name, "--interval", "5m")
        assert dup.exit_code == 1 and "already a heartbeat" in dup.stderr
        refused = await run("create", f"{name}-3", "--interval", "5m", key=viewer)
        assert refused.exit_code == 1 and "has role viewer" in refused.stderr

        listed = await run("list", key=viewer)
        assert listed.exit_code == 0, listed.output
        line = next(ln for ln in listed.stdout.splitlines() if name in ln)
        assert "new" in line and "10m" in line and "P1" in line

        pinged = await run("ping", name, key=cron)
        assert pinged.exit_code == 0 and f"pinged {name}: watching from now" in pinged.stdout, pinged.output
        nope = await run("ping", "nope", key=cron)
        assert nope.exit_code == 1 and "no heartbeat named 'nope'" in nope.stderr

        shown = await until(lambda: run("show", name, "--json", key=viewer), "the ping handled",
                            ok=lambda r: r.exit_code == 0 and json.loads(r.stdout).get("due_at"))
        h = json.loads(shown.stdout)
        assert (h["state"], h["pings"], h["interval_seconds"]) == ("up", 1, 600)
        text = await run("show", name, key=viewer)
        assert text.stdout.startswith(f"{name}: up, a ping every 10m, last ping ") and "next due in " in text.stdout

        await env.sleep(timedelta(minutes=11))
        down = await until(lambda: run("show", name, "--json", key=viewer), "the miss",
                           ok=lambda r: json.loads(r.stdout).get("state") == "down")
        incident = json.loads(down.stdout)["incident_id"]
        text = await run("show", name, key=viewer)
        assert "down" in text.stdout and f"incident {incident}" in text.stdout
        listed = await until(lambda: run("list", key=viewer), "the list to say down",
                             ok=lambda r: any(name in ln and "down" in ln for ln in r.stdout.splitlines()))
        assert incident in listed.stdout

        gone = await run("delete", name)
        assert gone.exit_code == 0 and f"deleted heartbeat {name}" in gone.stdout
        again = await run("show", name, key=viewer)
        assert again.exit_code == 1 and f"no heartbeat named {name!r}" in again.stderr
