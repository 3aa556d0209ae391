"""`warroom simulate`: the shipped scenarios rehearse a whole incident; bad files exit 2
naming the line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warroom.cli.main import app

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()


def simulate_json(path: Path) -> dict:
    res = runner.invoke(app, ["simulate", str(path), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def offsets(out: dict, type_: str, **match) -> list[int]:
    return [r["offset_seconds"] for r in out["timeline"]
            if r["type"] == type_ and all(r["details"].get(k) == v for k, v in match.items())]


def test_shipped_p0_scenario_runs_to_closed_review():
    out = simulate_json(REPO / "runbooks/scenarios/p0-login-outage.yaml")
    inc = out["incident"]
    assert inc["status"] == "closed" and inc["phase"] == "closed"
    assert inc["commander"] == "alice" and inc["priority"] == "P1"
    assert inc["category"] == "AUTHENTICATION_FAILURE"
    # not acknowledged at 15 min: escalated and paged L2; acknowledged at 20 min
    assert offsets(out, "escalated", reason="ack_timeout") == [900]
    assert offsets(out, "acknowledged") == [1200]
    assert offsets(out, "priority.changed") == [2400]
    types = [r["type"] for r in out["timeline"]]
    assert types.index("verification.passed") < types.index("resolved") < types.index("review.submitted")
    assert offsets(out, "resolved") == [4200]
    assert offsets(out, "closed") == [26 * 3600]
    assert out["timeline"][0]["type"] == "triggered" and out["timeline"][0]["offset_seconds"] == 0
    assert out["refused"] == []


def test_shipped_six_hour_scenario_escalates_and_reports_refusals():
    out = simulate_json(REPO / "runbooks/scenarios/p1-checkout-6h.yaml")
    inc = out["incident"]
    assert inc["status"] == "acknowledged" and inc["phase"] == "recover"
    assert offsets(out, "escalated", reason="ack_timeout") == [1800]
    assert offsets(out, "escalated", reason="resolve_target") == [3 * 3600]  # upgraded to P0 at 3 h: 2 h target
    assert offsets(out, "priority.changed", to="P0") == [3 * 3600]
    assert max(r["offset_seconds"] for r in out["timeline"]) <= 6 * 3600
    # by 5 h the incident is already at the top level: the manual escalation is refused, with the reason
    assert [r["event"] for r in out["refused"]] == ["escalate"]
    assert "highest escalation level" in out["refused"][0]["reason"]


def test_text_output_shows_the_timeline():
    res = runner.invoke(app, ["simulate", str(REPO / "runbooks/scenarios/p0-login-outage.yaml")])
    assert res.exit_code == 0, res.output
    assert "+00:15:00" in res.stdout and "escalated" in res.stdout
    assert "final: status closed" in res.stdout


BAD = [
    ("incident:\n  title: x\n  priority: P7\n", 2, "incident.priority"),
    ("incident:\n  title: x\nevents:\n  - {at: 20m, acknowledge: {by: a}}\n  - {at: soon, resolve: {by: a}}\n",
     5, "events[1].at"),
    ("incident:\n  title: x\nevents:\n  - {at: 20m, acknowledge: {who: a}}\n", 4, "events[0].acknowledge.who"),
    ("incident:\n  title: x\nevents:\n  - {at: 20m}\n", 4, "events[0]: needs exactly one of"),
    ("incident:\n  title: x\nevents:\n  - {at: 20m, dance: {by: a}}\n", 4, "events[0]: needs exactly one of"),
    ("incident:\n  title: x\n  affected_users: many\n", 2, "incident.affected_users"),
    ("incident:\n  title: x\nuntil: later\n", 3, "until"),
    ("incidnt:\n  title: x\n", 1, "incidnt: unknown field"),
    ("incident:\n  description: no title\n", 2, "incident.title: required"),
    ("incident: [\n", 2, "not valid YAML"),
]


@pytest.mark.parametrize("text,line,field", BAD, ids=[b[2] for b in BAD])
def test_bad_scenario_names_line_and_field_and_exits_2(tmp_path, text, line, field):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    res = runner.invoke(app, ["simulate", str(path)])
    assert res.exit_code == 2
    assert f"{path}:{line}:" in res.stderr
    assert field in res.stderr


def test_unknown_runbook_exits_2(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("incident:\n  title: x\n  priority: P1\nrunbook: no-such-runbook\n")
    res = runner.invoke(app, ["simulate", str(path)])
    assert res.exit_code == 2
    assert "no-such-runbook" in res.stderr


def test_json_on_stdout_is_parseable_as_a_process_and_tier1_config_applies(tmp_path):
    import os
    import subprocess
    import sys

    path = tmp_path / "s.yaml"
    path.write_text("incident: {title: Payments fail, service: payments, severity: critical}\nuntil: 1m\n")
    warroom = str(Path(sys.executable).parent / "warroom")
    env = {**os.environ, "WARROOM_TIER1_SERVICES": '["payments"]'}
    res = subprocess.run([warroom, "simulate", str(path), "--json"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)  # nothing but JSON: core logs never reach stdout
    assert out["incident"]["priority"] == "P0"
    assert out["timeline"][0]["details"]["priority_reason"] == "severity critical on a tier-1 service"


def test_a_rehearsal_shows_who_would_be_paged_and_pages_nobody(tmp_path):
    from tests.receivers import Receiver

    with Receiver() as rx:
        oncall = tmp_path / "oncall"
        oncall.mkdir()
        (oncall / "team.yaml").write_text(f"""\
