"""The on-call hand-over (issue 15, from the seeds; docs/oncall.md "Hand-over") on the
time-skipping server: at a schedule's rotation change the incoming person is sent the open
incidents of the team and the notes the outgoing person left, through their contact point, and
the hand-over is recorded; the workflow goes on to the next change. Its own records database: the
open incidents of the hand-over are every open incident the records hold."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.helpers import running_worker, start, until
from tests.receivers import Receiver
from warroom import client as temporal
from warroom import records
from warroom.oncall import load_oncall
from warroom.records import handovers
from workflows.contracts import RunbookSpec


def oncall_dir(tmp_path: Path, netloc: str, start: str) -> Path:
    d = tmp_path / "oncall"
    d.mkdir()
    (d / "sre.yaml").write_text(f"""
people:
  - {{id: alice, name: Alice Chen, timezone: UTC, contacts: [{{kind: webhook, url: "json://{netloc}/alice"}}]}}
  - {{id: bob, name: Bob Li, timezone: UTC, contacts: [{{kind: webhook, url: "json://{netloc}/bob"}}]}}
teams:
  - {{id: sre, name: SRE, members: [alice, bob]}}
schedules:
  - id: sre-primary
    name: SRE primary
    team: sre
    timezone: UTC
    layers:
      - {{name: daily, rotation: daily, start: "{start}", users: [alice, bob]}}
escalation_policies:
  - id: sre
    match: {{services: [api]}}
    levels:
      - {{targets: ["schedule:sre-primary"], wait_minutes: 30}}
""")
    return d


async def test_the_incoming_person_gets_the_open_incidents_and_the_outgoing_notes(env, own_records, task_queue,
                                                                                  tmp_path):
    now = await env.get_current_time()
    change = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    first = change - timedelta(days=2)  # bob (the second of the rotation) is on call until `change`
    with Receiver() as rx:
        directory = oncall_dir(tmp_path, rx.netloc, first.strftime("%Y-%m-%dT%H:%M"))
        async with running_worker(env.client, task_queue, own_records, oncall_dir=directory):
            incident = await start(env.client, task_queue, priority="P1", service="api", title="API 5xx spike",
                                   runbook=RunbookSpec(name="no-actions", version="1"))
            await until(lambda: records.incident(own_records, incident_id=incident.id), "the incident recorded")
            handovers.add_note(own_records, schedule="sre-primary", person="bob",
                               text="db failover half done: replica 2 still catching up")
            ids = await temporal.ensure_handovers(env.client, load_oncall(directory), task_queue=task_queue)
            assert ids == ["handover-sre-primary"]
            await env.sleep(timedelta(hours=3))
            row = await until(lambda: handovers.handovers(own_records, schedule="sre-primary"), "the hand-over recorded")
            page = await until(lambda: [r for r in rx.requests if r.path == "/alice" and r.ok
                                        and "hand-over" in str(r.json.get("title"))], "alice handed over to")
            # asked again (the files "changed"): the running workflow plans again, nothing is sent twice
            await temporal.ensure_handovers(env.client, load_oncall(directory), task_queue=task_queue)
            desc = await env.client.get_workflow_handle("handover-sre-primary").describe()
    [h] = row
    assert (h.outgoing, h.incoming) == (["bob"], ["alice"])
    assert abs((h.at - change).total_seconds()) == 0  # the rotation change itself, from the files
    assert [i["id"] for i in h.incidents] == [incident.id]
    assert [(n["person"], n["text"]) for n in h.notes] == [("bob", "db failover half done: replica 2 still "
                                                                   "catching up")]
    assert handovers.pending_notes(own_records, schedule="sre-primary") == []  # handed over once
    [sent] = page
    body = f"{sent.json['title']}\n{sent.json['message']}"
    assert "On-call hand-over: SRE primary — 1 open incident(s)" in body
    assert incident.id in body and "API 5xx spike" in body
    assert "Bob Li: db failover half done" in body and "Bob Li hands SRE primary (sre) over to Alice Chen" in body
    assert desc.status is not None and desc.status.name == "RUNNING"  # on to the next change
