"""send_notifications: the pages of one moment in one activity (patch batched-pages). Each page
is sent as send_notification sends it, side by side; a page that failed is retried with the
batch without sending the others again, and comes back FAILED once the retries are spent."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.common import RetryPolicy
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities
from tests.activities.test_notify import person, write_config
from tests.activities.test_notify_records import breaks_once
from warroom import records
from warroom.delivery import channels as chan
from workflows import calls
from workflows.contracts import Notification
from workflows.contracts_activities import NotificationBatch

ROLES = ("technical_manager", "management", "customer_success")


def config_for(tmp_path: Path) -> Any:
    people = [person(p, f"json://127.0.0.1:9/{p}") for p in ("ann", "bob", "cy")]
    return write_config(tmp_path, {"people": people, "roles": {
        role: [f"person:{p['id']}"] for role, p in zip(ROLES, people)}})


def oncall(tmp_path: Path) -> Any:
    config = config_for(tmp_path)
    return lambda: config


def batch() -> NotificationBatch:
    iid = f"incident-batch-{uuid.uuid4().hex[:10]}"
    return NotificationBatch(notifications=[
        Notification(key=f"{iid}-run:n{i}", incident_id=iid, kind="INITIAL", target=role,
                     subject="[P0] Checkout is down — new incident", body="checkout 500s", priority="P0",
                     title="Checkout is down") for i, role in enumerate(ROLES, start=1)])


class Attempts:
    """Runs attempts of the activity the way Temporal does: the retry policy the workflow gives
    it (calls.NOTIFY_RETRY), the attempt number, and the last heartbeat's details."""

    def __init__(self, acts: NotifyActivities) -> None:
        self.acts = acts
        self.attempt = 0
        self.details: list[Any] = []

    def run(self, b: NotificationBatch) -> Any:
        self.attempt += 1
        aenv = ActivityEnvironment()
        aenv.info = dataclasses.replace(
            aenv.info, start_to_close_timeout=calls.NOTIFY_TIMEOUT, scheduled_time=datetime.now(UTC),
            attempt=self.attempt, heartbeat_details=self.details, retry_policy=calls.NOTIFY_RETRY)
        beats: list[Any] = []
        aenv.on_heartbeat = lambda *d: beats.append(list(d))
        try:
            return aenv.run(self.acts.send_notifications, b)
        finally:
            if beats:
                self.details = beats[-1]


def test_the_pages_of_a_batch_go_out_side_by_side(engine, tmp_path):
    """ann's delivery waits until bob's has started: sent one after the other, it never would."""
    bob_started = threading.Event()
    sent: list[str] = []

    def send(url: str, **kw: Any) -> chan.Outcome:
        who = url.rsplit("/", 1)[1]
        if who == "ann" and not bob_started.wait(timeout=20):
            return chan.Outcome(ok=False, error="bob's page had not started: the pages went one by one")
        if who == "bob":
            bob_started.set()
        sent.append(kw["idempotency_key"])
        return chan.Outcome(ok=True)

    acts = NotifyActivities(engine, oncall=oncall(tmp_path), send=send, attempts_per_contact=1)
    b = batch()
    res = Attempts(acts).run(b)
    assert [(r.key, r.status, r.recipients) for r in res.results] == [
        (n.key, "SENT", [who]) for n, who in zip(b.notifications, ("ann", "bob", "cy"))]
    assert sorted(sent) == sorted(f"{n.key}:{who}:0" for n, who in zip(b.notifications, ("ann", "bob", "cy")))
    assert [c.status for c in records.communications(engine, incident_id=b.notifications[0].incident_id)] == [
        "SENT"] * 3


