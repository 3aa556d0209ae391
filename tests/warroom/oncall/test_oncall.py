"""On-call configuration as a user meets it: who a rotation, an override or a swap puts on
call at a moment (across a hand-over, a time zone and a DST change), which policy and level a
page reaches, validation problems naming file and line, and the same answers from
`warroom oncall` and /api/v1/oncall."""

from __future__ import annotations

import json
import shutil
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.app import create_app
from tests.helpers import new_key
from warroom.cli.main import app as cli
from warroom.oncall import OnCallConfig, OnCallError, load_oncall, oncall_files, validate_paths
from warroom.settings import Settings

REPO = Path(__file__).resolve().parents[3]
UTC = timezone.utc

PEOPLE = """\
people:
  - {id: alice, name: Alice Wang, timezone: Asia/Shanghai, language: zh,
     contacts: [{kind: sms, url: "json://sms.example.com/send/1?token=${SMS_TOKEN}"},
                {kind: email, url: "mailto://alice@example.com"}]}
  - {id: bob, name: Bob Li, timezone: Asia/Shanghai, contacts: [{kind: email, url: "mailto://bob@example.com"}]}
  - {id: carol, name: Carol Xu, timezone: Asia/Shanghai, contacts: [{kind: email, url: "mailto://carol@example.com"}]}
  - {id: dave, name: Dave Sun, timezone: Asia/Shanghai, contacts: [{kind: phone, url: "json://voice.example.com/4"}]}
  - {id: erin, name: Erin Zhou, timezone: Asia/Shanghai, contacts: [{kind: phone, url: "json://voice.example.com/5"}]}
  - {id: arch1, name: Ada Arch, timezone: Europe/Paris, contacts: [{kind: email, url: "mailto://ada@example.com"}]}
  - {id: arch2, name: Max Arch, timezone: Asia/Shanghai, contacts: [{kind: email, url: "mailto://max@example.com"}]}
  - {id: hans, name: Hans Weber, timezone: Europe/Berlin, contacts: [{kind: chat, url: "slack://${SLACK_TOKEN}/@hans"}]}
  - {id: greta, name: Greta Braun, timezone: Europe/Berlin,
     contacts: [{kind: chat, url: "slack://${SLACK_TOKEN}/@greta"}]}
  - {id: mia, name: Mia Manager, timezone: Europe/Berlin, contacts: [{kind: email, url: "mailto://mia@example.com"}]}
  - {id: vendor, name: Vendor Support, timezone: America/New_York,
     contacts: [{kind: webhook, url: "jsons://support.vendor.example.com/incidents?+X-Key=${VENDOR_KEY}"}]}
"""

