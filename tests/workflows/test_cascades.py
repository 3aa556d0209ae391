"""Cascades (issue 15, SPEC 3 "cascading failures"; docs/upgrades.md) on the time-skipping
server: incidents on services that depend on each other, or several P0/P1 opened within the
window, are linked; the parent (the earliest) is raised to P0 with the reason on its timeline,
and each child shows its parent. Each test keeps its own records database: the window counts
every open incident recorded, and the tests' shared database holds other tests' open ones."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import events, get_state, running_worker, start, until
from warroom import records
from workflows.contracts import RunbookSpec

QUIET = RunbookSpec(name="no-actions", version="1")  # nothing to run: the cascade is the subject


def upgrades_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "upgrades.yaml"
    path.write_text("version: test\n" + text)
    return path


def upgrade_pages(state) -> list[str]:
    return [e.details["target"] for e in events(state, "notification.sent")
            if "upgraded from P1" in e.details["subject"]]


# A cascade is several workflow tasks and activities in a row (the child's records write, its
# find_related, a signal, the parent's task, its pages): room for a loaded 2-core machine.
LINKED = 90.0


async def recorded(engine, handle) -> None:
    """The incident's row is in the records (what a later incident's find_related reads)."""
    await until(lambda: records.incident(engine, incident_id=handle.id), f"{handle.id} recorded", timeout=LINKED)


async def test_an_incident_on_a_service_that_depends_on_another_is_its_child(env, own_records, task_queue,
                                                                             tmp_path):
    deps = upgrades_file(tmp_path, "cascade:\n  incidents: 0\n  dependencies:\n    checkout: [payments]\n")
    async with running_worker(env.client, task_queue, own_records, upgrades_file=deps):
        payments = await start(env.client, task_queue, runbook=QUIET, priority="P1", service="payments",
                               title="Payments API timeouts")
        await recorded(own_records, payments)
        checkout = await start(env.client, task_queue, runbook=QUIET, priority="P2", service="checkout",
                               title="Checkout slow")
        child = await until(lambda: get_state(checkout), "checkout linked to its parent",
                            ok=lambda s: s.parent_incident is not None, timeout=LINKED)
        parent = await until(lambda: get_state(payments), "payments raised to P0 and its stakeholders told",
                             ok=lambda s: s.priority == "P0" and len(upgrade_pages(s)) >= 3, timeout=LINKED)
        await until(lambda: records.incident(own_records, incident_id=checkout.id), "the child's parent recorded",
                    ok=lambda row: row is not None and row.parent_incident == payments.id, timeout=LINKED)
    assert child.parent_incident == payments.id
    [linked] = events(child, "cascade.linked")
    assert linked.details == {"parent": payments.id, "reason": "checkout depends on payments"}
    assert parent.children == [checkout.id]
    [change] = [e for e in events(parent, "priority.changed") if e.details.get("automatic")]
    assert change.actor == "system" and change.details["triggers"] == ["cascade"]
    assert change.details["reason"] == f"cascading failure: {checkout.id} (checkout depends on payments)"
    # the child keeps its own priority; the parent's stakeholders hear of the upgrade
    assert child.priority == "P2"
    assert set(upgrade_pages(parent)) == {"oncall:L1", "technical_manager", "customer_success_manager"}


async def test_three_p1s_within_the_window_are_one_cascade_under_the_first(env, own_records, task_queue, tmp_path):
    window = upgrades_file(tmp_path, "cascade:\n  window: 15m\n  incidents: 3\n")
    async with running_worker(env.client, task_queue, own_records, upgrades_file=window):
        first = await start(env.client, task_queue, runbook=QUIET, priority="P1", service="search", title="Search errors")
        await recorded(own_records, first)
        second = await start(env.client, task_queue, runbook=QUIET, priority="P1", service="images", title="Image uploads fail")
        await recorded(own_records, second)
        third = await start(env.client, task_queue, runbook=QUIET, priority="P1", service="email", title="Mail queue stuck")
        s1 = await until(lambda: get_state(first), "the first raised to P0 with two children",
                         ok=lambda s: s.priority == "P0" and len(s.children) == 2, timeout=LINKED)
        s2 = await until(lambda: get_state(second), "the second linked", ok=lambda s: s.parent_incident, timeout=LINKED)
        s3 = await until(lambda: get_state(third), "the third linked", ok=lambda s: s.parent_incident, timeout=LINKED)
    assert (s2.parent_incident, s3.parent_incident) == (first.id, first.id)
    # two were not a cascade: the links came with the third
    assert all(e.at >= s3.created_at for e in events(s1, "cascade.child") + events(s2, "cascade.linked"))
    assert sorted(s1.children) == sorted([second.id, third.id])
    assert {e.details["reason"] for e in events(s1, "cascade.child")} == {"3 P0/P1 incidents opened within 15 min"}
    assert [e.details["triggers"] for e in events(s1, "priority.changed")] == [["cascade"]]  # raised once
    assert s2.priority == s3.priority == "P1"