people:
  - {{id: ann, name: Ann, timezone: UTC, contacts: [{{kind: webhook, url: "json://{rx.netloc}/ann"}}]}}
  - {{id: ben, name: Ben, timezone: UTC, contacts: [{{kind: webhook, url: "json://{rx.netloc}/ben"}}]}}
escalation_policies:
  - id: default
    levels: [{{targets: ["person:ann"]}}, {{targets: ["person:ben"]}}]
roles: {{technical_manager: ["person:ben"], customer_success_manager: ["person:ben"],
        senior_engineer: ["person:ben"]}}
""")
        res = runner.invoke(app, ["simulate", str(REPO / "runbooks/scenarios/p0-login-outage.yaml"), "--json"],
                            env={"WARROOM_ONCALL_DIR": str(oncall)})
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    sent = [r["details"] for r in out["timeline"] if r["type"] == "notification.sent"]
    assert [d["recipients"] for d in sent if d["target"] == "oncall:L1" and d["kind"] == "INITIAL"] == [["ann"]]
    assert [d["recipients"] for d in sent if d["kind"] == "ESCALATION"][0] == ["ben"]
    assert rx.requests == []  # nothing left the machine


# --- rehearsals stop at a horizon and say what they sent nothing (issue 15) -------------------

WAITS_ON_APPROVAL = """\
incident: {title: Orders table has inconsistent rows, service: orders, priority: P1}
runbook: data-integrity
events:
  - {at: 5m, acknowledge: {by: alice}}
until: closed
"""


def test_until_closed_stops_at_the_horizon_and_says_what_the_incident_waits_on(tmp_path):
    """The data-integrity runbook waits for the DBA lead's approval, which no event gives: the
    rehearsal stops at --horizon (here 6 h of virtual time) instead of running without end,
    exits 1, and names the approval and its approvers."""
    path = tmp_path / "approval.yaml"
    path.write_text(WAITS_ON_APPROVAL)
    res = runner.invoke(app, ["simulate", str(path), "--json", "--horizon", "6h"])
    assert res.exit_code == 1, res.output
    out = json.loads(res.stdout)
    assert out["stopped"] == {"at_seconds": 6 * 3600, "horizon_seconds": 6 * 3600,
                              "waiting_on": ["approval of step 'approve-restore' by dba-lead, cto"]}
    assert out["incident"]["status"] == "acknowledged" and out["incident"]["phase"] == "recover"
    assert max(r["offset_seconds"] for r in out["timeline"]) <= 6 * 3600
    assert out["expectations"]["failures"][0].startswith(f"{path}: stopped at the horizon")

    text = runner.invoke(app, ["simulate", str(path), "--horizon", "6h"])
    assert text.exit_code == 1
    assert (f"{path}: stopped at the horizon: until: closed, but the incident was still open at 6h of virtual "
            f"time (--horizon 6h); waiting on: approval of step 'approve-restore' by dba-lead, cto") in text.stdout
    assert "expectation not met" not in text.stdout


def test_an_unacknowledged_incident_waits_on_an_acknowledgement_and_a_bad_horizon_exits_2(tmp_path):
    path = tmp_path / "nobody.yaml"
    path.write_text("incident: {title: Search down, service: search, priority: P1}\nuntil: closed\n")
    out = json.loads(runner.invoke(app, ["simulate", str(path), "--json", "--horizon", "45m"]).stdout)
    assert out["stopped"]["waiting_on"] == ["an acknowledgement (paged: L2)"]  # escalated at 30 min
    bad = runner.invoke(app, ["simulate", str(path), "--horizon", "soon"])
    assert bad.exit_code == 2 and "--horizon" in bad.stderr


def test_a_rehearsals_deliveries_say_rehearsal_not_sent():
    """Nothing is sent in a rehearsal, and its timeline and table say so."""
    out = simulate_json(REPO / "runbooks/scenarios/p0-login-outage.yaml")
    pages = [r["details"] for r in out["timeline"] if r["type"] == "notification.sent"]
    assert pages and {d["status"] for d in pages} == {"REHEARSAL"}
    res = runner.invoke(app, ["simulate", str(REPO / "runbooks/scenarios/p0-login-outage.yaml")])
    assert "INITIAL -> oncall:L1 via log [REHEARSAL]" in res.stdout and "[SENT]" not in res.stdout