@pytest.mark.parametrize("records_up", [True, False], ids=["records-up", "records-down"])
def test_a_page_that_failed_is_retried_alone(engine, tmp_path, records_up):
    """bob's send raises on the first attempt: the batch is retried, and the retry sends bob's
    page only; ann's and cy's are not sent again, whether the records remember them (their
    claims) or are down (the attempt's heartbeat carries what it sent)."""
    sent: list[str] = []
    send = breaks_once("bob", sent=sent)
    db = engine if records_up else records.make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'records.db'}")
    attempts = Attempts(NotifyActivities(db, oncall=oncall(tmp_path), send=send,
                                         attempts_per_contact=1))
    b = batch()
    with pytest.raises(RuntimeError, match="mid-page"):
        attempts.run(b)
    assert sorted(sent) == sorted([f"{b.notifications[0].key}:ann:0", f"{b.notifications[2].key}:cy:0"])
    res = attempts.run(b)
    assert sent[2:] == [f"{b.notifications[1].key}:bob:0"]  # each page exactly once
    assert [(r.status, r.recipients) for r in res.results] == [("SENT", ["ann"]), ("SENT", ["bob"]), ("SENT", ["cy"])]


def test_on_the_last_attempt_a_failing_page_comes_back_failed(engine, tmp_path):
    """A page whose every attempt raised is FAILED in the batch's answer (the workflow records
    notification.failed); the other pages of the batch are SENT."""
    sent: list[str] = []

    def send(url: str, **kw: Any) -> chan.Outcome:
        if url.endswith("/bob"):
            raise RuntimeError("bob's pager gateway is down")
        sent.append(kw["idempotency_key"])
        return chan.Outcome(ok=True)

    attempts = Attempts(NotifyActivities(engine, oncall=oncall(tmp_path), send=send,
                                         attempts_per_contact=1))
    b = batch()
    for _ in range(calls.NOTIFY_RETRY.maximum_attempts - 1):
        with pytest.raises(RuntimeError):
            attempts.run(b)
    res = attempts.run(b)
    assert attempts.attempt == calls.NOTIFY_RETRY.maximum_attempts
    assert [r.status for r in res.results] == ["SENT", "FAILED", "SENT"]
    assert "pager gateway is down" in res.results[1].error
    assert len(sent) == 2  # ann and cy once each, over five attempts


def test_a_batch_retry_policy_without_a_limit_never_gives_a_page_up(engine, tmp_path):
    """maximum_attempts 0 (no limit): a failing page raises on every attempt, never FAILED."""
    def send(url: str, **kw: Any) -> chan.Outcome:
        raise RuntimeError("down")

    acts = NotifyActivities(engine, oncall=oncall(tmp_path), send=send, attempts_per_contact=1)
    aenv = ActivityEnvironment()
    aenv.info = dataclasses.replace(aenv.info, start_to_close_timeout=timedelta(seconds=30),
                                    scheduled_time=datetime.now(UTC), attempt=50,
                                    retry_policy=RetryPolicy(maximum_attempts=0))
    with pytest.raises(RuntimeError, match="down"):
        aenv.run(acts.send_notifications, batch())


# --- one page per person per event -------------------------------------------------------------

def two_roles(tmp_path: Path, language: str = "en") -> Any:
    """ann is the technical manager and the customer success manager; bob the management."""
    people = [person("ann", "json://127.0.0.1:9/ann", language=language), person("bob", "json://127.0.0.1:9/bob")]
    config = write_config(tmp_path, {"people": people, "roles": {
        "technical_manager": ["person:ann"], "customer_success_manager": ["person:ann"],
        "management": ["person:ann", "person:bob"]}})
    return lambda: config


def moment(*targets: str, kind: str = "INITIAL", subject: str = "[P0] Checkout is down — new incident") -> Any:
    iid = f"incident-batch-{uuid.uuid4().hex[:10]}"
    return NotificationBatch(notifications=[
        Notification(key=f"{iid}-run:n{i}", incident_id=iid, kind=kind, target=t, subject=subject,
                     body="checkout 500s", priority="P0", title="Checkout is down")
        for i, t in enumerate(targets, start=1)])


