"""Room: activities (all the I/O of recovery). run_action / run_check: automatic recovery
actions and verification checks. Kinds (docs/runbooks.md):
  actions: http (request + expected status), command (a named argv from the worker's
           allow-list, never a shell), python (a function registered with
           @warroom.actions.action);
  checks:  http, prometheus (instant query compared to a threshold).
`manual`, `wait` and `approval` are handled by the workflow itself because they wait for
people or time, which only the workflow can do durably.

Idempotency: every request carries the workflow's key for the step (workflows/calls.py; the
same on every retry of the activity): http sends it as the `Idempotency-Key` header, python
passes it as `idempotency_key=` to a function that takes that parameter (or **kwargs), so the
service or the SRE's code can tell a retry from a second request. Long steps heartbeat every
HEARTBEAT_EVERY seconds while they run (commands always, http with a timeout longer than
that), so a worker that died mid-step is noticed after the workflow's heartbeat timeout.

A broken step (missing param, unknown command/function, missing secret, no Prometheus
configured) raises a non-retryable ApplicationError of type BadStep/MissingSecret: retrying
cannot fix it. Secret values (http `secret_headers`, read from env WARROOM_SECRET_<NAME> here,
at run time) never appear in a detail or an error: the history keeps both forever.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import inspect
import math
import operator
import re
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from warroom import secrets
from warroom.runbooks import actions as python_actions
from workflows.contracts_activities import ActionRequest, ActionResult, CheckRequest, CheckResult

SECRET_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
ARGS_PLACEHOLDER = "..."
OUTPUT_TAIL = 500
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_PARAM = "idempotency_key"
# Well under the workflow's heartbeat timeout (workflows/calls.py HEARTBEAT_TIMEOUT, 10 s).
HEARTBEAT_EVERY = 2.0
T = TypeVar("T")
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}


def bad_step(message: str, type_: str = "BadStep") -> ApplicationError:
    return ApplicationError(message, type=type_, non_retryable=True)


def heartbeating(work: Callable[[], T], seconds: float) -> T:
    """Run `work` (expected to take up to `seconds`), heartbeating every HEARTBEAT_EVERY
    seconds meanwhile; short work runs as it is. The work runs in a helper thread with the
    activity's context, the activity's own thread heartbeats."""
    if seconds <= HEARTBEAT_EVERY:
        return work()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="recovery-step")
    try:
        fut = pool.submit(contextvars.copy_context().run, work)
        while True:
            try:
                return fut.result(timeout=HEARTBEAT_EVERY)
            except concurrent.futures.TimeoutError:
                activity.heartbeat()
    finally:
        pool.shutdown(wait=False)


# --------------------------------------------------------------------------- http


def read_secret(name: Any) -> str:
    """The value runbook secret `name` stands for (${WARROOM_SECRET_<name>}, warroom.secrets),
    read now (on the worker, at activity time)."""
    if not isinstance(name, str) or not SECRET_NAME_RE.match(name):
        raise bad_step(f"http: secret name {name!r} must match {SECRET_NAME_RE.pattern}")
    value = secrets.runbook_secret(name)
    if not value:
        raise bad_step(f"http: secret {name!r} is not set on the worker (env {secrets.RUNBOOK_PREFIX}{name})",
                       "MissingSecret")
    return value


def http_probe(params: dict[str, Any], timeout: float, key: str = "") -> tuple[bool, str]:
    """key: sent as the Idempotency-Key header, unless the step sets that header itself."""
    import httpx  # here, not at module import: httpx loads rich and pygments (its CLI)
    url = params.get("url")
    if not url:
        raise bad_step("http: 'url' is required")
    method = str(params.get("method", "GET")).upper()
    expect = params.get("expect_status", 200)
    expected = expect if isinstance(expect, list) else [expect]
    headers = {str(k): str(v) for k, v in (params.get("headers") or {}).items()}
    secret_headers = params.get("secret_headers") or {}
    if not isinstance(secret_headers, dict):
        raise bad_step("http: 'secret_headers' must be a mapping {header: SECRET_NAME}")
    hidden: list[str] = []
    for header, name in secret_headers.items():
        headers[str(header)] = value = read_secret(name)
        hidden.append(value)
    if key and not any(h.lower() == IDEMPOTENCY_HEADER.lower() for h in headers):
        headers[IDEMPOTENCY_HEADER] = key
    try:
        resp = httpx.request(method, url, json=params.get("json"), headers=headers, timeout=timeout)
    except Exception as err:  # noqa: BLE001  any failure to send is a failed attempt; never leak a header value
        if hidden and not isinstance(err, (httpx.TimeoutException, httpx.NetworkError)):
            # e.g. "Illegal header value b'...'": the message may quote a header, in any escaping.
            return False, f"{method} {url}: {type(err).__name__} (message withheld: the request has secret headers)"
        return False, secrets.mask(f"{method} {url}: {type(err).__name__}: {err}", hidden)
    ok = resp.status_code in expected
    contains = params.get("body_contains")
    if ok and contains and contains not in resp.text:
        return False, secrets.mask(f"{method} {url}: {resp.status_code}, body lacks {contains!r}", hidden)
    return ok, secrets.mask(f"{method} {url}: {resp.status_code}", hidden)


# --------------------------------------------------------------------------- command


def command_argv(commands: Mapping[str, list[str]], params: dict[str, Any]) -> list[str]:
    """The argv to run for a `command` step, or a BadStep error. The name comes from the
    runbook (reviewed by SREs); `args` replace a trailing "..." and are refused otherwise."""
    name = params.get("command")
    if not name or not isinstance(name, str):
        raise bad_step("command: 'command' (a name from the worker's allow-list) is required")
    base = commands.get(name)
    if base is None:
        raise bad_step(f"command {name!r} is not in the worker's allow-list (WARROOM_COMMANDS)")
    args = params.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise bad_step(f"command {name!r}: 'args' must be a list of strings")
    if base and base[-1] == ARGS_PLACEHOLDER:
        return [*base[:-1], *args]
    if args:
        raise bad_step(f"command {name!r} takes no args: its allow-list entry does not end with {ARGS_PLACEHOLDER!r}")
    return list(base)


def check_commands(commands: Mapping[str, list[str]]) -> None:
    """Fail fast (at worker start) on an allow-list entry that could never run."""
    for name, argv in commands.items():
        if not argv or ARGS_PLACEHOLDER in argv[:-1] or argv[0] == ARGS_PLACEHOLDER \
                or not all(isinstance(a, str) and a for a in argv):
            raise ValueError(f"WARROOM_COMMANDS[{name!r}] must be a non-empty argv list of strings "
                             f"(only the last may be {ARGS_PLACEHOLDER!r}), got {argv!r}")


def run_command(commands: Mapping[str, list[str]], params: dict[str, Any], timeout: float) -> tuple[bool, str]:
    argv = command_argv(commands, params)
    name = params["command"]
    # A little under the activity's start-to-close timeout, so the detail says what happened.
    limit = max(1.0, timeout - 1.0) if timeout > 2 else timeout
    try:
        proc = subprocess.Popen(argv, shell=False, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as err:  # not installed / not executable on this worker
        return False, f"{name}: cannot run {argv[0]!r}: {type(err).__name__}: {err.strerror or err}"
    deadline = time.monotonic() + limit
    try:
        while True:
            try:
                left = deadline - time.monotonic()
                stdout, stderr = proc.communicate(timeout=max(0.0, min(HEARTBEAT_EVERY, left)))
                break
            except subprocess.TimeoutExpired as err:
                if time.monotonic() >= deadline:
                    proc.kill()
                    proc.wait()
                    return False, f"{name}: timed out after {limit:g}s{_tail(err.stdout, err.stderr)}"
                activity.heartbeat()
    finally:
        if proc.poll() is None:  # the activity was cancelled (or failed) while the command ran
            proc.kill()
            proc.wait()
    return proc.returncode == 0, f"{name}: exit {proc.returncode}{_tail(stdout, stderr)}"


def _tail(stdout: bytes | str | None, stderr: bytes | str | None) -> str:
    def text(b: bytes | str | None) -> str:
        return b.decode("utf-8", "replace") if isinstance(b, bytes) else (b or "")

    out = (text(stdout).rstrip() + "\n" + text(stderr).rstrip()).strip()
    return f": {out[-OUTPUT_TAIL:]}" if out else ""


# --------------------------------------------------------------------------- python


def takes_idempotency_key(fn: Callable[..., Any]) -> bool:
    """The function has a keyword parameter `idempotency_key`, or **kwargs."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no introspectable signature: call it as before
        return False
    return any(p.kind is inspect.Parameter.VAR_KEYWORD
               or (p.name == IDEMPOTENCY_PARAM and p.kind is not inspect.Parameter.POSITIONAL_ONLY)
               for p in params)


