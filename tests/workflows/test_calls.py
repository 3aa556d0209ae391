"""workflows/calls.py: the one builder of idempotency keys, and the options of each call.

The keys are in the committed histories and in the records' exactly-once claims, so they are
checked against every key those histories hold, not only against examples."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest

from workflows import calls, heartbeat
from workflows.contracts import ActionSpec

HISTORIES = sorted((Path(__file__).resolve().parents[1] / "replay" / "histories").glob("*.json"))


def test_the_key_formats() -> None:
    run = "2b19c2f9-67c6-415f-9ef0-66b7c3c50b6c"
    assert calls.idempotency_key(run, "restart", 0) == f"{run}:restart:0"
    assert calls.page_key(run, 12) == f"{run}:n12"
    assert calls.war_room_key(run) == f"{run}:war_room"
    assert calls.action_key(run, "isolate-hosts", 0) == f"{run}:isolate-hosts:0"
    assert calls.action_key(run, "isolate-hosts", 2) == f"{run}:isolate-hosts:2"
    assert calls.rollback_key(run, "undo-isolate", 1) == f"{run}:undo-isolate:rollback:1"
    assert calls.check_key(run, "no-suspicious-logins", 3) == f"{run}:no-suspicious-logins:3"


def _scheduled(path: Path) -> tuple[str, list[tuple[str, dict]]]:
    events = json.loads(path.read_text())["events"]
    run = events[0]["workflowExecutionStartedEventAttributes"]["firstExecutionRunId"]
    out = []
    for e in events:
        a = e.get("activityTaskScheduledEventAttributes")
        if a:
            payload = json.loads(base64.b64decode(a["input"]["payloads"][0]["data"]))
            out.append((a["activityType"]["name"], payload))
    return run, out


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_the_builder_makes_every_key_the_committed_histories_carry(path: Path) -> None:
    run, scheduled = _scheduled(path)
    keyed = 0
    for name, payload in scheduled:
        key = payload.get("key")
        if name == calls.SEND_NOTIFICATION:
            seq = int(key.rsplit(":n", 1)[1])
            assert key == calls.page_key(run, seq)
        elif name == calls.SEND_NOTIFICATIONS:
            assert key is None and payload["notifications"], "a batch carries its pages' keys, not one of its own"
            for n in payload["notifications"]:
                assert n["key"] == calls.page_key(run, int(n["key"].rsplit(":n", 1)[1]))
        elif name == calls.OPEN_WAR_ROOM:
            assert key == calls.war_room_key(run)
        elif name == calls.RUN_ACTION:
            step, n = payload["action"]["id"], int(key.rsplit(":", 1)[1])
            assert key in (calls.action_key(run, step, n), calls.rollback_key(run, step, n))
        elif name == calls.RUN_CHECK:
            assert key == calls.check_key(run, payload["check"]["id"], int(key.rsplit(":", 1)[1]))
        elif name in (heartbeat.HEARTBEAT_MISSED, heartbeat.HEARTBEAT_RECOVERED):
            # a heartbeat monitor's miss and recovery: keyed by monitor and miss, never by run
            what, n = payload["idempotency_key"].rsplit(":", 2)[1:]
            assert payload["idempotency_key"] == calls.idempotency_key(payload["monitor_id"], what, int(n))
            assert what == ("missed" if name == heartbeat.HEARTBEAT_MISSED else "recovered")
        else:
            assert key is None, name  # record_events / assess_incident / the maintenance window's carry no key
            continue
        keyed += 1
    # a maintenance window's own workflow only reads the records and records its end once
    window = all(n in (calls.MAINTENANCE_STARTED, calls.MAINTENANCE_ENDED) for n, _ in scheduled)
    assert keyed or window, f"{path.name} holds no keyed activity"


def test_every_activity_name_the_histories_schedule_is_named_here() -> None:
    names = {n for p in HISTORIES for n, _ in _scheduled(p)[1]}
    assert names <= {calls.SEND_NOTIFICATION, calls.SEND_NOTIFICATIONS, calls.RECORD_EVENTS, calls.ASSESS_INCIDENT, calls.OPEN_WAR_ROOM,
                     calls.RUN_ACTION, calls.RUN_CHECK, calls.MAINTENANCE_STARTED, calls.MAINTENANCE_ENDED,
                     calls.FIND_RELATED, heartbeat.HEARTBEAT_MISSED, heartbeat.HEARTBEAT_RECOVERED}


def test_action_options() -> None:
    a = ActionSpec(id="restart", kind="command", timeout_seconds=1800, max_attempts=0, backoff_seconds=45)
    assert calls.action_retry(a, backoff=False).maximum_attempts == 1
    assert calls.action_retry(a, backoff=False).maximum_interval == timedelta(seconds=30)
    assert calls.action_retry(a, backoff=True).initial_interval == timedelta(seconds=45)
    assert calls.action_retry(a, backoff=True).maximum_interval == timedelta(seconds=45)
    assert calls.action_heartbeat_timeout(a) == calls.HEARTBEAT_TIMEOUT == timedelta(seconds=10)
    # short steps are bounded by their start-to-close timeout; python runs the SRE's own code
    assert calls.action_heartbeat_timeout(ActionSpec(id="x", kind="http", timeout_seconds=10)) is None
    assert calls.action_heartbeat_timeout(ActionSpec(id="x", kind="http", timeout_seconds=20)) is not None
    assert calls.action_heartbeat_timeout(ActionSpec(id="x", kind="python", timeout_seconds=600)) is None
    assert calls.check_timeout(1) == timedelta(seconds=5) and calls.check_timeout(300) == timedelta(seconds=60)
