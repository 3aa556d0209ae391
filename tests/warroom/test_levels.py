"""warroom/levels.py and `warroom levels`: the service-levels file, its problems as
file:line: field: message, tiers, and the shipped files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warroom.cli.main import app
from warroom.levels import ServiceLevelsError, check_text, load_levels, validate_paths
from workflows.policy import default_policy

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def problems(text: str) -> list[str]:
    levels, found = check_text(text, file="levels.yaml")
    assert levels is None
    return [str(p) for p in found]


def test_the_shipped_file_is_the_built_in_defaults() -> None:
    assert load_levels(REPO / "levels" / "service-levels.yaml").policy == default_policy()
    assert load_levels(None).policy == default_policy()


def test_the_seconds_file_makes_every_timer_a_matter_of_seconds() -> None:
    policy = load_levels(REPO / "levels" / "seconds.yaml").policy
    for pp in policy.priorities.values():
        assert max(pp.ack_seconds, pp.update_seconds) <= 30 and pp.resolve_seconds <= 300, pp
        assert all(s <= 60 for s in (pp.briefings or {}).values())
    for p in ("P0", "P1"):
        assert max(policy.of(p).ladder(policy.escalation)) <= 60 and policy.of(p).review_seconds <= 60
    assert policy.escalation.review_reminder_seconds <= 60 and policy.escalation.manual_step_reminder_seconds <= 60


def test_a_field_left_out_keeps_its_default_and_a_file_may_loosen() -> None:
    levels, found = check_text("version: 1\npriorities:\n  P1: {ack: 45m, resolve: 6h}\n  P4: {ack: 30s}\n")
    assert found == [] and levels is not None
    p1, defaults = levels.policy.of("P1"), default_policy().of("P1")
    assert (p1.ack_seconds, p1.resolve_seconds) == (45 * 60, 6 * 3600)  # longer than the SPEC's: loosened
    assert (p1.update_seconds, p1.stakeholders, p1.silence_intervals) == (
        defaults.update_seconds, defaults.stakeholders, defaults.silence_intervals)
    assert levels.policy.of("P4").ack_seconds == 30
    assert levels.policy.of("P0") == default_policy().of("P0")


def test_every_timer_can_be_set() -> None:
    levels, found = check_text("""version: 1
priorities:
  P0:
    ack: 10s
    update: 20
    resolve: 1m
    review: 2m
    ladder: [5s, 7s, 9s]
    top_level: 3
    brief: {management: 15s, customer_success_manager: 3s}
    resolve_missed: [management, technical_manager]
    silence: 3
    nudge: 50%
    stakeholders: [oncall:L1]
    war_room: false
reminders: {review: 30s, manual_step: 4s}
""")
    assert found == [] and levels is not None
    p0 = levels.policy.of("P0")
    assert (p0.ack_seconds, p0.update_seconds, p0.resolve_seconds, p0.review_seconds) == (10, 20, 60, 120)
    assert (p0.no_progress_seconds, p0.top_level, p0.briefings) == (
        [5, 7, 9], 3, {"management": 15, "customer_success_manager": 3})
    assert (p0.resolve_notify, p0.silence_intervals, p0.nudge_percent, p0.war_room) == (
        ["management", "technical_manager"], 3, 50, False)
    assert (levels.policy.escalation.review_reminder_seconds, levels.policy.escalation.manual_step_reminder_seconds) \
        == (30, 4)


def test_tiers_override_their_services_numbers() -> None:
    levels, found = check_text("""version: 1
priorities:
  P1: {ack: 20m}
tiers:
  - name: tier-1
    services: [payments, checkout]
    priorities:
      P1: {update: 10m}
      P0: {ack: 5m}