def run_python(registry: Mapping[str, Callable[..., Any]], incident_id: str,
               params: dict[str, Any], key: str = "") -> tuple[bool, str]:
    """key: passed as `idempotency_key=` when the function takes it (it replaces an `args`
    entry of that name); functions that do not take it are called as before."""
    name = params.get("function")
    if not name or not isinstance(name, str):
        raise bad_step("python: 'function' (a name registered with @warroom.actions.action) is required")
    fn = registry.get(name)
    if fn is None:
        known = ", ".join(sorted(registry)) or "none"
        raise bad_step(f"python action {name!r} is not registered on this worker (WARROOM_ACTION_MODULES); "
                       f"registered: {known}")
    args = params.get("args") or {}
    if not isinstance(args, dict):
        raise bad_step(f"python action {name!r}: 'args' must be a mapping of keyword arguments")
    if key and takes_idempotency_key(fn):
        args = {**args, IDEMPOTENCY_PARAM: key}
    try:
        inspect.signature(fn).bind(incident_id, **args)
    except TypeError as err:
        raise bad_step(f"python action {name!r}: args do not fit the function: {err}") from None
    except ValueError:
        pass  # no introspectable signature: just call it
    try:
        ok, detail = python_actions.call(fn, incident_id, args)
    except Exception as err:  # noqa: BLE001  the SRE's code failed: a failed attempt, retried per max_attempts
        return False, f"{name}: {type(err).__name__}: {str(err)[:OUTPUT_TAIL]}"
    return ok, detail


