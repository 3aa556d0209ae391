"""Example runbooks are examples (issue 15): a shipped runbook names example hosts and commands
(auth-admin.internal, login.example.com, config-rollback...), so it says `live: false` and its
automatic steps are rehearsed on a real incident: on the timeline, never run. An SRE who points
it at real systems sets `live: true` and the same steps run. The real worker and recovery
activities on the time-skipping server; the suite's network guard (tests/conftest.py) fails any
test that looks up or connects beyond loopback, so a step that was run would fail this test."""

from __future__ import annotations


from tests.helpers import events, get_state, running_worker, until
from tests.receivers import Receiver
from warroom import client as temporal
from warroom.runbooks import RunbookLibrary
from warroom.runbooks.loader import AUTOMATIC_KINDS
from workflows.policy import default_policy

from tests.conftest import REPO


def test_every_shipped_runbook_with_automatic_steps_is_an_example():
    library = RunbookLibrary(REPO / "runbooks")
    for name, entry in library.entries.items():
        spec = entry.spec
        automatic = [s for s in [*spec.recover, *spec.verify, *spec.on_verify_failure] if s.kind in AUTOMATIC_KINDS]
        assert not automatic or spec.live is False, f"{name}: automatic steps in a live example"
        assert all(s.rehearse == f"runbook {name} is an example (live: false)" for s in automatic), name
        assert all(s.rehearse == "" for s in [*spec.recover, *spec.verify] if s.kind not in AUTOMATIC_KINDS), name


async def test_an_example_runbook_rehearses_its_steps_on_a_real_incident(env, engine, task_queue):
    """A login outage picks the shipped auth-outage runbook. Its restart and database check (http
    to auth-admin.internal) and its verification (https to login.example.com, a Prometheus query)
    are recorded as rehearsed, with what would have run; nothing is sent anywhere."""
    async with running_worker(env.client, task_queue, engine, runbooks=RunbookLibrary(REPO / "runbooks")):
        t = await temporal.trigger(env.client, _login_down(), task_queue=task_queue, policy=default_policy())
        await temporal.act(env.client, t.incident_id, "acknowledge", {"by": "ann"})
        st = await until(lambda: get_state(t.handle), "both recovery steps",
                         ok=lambda s: len(events(s, "action.succeeded")) == 2)
        assert st.runbook == "auth-outage"
        restart, db = events(st, "action.succeeded")
        assert restart.details["detail"] == (
            "REHEARSAL, not run: POST http://auth-admin.internal:8080/admin/rolling-restart (runbook auth-outage "
            "is an example (live: false); set live: true in the runbook to run it)")
        assert db.details["detail"].startswith("REHEARSAL, not run: GET http://auth-admin.internal:8080/health/db")
        await temporal.act(env.client, t.incident_id, "resolve", {"by": "ann", "resolution": "restarted"})
        st = await until(lambda: get_state(t.handle), "verification", ok=lambda s: events(s, "verification.passed"))
    checks = {e.details["step"]: e.details["detail"] for e in events(st, "check.passed")}
    assert checks["synthetic-login"].startswith("REHEARSAL, not run: GET https://login.example.com/synthetic/check")
    assert checks["login-error-rate"].startswith("REHEARSAL, not run: prometheus query sum(rate(auth_login_failures")


async def test_an_sre_sets_live_true_and_the_steps_run(env, engine, task_queue, tmp_path):
    """The same runbook pointed at a real endpoint (a receiver on loopback) with live: true:
    its http steps reach the endpoint and the timeline shows their answers."""
    with Receiver() as rx:
        text = (REPO / "runbooks/auth-outage.yaml").read_text()
        assert "live: false" in text
        text = text.replace("live: false", "live: true").replace("http://auth-admin.internal:8080", rx.url)
        text = text.replace("      secret_headers: {Authorization: AUTH_ADMIN_TOKEN}\n", "")
        books = tmp_path / "runbooks"
        books.mkdir()
        (books / "auth-outage.yaml").write_text(text)
        async with running_worker(env.client, task_queue, engine, runbooks=RunbookLibrary(books)):
            t = await temporal.trigger(env.client, _login_down(), task_queue=task_queue, policy=default_policy())
            st = await until(lambda: get_state(t.handle), "the recovery steps",
                             ok=lambda s: len(events(s, "action.succeeded") + events(s, "action.failed")) == 2)
        paths = [r.path for r in rx.requests]
    # the restart, then the database check (retried: the receiver's answer lacks "database":"ok")
    assert paths[0] == "/admin/rolling-restart" and set(paths[1:]) == {"/health/db"}
    assert not any("REHEARSAL" in e.details.get("detail", "") for e in st.timeline)


def _login_down():
    from tests.helpers import alert

    return alert(title="Login down for all users", priority="P1", service="auth")