def test_a_person_in_three_roles_gets_one_page_naming_them_all(engine, tmp_path):
    """ann is reached by all three pages of the moment and gets one message, saying every role;
    bob (management only) gets his own. Each page still answers SENT with ann among its
    recipients, and the ones that did not page her say with which page she was paged."""
    sent: list[tuple[str, str]] = []

    def send(url: str, **kw: Any) -> chan.Outcome:
        sent.append((kw["idempotency_key"], kw["body"]))
        return chan.Outcome(ok=True)

    acts = NotifyActivities(engine, oncall=two_roles(tmp_path), send=send, attempts_per_contact=1)
    b = moment("technical_manager", "customer_success_manager", "management")
    first, second, third = (n.key for n in b.notifications)
    res = Attempts(acts).run(b)
    assert sorted(k for k, _ in sent) == [f"{first}:ann:0", f"{third}:bob:0"]
    ann = dict(sent)[f"{first}:ann:0"]
    assert "Ann, you are paged as technical manager, customer success manager and management for a P0" in ann
    assert "Bob, you are paged as management for a P0" in dict(sent)[f"{third}:bob:0"]
    assert [(r.status, r.recipients) for r in res.results] == [
        ("SENT", ["ann"]), ("SENT", ["ann"]), ("SENT", ["bob", "ann"])]
    assert f"one page with {first}" in res.results[1].via and f"one page with {first}" in res.results[2].via
    assert res.results[1].deliveries == []  # nothing of its own went out
    assert sorted(d.person for d in records.deliveries(engine, incident_id=b.notifications[0].incident_id)) \
        == ["ann", "bob"]


def test_the_shared_page_in_chinese_names_the_roles_in_chinese(engine, tmp_path):
    sent: list[str] = []

    def send(url: str, **kw: Any) -> chan.Outcome:
        sent.append(kw["body"])
        return chan.Outcome(ok=True)

    acts = NotifyActivities(engine, oncall=two_roles(tmp_path, language="zh"), send=send, attempts_per_contact=1)
    Attempts(acts).run(moment("oncall:L1", "technical_manager", "customer_success_manager"))
    assert any("您作为技术经理和客户成功经理被呼叫" in body for body in sent), sent


def test_different_messages_to_one_person_are_not_merged(engine, tmp_path):
    """A status update and a new-incident page in the same moment are two messages: both go."""
    sent: list[str] = []

    def send(url: str, **kw: Any) -> chan.Outcome:
        sent.append(kw["idempotency_key"])
        return chan.Outcome(ok=True)

    acts = NotifyActivities(engine, oncall=two_roles(tmp_path), send=send, attempts_per_contact=1)
    a = moment("technical_manager")
    b = moment("customer_success_manager", kind="UPDATE", subject="[P0] Checkout is down — status update")
    Attempts(acts).run(NotificationBatch(notifications=a.notifications + b.notifications))
    assert len(sent) == 2


def test_when_the_shared_page_fails_every_page_it_stood_for_is_failed(engine, tmp_path):
    """ann's only contact point refuses on every attempt: the first page is FAILED, and so are the
    pages that counted on it for her (she was reached by nobody), each saying why."""
    def send(url: str, **kw: Any) -> chan.Outcome:
        return chan.Outcome(ok=url.endswith("/bob"), error="" if url.endswith("/bob") else "410 gone")

    acts = NotifyActivities(engine, oncall=two_roles(tmp_path), send=send, attempts_per_contact=1)
    b = moment("technical_manager", "customer_success_manager", "management")
    res = Attempts(acts).run(b)
    assert [(r.status, r.recipients) for r in res.results] == [
        ("FAILED", []), ("FAILED", []), ("SENT", ["bob"])]
    assert f"ann: not reached (one page with {b.notifications[0].key})" in res.results[1].error
    assert "ann: not reached" in res.results[2].error


def test_a_retry_sends_the_shared_page_once(engine, tmp_path):
    """The shared page to ann raises mid-send on the first attempt: the retry pages her once, and
    the page that counted on it is SENT to her then."""
    sent: list[str] = []
    send = breaks_once("ann", sent=sent)
    attempts = Attempts(NotifyActivities(engine, oncall=two_roles(tmp_path), send=send, attempts_per_contact=1))
    b = moment("technical_manager", "management")
    with pytest.raises(RuntimeError, match="mid-page"):
        attempts.run(b)
    res = attempts.run(b)
    first, second = (n.key for n in b.notifications)
    assert sorted(sent) == [f"{first}:ann:0", f"{second}:bob:0"]
    assert [(r.status, r.recipients) for r in res.results] == [("SENT", ["ann"]), ("SENT", ["bob", "ann"])]