# --------------------------------------------------------------------------- prometheus


def prometheus_query(base_url: str, params: dict[str, Any], timeout: float) -> tuple[bool, str]:
    import httpx
    if not base_url:
        raise bad_step("prometheus: no Prometheus configured on the worker (WARROOM_PROMETHEUS_URL)")
    query = params.get("query")
    if not query or not isinstance(query, str):
        raise bad_step("prometheus: 'query' is required")
    op = params.get("op")
    if op not in OPS:
        raise bad_step(f"prometheus: 'op' must be one of {' '.join(OPS)}, got {op!r}")
    threshold = params.get("threshold")
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
        raise bad_step(f"prometheus: 'threshold' must be a number, got {threshold!r}")
    limit = float(threshold)
    url = base_url.rstrip("/") + "/api/v1/query"
    try:
        resp = httpx.get(url, params={"query": query}, timeout=timeout)
        body = resp.json()
    except (httpx.HTTPError, ValueError) as err:
        return False, f"prometheus {query!r}: {type(err).__name__}: {err}"
    if not isinstance(body, dict) or body.get("status") != "success":
        err_text = body.get("error") if isinstance(body, dict) else None
        return False, f"prometheus {query!r}: HTTP {resp.status_code}: {err_text or 'not a success response'}"
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind not in ("vector", "scalar"):
        raise bad_step(f"prometheus {query!r}: resultType {kind!r} unsupported (use an instant vector or scalar)")
    samples: list[tuple[str, str]] = []  # (labels, value string: Prometheus sends numbers as strings)
    try:
        if kind == "vector":
            for s in result or []:
                metric = s.get("metric") or {}
                labels = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"
                samples.append((labels, s["value"][1]))
        elif result:
            samples.append(("scalar", result[1]))
    except (AttributeError, IndexError, KeyError, TypeError):
        return False, f"prometheus {query!r}: malformed {kind} result"
    if not samples:
        return False, f"prometheus {query!r}: no data"
    bad = []
    for labels, raw in samples:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = math.nan
        if not OPS[op](value, limit):
            bad.append(f"{labels}={raw}")
    if bad:
        shown = ", ".join(bad[:3]) + (f" (+{len(bad) - 3} more)" if len(bad) > 3 else "")
        return False, f"prometheus {query!r}: {len(bad)}/{len(samples)} samples not {op} {threshold}: {shown}"
    return True, f"prometheus {query!r}: {len(samples)} samples {op} {threshold}"


