"""The upgrade rules as plain functions and files (issue 15; docs/upgrades.md): which labels and
updates report impact and what they raise, which words suggest it, the upgrades file with its
file:line problems, the cascade decision over the open incidents, and the rehearsals of each rule
in runbooks/scenarios/ (their `expect:` sections)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import REPO
from warroom.classify import classify_priority
from warroom.cli.main import app
from warroom.upgrades import SHIPPED, OpenIncident, Upgrades, cascade, load_upgrades, validate_text
from workflows.contracts import AlertInfo, PostUpdate
from workflows.policy import DEFAULT_SUGGEST, default_upgrade_rules
from workflows.upgrades import Impact, from_fields, from_labels, label_problems, suggestions, triggers

runner = CliRunner()
T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def test_labels_report_signals_and_an_expected_recovery() -> None:
    assert from_labels({"data_loss": "true", "all_users": "YES", "security_risk": "no",
                        "expected_recovery_minutes": "300"}) == Impact(("data_loss", "all_users"), 300)
    assert not from_labels({"severity": "critical"})
    assert label_problems({"data_loss": "maybe", "expected_recovery_minutes": "5h"}) == [
        "labels.data_loss: 'maybe' is not true or false",
        "labels.expected_recovery_minutes: '5h' is not a whole number of minutes"]


def test_what_raises_to_p0() -> None:
    update = from_fields(PostUpdate(by="a", message="m", business_down=True, expected_recovery_minutes=241))
    assert [t.name for t in triggers(update, "P1", 4 * 3600)] == ["business_down", "expected_recovery"]
    # a signal raises any priority below P0; the expected recovery only a P1 (P2-P4 have longer targets)
    assert [t.name for t in triggers(update, "P3", 4 * 3600)] == ["business_down"]
    assert triggers(Impact((), 240), "P1", 4 * 3600) == []  # exactly 4 h is not beyond
    assert triggers(update, "P0", 4 * 3600) == []


def test_the_starting_alerts_signals_are_impact_rules_at_the_edge() -> None:
    priority, reason = classify_priority(AlertInfo(title="Orders missing", severity="critical",
                                                   labels={"data_loss": "true"}))
    assert (priority, reason) == ("P0", "severity critical, raised to P0: data loss (label data_loss)")
    assert classify_priority(AlertInfo(title="x", severity="warning"))[0] == "P2"


def test_words_suggest_in_both_languages_never_negated_never_inside_a_word() -> None:
    assert suggestions("We confirmed data loss; a breach is suspected", DEFAULT_SUGGEST) == [
        ("data_loss", "data loss"), ("security_risk", "breach")]
    assert suggestions("没有数据丢失, replica fine", DEFAULT_SUGGEST) == []
    assert suggestions("no data loss, all users can log in again", DEFAULT_SUGGEST) == [("all_users", "all users")]
    assert suggestions("订单数据丢失，所有用户受影响", DEFAULT_SUGGEST) == [("data_loss", "数据丢失"),
                                                                          ("all_users", "所有用户")]
    assert suggestions("the breaches report is out", DEFAULT_SUGGEST) == []  # "breach" is a whole word


def test_the_shipped_file_is_the_built_in_rules() -> None:
    shipped = load_upgrades(SHIPPED)
    built_in = default_upgrade_rules()
    assert shipped.rules.suggest == built_in.suggest
    assert shipped.rules.recovery_beyond_seconds == built_in.recovery_beyond_seconds == 4 * 3600
    assert (shipped.window_seconds, shipped.window_incidents, shipped.dependencies) == (900, 3, {})
    assert shipped.rules.version.startswith("1 (")


def test_a_bad_file_names_each_line_and_field() -> None:
    text = ("version: 1\nrecovery_beyond: soon\nsuggest:\n  data_lost: [x]\n"
            "cascade:\n  incidents: 1\n  dependencies:\n    checkout: [checkout]\n")
    found, problems = validate_text(text, file="up.yaml")
    assert found is None
    assert [str(p) for p in problems] == ["up.yaml:4: suggest.data_lost: unknown field (did you mean 'data_loss'?)"]
    found, problems = validate_text("version: 1\nrecovery_beyond: soon\ncascade:\n  incidents: 1\n"
                                    "  dependencies:\n    checkout: [checkout]\n", file="up.yaml")
    assert [str(p) for p in problems] == [
        "up.yaml:2: recovery_beyond: 'soon' is not a duration like 20m, 1h30m, 26h or 90s",
        "up.yaml:4: cascade.incidents: 1 would make every P0/P1 a cascade of its own: 2 or more, or 0 (off)",
        "up.yaml:6: cascade.dependencies.checkout[0]: 'checkout' cannot depend on itself"]


def test_warroom_upgrades_validate(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["upgrades", "validate", str(SHIPPED)])
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncascade:\n  window: later\n")
    res = runner.invoke(app, ["upgrades", "validate", str(bad)])
    assert res.exit_code == 2 and f"{bad}:3: cascade.window" in res.output


def inc(i: str, service: str, minutes: float, priority: str = "P1", parent: str | None = None) -> OpenIncident:
    return OpenIncident(i, service, priority, T0 + timedelta(minutes=minutes), parent)


DEPS = Upgrades(dependencies={"checkout": ("payments",), "payments": ("ledger",)}, window_incidents=0)


def test_a_dependency_makes_the_earlier_incident_the_parent_whichever_way_it_points() -> None:
    # checkout (later) depends on payments (earlier): checkout is the child
    assert cascade(inc("c", "checkout", 5, "P2"), [inc("p", "payments", 0)], DEPS) == (
        ("p", "checkout depends on payments"), [])
    # payments (later) is what checkout (earlier) depends on: still the earlier is the parent
    assert cascade(inc("p", "payments", 5), [inc("c", "checkout", 0)], DEPS) == (
        ("c", "checkout depends on payments"), [])
    # unrelated services, P4 questions: no cascade
    assert cascade(inc("x", "search", 5), [inc("p", "payments", 0)], DEPS) == (None, [])
    assert cascade(inc("q", "checkout", 5, "P4"), [inc("p", "payments", 0)], DEPS) == (None, [])


def test_the_earliest_adopts_a_later_one_that_missed_it() -> None:
    """Both incidents look once their own row is recorded; when the later looked before the
    earlier was recorded, the earlier finds the later and takes it as its child."""
    assert cascade(inc("p", "payments", 0), [inc("c", "checkout", 1)], DEPS) == (
        None, [("c", "checkout depends on payments")])


def test_a_child_joins_the_cascade_of_its_relatives_parent() -> None:
    ledger_child = inc("p", "payments", 2, parent="l")
    assert cascade(inc("c", "checkout", 5), [inc("l", "ledger", 0), ledger_child], DEPS) == (
        ("l", "with p: checkout depends on payments"), [])


def test_the_window_needs_enough_p0_p1_incidents_within_it() -> None:
    window = Upgrades(window_seconds=900, window_incidents=3)
    two = [inc("a", "search", 0)]
    assert cascade(inc("b", "mail", 5), two, window) == (None, [])
    three = [inc("a", "search", 0), inc("b", "mail", 5), inc("old", "dns", -30), inc("p3", "wiki", 1, "P3")]
    why = "3 P0/P1 incidents opened within 15 min"
    assert cascade(inc("c", "images", 9), three, window) == (("a", why), [("b", why)])


SCENARIOS = ["p1-data-loss-upgrades", "p1-security-alert-upgrades", "p1-long-recovery-upgrades",
             "p1-update-words-suggest", "p1-downgrade-announced"]


def test_each_upgrade_rule_rehearses_as_its_scenario_expects() -> None:
    res = runner.invoke(app, ["simulate", "--json", *(str(REPO / "runbooks" / "scenarios" / f"{name}.yaml")
                                                        for name in SCENARIOS)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [(Path(s["path"]).stem, s["verdict"]) for s in out["scenarios"]] == [(n, "passed") for n in SCENARIOS]
