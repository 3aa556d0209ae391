"""Runbook files: validation problems name file, line and field; valid files become the
RunbookSpec the engine runs; selection picks the most specific; CLI and API show the same."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.app import create_app
from tests.helpers import new_key
from warroom.classify import CATEGORIES
from warroom.cli.main import app as cli
from warroom.runbooks import RunbookError, RunbookLibrary, load_runbook, schema, validate_text
from warroom.settings import Settings
from workflows.contracts import ActionSpec, CheckSpec

REPO = Path(__file__).resolve().parents[3]

AUTH = """\
name: auth-outage
version: 3
description: Login fails for everyone
match:
  category: AUTHENTICATION_FAILURE
  service: [auth, login]
  priority: [P0, P1]
  labels: {team: identity}
notify:
  targets: [team:identity]
  update_minutes: 10
  ack_minutes: 10
war_room: true
recover:
  - id: restart-auth
    kind: http
    title: Restart the auth service
    timeout_seconds: 30
    params:
      url: https://deploy.internal/api/restart/auth
      method: POST
      secret_headers: {Authorization: DEPLOY_TOKEN}
      expect_status: [200, 202]
    rollback:
      id: undo-restart
      kind: command
      params: {command: auth-previous-release}
  - id: settle
    kind: wait
    params: {seconds: 60}
  - id: flush-sessions
    kind: python
    params: {function: flush_sessions, args: {region: eu}}
