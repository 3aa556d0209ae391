"""Pages a person can act on (issue 15): what a page delivered to a person says, end to end.

A real alert from the payload corpus (Alertmanager's with a runbook_url annotation, Grafana's
with a dashboard, a panel, the rule and a silence link) opens an incident on the time-skipping
server; the worker resolves the on-call files and renders each person's message; the `send`
below stands in for the channel only (what would go over the wire is captured). Asserted: the
description, the source's links by what they are, what the person is paged as (a manager paged
as a role is never told a level), the acknowledge link, and one page per person per event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from api.sources import alertmanager, grafana
from tests.activities.test_notify import person, write_config
from tests.helpers import advance_to, alert, default_policy, get_state, pages, running_worker, until
from warroom import client as temporal
from warroom.delivery import channels as chan

class Wire:
    """What each person was sent: (person id, subject, body), in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, url: str, **kw: Any) -> chan.Outcome:
        self.sent.append((url.rsplit("/", 1)[1], kw["subject"], kw["body"]))
        return chan.Outcome(ok=True)

    def to(self, who: str) -> list[tuple[str, str]]:
        return [(s, b) for p, s, b in self.sent if p == who]


def oncall(tmp_path: Path) -> Any:
    """ann is L1 and also the technical manager; carl is L2; mei (Chinese) is the customer
    success manager; dan is management."""
    people = [person("ann", "json://127.0.0.1:9/ann"), person("carl", "json://127.0.0.1:9/carl"),
              person("mei", "json://127.0.0.1:9/mei", language="zh"), person("dan", "json://127.0.0.1:9/dan")]
    config = write_config(tmp_path, {
        "people": people,
        "escalation_policies": [{"id": "default", "levels": [{"targets": ["person:ann"]}, {"targets": ["person:carl"]}]}],
        "roles": {"technical_manager": ["person:ann"], "customer_success_manager": ["person:mei"],
                  "management": ["person:dan"], "technical_lead": ["person:ann"]}})
    return lambda: config


def corpus_alert(payloads_dir: Path, rel: str, parser: Any) -> Any:
    info = parser.parse(json.loads((payloads_dir / rel).read_text())).events[0].alert
    info.priority = "P0"
    return info


async def test_a_page_says_what_happened_where_to_look_and_as_what_you_are_paged(
        env: WorkflowEnvironment, engine, task_queue, tmp_path, payloads_dir) -> None:
    wire = Wire()
    info = corpus_alert(payloads_dir, "alertmanager/am-oncall-legacy-demo-extra-field.json", alertmanager)
    async with running_worker(env.client, task_queue, engine, oncall=oncall(tmp_path), send=wire.send,
                              public_url="https://warroom.example.com"):
        t = await temporal.trigger(env.client, info, task_queue=task_queue, policy=default_policy())
        st = await until(lambda: get_state(t.handle), "the first pages",
                         ok=lambda s: len(pages(s, kind="INITIAL")) >= 3)
        await until(lambda: wire.to("mei"), "mei's page")

        # One page per person per event: ann is L1 and the technical manager, and gets one page
        # that names both; the pages of the moment all list her.
        ann = wire.to("ann")
        assert len(ann) == 1, [s for s, _ in ann]
        subject, body = ann[0]
        assert subject == "[P0] New incident: TestAlert"
        assert body.startswith("Ann, you are paged as L1 on-call and technical manager for a P0 incident.")
        assert "Acknowledge: https://warroom.example.com/ack/" in body.splitlines()[1]
        # the alert's description and the source's runbook link, before the engine's brief
        assert "This alert was sent by user for demonstration purposes" in body
        assert "Runbook: https://grafana.com/" in body
        assert body.index("Runbook:") < body.index("P0 TestAlert")
        assert all("ann" in p.details["recipients"] for p in pages(st, kind="INITIAL", target="oncall:L1")
                   + pages(st, kind="INITIAL", target="technical_manager"))

        # mei reads it in Chinese, as the customer success manager, with the links labelled in Chinese
        (zh_subject, zh_body), = wire.to("mei")
        assert zh_subject.startswith("【P0】新事件") and "您作为客户成功经理被呼叫" in zh_body
        assert "运行手册：https://grafana.com/" in zh_body
        assert "L1" not in zh_body.splitlines()[0]

        # Nobody acknowledges: at 15 min the incident escalates to L2; carl is paged as L2 with
        # the description and links again (he was not on the first page).
        await advance_to(env, st, 16)
        escalated = lambda: [m for m in wire.to("carl") if m[0] == "[P0] Escalated to L2: TestAlert"]  # noqa: E731
        await until(escalated, "carl's escalation page")
        (_, c_body), = escalated()
        assert c_body.startswith("Carl, this P0 incident has been escalated to L2 and needs you now "
                                 "(you are paged as L2 on-call). Please acknowledge.")
        assert c_body.splitlines()[1].startswith("Acknowledge: https://warroom.example.com/ack/")
        assert "Runbook: https://grafana.com/" in c_body and "demonstration purposes" in c_body

        # Status updates do not repeat the alert's details (they inform; they do not bring anyone in).
        updates = [b for p, s, b in wire.sent if "Status update" in s]
        assert updates and not any("Runbook:" in b for b in updates)


