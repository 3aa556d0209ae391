"""`warroom simulate` with many scenarios: one time-skipping server and one worker for all of
them, each result shown, a summary, the exit status from the scenarios' `expect:` sections;
an interrupted run leaves no test server behind; `warroom --help` and a rehearsal load
neither the API (FastAPI), Apprise nor (for --help) SQLAlchemy."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from tests.helpers import until
from warroom.cli.main import app

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()

ACKED = """\
incident: {title: Checkout errors, service: checkout, priority: P1}
events:
  - {at: 10m, acknowledge: {by: bob}}
until: 1h
expect:
  status: acknowledged
  commander: bob
  refused: 0
  timeline:
    - triggered
    - {type: acknowledged, at: 10m}
"""

ESCALATED = """\
incident: {title: Search down, service: search, priority: P1}
until: 40m
expect:
  status: triggered
  timeline:
    - {type: escalated, at: 30m, reason: ack_timeout}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_two_scenarios_share_one_server_and_both_pass(tmp_path):
    write(tmp_path, "a-acked.yaml", ACKED)
    write(tmp_path, "b-escalated.yaml", ESCALATED)
    res = runner.invoke(app, ["simulate", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [(Path(s["path"]).name, s["verdict"]) for s in out["scenarios"]] == [
        ("a-acked.yaml", "passed"), ("b-escalated.yaml", "passed")]
    assert out["summary"] == {"passed": 2, "failed": 0, "error": 0}
    a, b = out["scenarios"]
    assert a["incident"]["commander"] == "bob" and b["incident"]["escalation_level"] == 2
    assert a["incident"]["incident_id"] != b["incident"]["incident_id"]
    # One server, one virtual clock: the second incident starts after the first one's hour.
    first, second = (datetime.fromisoformat(s["incident"]["created_at"]) for s in (a, b))
    assert (second - first).total_seconds() >= 3600


def test_text_output_shows_each_timeline_and_a_summary(tmp_path):
    a = write(tmp_path, "acked.yaml", ACKED)
    b = write(tmp_path, "escalated.yaml", ESCALATED)
    res = runner.invoke(app, ["simulate", str(a), str(b)])
    assert res.exit_code == 0, res.output
    assert "Checkout errors" in res.stdout and "Search down" in res.stdout
    assert res.stdout.count("final: status") == 2
    assert "2 passed, 0 failed, 0 could not run" in res.stdout


def test_a_missed_expectation_fails_the_run_and_names_the_line(tmp_path):
    write(tmp_path, "a-acked.yaml", ACKED)
    write(tmp_path, "b-wrong.yaml", ESCALATED.replace("status: triggered", "status: resolved"))
    res = runner.invoke(app, ["simulate", str(tmp_path)])
    assert res.exit_code == 1, res.output
    assert f"{tmp_path / 'b-wrong.yaml'}:4: expect.status: 'resolved', got 'triggered'" in res.stdout
    assert "1 passed, 1 failed, 0 could not run" in res.stdout


def test_a_missed_timeline_entry_fails_one_scenario_alone(tmp_path):
    path = write(tmp_path, "s.yaml", ESCALATED.replace("at: 30m", "at: 20m"))
    res = runner.invoke(app, ["simulate", str(path), "--json"])
    assert res.exit_code == 1, res.output
    out = json.loads(res.stdout)
    assert out["expectations"]["passed"] is False
    assert "expect.timeline: no escalated at 1200 s reason='ack_timeout'" in out["expectations"]["failures"][0]
    assert "(escalated at 1800 s)" in out["expectations"]["failures"][0]


def test_a_bad_expect_section_names_line_and_field_and_runs_nothing(tmp_path):
    write(tmp_path, "a-acked.yaml", ACKED)
    bad = write(tmp_path, "b-bad.yaml", ACKED.replace("commander: bob", "comander: bob"))
    res = runner.invoke(app, ["simulate", str(tmp_path)])
    assert res.exit_code == 2
    assert f"{bad}:7: expect.comander: unknown field" in res.stderr
    assert "final: status" not in res.stdout


def test_two_scenarios_may_not_share_an_incident(tmp_path):
    write(tmp_path, "a.yaml", ACKED.replace("priority: P1}", "priority: P1, dedup_key: same}"))
    write(tmp_path, "b.yaml", ESCALATED.replace("priority: P1}", "priority: P1, dedup_key: same}"))
    res = runner.invoke(app, ["simulate", str(tmp_path)])
    assert res.exit_code == 2
    assert "dedup_key 'same' is also used by" in res.stderr


def _modules_after(code: str) -> dict:
    """Run `code` in a fresh interpreter, then report which heavy packages it loaded."""
    probe = (f"{code}\nimport json, sys\n"
             "print(json.dumps({m: m in sys.modules for m in ('fastapi', 'apprise', 'sqlalchemy')}),"
             " file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120,
                         env={**os.environ, "WARROOM_ONCALL_DIR": str(REPO / "tests" / "no-such-oncall-dir")})
    assert res.returncode == 0, res.stderr
    return json.loads(res.stderr.strip().splitlines()[-1])


def test_help_loads_no_api_no_apprise_no_sqlalchemy():
    assert _modules_after("import warroom.cli.main") == {"fastapi": False, "apprise": False, "sqlalchemy": False}
    loaded = _modules_after("from warroom.cli.main import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass")
    assert loaded == {"fastapi": False, "apprise": False, "sqlalchemy": False}


def test_a_rehearsal_without_contact_points_loads_no_api_no_apprise_no_sqlalchemy(tmp_path):
    path = write(tmp_path, "s.yaml", ACKED)
    loaded = _modules_after(f"from warroom.cli.main import app\ntry:\n    app(['simulate', {str(path)!r}, '--json'])\n"
                            "except SystemExit as e:\n    assert not e.code, e.code")
    assert loaded == {"fastapi": False, "apprise": False, "sqlalchemy": False}  # a rehearsal keeps no records


def _children(pid: int) -> list[tuple[int, str]]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append((int(stat.parent.name), (stat.parent / "cmdline").read_bytes().decode(errors="replace")))
        except (OSError, IndexError, ValueError):
            continue
    return out


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def _interrupt_leaves_no_server(tmp_path: Path, sig: signal.Signals) -> None:
    # A P0 left open for two weeks: reminders every few minutes, many seconds of wall time.
    path = write(tmp_path, "long.yaml", "incident: {title: Long, service: core, priority: P0}\nuntil: 14d\n")
    warroom = str(Path(sys.executable).parent / "warroom")
    proc = subprocess.Popen([warroom, "simulate", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    try:
        def server() -> list[tuple[int, str]]:  # (its watchdog names it among its arguments)
            return [(p, cmd) for p, cmd in _children(proc.pid) if cmd.split("\0")[0].endswith("test-server")]

        servers = [p for p, _ in await until(server, "the simulator's time-skipping server to start", timeout=60)]
        # it listens on the port its command line ends with: started, and the rehearsal under way
        port = int(server()[0][1].split("\0")[1])
        await until(lambda: _listening(port), "the test server to listen", timeout=60)
        proc.send_signal(sig)
        code = await until(lambda: proc.poll(), "the simulator to stop", ok=lambda c: c is not None, timeout=60)
        if sig == signal.SIGKILL:  # no cleanup runs in the process: its watchdog stops the server
            assert code == -signal.SIGKILL
        else:
            assert code == 130, proc.stderr.read() if proc.stderr else ""
        await until(lambda: not any(_alive(p) for p in servers), "the test server to be stopped", timeout=30)
        if sig != signal.SIGKILL:
            assert "interrupted" in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ctrl_c_stops_the_test_server(tmp_path):
    asyncio.run(_interrupt_leaves_no_server(tmp_path, signal.SIGINT))


def test_sigterm_stops_the_test_server(tmp_path):
    asyncio.run(_interrupt_leaves_no_server(tmp_path, signal.SIGTERM))


def test_sigkill_of_the_rehearsal_leaves_no_test_server(tmp_path):
    """The issue's case: a rehearsal killed by a timeout left its server running for hours."""
    asyncio.run(_interrupt_leaves_no_server(tmp_path, signal.SIGKILL))


def test_each_scenario_answers_its_own_outcomes_on_the_shared_worker(tmp_path):
    shipped = (REPO / "runbooks/scenarios/auth-outage.yaml").read_text()
    assert "synthetic-login: [fail, ok]" in shipped
    write(tmp_path, "a-fails-first.yaml", shipped + "expect: {escalation_level: 2, status: closed}\n")
    write(tmp_path, "b-holds.yaml", shipped.replace("synthetic-login: [fail, ok]", "synthetic-login: ok")
          + "expect: {escalation_level: 1, status: closed}\n")
    res = runner.invoke(app, ["simulate", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    a, b = json.loads(res.stdout)["scenarios"]
    assert [r["type"] for r in a["timeline"]].count("verification.failed") == 1
    assert "verification.failed" not in [r["type"] for r in b["timeline"]]


def test_a_scenario_over_its_timeout_is_an_error_and_the_run_ends(tmp_path):
    path = write(tmp_path, "long.yaml", "incident: {title: Long, service: core, priority: P0}\nuntil: 14d\n")
    res = runner.invoke(app, ["simulate", str(path), "--timeout", "1"])
    assert res.exit_code == 2, res.output
    assert f"{path}: did not finish within 1 s (--timeout)" in res.stderr


def test_a_broken_oncall_file_stops_the_rehearsal_with_its_name(tmp_path):
    oncall = tmp_path / "oncall"
    oncall.mkdir()
    (oncall / "team.yaml").write_text("people:\n  - {id: ann, name: Ann, timezone: Mars/Olympus}\n")
    path = write(tmp_path, "s.yaml", ACKED)
    res = runner.invoke(app, ["simulate", str(path)], env={"WARROOM_ONCALL_DIR": str(oncall)})
    assert res.exit_code == 2, res.output
    assert "the rehearsal's worker cannot start" in res.stderr and "team.yaml" in res.stderr
