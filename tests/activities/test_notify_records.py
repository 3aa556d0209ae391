"""What the records hold for a page sent by the notify activity on its own, and what a page
costs them: the communication and one delivery per person, their statuses, a retried page that
sends nothing twice, and at most two records transactions per page (docs/records.md)."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities
from tests.activities.test_notify import person, write_config
from tests.receivers import Receiver
from warroom import records
from workflows.contracts import Notification


@contextlib.contextmanager
def commits(engine: Engine) -> Iterator[list[int]]:
    """Counts the records transactions committed inside the block (one element per commit)."""
    seen: list[int] = []

    def on_commit(_: Any) -> None:
        seen.append(1)

    event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", on_commit)


def run(acts: NotifyActivities, n: Notification) -> Any:
    """One attempt of the activity, with the start-to-close timeout the workflow gives it."""
    aenv = ActivityEnvironment()
    aenv.info = dataclasses.replace(aenv.info, start_to_close_timeout=timedelta(seconds=30),
                                    scheduled_time=datetime.now(UTC))
    return aenv.run(acts.send_notification, n)


def notification(target: str = "technical_manager", kind: str = "UPDATE") -> Notification:
    iid = f"incident-rec-{uuid.uuid4().hex[:10]}"
    return Notification(key=f"{iid}-run:n7", incident_id=iid, kind=kind, target=target,
                        subject="[P0] Checkout is down — status update", body="failing over", priority="P0",
                        title="Checkout is down")


def team(tmp_path: Path, *people: dict[str, Any]) -> Any:
    return write_config(tmp_path, {"people": list(people),
                                   "roles": {"technical_manager": [f"person:{p['id']}" for p in people]}})


def breaks_once(*people: str, sent: list[str]) -> Any:
    """A worker's send: the first send to each of `people` raises (the worker lost its network
    mid-page); every send that goes out appends its idempotency key to `sent`."""
    from warroom.delivery import channels as chan

    broken = set(people)

    def send(url: str, **kw: Any) -> chan.Outcome:
        who = url.rsplit("/", 1)[1]
        if who in broken:
            broken.discard(who)
            raise RuntimeError("worker lost its network mid-page")
        sent.append(kw["idempotency_key"])
        return chan.Outcome(ok=True)

    return send


def delivered(rx: Receiver) -> list[tuple[str, str]]:
    return sorted((r.path, r.header("Idempotency-Key") or "") for r in rx.delivered)


def test_a_page_to_three_people_is_recorded_person_by_person(engine, tmp_path):
    """The claim, then each person reached is recorded before the next is paged (a worker dying
    mid-page never pages a recorded one again), the last with the page's outcome."""
    with Receiver() as rx:
        config = team(tmp_path, *(person(p, f"json://{rx.netloc}/{p}") for p in ("ann", "bob", "cy")))
        acts = NotifyActivities(engine, oncall=lambda: config, retry_delay=0.01)
        n = notification()
        with commits(engine) as first:
            res = run(acts, n)
        with commits(engine) as again:  # Temporal delivering the same page again
            dup = run(acts, n)
    assert (res.status, sorted(res.recipients), res.duplicate) == ("SENT", ["ann", "bob", "cy"], False)
    assert delivered(rx) == [(f"/{p}", f"{n.key}:{p}:0") for p in ("ann", "bob", "cy")]
    assert len(first) == 4  # claim (communication + three deliveries PENDING), ann, bob, cy with the outcome
    assert (dup.status, dup.duplicate, sorted(dup.recipients)) == ("SENT", True, ["ann", "bob", "cy"])
    assert len(again) == 1  # only the claim, which finds the page SENT
    [comm] = records.communications(engine, incident_id=n.incident_id)
    assert (comm.status, sorted(comm.recipients), comm.channel, comm.attempts) == (
        "SENT", ["ann", "bob", "cy"], "webhook", 2)
    assert comm.sent_at is not None
    rows = records.deliveries(engine, incident_id=n.incident_id)
    assert sorted((r.person, r.status, r.attempts, r.error) for r in rows) == [
        (p, "SENT", 1, "") for p in ("ann", "bob", "cy")]
    assert all(r.sent_at is not None and r.communication_key == n.key for r in rows)