""")
    assert found == [] and levels is not None
    assert levels.tier_of("payments") == "tier-1" and levels.tier_of("search") == ""
    pay, search = levels.policy_for("payments"), levels.policy_for("search")
    assert (pay.of("P1").ack_seconds, pay.of("P1").update_seconds, pay.of("P0").ack_seconds) == (1200, 600, 300)
    assert (search.of("P1").ack_seconds, search.of("P1").update_seconds, search.of("P0").ack_seconds) == (
        1200, 1800, 900)
    pay.of("P1").ack_seconds = 1  # a copy for the input: changing it changes nothing loaded
    assert levels.policy_for("payments").of("P1").ack_seconds == 1200


@pytest.mark.parametrize("text,expected", [
    ("priorities: {}\n", ["levels.yaml:1: version: required"]),
    ("version: 1\npriorities:\n  P1:\n    ack: 15x\n",
     ["levels.yaml:4: priorities.P1.ack: '15x' is not a duration like 20m, 1h30m, 26h or 90s"]),
    ("version: 1\npriorities:\n  P1:\n    ack: 0\n", ["levels.yaml:4: priorities.P1.ack: must be at least 1 second"]),
    ("version: 1\npriorities:\n  P1:\n    updates: 5m\n",
     ["levels.yaml:4: priorities.P1.updates: unknown field (did you mean 'update'?)"]),
    ("version: 1\npriorities:\n  P5: {ack: 5m}\n",
     ["levels.yaml:3: priorities.P5: unknown field (expected one of: P0, P1, P2, P3, P4)"]),
    ("version: 1\npriorities:\n  P0:\n    ladder: [1h, 30m]\n",
     ["levels.yaml:4: priorities.P0.ladder: each wait must be longer than the one before (L2, then L3, then "
      "vendor support)"]),
    ("version: 1\npriorities:\n  P0:\n    nudge: 120%\n",
     ["levels.yaml:4: priorities.P0.nudge: '120%': a share of the ack SLA between 0% (never) and 99%"]),
    ("version: 1\npriorities:\n  P0:\n    top_level: 5\n",
     ["levels.yaml:4: priorities.P0.top_level: must be at most 4 (got 5)"]),
    ("version: 1\ntiers:\n  - name: a\n    services: [pay]\n  - name: b\n    services: [search, pay]\n",
     ["levels.yaml:6: tiers[1].services[1]: service 'pay' is already in tier 'a' (line 4)"]),
    ("version: 1\npriorities: [\n", ["levels.yaml:3: not valid YAML: expected the node content, but found "
                                     "'<stream end>' (while parsing a flow node)"]),
])
def test_problems_name_the_file_line_and_field(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_loading_an_invalid_file_raises_naming_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "levels.yaml"
    path.write_text("version: 1\npriorities:\n  P0: {ack: soon, update: never}\n")
    with pytest.raises(ServiceLevelsError) as err:
        load_levels(path)
    assert [p.path for p in err.value.problems] == ["priorities.P0.ack", "priorities.P0.update"]
    assert f"{path}:3: priorities.P0.ack" in str(err.value)
    with pytest.raises(ServiceLevelsError, match="cannot read"):
        load_levels(tmp_path / "missing.yaml")


def test_warroom_levels_validate(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["levels", "validate", str(REPO / "levels")])
    assert ok.exit_code == 0 and "2 service-levels file(s) valid" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\npriorities:\n  P2:\n    update: 2 hours\n")
    res = runner.invoke(app, ["levels", "validate", str(bad)])
    assert res.exit_code == 2
    assert res.stdout.splitlines() == [f"{bad}:4: priorities.P2.update: '2 hours' is not a duration like 20m, 1h30m, "
                                       "26h or 90s"]
    assert validate_paths([tmp_path / "nope.yaml"])[0].message == "no such file"


def test_warroom_levels_show_says_what_is_in_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "levels.yaml"
    path.write_text("version: 1\ntiers:\n  - {name: gold, services: [pay], priorities: {P1: {ack: 90s}}}\n")
    monkeypatch.setenv("WARROOM_SERVICE_LEVELS", str(path))
    res = runner.invoke(app, ["levels", "show", "--service", "pay", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["tier"] == "gold" and out["source"] == str(path)
    assert [(r["priority"], r["ack_seconds"]) for r in out["priorities"]][:2] == [("P0", 900), ("P1", 90)]
    text = runner.invoke(app, ["levels", "show", "--service", "pay"])
    assert "tier gold" in text.stdout and "1 min 30 s" in text.stdout
    path.write_text("version: 2\n")
    broken = runner.invoke(app, ["levels", "show"])
    assert broken.exit_code == 2 and "version: must be 1" in broken.output


SOP_SCENARIOS = ["p0-silence-escalates", "p1-ack-nudge", "p4-question-stays-in-team"]


def test_the_service_level_rules_rehearse_as_their_scenarios_expect() -> None:
    """runbooks/scenarios/: silence escalates, the pre-breach nudge, a P4 stays in the team;
    `warroom simulate` exits 1 when a scenario misses its `expect:` section."""
    res = runner.invoke(app, ["simulate", "--json", *(str(REPO / "runbooks" / "scenarios" / f"{name}.yaml")
                                                        for name in SOP_SCENARIOS)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [(Path(s["path"]).stem, s["verdict"]) for s in out["scenarios"]] == [(n, "passed") for n in SOP_SCENARIOS]


def test_the_worker_and_the_api_refuse_to_start_on_an_invalid_file(tmp_path: Path) -> None:
    """The file is read at start: a broken one stops both, naming the line and field."""
    import os
    import subprocess
    import sys

    from api.app import create_app
    from warroom.settings import Settings

    bad = tmp_path / "levels.yaml"
    bad.write_text("version: 1\npriorities:\n  P1:\n    ack: half an hour\n")
    env = {**os.environ, "WARROOM_SERVICE_LEVELS": str(bad), "WARROOM_DATA_DIR": str(tmp_path / "data"),
           "WARROOM_DATABASE_URL": "", "WARROOM_TEMPORAL_ADDRESS": "127.0.0.1:1"}
    done = subprocess.run([sys.executable, "worker.py"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert "worker refuses to start" in done.stderr and f"{bad}:4: priorities.P1.ack" in done.stderr
    with pytest.raises(ServiceLevelsError, match="priorities.P1.ack"):
        create_app(Settings(service_levels=bad, data_dir=tmp_path / "data"))