async def test_a_grafana_alert_page_lists_every_link_by_what_it_is(
        env: WorkflowEnvironment, engine, task_queue, tmp_path, payloads_dir) -> None:
    wire = Wire()
    info = corpus_alert(payloads_dir, "grafana/gf-keep-grafana12-test-alert-relative-generatorurl.json", grafana)
    async with running_worker(env.client, task_queue, engine, oncall=oncall(tmp_path), send=wire.send):
        await temporal.trigger(env.client, info, task_queue=task_queue, policy=default_policy())
        await until(lambda: wire.to("ann"), "ann's page")
        (_, body), = wire.to("ann")
    assert "\nTest Description\n" in body
    assert ("Dashboard: https://grafana.example.com/d/dashboard_uid\n"
            "Panel: https://grafana.example.com/d/dashboard_uid?viewPanel=1\n"
            "Source: https://grafana.example.com/?orgId=1\n"
            "Silence: https://grafana.example.com/alerting/silence/new") in body
    assert "Acknowledge:" not in body  # no public URL configured: no link to offer


async def test_a_manager_paged_on_an_escalation_is_told_the_role_not_a_level(
        env: WorkflowEnvironment, engine, task_queue, tmp_path) -> None:
    """The post-incident review overdue pages the technical manager with an ESCALATION: dan
    (technical manager here) is told what he is paged as and why, never "escalated to L1", and
    gets no acknowledge link for an incident that is resolved."""
    people = [person("ann", "json://127.0.0.1:9/ann"), person("dan", "json://127.0.0.1:9/dan")]
    config = write_config(tmp_path, {"people": people, "roles": {"technical_manager": ["person:dan"]}})
    wire = Wire()
    async with running_worker(env.client, task_queue, engine, oncall=lambda: config, send=wire.send,
                              public_url="https://warroom.example.com"):
        t = await temporal.trigger(env.client, alert(title="Checkout is down", priority="P1"),
                                   task_queue=task_queue, policy=default_policy())
        await temporal.act(env.client, t.incident_id, "acknowledge", {"by": "ann"})
        await temporal.act(env.client, t.incident_id, "resolve", {"by": "ann", "resolution": "rolled back"})
        st = await until(lambda: get_state(t.handle), "review phase", ok=lambda s: s.phase == "review")
        await advance_to(env, st, 49 * 60)  # P1 review due 48 h after resolution
        await until(lambda: [b for s, b in wire.to("dan") if "review overdue" in s], "the overdue page")
    (subject, body), = wire.to("dan")
    assert subject == "[P1] Checkout is down — post-incident review overdue"  # the engine's, not "Escalated to L1"
    first = body.splitlines()[0]
    assert first.startswith("Dan, you are paged as technical manager about this P1 incident:"), first
    assert "review overdue" in first and "L1" not in first and "escalated to" not in first
    assert "Acknowledge:" not in body
