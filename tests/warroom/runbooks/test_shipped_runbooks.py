"""Every shipped runbook rehearsed through its scenario (runbooks/scenarios/<name>.yaml), as
`warroom simulate` runs it: the real workflow and activities on the time-skipping server, with
the runbook's actions and checks answered by the scenario's `outcomes` (nothing is called).
Between them they show recovery working the first time, a verification that fails once (the
next actions run and an escalation is recorded), manual steps and approvals that wait, remind
and continue."""

from __future__ import annotations

from typing import Any

import pytest

from warroom.runbooks import RunbookLibrary
from warroom.settings import Settings
from warroom.cli.simulate import ScenarioError, load_scenario, run_scenario

from tests.conftest import REPO

SCENARIOS = REPO / "runbooks" / "scenarios"
SHIPPED = sorted(n for n in RunbookLibrary(REPO / "runbooks").entries if not n.startswith("default"))


async def rehearse(name: str) -> dict[str, Any]:
    return await run_scenario(load_scenario(SCENARIOS / f"{name}.yaml"), Settings(runbooks_dir=REPO / "runbooks"))


def of(result: dict[str, Any], type_: str, **match: Any) -> list[dict[str, Any]]:
    return [r for r in result["timeline"] if r["type"] == type_
            and all(r["details"].get(k) == v for k, v in match.items())]


def steps(result: dict[str, Any], type_: str) -> list[str]:
    return [r["details"]["step"] for r in of(result, type_)]


def minutes(row: dict[str, Any]) -> float:
    return round(row["offset_seconds"] / 60, 1)


def test_every_shipped_runbook_has_a_scenario():
    assert set(SHIPPED) == {"auth-outage", "performance-degradation", "configuration-error", "external-dependency",
                            "data-integrity", "security-breach"}
    for name in SHIPPED:
        assert (SCENARIOS / f"{name}.yaml").is_file(), name


async def test_auth_outage_verification_fails_once_then_failover_passes():
    r = await rehearse("auth-outage")
    inc = r["incident"]
    assert inc["runbook"] == "auth-outage" and inc["status"] == "closed"
    assert steps(r, "action.succeeded") == ["restart-auth", "check-user-db", "failover-auth"]
    assert [x["details"]["failed"] for x in of(r, "verification.failed")] == [["synthetic-login"]]
    assert [x["details"]["reason"] for x in of(r, "escalated")].count("verification_failed") == 1
    # the failover is a manual step: it waits, is reminded after 15 min, continues when completed
    started = [x for x in of(r, "action.started") if x["details"]["step"] == "failover-auth"][0]
    reminders = of(r, "step.reminder", step="failover-auth")
    assert [minutes(x) - minutes(started) for x in reminders][:1] == [15.0]
    assert minutes(of(r, "step.completed", step="failover-auth")[0]) == 40.0
    assert len(of(r, "verification.passed")) == 1 and r["refused"] == []


async def test_performance_degradation_is_picked_by_category_and_works_first_time():
    r = await rehearse("performance-degradation")
    inc = r["incident"]
    assert inc["category"] == "PERFORMANCE_DEGRADATION" and inc["runbook"] == "performance-degradation"
    assert steps(r, "action.succeeded") == ["scale-out", "clear-cache"]
    assert of(r, "verification.failed") == [] and steps(r, "check.passed") == ["p95-latency"]
    assert inc["status"] == "closed" and "verification_failed" not in [x["details"]["reason"]
                                                                         for x in of(r, "escalated")]


async def test_configuration_error_rolls_back_first_time():
    r = await rehearse("configuration-error")
    assert steps(r, "action.succeeded") == ["rollback-config", "confirm-config"]
    assert steps(r, "check.passed") == ["error-rate"] and r["incident"]["status"] == "closed"


async def test_external_dependency_waits_for_the_vendor_ticket_and_a_durable_pause():
    r = await rehearse("external-dependency")
    assert steps(r, "action.succeeded") == ["enable-fallback", "vendor-ticket", "wait-for-vendor"]
    ticket = of(r, "step.completed", step="vendor-ticket")[0]
    assert minutes(ticket) == 20.0 and ticket["details"]["note"] == "vendor case 55123"
    assert [minutes(x) for x in of(r, "step.reminder", step="vendor-ticket")] == [15.0]
    waited = [x for x in of(r, "action.succeeded") if x["details"]["step"] == "wait-for-vendor"][0]
    assert minutes(waited) == 35.0  # 15 min after the ticket
    assert r["incident"]["status"] == "closed"


async def test_data_integrity_restore_needs_the_dba_leads_approval():
    r = await rehearse("data-integrity")
    assert [x["reason"] for x in r["refused"]] == [
        "step 'approve-restore' needs the approval of dba-lead or cto (DBA lead or CTO)"]
    approved = of(r, "step.completed", step="approve-restore")
    assert [(x["actor"], x["details"]["result"]) for x in approved] == [("dba-lead", "approved")]
    assert steps(r, "action.succeeded") == ["stop-writes", "approve-restore", "restore"]
    assert steps(r, "check.passed") == ["checksums"] and r["incident"]["status"] == "closed"


async def test_security_breach_escalates_and_runs_the_next_approval_when_verification_fails():
    r = await rehearse("security-breach")
    inc = r["incident"]
    assert steps(r, "action.succeeded") == ["isolate-hosts", "snapshot-evidence", "approve-rotation",
                                            "rotate-credentials", "external-ir"]
    assert [x["details"]["failed"] for x in of(r, "verification.failed")] == [["no-suspicious-logins"]]
    assert "verification_failed" in [x["details"]["reason"] for x in of(r, "escalated")]
    assert steps(r, "check.passed") == ["no-suspicious-logins", "security-signoff"]
    # the runbook tightens P0's ack SLA to 10 min; acknowledged at 3 min, so no ack escalation
    assert "ack_timeout" not in [x["details"]["reason"] for x in of(r, "escalated")]
    assert inc["status"] == "closed" and r["refused"] == []


async def test_outcomes_must_name_steps_of_the_runbook(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("incident: {title: x, priority: P1}\nrunbook: configuration-error\n"
                   "outcomes:\n  rollbak-config: fail\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml:4: outcomes: no step rollbak-config in runbook "
                                            r"configuration-error"):
        await run_scenario(load_scenario(bad), Settings(runbooks_dir=REPO / "runbooks"))
    bad.write_text("incident: {title: x}\noutcomes:\n  a: maybe\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml:3: outcomes.a: ok, fail or a list of them"):
        load_scenario(bad)