verify:
  - id: login-works
    kind: http
    params: {url: https://auth.internal/healthz, body_contains: ok}
  - id: error-rate
    kind: prometheus
    timeout_seconds: 600
    interval_seconds: 15
    params: {query: 'sum(rate(auth_errors_total[5m]))', op: "<", threshold: 0.5}
on_verify_failure:
  escalate: false
  actions:
    - id: failover
      kind: approval
      params: {approvers: [alice], role: incident commander}
"""


def problems_of(text: str) -> list[tuple[int, str, str]]:
    entry, problems = validate_text(textwrap.dedent(text), file="rb.yaml")
    assert entry is None if problems else entry is not None
    return [(p.line, p.path, p.message) for p in problems]


def only(text: str) -> tuple[int, str, str]:
    found = problems_of(text)
    assert len(found) == 1, found
    return found[0]


MINIMAL = "name: x\nversion: '1'\n"


def test_schema_categories_are_the_classifier_categories() -> None:
    enum = schema()["$defs"]["category"]["enum"]
    assert sorted(enum) == sorted(CATEGORIES)


def test_unknown_top_level_field() -> None:
    line, path, message = only(MINIMAL + "colour: red\n")
    assert (line, path) == (3, "colour")
    assert "unknown field" in message


def test_unknown_step_field_suggests_the_right_one() -> None:
    line, path, message = only(MINIMAL + """\
recover:
  - id: a
    kind: manual
    timout_seconds: 5
""")
    assert (line, path) == (6, "recover[0].timout_seconds")
    assert "did you mean 'timeout_seconds'" in message


def test_wrong_type() -> None:
    assert only(MINIMAL + "verify:\n  - id: a\n    kind: manual\n    interval_seconds: often\n") == \
        (6, "verify[0].interval_seconds", "expected an integer, got 'often'")
    assert only(MINIMAL + "recover: {id: a}\n")[:2] == (3, "recover")


def test_missing_name_points_at_the_document() -> None:
    assert only("version: '1'\n") == (1, "name", "required")


def test_missing_step_id_points_at_the_step() -> None:
    assert only(MINIMAL + "recover:\n  - {id: a, kind: manual}\n  - title: t\n    kind: wait\n    params: {seconds: 1}\n")[:2] \
        == (5, "recover[1].id")


def test_bad_kind() -> None:
    assert only(MINIMAL + "recover:\n  - id: a\n    kind: shell\n") == \
        (5, "recover[0].kind", "'shell' is not one of http, command, manual, wait, approval, python")


def test_params_required_per_kind() -> None:
    assert only(MINIMAL + "recover:\n  - id: a\n    kind: http\n") == \
        (4, "recover[0].params", "required for kind http")
    assert only(MINIMAL + "recover:\n  - id: a\n    kind: http\n    params:\n      method: POST\n") == \
        (6, "recover[0].params.url", "required for kind http")
    found = problems_of(MINIMAL + "verify:\n  - id: a\n    kind: prometheus\n    params: {query: up}\n")
    assert {(p, m) for _, p, m in found} == {("verify[0].params.op", "required for kind prometheus"),
                                             ("verify[0].params.threshold", "required for kind prometheus")}
    assert only(MINIMAL + "recover:\n  - id: a\n    kind: wait\n    params: {secs: 3, seconds: 3}\n")[1:] == \
        ("recover[0].params.secs", "unknown field for kind wait (did you mean 'seconds'?)")


def test_duplicate_step_id() -> None:
    line, path, message = only(MINIMAL + """\
recover:
  - id: restart
    kind: manual
verify:
  - id: restart
    kind: manual
""")
    assert (line, path) == (7, "verify[0].id")
    assert "duplicate step id 'restart'" in message and "line 4" in message


def test_update_minutes_over_the_priority_limit() -> None:
    line, path, message = only(MINIMAL + "match: {priority: P1}\nnotify:\n  update_minutes: 45\n")
    assert (line, path) == (5, "notify.update_minutes")
    assert "P1" in message and "30 minutes" in message
    assert problems_of(MINIMAL + "match: {priority: P1}\nnotify:\n  update_minutes: 30\n") == []
    # without a priority the runbook may serve a P0: P0's 15 minutes apply
    assert only(MINIMAL + "notify: {ack_minutes: 20}\n")[:2] == (3, "notify.ack_minutes")


def test_nested_rollback() -> None:
    line, path, message = only(MINIMAL + """\
recover:
  - id: a
    kind: manual
    rollback:
      id: b
      kind: manual
      rollback: {id: c, kind: manual}
""")
    assert (line, path, message) == (9, "recover[0].rollback.rollback", "a rollback cannot have its own rollback")


def test_invalid_yaml_syntax_has_its_line() -> None:
    line, path, message = only(MINIMAL + "recover:\n  - id: a\n   kind: manual\n")
    assert line == 5 and path == "" and message.startswith("not valid YAML")


def test_duplicate_yaml_key() -> None:
    assert only(MINIMAL + "name: y\n") == (3, "name", "duplicate key 'name' (first at line 1)")


def test_valid_runbook_converts_to_spec() -> None:
    entry, problems = validate_text(AUTH, file="runbooks/auth-outage.yaml")
    assert problems == [] and entry is not None
    spec = entry.spec
    assert (spec.name, spec.version, spec.source, spec.war_room) == ("auth-outage", "3", "auth-outage.yaml", True)
    assert spec.notify == ["team:identity"] and (spec.update_minutes, spec.ack_minutes) == (10, 10)
    assert spec.match == entry.match == {"category": "AUTHENTICATION_FAILURE", "service": ["auth", "login"],
                                         "priority": ["P0", "P1"], "labels": {"team": "identity"}}
    assert spec.recover[0] == ActionSpec(
        id="restart-auth", kind="http", title="Restart the auth service", timeout_seconds=30,
        params={"url": "https://deploy.internal/api/restart/auth", "method": "POST",
                "secret_headers": {"Authorization": "DEPLOY_TOKEN"}, "expect_status": [200, 202]},
        rollback=ActionSpec(id="undo-restart", kind="command", params={"command": "auth-previous-release"}))
    assert [a.kind for a in spec.recover] == ["http", "wait", "python"]
    assert spec.verify[1] == CheckSpec(id="error-rate", kind="prometheus", timeout_seconds=600, interval_seconds=15,
                                       params={"query": "sum(rate(auth_errors_total[5m]))", "op": "<",
                                               "threshold": 0.5})
    assert [a.id for a in spec.on_verify_failure] == ["failover"] and spec.escalate_on_verify_failure is False


def test_legacy_list_forms() -> None:
    entry, problems = validate_text(MINIMAL + "notify: [team:db]\non_verify_failure:\n  - id: a\n    kind: manual\n")
    assert problems == [] and entry is not None
    assert entry.spec.notify == ["team:db"]
    assert [a.id for a in entry.spec.on_verify_failure] == ["a"] and entry.spec.escalate_on_verify_failure


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def library_dir(tmp_path: Path) -> Path:
    for name in ("default.yaml", "default-p0.yaml", "default-p1.yaml"):
        (tmp_path / name).write_text((REPO / "runbooks" / name).read_text())
    write(tmp_path, "auth.yaml", "name: auth\nversion: '1'\nmatch: {category: AUTHENTICATION_FAILURE}\n")
    write(tmp_path, "auth-login.yaml", "name: auth-login\nversion: '1'\n"
                                       "match: {category: AUTHENTICATION_FAILURE, service: login}\n")
    write(tmp_path, "auth-identity.yaml", "name: auth-identity\nversion: '1'\n"
                                          "match: {category: AUTHENTICATION_FAILURE, labels: {team: identity, "
                                          "region: eu}}\n")
    write(tmp_path, "db.yml", "name: db-p1\nversion: '1'\nmatch: {service: [db, pg], priority: [P1, P2]}\n")
    (tmp_path / "scenarios").mkdir()
    write(tmp_path / "scenarios", "broken.yaml", "not: a runbook\n")
    return tmp_path


def test_selection_most_specific_wins(library_dir: Path) -> None:
    lib = RunbookLibrary(library_dir)
    assert sorted(lib.entries) == ["auth", "auth-identity", "auth-login", "db-p1", "default", "default-p0",
                                   "default-p1"]

    def pick(**kw: object) -> str:
        return lib.select(**{"category": "SYSTEM_UNAVAILABLE", "service": "web", "priority": "P0", **kw}).name

    assert pick(category="AUTHENTICATION_FAILURE") == "auth"
    assert pick(category="AUTHENTICATION_FAILURE", service="login") == "auth-login"
    # two labels count two: beats category+service
    assert pick(category="AUTHENTICATION_FAILURE", service="login",
                labels={"team": "identity", "region": "eu", "x": "y"}) == "auth-identity"
    assert pick(category="AUTHENTICATION_FAILURE", labels={"team": "identity"}) == "auth"  # not all labels
    assert pick(service="pg", priority="P2") == "db-p1"
    assert pick(service="pg", priority="P0") == "default-p0"  # priority list does not include P0
    assert pick(priority="P1") == "default-p1"
    assert pick(priority="P3") == "default"
    assert lib.get("auth-login").name == "auth-login"
    assert lib.get(str(library_dir / "auth.yaml")).name == "auth"
    with pytest.raises(RunbookError):
        lib.get("nope")


def test_builtin_when_no_files(tmp_path: Path) -> None:
    assert RunbookLibrary(tmp_path).select(category="X", service="s", priority="P2").name == "builtin"


def test_library_with_an_invalid_file_refuses_to_load(library_dir: Path) -> None:
    write(library_dir, "zz-bad.yaml", "name: bad\nversion: '1'\nrecover:\n  - id: a\n    kind: shell\n")
    write(library_dir, "zz-dup.yaml", "name: auth\nversion: '2'\n")
    with pytest.raises(RunbookError) as caught:
        RunbookLibrary(library_dir)
    text = str(caught.value)
    assert f"{library_dir / 'zz-bad.yaml'}:5: recover[0].kind: 'shell' is not one of" in text
    assert f"{library_dir / 'zz-dup.yaml'}:1: name: runbook name 'auth' is already used by" in text
    assert len(caught.value.problems) == 2
    with pytest.raises(RunbookError, match="zz-bad.yaml:5"):
        load_runbook(library_dir / "zz-bad.yaml")


def test_shipped_runbooks_and_scenarios_load() -> None:
    lib = RunbookLibrary(REPO / "runbooks")
    assert {"default", "default-p0", "default-p1"} <= set(lib.entries)
    assert RunbookLibrary.validate_paths([REPO / "runbooks"]) == []


# ---------------------------------------------------------------- CLI

def run(directory: Path, *args: str):
    return CliRunner().invoke(cli, ["runbooks", *args], env={"WARROOM_RUNBOOKS_DIR": str(directory)})


def test_cli_list_and_show(library_dir: Path) -> None:
    result = run(library_dir, "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {"name": "db-p1", "version": "1", "description": "", "file": "db.yml",
            "match": {"service": ["db", "pg"], "priority": ["P1", "P2"]}} in rows
    result = run(library_dir, "list")
    assert result.exit_code == 0 and "auth-login" in result.stdout and "service=login" in result.stdout
    write(library_dir, "auth-outage.yaml", AUTH)
    result = run(library_dir, "show", "auth-outage", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["recover"][0]["rollback"]["id"] == "undo-restart" and shown["verify"][1]["kind"] == "prometheus"
    result = run(library_dir, "show", "auth-outage")
    assert result.exit_code == 0 and "restart-auth" in result.stdout and "error-rate" in result.stdout
    assert run(library_dir, "show", "nope").exit_code == 1


def test_cli_validate(library_dir: Path) -> None:
    result = run(library_dir, "validate")
    assert result.exit_code == 0, result.output
    assert "7 runbooks valid" in result.stdout
    bad = write(library_dir, "bad.yaml", "name: bad\nversion: '1'\nverify:\n  - id: a\n    kind: http\n"
                                         "    params: {method: GET}\n")
    result = run(library_dir, "validate")
    assert result.exit_code == 2
    assert f"{bad}:6: verify[0].params.url: required for kind http" in result.stdout.splitlines()
    result = run(library_dir, "validate", str(library_dir / "auth.yaml"))
    assert result.exit_code == 0 and "1 runbooks valid" in result.stdout
    # the library itself now refuses to load, and list says why
    result = run(library_dir, "list")
    assert result.exit_code == 2 and "bad.yaml:6" in result.output


# ---------------------------------------------------------------- API

@pytest.fixture
async def http(library_dir: Path, engine):
    """The app with a viewer key (validating is a reader's, and audited as the key's person)."""
    app = create_app(Settings(runbooks_dir=library_dir), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom",
                                 headers={"Authorization": f"Bearer {new_key(engine, 'viewer')}"}) as client:
        yield client


async def test_api_list_and_show(http: httpx.AsyncClient) -> None:
    r = await http.get("/api/v1/runbooks")
    assert r.status_code == 200
    assert [row["name"] for row in r.json()][:3] == ["auth", "auth-identity", "auth-login"]
    r = await http.get("/api/v1/runbooks/auth-login")
    assert r.status_code == 200
    assert r.json()["match"] == {"category": "AUTHENTICATION_FAILURE", "service": "login"}
    assert r.json()["spec"]["name"] == "auth-login"
    assert (await http.get("/api/v1/runbooks/nope")).status_code == 404


async def test_api_validate(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/v1/runbooks/validate", content=AUTH, headers={"content-type": "application/yaml"})
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True and r.json()["runbook"]["spec"]["recover"][0]["id"] == "restart-auth"
    r = await http.post("/api/v1/runbooks/validate", content=MINIMAL + "recover:\n  - id: a\n    kind: shell\n",
                        headers={"content-type": "text/plain"})
    assert r.status_code == 422
    assert r.json() == {"valid": False, "errors": [
        {"line": 5, "path": "recover[0].kind",
         "message": "'shell' is not one of http, command, manual, wait, approval, python"}]}
    r = await http.post("/api/v1/runbooks/validate", json={"name": "x", "version": "1", "recover": [{"id": "a"}]})
    assert r.status_code == 422
    assert [(e["path"], e["message"]) for e in r.json()["errors"]] == [("recover[0].kind", "required")]
    r = await http.post("/api/v1/runbooks/validate", json={"name": "x", "version": 1})
    assert r.status_code == 200 and r.json()["runbook"]["version"] == "1"
    r = await http.post("/api/v1/runbooks/validate", content="name: [", headers={"content-type": "application/yaml"})
    assert r.status_code == 422 and r.json()["errors"][0]["line"] == 1


def test_the_documented_example_is_valid() -> None:
    doc = (REPO / "docs" / "runbooks.md").read_text(encoding="utf-8")
    block = doc.split("`runbooks/auth-outage.yaml`:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    entry, problems = validate_text(block, file="auth-outage.yaml")
    assert problems == [] and entry is not None
    assert entry.spec.name == "auth-outage" and entry.spec.recover[0].rollback is not None


async def test_validate_echoes_lone_surrogates_without_failing(engine):
    """Found by the schema fuzz: a JSON key with an unpaired UTF-16 half came back in the error
    path and could not be encoded (500). It is a 422 naming the field, escaped."""
    app = create_app(Settings(runbooks_dir=REPO / "runbooks"), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers={"Authorization": f"Bearer {new_key(engine, 'viewer')}"}) as http:
        r = await http.post("/api/v1/runbooks/validate", content=b'{"\\udac2x": 1}',
                            headers={"content-type": "application/json"})
    assert r.status_code == 422
    errors = {e["path"]: e["message"] for e in r.json()["errors"]}
    assert "unknown field" in errors["\udac2x"] and errors["name"] == "required"


@pytest.mark.parametrize("command", [["worker.py"], ["-m", "warroom.cli", "worker"]])
def test_the_worker_refuses_to_start_on_an_invalid_runbook(tmp_path, command):
    """An invalid runbook can never be selected by a live incident: the worker does not start."""
    import os
    import subprocess
    import sys

    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "good.yaml").write_text("name: good\nversion: '1'\n")
    (runbooks / "bad.yaml").write_text("name: bad\nversion: '1'\nrecover:\n  - {id: x, kind: shell}\n")
    env = {**os.environ, "WARROOM_RUNBOOKS_DIR": str(runbooks), "WARROOM_DATA_DIR": str(tmp_path / "data"),
           "WARROOM_DATABASE_URL": "", "WARROOM_TEMPORAL_ADDRESS": "127.0.0.1:1"}
    done = subprocess.run([sys.executable, *command], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert "worker refuses to start" in done.stderr and "bad.yaml:4: recover[0].kind" in done.stderr


def test_an_approval_names_who_approves(tmp_path):
    path = tmp_path / "approve.yaml"
    path.write_text("name: approve\nversion: '1'\nrecover:\n  - {id: a, kind: approval, params: {role: dba-lead}}\n"
                    "  - id: b\n    kind: approval\n    params: {}\n")
    entry, problems = validate_text(path.read_text(), file="approve.yaml")
    assert [str(p) for p in problems] == ["approve.yaml:7: recover[1].params: needs `approvers` or `role` for kind approval"]
