"""Hand-over notes through the API and the CLI (issue 15; docs/oncall.md "Hand-over"): a
responder leaves a note for a schedule's next hand-over (it is the key's person's), an unknown
schedule or an empty note is a clear 422, viewers read the hand-overs and the waiting notes,
and `warroom oncall note` / `warroom oncall handovers` do the same from a shell."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from api.app import create_app
from tests.conftest import REPO
from tests.helpers import new_key, running_worker, serving
from tests.warroom.cli.test_cli_client import warroom
from warroom.settings import Settings


def seeds(tmp_path: Path) -> Path:
    d = tmp_path / "oncall"
    d.mkdir()
    shutil.copy(REPO / "oncall" / "examples" / "seeds.yaml", d / "seeds.yaml")
    return d


async def test_a_responder_leaves_a_note_and_a_viewer_reads_it(env, engine, task_queue, tmp_path):
    app = create_app(Settings(task_queue=task_queue, oncall_dir=seeds(tmp_path)), client=env.client, engine=engine)
    anna = {"Authorization": f"Bearer {new_key(engine, 'responder', person='anna-schmidt')}"}
    viewer = {"Authorization": f"Bearer {new_key(engine, 'viewer')}"}
    async with running_worker(env.client, task_queue, engine), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        r = await http.post("/api/v1/oncall/handover-notes", headers=anna,
                            json={"schedule": "payments-l1", "note": "refund queue drained by hand at 14:00"})
        assert r.status_code == 201, r.text
        assert (r.json()["person"], r.json()["handover"]) == ("anna-schmidt", None)
        r = await http.post("/api/v1/oncall/handover-notes", headers=anna, json={"schedule": "payment-l1", "note": "x"})
        assert r.status_code == 422 and r.json()["detail"].startswith("schedule: no schedule 'payment-l1'; one of ")
        r = await http.post("/api/v1/oncall/handover-notes", headers=anna, json={"schedule": "payments-l1", "note": " "})
        assert r.status_code == 422 and "note" in r.text
        r = await http.post("/api/v1/oncall/handover-notes", headers=viewer, json={"schedule": "payments-l1",
                                                                                  "note": "from a viewer"})
        assert r.status_code == 403
        listed = await http.get("/api/v1/oncall/handovers", params={"schedule": "payments-l1"}, headers=viewer)
    assert listed.status_code == 200
    assert [(n["person"], n["note"]) for n in listed.json()["pending_notes"]] == [
        ("anna-schmidt", "refund queue drained by hand at 14:00")]


async def test_warroom_oncall_note_and_handovers(env, engine, task_queue, tmp_path):
    app = create_app(Settings(task_queue=task_queue, oncall_dir=seeds(tmp_path)), client=env.client, engine=engine)
    key = new_key(engine, "responder", person="jonas-weber")
    async with running_worker(env.client, task_queue, engine), serving(app) as url:
        env_ = {"WARROOM_URL": url, "WARROOM_API_KEY": key, "WARROOM_DATA_DIR": str(tmp_path / "data")}
        made = await warroom("oncall", "note", "payments-l2", "card processor ticket 4411 open", **env_)
        shown = await warroom("oncall", "handovers", "--schedule", "payments-l2", **env_)
        bad = await warroom("oncall", "note", "nope", "x", **env_)
    assert made.exit_code == 0, made.output
    assert "by jonas-weber waits for the next hand-over of payments-l2" in made.stdout
    assert shown.exit_code == 0 and "waiting: note" in shown.stdout and "card processor ticket 4411" in shown.stdout
    assert bad.exit_code == 1 and "no schedule 'nope'" in bad.stderr