SETUP = """\
teams:
  - {id: sre, name: SRE, members: [alice, bob, carol, dave, erin], schedules: [l1, l2], chat: "json://chat.example.com/sre"}
  - {id: arch, name: Architects, members: [arch1, arch2]}
  - {id: shop, name: Shop, members: [hans, greta]}
  - {id: leadership, name: Leadership, members: [mia, dave], chat: "json://chat.example.com/leaders"}

schedules:
  - id: l1
    team: sre
    timezone: Asia/Shanghai
    layers:
      - &duty
        name: on duty
        rotation: weekly
        start: 2026-01-05T09:00      # Monday; alice, bob, carol, alice, ...
        users: [alice, bob, carol]
    overrides:
      - {start: "2026-03-10T12:00:00+08:00", end: "2026-03-10T20:00:00+08:00", user: dave}
    swaps:
      - {start: 2026-03-16, end: 2026-03-17, from: bob, to: carol}
  - id: l2
    team: sre
    timezone: Asia/Shanghai
    layers:
      - <<: *duty
        name: L1 stands in
      - name: seniors
        rotation: weekly
        start: 2026-01-05T09:00
        users: [dave, erin]
        restrict: {days: [mon, tue, wed, thu, fri], from: 09:00, to: 18:00}
  - id: architects
    team: arch
    timezone: Asia/Shanghai
    layers:
      - {name: on demand, on_demand: true, users: [arch1, arch2]}
  - id: berlin
    team: shop
    timezone: Europe/Berlin
    layers:
      - {rotation: weekly, start: "2026-03-02T09:00", users: [hans, greta]}

escalation_policies:
  - id: default
    levels:
      - {targets: ["schedule:l1"], wait_minutes: 30}
  - id: critical
    match: {priorities: [P0, P1]}
    repeat: 2
    levels:
      - {targets: ["schedule:l1"], wait_minutes: 15}
      - {targets: ["schedule:l2"], wait_minutes: 15}
      - {targets: ["schedule:architects"], wait_minutes: 30}
      - {targets: ["person:vendor"], wait_minutes: 30}
  - id: shop
    match: {services: [shop, checkout]}
    levels:
      - {targets: ["team:shop"], wait_minutes: 10}
      - {targets: ["schedule:l2", "person:mia"], wait_minutes: 20}

roles:
  technical_manager: ["person:mia"]
  management: ["team:leadership"]
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def oncall_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "oncall"
    directory.mkdir()
    write(directory, "people.yaml", PEOPLE)
    write(directory, "setup.yaml", SETUP)
    return directory


@pytest.fixture
def config(oncall_dir: Path) -> OnCallConfig:
    return OnCallConfig.load(oncall_dir)


def who(config: OnCallConfig, target: str, when: str, *, service: str = "web", priority: str = "P0") -> list[str]:
    return [p.id for p in config.resolve(target, service=service, priority=priority, at=at(when)).people]


# ---------------------------------------------------------------- rotations

def test_weekly_hand_over_at_local_nine_is_one_utc_in_shanghai(config: OnCallConfig) -> None:
    # Monday 2026-03-09 09:00 in Shanghai is 01:00 UTC: carol hands over to alice
    assert who(config, "schedule:l1", "2026-03-09T00:59:00+00:00") == ["carol"]
    assert who(config, "schedule:l1", "2026-03-09T01:00:00+00:00") == ["alice"]
    assert who(config, "schedule:l1", "2026-03-09T08:59:00+08:00") == ["carol"]  # same moment, local clock
    # before the layer's first hand-over nobody is on call
    assert who(config, "schedule:l1", "2026-01-05T00:59:00+00:00") == []


def test_hand_over_keeps_local_nine_across_the_dst_change(config: OnCallConfig) -> None:
    # Berlin: CET (+1) until Sunday 2026-03-29, CEST (+2) after; the hand-over stays at 09:00 local
    assert who(config, "schedule:berlin", "2026-03-23T07:59:00Z") == ["hans"]
    assert who(config, "schedule:berlin", "2026-03-23T08:00:00Z") == ["greta"]
    assert who(config, "schedule:berlin", "2026-03-30T06:59:00Z") == ["greta"]
    assert who(config, "schedule:berlin", "2026-03-30T07:00:00Z") == ["hans"]


def test_l2_seniors_in_business_hours_and_l1_standing_in_outside(config: OnCallConfig) -> None:
    # week of 2026-03-09: L1 alice, seniors erin
    assert who(config, "schedule:l2", "2026-03-11T10:00:00+08:00") == ["erin"]  # Wednesday 10:00
    assert who(config, "schedule:l2", "2026-03-11T17:59:00+08:00") == ["erin"]
    assert who(config, "schedule:l2", "2026-03-11T18:00:00+08:00") == ["alice"]
    assert who(config, "schedule:l2", "2026-03-11T20:00:00+08:00") == ["alice"]  # evening: L1 stands in
    assert who(config, "schedule:l2", "2026-03-14T10:00:00+08:00") == ["alice"]  # Saturday
    r = config.resolve("oncall:L2", service="web", priority="P1", at=at("2026-03-14T10:00:00+08:00"))
    assert r.via == "policy critical L2 → schedule l2 → Alice Wang (rotation)"
    entries = config.on_call(at("2026-03-11T10:00:00+08:00"), team="sre")
    assert [(e.schedule, e.person.id, e.layer, e.source) for e in entries] == [
        ("l1", "alice", "on duty", "rotation"), ("l2", "erin", "seniors", "rotation")]


def test_override_window_beats_the_rotation(config: OnCallConfig) -> None:
    assert who(config, "schedule:l1", "2026-03-10T11:59:00+08:00") == ["alice"]
    assert who(config, "schedule:l1", "2026-03-10T12:00:00+08:00") == ["dave"]
    assert who(config, "schedule:l1", "2026-03-10T04:00:00Z") == ["dave"]  # 12:00 local, in UTC
    assert who(config, "schedule:l1", "2026-03-10T20:00:00+08:00") == ["alice"]  # end is exclusive
    r = config.resolve("oncall:L1", service="web", priority="P0", at=at("2026-03-10T13:00:00+08:00"))
    assert r.via == "policy critical L1 → schedule l1 → Dave Sun (override)"
    entry = config.on_call(at("2026-03-10T13:00:00+08:00"), team="sre")[0]
    assert (entry.person.id, entry.source, entry.local_time) == ("dave", "override", "2026-03-10T13:00+08:00")


def test_swap_replaces_one_person_only_where_they_are_on_call(config: OnCallConfig) -> None:
    # bob's week starts Monday 2026-03-16 09:00; the swap covers the 16th and 17th (whole days, Shanghai)
    assert who(config, "schedule:l1", "2026-03-16T08:00:00+08:00") == ["alice"]  # still alice's week: untouched
    assert who(config, "schedule:l1", "2026-03-16T10:00:00+08:00") == ["carol"]
    assert who(config, "schedule:l1", "2026-03-17T23:59:00+08:00") == ["carol"]
    assert who(config, "schedule:l1", "2026-03-18T00:00:00+08:00") == ["bob"]
    r = config.resolve("schedule:l1", service="web", priority="P0", at=at("2026-03-16T10:00:00+08:00"))
    assert r.via == "schedule l1 → Carol Xu (swap for bob)"
    entry = config.on_call(at("2026-03-16T10:00:00+08:00"), team="sre")[0]
    assert (entry.person.id, entry.source, entry.swapped_from) == ("carol", "swap", "bob")


def test_on_demand_layer_pages_everyone_listed_and_is_nobody_in_a_rotation_sense(config: OnCallConfig) -> None:
    r = config.resolve("oncall:L3", service="web", priority="P0", at=at("2026-03-11T03:00:00+08:00"))
    assert [p.id for p in r.people] == ["arch1", "arch2"]
    assert r.via == "policy critical L3 → schedule architects → Ada Arch, Max Arch (on demand)"
    now = config.on_call(at("2026-03-11T03:00:00+08:00"), team="arch")
    assert [(e.person.id, e.source, e.local_time) for e in now] == [
        ("arch1", "on demand", "2026-03-10T20:00+01:00"), ("arch2", "on demand", "2026-03-11T03:00+08:00")]


# ---------------------------------------------------------------- policies, levels, roles

def test_policy_selection_most_specific_wins(config: OnCallConfig) -> None:
    assert config.policy_for(service="checkout", priority="P0").id == "shop"  # service beats priority
    assert config.policy_for(service="web", priority="P1").id == "critical"
    assert config.policy_for(service="web", priority="P3").id == "default"  # no match: the default
    policy = config.policy_for(service="web", priority="P0")
    assert [lv.wait_minutes for lv in policy.levels] == [15, 15, 30, 30] and policy.repeat == 2
    r = config.resolve("oncall:L1", service="shop", priority="P0", at=at("2026-03-23T08:00:00Z"))
    # team shop lists no schedules: the ones naming it as their team answer for it
    assert [p.id for p in r.people] == ["greta"]
    assert r.via == "policy shop L1 → team shop → schedule berlin → Greta Braun (rotation)"
    r = config.resolve("oncall:L2", service="shop", priority="P0", at=at("2026-03-11T10:00:00+08:00"))
    assert [p.id for p in r.people] == ["erin", "mia"]
    assert r.via == "policy shop L2 → schedule l2 → Erin Zhou (rotation); person mia → Mia Manager"


def test_equally_specific_policies_are_an_error(oncall_dir: Path) -> None:
    extra = write(oncall_dir, "zz-more.yaml", """\
        escalation_policies:
          - id: urgent
            match: {priorities: [P1, P2]}
            levels: [{targets: ["schedule:l1"]}]
          - id: fallback
            levels: [{targets: ["schedule:l2"]}]
        """)
    with pytest.raises(OnCallError) as caught:
        OnCallConfig.load(oncall_dir)
    lines = str(caught.value).splitlines()[1:]
    setup = oncall_dir / "setup.yaml"
    assert lines == [
        f"{extra}:3: escalation_policies[0].match: as specific as policy 'critical' at {setup}:47 "
        f"(both match P1): say which one wins by narrowing one of them",
        f"{extra}:5: escalation_policies[1].id: as specific as policy 'default' at {setup}:44 "
        f"(both have no match: two defaults): say which one wins by narrowing one of them"]


def test_levels_beyond_the_last_and_unknown_targets(config: OnCallConfig) -> None:
    when = "2026-03-11T10:00:00+08:00"
    r = config.resolve("oncall:L9", service="web", priority="P0", at=at(when))
    assert [p.id for p in r.people] == ["vendor"]
    assert r.via == "policy critical L4 (L9 is beyond the last level) → person vendor → Vendor Support"
    # repeat: 2 runs the four levels twice: L7 is the second pass's L3
    r7 = config.resolve("oncall:L7", service="web", priority="P0", at=at(when))
    assert r7.via.startswith("policy critical L3 (pass 2 of 2) → ") and [p.id for p in r7.people] == ["arch1", "arch2"]
    policy = config.policy_for(service="web", priority="P0")
    assert policy.wait_seconds(10) == [900, 900, 1800, 1800, 900, 900, 1800, 1800, 1800, 1800]
    assert r.people[0].contacts[0].url == "jsons://support.vendor.example.com/incidents?+X-Key=${VENDOR_KEY}"
    assert who(config, "oncall:L9", when, priority="P3") == ["alice"]  # the default has one level
    for target, why in [("war_room", "unknown target 'war_room'"), ("person:zed", "unknown person 'zed'"),
                        ("oncall:L0", "no level L0")]:
        r = config.resolve(target, service="web", priority="P0", at=at(when))
        assert r.people == () and r.via.startswith(why)
    with pytest.raises(ValueError, match="time zone"):
        config.resolve("oncall:L1", service="web", priority="P0", at=datetime(2026, 3, 11, 10))


def test_roles_resolve_to_people_and_team_chat(config: OnCallConfig) -> None:
    when = at("2026-03-11T10:00:00+08:00")
    r = config.resolve("management", service="web", priority="P0", at=when)
    assert [p.id for p in r.people] == ["mia", "dave"]
    assert r.chat == ("json://chat.example.com/leaders",)
    assert r.via == "role management → team leadership → all members: Mia Manager, Dave Sun"
    r = config.resolve("technical_manager", service="web", priority="P0", at=when)
    assert [p.id for p in r.people] == ["mia"] and r.via == "role technical_manager → person mia → Mia Manager"
    # a team with schedules pages whoever its first schedule has on call
    r = config.resolve("team:sre", service="web", priority="P0", at=when)
    assert [p.id for p in r.people] == ["alice"] and r.chat == ("json://chat.example.com/sre",)
    # contacts keep their order and their placeholders
    alice = r.people[0]
    assert [(c.kind, c.url) for c in alice.contacts] == [
        ("sms", "json://sms.example.com/send/1?token=${SMS_TOKEN}"), ("email", "mailto://alice@example.com")]
    assert alice.language == "zh" and config.people["bob"].language == "en"


def test_no_directory_is_an_empty_configuration(tmp_path: Path) -> None:
    config = load_oncall(tmp_path / "missing")
    r = config.resolve("oncall:L1", service="web", priority="P0", at=datetime.now(UTC))
    assert r.people == () and "no escalation policy" in r.via
    assert config.on_call(datetime.now(UTC)) == [] and config.policy_for(service="web", priority="P0") is None


# ---------------------------------------------------------------- validation

def test_validation_names_file_line_and_field(oncall_dir: Path) -> None:
    bad = write(oncall_dir, "zz-bad.yaml", """\
        people:
          - id: zoe
            name: Zoe
            timezone: Asia/Shanghia
            contacts:
              - {kind: pager, url: "mailto://zoe@example.com"}
              - {kind: chat, url: "slak://${SLACK_TOKEN}/@zoe"}
              - {kind: sms, url: "json://sms.example.com/?t=${sms token}"}
          - id: alice
            name: Alice again
            timezone: UTC
            contacts: [{kind: email, url: "mailto://a2@example.com"}]
        teams:
          - {id: ops, name: Ops, members: [zoe, zed]}
        schedules:
          - id: night
            team: ops
            timezone: Europe/Berlin
            layers:
              - {rotation: weekly, start: "2026-03-02T09:00+01:00", users: [zoe],
                 restrict: {from: "18:00", to: "25:00"}}
            overrides:
              - {start: "2026-03-02T09:00", end: "2026-03-01T09:00:00+01:00", user: zoe}
            swaps:
              - {start: 2026-03-05, end: 2026-03-04, from: zoe, to: alice}
        """)
    problems = [str(p) for p in validate_paths([oncall_dir])]
    people = oncall_dir / "people.yaml"
    assert problems == [
        f"{bad}:4: people[0].timezone: unknown time zone 'Asia/Shanghia' (did you mean 'Asia/Shanghai'?)",
        f"{bad}:6: people[0].contacts[0].kind: 'pager' is not one of sms, phone, email, chat, webhook",
        f"{bad}:7: people[0].contacts[1].url: Apprise has no 'slak' service (did you mean 'slack'?)",
        f"{bad}:8: people[0].contacts[2].url: placeholder ${{sms token}} must name an environment variable, "
        f"like ${{SMS_TOKEN}}",
        f"{bad}:9: people[1].id: person id 'alice' is already defined at {people}:2",
        f"{bad}:14: teams[0].members[1]: unknown person 'zed' (did you mean 'zoe'?)",
        f"{bad}:20: schedules[0].layers[0].start: '2026-03-02T09:00+01:00' has an offset: a layer starts at a "
        f"wall-clock time in the schedule's time zone, like 2026-01-05T09:00",
        f"{bad}:21: schedules[0].layers[0].restrict.to: '25:00' is not a time of day like \"09:00\" (or \"24:00\")",
        f"{bad}:23: schedules[0].overrides[0].start: '2026-03-02T09:00' needs an offset, like "
        f"2026-12-24T09:00:00+08:00",
        f"{bad}:25: schedules[0].swaps[0].end: must be after start",
    ]
    with pytest.raises(OnCallError) as caught:
        OnCallConfig.load(oncall_dir)
    assert len(caught.value.problems) == len(problems)


def test_yaml_syntax_and_empty_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "people: [\n")
    write(tmp_path, "b.yml", "")
    write(tmp_path, "c.yaml", "peeple: []\n")
    problems = [(Path(p.file).name, p.line, p.path, p.message) for p in validate_paths([tmp_path])]
    assert problems[0][:3] == ("a.yaml", 2, "") and problems[0][3].startswith("not valid YAML")
    assert problems[1] == ("b.yml", 1, "(document)", "the file is empty: it needs people, teams, schedules, "
                                                      "escalation_policies or roles")
    assert problems[2] == ("c.yaml", 1, "peeple", "unknown field (did you mean 'people'?)")


def test_shipped_example_is_valid_and_models_the_practice() -> None:
    assert validate_paths([REPO / "oncall" / "examples"]) == []
    config = OnCallConfig.load(REPO / "oncall" / "examples")
    critical = config.policy_for(service="web", priority="P0")
    assert len(critical.levels) == 4 and config.policy_for(service="checkout", priority="P0").id != critical.id
    assert {"technical_manager", "customer_success_manager", "technical_lead", "management"} <= set(config.roles)
    # Monday 09:00 Shanghai hand-over, seen in UTC; Berlin's at 08:00 UTC in winter
    before = who(config, "schedule:platform-l1", "2026-12-07T00:59:00Z")
    after = who(config, "schedule:platform-l1", "2026-12-07T01:00:00Z")
    assert len(before) == len(after) == 1 and before != after
    assert who(config, "schedule:payments-l1", "2026-12-07T07:59:00Z") != \
        who(config, "schedule:payments-l1", "2026-12-07T08:00:00Z")
    vendor = config.resolve("oncall:L4", service="web", priority="P0", at=at("2026-12-07T08:00:00Z")).people
    assert [c.kind for c in vendor[0].contacts][0] == "webhook"
    for person in config.people.values():  # secrets are placeholders, never values
        for c in person.contacts:
            assert "${" in c.url, c


def test_the_documented_example_is_valid(tmp_path: Path) -> None:
    doc = (REPO / "docs" / "oncall.md").read_text(encoding="utf-8")
    block = doc.split("<!-- example -->\n```yaml\n", 1)[1].split("```", 1)[0]
    write(tmp_path, "team.yaml", block)
    config = OnCallConfig.load(tmp_path)
    # the answers the document gives
    for target, when, via in [
            ("oncall:L1", "2026-12-07T10:00:00+01:00", "policy shop L1 → schedule shop-l1 → Anna Schmidt (rotation)"),
            ("oncall:L2", "2026-12-07T10:00:00+01:00", "policy shop L2 → schedule shop-l2 → Lukas Braun (rotation)"),
            ("oncall:L1", "2026-12-08T12:00:00+01:00", "policy shop L1 → schedule shop-l1 → Lukas Braun (override)"),
            ("oncall:L2", "2026-12-12T10:00:00+01:00", "policy shop L2 → schedule shop-l2 → Anna Schmidt (rotation)"),
            ("oncall:L5", "2026-12-12T10:00:00+01:00",
             "policy shop L2 (pass 2 of 2) → schedule shop-l2 → Anna Schmidt (rotation)"),
            ("oncall:L7", "2026-12-12T10:00:00+01:00",
             "policy shop L3 (L7 is beyond the last level) → person mia → Mia Fischer")]:
        assert config.resolve(target, service="web", priority="P0", at=at(when)).via == via


# ---------------------------------------------------------------- CLI

def run(directory: Path, *args: str):
    return CliRunner().invoke(cli, ["oncall", *args], env={"WARROOM_ONCALL_DIR": str(directory)})


def test_cli_now_json(oncall_dir: Path) -> None:
    result = run(oncall_dir, "now", "--team", "sre", "--at", "2026-03-10T13:00:00+08:00", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["at"] == "2026-03-10T13:00:00+08:00"
    assert [(e["schedule"], e["person"]["id"], e["person"]["timezone"], e["local_time"], e["source"], e["levels"])
            for e in shown["entries"]] == [
        ("l1", "dave", "Asia/Shanghai", "2026-03-10T13:00+08:00", "override", ["default L1", "critical L1"]),
        ("l2", "erin", "Asia/Shanghai", "2026-03-10T13:00+08:00", "rotation", ["critical L2", "shop L2"])]
    result = run(oncall_dir, "now", "--at", "2026-03-10T13:00:00+08:00")
    assert result.exit_code == 0 and "Dave Sun (dave)" in result.stdout and "override" in result.stdout
    assert "Greta Braun" in result.stdout  # all schedules without --team
    assert run(oncall_dir, "now", "--team", "nope").exit_code == 1
    result = run(oncall_dir, "now", "--at", "2026-03-10T13:00")
    assert result.exit_code == 2 and "has no offset" in result.output


def test_cli_who(oncall_dir: Path) -> None:
    result = run(oncall_dir, "who", "oncall:L2", "--service", "shop", "--priority", "p0",
                 "--at", "2026-03-11T10:00:00+08:00", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["via"] == "policy shop L2 → schedule l2 → Erin Zhou (rotation); person mia → Mia Manager"
    assert [(p["id"], p["local_time"]) for p in shown["people"]] == [
        ("erin", "2026-03-11T10:00+08:00"), ("mia", "2026-03-11T03:00+01:00")]
    result = run(oncall_dir, "who", "management", "--at", "2026-03-11T10:00:00+08:00")
    assert result.exit_code == 0 and "Mia Manager" in result.stdout
    assert "json://chat.example.com/leaders" in result.stdout


def test_cli_validate_exit_codes(oncall_dir: Path) -> None:
    result = run(oncall_dir, "validate")
    assert result.exit_code == 0 and "2 on-call file(s) valid" in result.stdout
    bad = write(oncall_dir, "zz.yaml", "teams:\n  - {id: ops, name: Ops, members: [zed]}\n")
    result = run(oncall_dir, "validate")
    assert result.exit_code == 2
    assert f"{bad}:2: teams[0].members[0]: unknown person 'zed'" in result.stdout.splitlines()
    result = run(oncall_dir, "validate", str(oncall_dir / "people.yaml"))
    assert result.exit_code == 0, result.output
    assert run(oncall_dir, "now").exit_code == 2  # an invalid directory is refused, not half used


# ---------------------------------------------------------------- API

@pytest.fixture
async def http(oncall_dir: Path, engine):
    """The app with an admin key (the on-call API is admin's; a file written is audited)."""
    app = create_app(Settings(oncall_dir=oncall_dir), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom",
                                 headers={"Authorization": f"Bearer {new_key(engine, 'admin')}"}) as client:
        yield client


async def test_api_now_and_resolve(http: httpx.AsyncClient) -> None:
    r = await http.get("/api/v1/oncall/now", params={"team": "sre", "at": "2026-03-09T01:00:00Z"})
    assert r.status_code == 200, r.text
    assert [(e["schedule"], e["person"]["id"], e["local_time"]) for e in r.json()["entries"]] == [
        ("l1", "alice", "2026-03-09T09:00+08:00"), ("l2", "erin", "2026-03-09T09:00+08:00")]
    r = await http.get("/api/v1/oncall/resolve", params={"target": "oncall:L1", "service": "web",
                                                         "priority": "P1", "at": "2026-03-10T04:00:00Z"})
    assert r.status_code == 200
    assert r.json()["via"] == "policy critical L1 → schedule l1 → Dave Sun (override)"
    assert r.json()["people"][0]["contacts"] == [{"kind": "phone", "url": "json://voice.example.com/4"}]
    assert (await http.get("/api/v1/oncall/now", params={"team": "nope"})).status_code == 404
    r = await http.get("/api/v1/oncall/now", params={"at": "2026-03-09T01:00"})
    assert r.status_code == 422 and "has no offset" in r.json()["detail"]
    r = await http.get("/api/v1/oncall")
    assert r.status_code == 200 and r.json()["files"] == ["people.yaml", "setup.yaml"]
    assert {p["id"] for p in r.json()["people"]} >= {"alice", "vendor"}


async def test_api_put_valid_is_written_and_reloaded(http: httpx.AsyncClient, oncall_dir: Path) -> None:
    extra = ("people:\n  - {id: nina, name: Nina New, timezone: Europe/Berlin,\n"
             "     contacts: [{kind: email, url: 'mailto://nina@example.com'}]}\n"
             "schedules:\n  - id: weekend\n    team: shop\n    timezone: Europe/Berlin\n"
             "    layers: [{rotation: daily, start: '2026-03-07T09:00', users: [nina],\n"
             "              restrict: {days: [sat, sun], from: '00:00', to: '24:00'}}]\n")
    r = await http.put("/api/v1/oncall/weekend-cover", content=extra, headers={"content-type": "application/yaml"})
    assert r.status_code == 200, r.text
    assert r.json()["file"] == "weekend-cover.yaml" and r.json()["counts"]["schedules"] == 5
    assert (oncall_dir / "weekend-cover.yaml").read_text() == extra
    assert sorted(p.name for p in oncall_dir.iterdir()) == ["people.yaml", "setup.yaml", "weekend-cover.yaml"]
    r = await http.get("/api/v1/oncall/resolve", params={"target": "schedule:weekend", "at": "2026-03-14T12:00:00Z"})
    assert [p["id"] for p in r.json()["people"]] == ["nina"]
    # the same file again as JSON replaces it
    r = await http.put("/api/v1/oncall/weekend-cover", json={"roles": {"customer_success_manager": ["person:mia"]}})
    assert r.status_code == 200, r.text
    r = await http.get("/api/v1/oncall/resolve", params={"target": "customer_success_manager"})
    assert [p["id"] for p in r.json()["people"]] == ["mia"]
    assert "weekend" not in {s["id"] for s in (await http.get("/api/v1/oncall")).json()["schedules"]}


async def test_api_put_invalid_is_422_and_nothing_changes(http: httpx.AsyncClient, oncall_dir: Path) -> None:
    before = (oncall_dir / "setup.yaml").read_text()
    broken = before.replace("members: [alice, bob, carol, dave, erin]", "members: [alice, bob, zed]")
    r = await http.put("/api/v1/oncall/setup", content=broken)
    assert r.status_code == 422
    assert r.json() == {"valid": False, "errors": [
        {"file": "setup.yaml", "line": 2, "path": "teams[0].members[2]", "message": "unknown person 'zed'"}]}
    r = await http.put("/api/v1/oncall/dup", content="people:\n  - {id: alice, name: A, timezone: UTC, "
                                                     "contacts: [{kind: email, url: 'mailto://a@example.com'}]}\n")
    assert r.status_code == 422
    assert r.json()["errors"][0]["message"].startswith("person id 'alice' is already defined at people.yaml:2")
    for name, body in [("Bad Name", "roles: {}"), ("empty", "  \n"), ("../escape", "roles: {}")]:
        r = await http.put(f"/api/v1/oncall/{name}", content=body)
        assert r.status_code in (404, 422), (name, r.text)
    assert (oncall_dir / "setup.yaml").read_text() == before
    assert sorted(p.name for p in oncall_dir.iterdir()) == ["people.yaml", "setup.yaml"]
    r = await http.get("/api/v1/oncall/resolve", params={"target": "team:sre", "at": "2026-03-11T10:00:00+08:00"})
    assert [p["id"] for p in r.json()["people"]] == ["alice"]


async def test_api_is_for_admins_only(engine, oncall_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_ONCALL_DIR", str(oncall_dir))
    app = create_app(Settings(), engine=engine)  # no Temporal needed: nothing here talks to it
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        for role in ("viewer", "responder", "integration"):
            headers = {"Authorization": f"Bearer {new_key(engine, role)}"}
            assert (await http.get("/api/v1/oncall/now", headers=headers)).status_code == 403
            r = await http.put("/api/v1/oncall/x", content="roles: {}", headers=headers)
            assert r.status_code == 403 and "(or admin)" in r.json()["detail"]
        headers = {"Authorization": f"Bearer {new_key(engine, 'admin')}"}
        r = await http.get("/api/v1/oncall/now", params={"at": "2026-03-23T08:00:00Z"}, headers=headers)
        assert r.status_code == 200
        assert ("berlin", "greta") in {(e["schedule"], e["person"]["id"]) for e in r.json()["entries"]}
    assert not (oncall_dir / "x.yaml").exists()


def test_the_worker_keeps_paging_with_the_last_valid_files_when_an_edit_breaks_them(
        oncall_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    import os

    from warroom.oncall import OnCallSource

    source = OnCallSource(oncall_dir, check_every=0)  # every call looks at the files again
    before = who(source(), "team:sre", "2026-03-11T10:00:00+08:00")
    assert before
    broken = write(oncall_dir, "people.yaml", PEOPLE.replace("timezone: Asia/Shanghai", "timezone: Mars/Olympus", 1))
    os.utime(broken, (broken.stat().st_atime + 5, broken.stat().st_mtime + 5))  # a later edit, whatever the clock
    with caplog.at_level("ERROR", logger="warroom.oncall"):
        assert who(source(), "team:sre", "2026-03-11T10:00:00+08:00") == before
    assert "paging with the last valid ones" in caplog.text and "Mars/Olympus" in caplog.text
    with pytest.raises(OnCallError):
        OnCallSource(oncall_dir)  # a worker starting now refuses to


async def test_the_worker_sees_an_edit_of_the_on_call_files_within_its_check_interval(oncall_dir: Path) -> None:
    """Between two looks at the files the worker pages from what it read; the first call after
    check_every seconds reads the edit."""
    import os

    from tests.helpers import until
    from warroom.oncall import OnCallSource

    source = OnCallSource(oncall_dir, check_every=0.2)
    before = source()
    edited = write(oncall_dir, "people.yaml", PEOPLE.replace("timezone: Asia/Shanghai", "timezone: Asia/Tokyo", 1))
    os.utime(edited, (edited.stat().st_atime + 5, edited.stat().st_mtime + 5))
    assert source() is before  # within the interval: not looked at again
    await until(source, "the edit to reach the worker", ok=lambda config: config is not before, timeout=10)


def test_the_shipped_example_reaches_someone_for_every_target_the_engine_and_runbooks_name() -> None:
    from warroom.runbooks import RunbookLibrary
    from workflows.policy import default_policy

    config = OnCallConfig.load(REPO / "oncall" / "examples")
    policy = default_policy()
    targets = {"senior_engineer", "management", *(t for p in policy.priorities.values() for t in p.stakeholders)}
    targets |= {t for e in RunbookLibrary(REPO / "runbooks").entries.values() for t in e.spec.notify}
    targets |= {f"oncall:L{n}" for n in range(1, 5)}
    when = at("2026-12-09T03:00:00+08:00")  # a Wednesday night in Shanghai
    for priority in ("P0", "P1"):
        for service in ("checkout", "search"):
            unreached = [t for t in sorted(targets)
                         if not config.resolve(t, service=service, priority=priority, at=when).people]
            assert unreached == [], (priority, service, unreached)


def test_cli_without_on_call_files_names_the_example_everywhere(tmp_path: Path) -> None:
    """A fresh checkout's oncall/ holds only schema.json and examples/: `now`, `who` and
    `validate` agree that nothing is configured, and each names the example to start from;
    the example itself answers `now --team payments` (issue 15)."""
    shipped = Path(__file__).resolve().parents[3] / "oncall"
    fresh = tmp_path / "oncall"
    shutil.copytree(shipped, fresh)
    assert oncall_files(fresh) == []  # the repository ships no configuration of its own
    hint = f"copy {fresh}/examples/seeds.yaml into {fresh}/"
    result = run(fresh, "now", "--team", "payments")
    assert result.exit_code == 1 and "error: no team 'payments'" in result.stderr
    assert hint in result.stderr and f"WARROOM_ONCALL_DIR={fresh}/examples" in result.stderr
    result = run(fresh, "now")
    assert result.exit_code == 0 and hint in result.stderr and "nobody is on call" in result.stderr
    result = run(fresh, "who", "oncall:L1")
    assert result.exit_code == 0 and "nobody would be paged" in result.stdout and hint in result.stderr
    result = run(fresh, "validate")
    assert result.exit_code == 0 and "valid" not in result.stdout.replace("validate", "")
    assert result.stdout.startswith("nothing to validate: no on-call files") and hint in result.stdout
    # the example the hint names works as it says
    result = run(fresh / "examples", "now", "--team", "payments", "--json")
    assert result.exit_code == 0, result.output
    assert {e["schedule"] for e in json.loads(result.stdout)["entries"]} == {"payments-l1", "payments-l2"}
    assert run(fresh / "examples", "validate").stdout.strip() == "1 on-call file(s) valid"
