"""Recovery action and check kinds (activities/recovery.py, warroom/runbooks/actions.py), called
directly through ActivityEnvironment: http with secret headers and a fake Prometheus against a
real local HTTP server, allow-listed commands, registered python actions, and a worker that
refuses to start with a broken action module."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy.engine import Engine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.recovery import RecoveryActivities
from warroom.runbooks import actions
from warroom.runbooks import RunbookLibrary
from warroom.settings import Settings
from worker import build_worker
from workflows.contracts import ActionSpec, CheckSpec
from workflows.contracts_activities import ActionRequest, ActionResult, CheckRequest, CheckResult

REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-t0ken-value"
PY = sys.executable


# --------------------------------------------------------------------------- a real local HTTP server


class FakeService:
    """What the server saw, and what the fake Prometheus answers per query."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.prom: dict[str, list[float | str] | str] = {}  # query -> sample values, or "scalar:<v>"


@pytest.fixture
def service() -> Iterator[tuple[str, FakeService]]:
    fake = FakeService()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            fake.requests.append((url.path, {k.lower(): v for k, v in self.headers.items()}))
            if url.path == "/api/v1/query":
                return self._prometheus(parse_qs(url.query).get("query", [""])[0])
            if url.path == "/needs-token":
                ok = self.headers.get("Authorization") == f"Bearer {SECRET}"
                return self._send(200 if ok else 401, "welcome" if ok else "who are you")
            if url.path == "/down":
                return self._send(503, "maintenance")
            return self._send(200, "all good")

        do_POST = do_GET  # noqa: N815

        def _prometheus(self, query: str) -> None:
            if query not in fake.prom:
                return self._send(400, json.dumps({"status": "error", "errorType": "bad_data",
                                                   "error": f"parse error in {query!r}"}))
            answer = fake.prom[query]
            if isinstance(answer, str) and answer.startswith("scalar:"):
                data = {"resultType": "scalar", "result": [1700000000.0, answer.split(":", 1)[1]]}
            else:
                data = {"resultType": "vector", "result": [
                    {"metric": {"__name__": "up", "instance": f"node-{i}"}, "value": [1700000000.0, str(v)]}
                    for i, v in enumerate(answer)]}
            self._send(200, json.dumps({"status": "success", "data": data}))

        def _send(self, status: int, body: str) -> None:
            raw = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", fake
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- helpers


def act(rec: RecoveryActivities, kind: str, params: dict[str, Any], *, attempt: int = 1,
        max_attempts: int = 1, timeout: int = 10) -> ActionResult:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    spec = ActionSpec(id="step", kind=kind, params=params, max_attempts=max_attempts, timeout_seconds=timeout)
    return env.run(rec.run_action, ActionRequest(key="wf:step:0", incident_id="INC-7", action=spec))


def check(rec: RecoveryActivities, kind: str, params: dict[str, Any]) -> CheckResult:
    spec = CheckSpec(id="chk", kind=kind, params=params, interval_seconds=5)
    return ActivityEnvironment().run(rec.run_check, CheckRequest(key="wf:chk:1", incident_id="INC-7", check=spec))


def refused(fn: Any, *args: Any, **kw: Any) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        fn(*args, **kw)
    assert info.value.non_retryable, info.value
    return info.value


# --------------------------------------------------------------------------- http + secret headers


def test_http_secret_header_reaches_the_server_but_never_the_detail(service, monkeypatch) -> None:
    base, fake = service
    monkeypatch.setenv("WARROOM_SECRET_AUTH_TOKEN", f"Bearer {SECRET}")
    rec = RecoveryActivities()
    res = act(rec, "http", {"url": f"{base}/needs-token", "headers": {"X-Team": "sre"},
                            "secret_headers": {"Authorization": "AUTH_TOKEN"}, "body_contains": "welcome"})
    assert res.ok, res.detail
    path, headers = fake.requests[-1]
    assert path == "/needs-token" and headers["authorization"] == f"Bearer {SECRET}" and headers["x-team"] == "sre"
    assert SECRET not in res.detail

    # As a check, too; a wrong expectation fails without showing the secret.
    assert check(rec, "http", {"url": f"{base}/needs-token", "secret_headers": {"Authorization": "AUTH_TOKEN"}}).ok
    res = act(rec, "http", {"url": f"{base}/needs-token", "secret_headers": {"Authorization": "AUTH_TOKEN"},
                            "expect_status": [201, 204]})
    assert not res.ok and "200" in res.detail and SECRET not in res.detail


def test_http_secret_never_leaks_through_a_transport_error(service, monkeypatch) -> None:
    base, fake = service
    # httpx refuses an illegal header value with an error quoting it: the detail must not.
    monkeypatch.setenv("WARROOM_SECRET_BAD", f"{SECRET}\r\nX-Injected: 1")
    res = act(RecoveryActivities(), "http", {"url": f"{base}/", "secret_headers": {"X-Key": "BAD"}})
    assert not res.ok and "LocalProtocolError" in res.detail
    assert SECRET not in res.detail and fake.requests == []
    monkeypatch.setenv("WARROOM_SECRET_BAD", SECRET)  # a refused connection keeps its (redacted) message
    res = act(RecoveryActivities(), "http", {"url": "http://127.0.0.1:9/", "secret_headers": {"X-Key": "BAD"}})
    assert not res.ok and "ConnectError" in res.detail and SECRET not in res.detail