def test_a_page_retried_after_its_attempt_failed_midway_sends_nothing_twice(engine, tmp_path):
    """The first attempt sends to ann, then fails on bob (the worker's send raised): ann's
    SENT is recorded before the attempt gives up, so the retry pages bob and cy only."""
    sent: list[str] = []
    send = breaks_once("bob", sent=sent)
    config = team(tmp_path, *(person(p, f"json://127.0.0.1:9/{p}") for p in ("ann", "bob", "cy")))
    acts = NotifyActivities(engine, oncall=lambda: config, send=send, retry_delay=0.01)
    n = notification()
    with commits(engine) as first, pytest.raises(RuntimeError):
        run(acts, n)
    by_person = {r.person: r for r in records.deliveries(engine, incident_id=n.incident_id)}
    assert {p: r.status for p, r in by_person.items()} == {"ann": "SENT", "bob": "PENDING", "cy": "PENDING"}
    assert [c.status for c in records.communications(engine, incident_id=n.incident_id)] == ["PENDING"]
    assert len(first) == 2  # the claim, and ann's result written before bob was paged

    with commits(engine) as retry:
        res = run(acts, n)  # Temporal's retry
    assert sent == [f"{n.key}:ann:0", f"{n.key}:bob:0", f"{n.key}:cy:0"]  # each exactly once
    assert len(retry) == 3  # the claim, bob before cy is paged, cy with the outcome
    assert res.status == "SENT" and sorted(res.recipients) == ["ann", "bob", "cy"]
    assert [d.get("duplicate", False) for d in res.deliveries] == [True, False, False]
    rows = {r.person: r for r in records.deliveries(engine, incident_id=n.incident_id)}
    assert {p: (r.status, r.attempts) for p, r in rows.items()} == {
        "ann": ("SENT", 1), "bob": ("SENT", 2), "cy": ("SENT", 2)}
    [comm] = records.communications(engine, incident_id=n.incident_id)
    assert (comm.status, comm.attempts) == ("SENT", 2)


def test_falling_back_to_a_next_contact_point_costs_one_transaction_per_round(engine, tmp_path):
    """Every person's first contact point is tried before anyone's second: two dead first
    contact points cost one more transaction (their failures and both backups claimed), not two;
    ann's backup reached is recorded before bob's is tried."""
    with Receiver(always_fail=True) as dead, Receiver() as rx:
        config = team(tmp_path,
                      person("ann", f"json://{dead.netloc}/ann", f"json://{rx.netloc}/ann-backup"),
                      person("bob", f"json://{dead.netloc}/bob", f"json://{rx.netloc}/bob-backup"),
                      person("cy", f"json://{rx.netloc}/cy"))
        acts = NotifyActivities(engine, oncall=lambda: config, retry_delay=0.01)
        n = notification()
        with commits(engine) as seen:
            res = run(acts, n)
    assert len(seen) == 4
    assert sorted(r.path for r in rx.delivered) == ["/ann-backup", "/bob-backup", "/cy"]
    assert sorted(r.path for r in dead.requests) == ["/ann"] * 3 + ["/bob"] * 3  # three tries each
    assert res.status == "SENT" and sorted(res.recipients) == ["ann", "bob", "cy"]
    # the result lists each person's tries together, in the order they were made
    assert [(d["person"], d["status"]) for d in res.deliveries] == [
        ("ann", "FAILED"), ("ann", "SENT"), ("bob", "FAILED"), ("bob", "SENT"), ("cy", "SENT")]
    rows = records.deliveries(engine, incident_id=n.incident_id)
    assert sorted((r.key.removeprefix(n.key + ":"), r.status) for r in rows) == [
        ("ann:0", "FAILED"), ("ann:1", "SENT"), ("bob:0", "FAILED"), ("bob:1", "SENT"), ("cy:0", "SENT")]
    assert all("500" in r.error for r in rows if r.status == "FAILED")


def test_a_page_nobody_takes_is_failed_in_the_records(engine, tmp_path):
    with Receiver(always_fail=True) as dead:
        config = team(tmp_path, person("ann", f"json://{dead.netloc}/ann"), person("bob", f"json://{dead.netloc}/bob"))
        acts = NotifyActivities(engine, oncall=lambda: config, retry_delay=0.01)
        n = notification()
        with commits(engine) as seen:
            res = run(acts, n)
    assert len(seen) == 2  # no contact point left to fall back to: no round more
    assert res.status == "FAILED" and res.recipients == []
    assert "ann (webhook)" in res.error and "bob (webhook)" in res.error and "500" in res.error
    [comm] = records.communications(engine, incident_id=n.incident_id)
    assert (comm.status, comm.recipients, comm.sent_at) == ("FAILED", [], None) and "500" in comm.error
    assert sorted((r.person, r.status) for r in records.deliveries(engine, incident_id=n.incident_id)) == [
        ("ann", "FAILED"), ("bob", "FAILED")]


def test_a_page_goes_out_when_the_records_do_not_answer(engine, tmp_path, monkeypatch):
    def unreachable(*_: Any, **__: Any) -> Any:
        raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))

    for name in ("claim_page", "next_contacts", "finish_page"):
        monkeypatch.setattr(records, name, unreachable)
    with Receiver() as rx:
        config = team(tmp_path, *(person(p, f"json://{rx.netloc}/{p}") for p in ("ann", "bob")))
        acts = NotifyActivities(engine, oncall=lambda: config, retry_delay=0.01)
        n = notification()
        res = run(acts, n)
    assert res.status == "SENT" and sorted(res.recipients) == ["ann", "bob"]
    assert delivered(rx) == [("/ann", f"{n.key}:ann:0"), ("/bob", f"{n.key}:bob:0")]
    # nothing recorded: the timeline's notification.sent writes the communication later
    assert records.deliveries(engine, incident_id=n.incident_id) == []
