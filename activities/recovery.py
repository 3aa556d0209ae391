"""run_action / run_check: automatic recovery actions and verification checks.

Room: activities. Kinds are pluggable: a registry maps a kind to a function. `http` works
now (request + expected status); `manual` and `wait` are handled by the workflow itself
because they wait for people or time, which only the workflow can do durably.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from workflows.contracts import ActionRequest, ActionResult, CheckRequest, CheckResult


def http_probe(params: dict[str, Any], timeout: float) -> tuple[bool, str]:
    url = params.get("url")
    if not url:
        raise ApplicationError("http: 'url' is required", type="BadStep", non_retryable=True)
    method = str(params.get("method", "GET")).upper()
    expect = params.get("expect_status", 200)
    expected = expect if isinstance(expect, list) else [expect]
    try:
        resp = httpx.request(method, url, json=params.get("json"), headers=params.get("headers") or {},
                             timeout=timeout)
    except httpx.HTTPError as err:
        return False, f"{method} {url}: {type(err).__name__}: {err}"
    ok = resp.status_code in expected
    contains = params.get("body_contains")
    if ok and contains and contains not in resp.text:
        return False, f"{method} {url}: {resp.status_code}, body lacks {contains!r}"
    return ok, f"{method} {url}: {resp.status_code}"


ACTION_KINDS: dict[str, Callable[[dict[str, Any], float], tuple[bool, str]]] = {"http": http_probe}
CHECK_KINDS: dict[str, Callable[[dict[str, Any], float], tuple[bool, str]]] = {"http": http_probe}


class RecoveryActivities:
    @activity.defn(name="run_action")
    def run_action(self, req: ActionRequest) -> ActionResult:
        fn = ACTION_KINDS.get(req.action.kind)
        if fn is None:
            raise ApplicationError(f"unknown action kind {req.action.kind!r}", type="BadStep",
                                   non_retryable=True)
        ok, detail = fn(req.action.params, float(req.action.timeout_seconds))
        if not ok and activity.info().attempt < req.action.max_attempts:
            # Let Temporal retry with backoff; the last attempt reports the failure as a result.
            raise ApplicationError(detail, type="ActionFailed")
        return ActionResult(ok=ok, detail=detail)

    @activity.defn(name="run_check")
    def run_check(self, req: CheckRequest) -> CheckResult:
        fn = CHECK_KINDS.get(req.check.kind)
        if fn is None:
            raise ApplicationError(f"unknown check kind {req.check.kind!r}", type="BadStep", non_retryable=True)
        ok, detail = fn(req.check.params, float(min(req.check.interval_seconds, 30)))
        return CheckResult(ok=ok, detail=detail)