def test_http_missing_secret_is_refused_naming_the_secret(service, monkeypatch) -> None:
    base, fake = service
    monkeypatch.delenv("WARROOM_SECRET_NOPE", raising=False)
    err = refused(act, RecoveryActivities(), "http", {"url": f"{base}/needs-token",
                                                      "secret_headers": {"Authorization": "NOPE"}})
    assert "NOPE" in err.message and "WARROOM_SECRET_NOPE" in err.message and err.type == "MissingSecret"
    assert fake.requests == []  # nothing was sent


def test_http_failure_retries_until_the_last_attempt(service) -> None:
    base, _ = service
    rec = RecoveryActivities()
    with pytest.raises(ApplicationError) as info:
        act(rec, "http", {"url": f"{base}/down"}, attempt=1, max_attempts=3)
    assert not info.value.non_retryable and "503" in info.value.message
    res = act(rec, "http", {"url": f"{base}/down"}, attempt=3, max_attempts=3)
    assert not res.ok and "503" in res.detail
    assert act(rec, "http", {"url": f"{base}/down", "expect_status": 503}).ok


# --------------------------------------------------------------------------- command


def test_allowed_command_runs_and_reports_its_output() -> None:
    rec = RecoveryActivities(commands={"say-ok": [PY, "-c", "print('ok')"]})
    res = act(rec, "command", {"command": "say-ok"})
    assert res.ok and res.detail == "say-ok: exit 0: ok"


def test_failing_command_reports_exit_code_and_output_tail() -> None:
    script = "import sys; print('x' * 2000); print('disk full', file=sys.stderr); sys.exit(1)"
    rec = RecoveryActivities(commands={"purge": [PY, "-c", script]})
    res = act(rec, "command", {"command": "purge"})
    assert not res.ok
    assert res.detail.startswith("purge: exit 1: ") and res.detail.endswith("disk full")
    assert len(res.detail) <= len("purge: exit 1: ") + 500
    with pytest.raises(ApplicationError) as info:  # not the last attempt: retried
        act(rec, "command", {"command": "purge"}, attempt=1, max_attempts=2)
    assert not info.value.non_retryable


def test_command_off_the_allow_list_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    rec = RecoveryActivities(commands={"touch": [PY, "-c", f"open({str(marker)!r}, 'w')"]})
    err = refused(act, rec, "command", {"command": "rm-rf"})
    assert err.message == "command 'rm-rf' is not in the worker's allow-list (WARROOM_COMMANDS)"
    assert not marker.exists()


def test_command_args_only_where_the_allow_list_ends_with_dots(tmp_path: Path) -> None:
    echo = [PY, "-c", "import sys; print(' '.join(sys.argv[1:]))"]
    rec = RecoveryActivities(commands={"echo": [*echo, "..."], "fixed": echo})
    res = act(rec, "command", {"command": "echo", "args": ["auth", "; rm -rf /"]})
    assert res.ok and res.detail == "echo: exit 0: auth ; rm -rf /"  # an argument, never a shell
    assert act(rec, "command", {"command": "echo"}).ok  # "..." with no args: just the base argv
    err = refused(act, rec, "command", {"command": "fixed", "args": ["extra"]})
    assert "takes no args" in err.message
    refused(act, rec, "command", {"command": "echo", "args": "not-a-list"})


def test_command_timeout_is_a_failure() -> None:
    # deliberate latency: a command that outlives its 1 s timeout (the test's subject)
    rec = RecoveryActivities(commands={"slow": [PY, "-c", "import time; print('started', flush=True); time.sleep(30)"]})
    res = act(rec, "command", {"command": "slow"}, timeout=1)
    assert not res.ok and "timed out" in res.detail


def test_a_bad_allow_list_entry_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="WARROOM_COMMANDS"):
        RecoveryActivities(commands={"empty": []})
    with pytest.raises(ValueError, match="WARROOM_COMMANDS"):
        RecoveryActivities(commands={"dots-inside": ["kubectl", "...", "restart"]})


# --------------------------------------------------------------------------- python


@pytest.fixture
def registered() -> dict[str, Any]:
    names = actions.load_modules(["tests.actions_for_tests"])
    assert {"warm-cache", "cache-still-cold", "cache-node-down", "async-flush"} <= set(names)
    return actions.registered()


def test_python_action_runs_with_incident_id_and_args(registered) -> None:
    from tests import actions_for_tests

    rec = RecoveryActivities()
    res = act(rec, "python", {"function": "warm-cache", "args": {"region": "us", "keys": 3}})
    assert res.ok and res.detail == "warmed 3 keys in us for INC-7"
    assert actions_for_tests.CALLS[-1] == ("INC-7", {"region": "us", "keys": 3})
    assert act(rec, "python", {"function": "async-flush", "args": {"what": "sessions"}}).detail == "flushed sessions"
    res = act(rec, "python", {"function": "cache-still-cold"})
    assert not res.ok and res.detail == "cache hit ratio 3%"


