"""The shipped Zabbix mapping (examples/mappings/zabbix.yaml, the one the README's
`warroom integrations create ... --mapping` names) on the bodies a Zabbix webhook media type
set up as the file says sends: a problem, an acknowledgement and a comment from Zabbix, and
the recovery; then the same through the CLI and the API into a running worker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from api.sources.custom import compile_mapping, load_mapping_file
from tests.helpers import api, until
from warroom.classify import classify_priority
from warroom.cli.main import app as cli

MAPPING = Path(__file__).resolve().parents[2] / "examples" / "mappings" / "zabbix.yaml"

# What Zabbix 6/7 posts for a problem with the media type's parameters, macros expanded as
# Zabbix expands them (dates as Y.m.d, CRLF in the default message template, the tags as JSON).
PROBLEM: dict[str, Any] = {
    "event_id": "29384",
    "event_value": "1",
    "event_update_status": "0",
    "event_update_action": "",
    "event_name": "MySQL: Service is down",
    "event_severity": "Disaster",
    "event_date": "2026.12.07",
    "event_time": "10:15:02",
    "event_opdata": "Down (0)",
    "event_tags": '[{"tag":"class","value":"database"},{"tag":"component","value":"application"},'
                  '{"tag":"service","value":"orders-db"}]',
    "service": "orders-db",
    "host_name": "db-01",
    "host_ip": "10.20.0.15",
    "trigger_id": "23112",
    "trigger_description": "",
    "alert_subject": "Problem: MySQL: Service is down",
    "alert_message": "Problem started at 10:15:02 on 2026.12.07\r\nProblem name: MySQL: Service is down\r\n"
                     "Host: db-01\r\nSeverity: Disaster\r\nOperational data: Down (0)\r\n"
                     "Original problem ID: 29384\r\n",
    "zabbix_url": "https://zabbix.example.com/",
}
ACKNOWLEDGED = PROBLEM | {
    "event_update_status": "1", "event_update_action": "acknowledged, commented",
    "alert_subject": "Updated problem in 3m: MySQL: Service is down",
    "alert_message": "alice acknowledged and commented problem at 2026.12.07 10:18:11.\r\nlooking\r\n",
}
COMMENTED = ACKNOWLEDGED | {"event_update_action": "commented"}
RECOVERED = PROBLEM | {
    "event_value": "0", "event_opdata": "Up (1)",
    "alert_subject": "Resolved in 12m 4s: MySQL: Service is down",
    "alert_message": "Problem has been resolved at 10:27:06 on 2026.12.07\r\nProblem name: MySQL: Service is down\r\n"
                     "Problem duration: 12m 4s\r\nHost: db-01\r\nSeverity: Disaster\r\n"
                     "Original problem ID: 29384\r\n",
}


def test_the_example_mapping_reads_a_zabbix_problem() -> None:
    mapping = compile_mapping(load_mapping_file(MAPPING))
    [problem] = mapping.parse(PROBLEM).events
    a = problem.alert
    assert problem.action == "trigger"
    assert (a.title, a.service, a.severity, a.dedup_key) == (
        "MySQL: Service is down on db-01", "orders-db", "critical", "zabbix:29384")
    assert a.description.startswith("Problem started at 10:15:02")
    assert a.labels == {"host": "db-01", "host_ip": "10.20.0.15", "trigger_id": "23112",
                        "zabbix_severity": "Disaster", "opdata": "Down (0)"}
    assert a.links == ["https://zabbix.example.com/tr_events.php?triggerid=23112&eventid=29384"]
    assert classify_priority(a)[0] == "P1"


def test_the_example_mapping_follows_the_problem() -> None:
    mapping = compile_mapping(load_mapping_file(MAPPING))
    actions = [(e.action, e.alert.dedup_key) for body in (ACKNOWLEDGED, COMMENTED, RECOVERED)
               for e in mapping.parse(body).events]
    assert actions == [("acknowledge", "zabbix:29384"), ("trigger", "zabbix:29384"), ("resolve", "zabbix:29384")]
    # no service tag: Zabbix leaves the macro unexpanded, and the host is the service
    for unexpanded in ("{EVENT.TAGS.service}", "*UNKNOWN*", ""):
        assert mapping.parse(PROBLEM | {"service": unexpanded}).events[0].alert.service == "db-01"
    by_severity = {s: mapping.parse(PROBLEM | {"event_severity": s}).events[0].alert.severity
                   for s in ("Disaster", "High", "Average", "Warning", "Information", "Not classified")}
    assert by_severity == {"Disaster": "critical", "High": "critical", "Average": "warning", "Warning": "warning",
                           "Information": "info", "Not classified": "info"}


def _cli(engine, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"WARROOM_DATABASE_URL": engine.url.render_as_string(
        hide_password=False)})


async def test_zabbix_through_the_cli_made_integration_and_the_api(env, engine, task_queue) -> None:
    name = f"zabbix-{uuid.uuid4().hex[:6]}"
    made = _cli(engine, "integrations", "create", "--name", name, "--format", "custom", "--mapping", str(MAPPING))
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    problem = PROBLEM | {"event_id": uuid.uuid4().hex[:8]}  # an incident of this test's own
    auth = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    async with api(env, engine, task_queue) as http:
        async def post(body: dict[str, Any]) -> dict[str, Any]:
            r = await http.post(f"/api/v1/alerts/custom/{name}", content=json.dumps(body), headers=auth)
            assert r.status_code == 202, r.text
            return r.json()

        [ref] = (await post(problem))["incidents"]
        assert (ref["priority"], ref["deduplicated"]) == ("P1", False)
        iid = ref["id"]
        await post(ACKNOWLEDGED | {"event_id": problem["event_id"]})
        state = await until(lambda: _state(http, iid), "acknowledged from Zabbix",
                            ok=lambda s: s["status"] == "acknowledged")
        assert state["title"] == "MySQL: Service is down on db-01" and state["service"] == "orders-db"
        assert [e["actor"] for e in state["timeline"] if e["type"] == "acknowledged"] == [f"integration:{name}"]
        await post(RECOVERED | {"event_id": problem["event_id"]})
        state = await until(lambda: _state(http, iid), "the recovery on the timeline",
                            ok=lambda s: "alert.resolved" in [e["type"] for e in s["timeline"]])


async def _state(http, iid: str) -> dict[str, Any]:
    return (await http.get(f"/api/v1/incidents/{iid}")).json()
