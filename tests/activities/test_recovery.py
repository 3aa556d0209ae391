"""activities/recovery.py sends the workflow's idempotency key with each recovery step and
heartbeats while long steps run. Through ActivityEnvironment, against a loopback receiver."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import ActivityEnvironment

from activities import recovery
from activities.recovery import RecoveryActivities
from tests.receivers import Receiver
from workflows import calls
from workflows.contracts import ActionSpec, CheckSpec
from workflows.contracts_activities import ActionRequest, CheckRequest

PY = sys.executable
KEY = calls.action_key("0f9e8d7c-run", "restart-auth", 0)


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def env_at(attempt: int = 1) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return env


def action(kind: str, params: dict[str, Any], *, max_attempts: int = 1, timeout: int = 10) -> ActionRequest:
    spec = ActionSpec(id="restart-auth", kind=kind, params=params, max_attempts=max_attempts,
                      timeout_seconds=timeout)
    return ActionRequest(key=KEY, incident_id="INC-9", action=spec)


# --------------------------------------------------------------------------- http


def test_http_action_sends_the_key_as_idempotency_key(rx: Receiver) -> None:
    res = env_at().run(RecoveryActivities().run_action, action("http", {"url": f"{rx.url}/restart", "method": "POST"}))
    assert res.ok, res.detail
    (req,) = rx.wait_for(1)
    assert req.method == "POST" and req.header("Idempotency-Key") == KEY


def test_a_retried_http_action_sends_the_same_key(rx: Receiver) -> None:
    rx.program(fail_first=1)
    rec, req = RecoveryActivities(), action("http", {"url": f"{rx.url}/restart"}, max_attempts=2)
    with pytest.raises(ApplicationError):  # attempt 1 fails: Temporal retries the activity
        env_at(1).run(rec.run_action, req)
    assert env_at(2).run(rec.run_action, req).ok
    first, second = rx.wait_for(2, delivered=False)
    assert first.header("Idempotency-Key") == second.header("Idempotency-Key") == KEY


def test_a_header_the_runbook_sets_itself_is_kept(rx: Receiver) -> None:
    params = {"url": f"{rx.url}/restart", "headers": {"idempotency-key": "runbook-chosen"}}
    assert env_at().run(RecoveryActivities().run_action, action("http", params)).ok
    assert rx.wait_for(1)[0].header("Idempotency-Key") == "runbook-chosen"


def test_http_check_sends_its_attempt_key(rx: Receiver) -> None:
    key = calls.check_key("0f9e8d7c-run", "login-ok", 2)
    spec = CheckSpec(id="login-ok", kind="http", params={"url": f"{rx.url}/health"}, interval_seconds=5)
    assert ActivityEnvironment().run(RecoveryActivities().run_check, CheckRequest(key=key, incident_id="INC-9",
                                                                                  check=spec)).ok
    assert rx.wait_for(1)[0].header("Idempotency-Key") == key


def test_a_slow_http_action_heartbeats_while_it_waits(rx: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recovery, "HEARTBEAT_EVERY", 0.05)
    rx.program(delay=0.5)
    env, beats = env_at(), []
    env.on_heartbeat = lambda *details: beats.append(time.monotonic())
    res = env.run(RecoveryActivities().run_action, action("http", {"url": f"{rx.url}/slow"}))
    assert res.ok, res.detail
    assert len(beats) >= 3, beats
    assert rx.wait_for(1)[0].header("Idempotency-Key") == KEY


# --------------------------------------------------------------------------- python


def test_python_action_receives_the_key_when_it_asks_for_it() -> None:
    calls_seen: list[tuple[str, dict[str, Any]]] = []

    def restart(incident_id: str, *, region: str, idempotency_key: str = "") -> str:
        calls_seen.append((incident_id, {"region": region, "idempotency_key": idempotency_key}))
        return f"restarted {region}"

    def anything(incident_id: str, **kwargs: Any) -> str:
        calls_seen.append((incident_id, kwargs))
        return "ok"

    def classic(incident_id: str, region: str = "eu") -> str:  # an SRE action written before keys
        calls_seen.append((incident_id, {"region": region}))
        return "ok"

    rec = RecoveryActivities(actions={"restart": restart, "anything": anything, "classic": classic})
    for name in ("restart", "anything", "classic"):
        res = env_at().run(rec.run_action, action("python", {"function": name, "args": {"region": "us"}}))
        assert res.ok, res.detail
    assert calls_seen == [
        ("INC-9", {"region": "us", "idempotency_key": KEY}),
        ("INC-9", {"region": "us", "idempotency_key": KEY}),
        ("INC-9", {"region": "us"}),
    ]


def test_python_action_args_still_have_to_fit() -> None:
    def restart(incident_id: str, *, idempotency_key: str) -> str:
        return idempotency_key

    rec = RecoveryActivities(actions={"restart": restart})
    assert env_at().run(rec.run_action, action("python", {"function": "restart"})).detail == KEY
    with pytest.raises(ApplicationError) as info:
        env_at().run(rec.run_action, action("python", {"function": "restart", "args": {"colour": "red"}}))
    assert info.value.non_retryable and "colour" in info.value.message


# --------------------------------------------------------------------------- command


def test_a_long_command_heartbeats_while_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recovery, "HEARTBEAT_EVERY", 0.05)
    # The command blocks until the test, having seen three heartbeats, opens the other end of a
    # named pipe (30 s at most: an alarm ends it otherwise).
    seen = tmp_path / "three-heartbeats-seen"
    os.mkfifo(seen)
    script = (f"import signal\nsignal.alarm(30)\nopen({str(seen)!r}).read()\nprint('done')")
    rec = RecoveryActivities(commands={"slow": [PY, "-c", script]})
    env, beats, told = env_at(), [], []

    def on_heartbeat(*details: Any) -> None:
        beats.append(time.monotonic())
        if len(beats) >= 3 and not told:
            try:  # the command's read ends; not reading yet (still starting): the next heartbeat
                os.close(os.open(seen, os.O_WRONLY | os.O_NONBLOCK))
                told.append(True)
            except OSError:
                pass

    env.on_heartbeat = on_heartbeat
    res = env.run(rec.run_action, action("command", {"command": "slow"}))
    assert res.ok and res.detail == "slow: exit 0: done"
    assert len(beats) >= 3, beats


def test_a_cancelled_command_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recovery, "HEARTBEAT_EVERY", 0.05)
    pid_file = tmp_path / "pid"
    # a command that never ends by itself: it waits for a signal, and only the kill comes
    script = f"import os, signal; open({str(pid_file)!r}, 'w').write(str(os.getpid())); signal.pause()"
    rec = RecoveryActivities(commands={"stuck": [PY, "-c", script]})
    env = env_at()

    def on_heartbeat(*details: Any) -> None:
        if pid_file.exists() and pid_file.read_text():
            env.cancel()  # what the worker does when the workflow cancels or the heartbeat times out

    env.on_heartbeat = on_heartbeat
    started = time.monotonic()
    with pytest.raises(CancelledError):
        env.run(rec.run_action, action("command", {"command": "stuck"}, timeout=60))
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_the_activity_heartbeats_well_inside_the_workflows_heartbeat_timeout() -> None:
    assert recovery.HEARTBEAT_EVERY * 4 <= calls.HEARTBEAT_TIMEOUT.total_seconds()
    assert set(calls.HEARTBEATING_KINDS) == {"command", "http"}