def test_python_action_exception_fails_and_is_retried(registered) -> None:
    rec = RecoveryActivities()
    with pytest.raises(ApplicationError) as info:
        act(rec, "python", {"function": "cache-node-down"}, attempt=1, max_attempts=2)
    assert not info.value.non_retryable and "10.0.0.7 unreachable" in info.value.message
    res = act(rec, "python", {"function": "cache-node-down"}, attempt=2, max_attempts=2)
    assert not res.ok and res.detail == "cache-node-down: RuntimeError: cache node 10.0.0.7 unreachable"
    res = act(rec, "python", {"function": "returns-nonsense"})
    assert not res.ok and "expected str or (bool, str)" in res.detail


def test_unknown_python_function_is_refused_naming_the_registered_ones(registered) -> None:
    err = refused(act, RecoveryActivities(), "python", {"function": "reboot-the-world"})
    assert "'reboot-the-world'" in err.message and "warm-cache" in err.message
    err = refused(act, RecoveryActivities(), "python", {"function": "warm-cache", "args": {"colour": "red"}})
    assert "colour" in err.message


def test_action_names_are_unique() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        actions.action("warm-cache")(lambda incident_id: "other")
    with pytest.raises(ValueError):
        actions.action("Not a name!")


# --------------------------------------------------------------------------- prometheus


def test_prometheus_check_compares_every_sample(service) -> None:
    base, fake = service
    fake.prom = {"error_rate": [0.01, 0.02], "latency": [0.2, 1.7, 0.3], "absent": [], "up_count": "scalar:3"}
    rec = RecoveryActivities(prometheus_url=base + "/")
    res = check(rec, "prometheus", {"query": "error_rate", "op": "<", "threshold": 0.05})
    assert res.ok, res.detail
    res = check(rec, "prometheus", {"query": "latency", "op": "<=", "threshold": 1})
    assert not res.ok and 'instance="node-1"' in res.detail and "1.7" in res.detail and "node-0" not in res.detail
    res = check(rec, "prometheus", {"query": "absent", "op": "<", "threshold": 1})
    assert not res.ok and "no data" in res.detail
    assert check(rec, "prometheus", {"query": "up_count", "op": ">=", "threshold": 3}).ok
    assert not check(rec, "prometheus", {"query": "up_count", "op": "!=", "threshold": 3}).ok
    res = check(rec, "prometheus", {"query": "rate(", "op": "<", "threshold": 1})
    assert not res.ok and "parse error" in res.detail


def test_prometheus_check_refuses_bad_op_threshold_and_missing_url(service) -> None:
    base, fake = service
    rec = RecoveryActivities(prometheus_url=base)
    assert "'op'" in refused(check, rec, "prometheus", {"query": "up", "op": "=~", "threshold": 1}).message
    assert "'threshold'" in refused(check, rec, "prometheus", {"query": "up", "op": "<", "threshold": "lots"}).message
    assert "'query'" in refused(check, rec, "prometheus", {"op": "<", "threshold": 1}).message
    err = refused(check, RecoveryActivities(), "prometheus", {"query": "up", "op": "<", "threshold": 1})
    assert "WARROOM_PROMETHEUS_URL" in err.message
    assert fake.requests == []


def test_unknown_kinds_are_refused() -> None:
    refused(act, RecoveryActivities(), "teleport", {})
    refused(check, RecoveryActivities(), "vibes", {})


# --------------------------------------------------------------------------- worker start


async def test_worker_with_a_broken_action_module_fails_at_start(env: WorkflowEnvironment, engine: Engine,
                                                                  tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "broken_sre_actions.py").write_text("import nonexistent_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    lib = RunbookLibrary(REPO / "runbooks")
    with pytest.raises(actions.ActionModuleError) as info:
        build_worker(env.client, Settings(task_queue="tq-broken", action_modules=["broken_sre_actions"]),
                     engine=engine, runbooks=lib)
    msg = str(info.value)
    assert "'broken_sre_actions'" in msg and "WARROOM_ACTION_MODULES" in msg and "nonexistent_dependency_xyz" in msg

    # From the environment too (through the Settings the composition root builds).
    monkeypatch.setenv("WARROOM_ACTION_MODULES", '["no.such.module"]')
    with pytest.raises(actions.ActionModuleError, match="'no.such.module'"):
        build_worker(env.client, Settings(task_queue="tq-broken"), engine=engine, runbooks=lib)

    # And a good module loads: its actions are registered when the worker is built.
    monkeypatch.setenv("WARROOM_ACTION_MODULES", '["tests.actions_for_tests"]')
    monkeypatch.setenv("WARROOM_COMMANDS", json.dumps({"say-ok": [PY, "-c", "print('ok')"]}))
    async with build_worker(env.client, Settings(task_queue="tq-good"), engine=engine, runbooks=lib):
        assert "warm-cache" in actions.registered()