# --------------------------------------------------------------------------- activities


class RecoveryActivities:
    """Sync activities, run in the worker's thread pool (activity_executor).

    commands: the `command` allow-list (Settings.commands); prometheus_url: Settings.prometheus_url;
    actions: the python action registry (default: warroom.actions' registry, read at call time)."""

    def __init__(self, *, commands: Mapping[str, list[str]] | None = None, prometheus_url: str = "",
                 actions: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.commands = dict(commands or {})
        check_commands(self.commands)
        self.prometheus_url = prometheus_url
        self._actions = actions

    def _registry(self) -> Mapping[str, Callable[..., Any]]:
        return self._actions if self._actions is not None else python_actions.registered()

    @activity.defn(name="run_action")
    def run_action(self, req: ActionRequest) -> ActionResult:
        a = req.action
        timeout = float(a.timeout_seconds)
        if a.rehearse:  # an example runbook: say what would have run, run nothing
            return ActionResult(ok=True, detail=rehearsed(a.kind, a.params, a.rehearse))
        if a.kind == "http":
            ok, detail = heartbeating(lambda: http_probe(a.params, timeout, req.key), timeout)
        elif a.kind == "command":
            ok, detail = run_command(self.commands, a.params, timeout)  # heartbeats while it runs
        elif a.kind == "python":
            ok, detail = run_python(self._registry(), req.incident_id, a.params, req.key)
        else:
            raise bad_step(f"unknown action kind {a.kind!r}")
        if not ok and activity.info().attempt < a.max_attempts:
            # Let Temporal retry with backoff; the last attempt reports the failure as a result.
            raise ApplicationError(detail, type="ActionFailed")
        return ActionResult(ok=ok, detail=detail)

    @activity.defn(name="run_check")
    def run_check(self, req: CheckRequest) -> CheckResult:
        c = req.check
        timeout = float(min(c.interval_seconds, 30))
        if c.rehearse:
            return CheckResult(ok=True, detail=rehearsed(c.kind, c.params, c.rehearse))
        if c.kind == "http":
            ok, detail = http_probe(c.params, timeout, req.key)
        elif c.kind == "prometheus":
            ok, detail = prometheus_query(self.prometheus_url, c.params, timeout)
        else:
            raise bad_step(f"unknown check kind {c.kind!r}")
        return CheckResult(ok=ok, detail=detail)


def rehearsed(kind: str, params: Mapping[str, Any], why: str) -> str:
    """What a rehearsed step would have done, for the timeline (never a secret: secret_headers
    name variables, and they are not shown)."""
    if kind == "http":
        what = f"{str(params.get('method') or 'GET').upper()} {params.get('url', '')}"
    elif kind == "command":
        what = f"command {params.get('command', '')}"
    elif kind == "python":
        what = f"python action {params.get('function', '')}"
    elif kind == "prometheus":
        what = f"prometheus query {params.get('query', '')}"
    else:
        what = kind
    return f"REHEARSAL, not run: {what.strip()} ({why}; set live: true in the runbook to run it)"
