"""The knowledge base: a reviewed incident becomes a known issue (symptoms, root cause, how it
was fixed); the next incident of the same category and service gets it in its assessment, is
routed to the on-duty engineer when it is a P1 (SPEC 3), and counts toward the issue's use and
success rate once resolved."""

from __future__ import annotations

import uuid

from tests.helpers import advance_to, events, final_state, get_state, running_worker, start, until
from warroom import records
from warroom import client as temporal


async def _known(engine, incident_id: str) -> list:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    def learnt() -> list:  # written by the records flusher a moment after the review
        with Session(engine) as s:
            return list(s.scalars(select(records.KnownIssueRow)
                                  .where(records.KnownIssueRow.source_incident == incident_id)).all())

    return await until(learnt, f"the known issue learnt from {incident_id}")


async def _resolved_with_review(env, client, task_queue, service: str, resolution: str):
    h = await start(client, task_queue, priority="P1", service=service, title="Billing API down")
    await temporal.act(client, h.id, "acknowledge", {"by": "alice"})
    await advance_to(env, h, 10)
    await temporal.act(client, h.id, "resolve", {"by": "alice", "resolution": resolution})
    await advance_to(env, h, 12)
    await temporal.act(client, h.id, "submit_review", {"by": "alice", "root_cause": "worker pool leak",
                                                   "action_items": ["fix the leak"]})
    return await final_state(client, h)


async def test_a_reviewed_incident_teaches_the_next_one(env, engine, task_queue):
    service = f"billing-{uuid.uuid4().hex[:6]}"
    async with running_worker(env.client, task_queue, engine):
        first = await _resolved_with_review(env, env.client, task_queue, service, "restarted billing workers")
        [issue] = await _known(engine, first.incident_id)
        assert (issue.category, issue.service, issue.symptoms) == ("SYSTEM_UNAVAILABLE", service, "Billing API down")
        assert issue.root_cause == "worker pool leak" and issue.fix_steps == ["restarted billing workers"]

        h = await start(env.client, task_queue, priority="P1", service=service, title="Billing API down again")
        await advance_to(env, h, 1)
        second = await get_state(h)
        [known] = second.known_issues
        assert known["root_cause"] == "worker pool leak" and known["fix_steps"] == ["restarted billing workers"]
        assert known["source_incident"] == first.incident_id and known["times_used"] == 0
        assessed = [e for e in events(second, "phase.completed") if e.details["phase"] == "assess"][0]
        assert assessed.details["route_to"] == "on_duty" and assessed.details["known_issues"] == 1
        # a known P1 is not a war-room case (SPEC 3: unknown issues and escalations are)
        assert second.war_room is None
        await temporal.act(env.client, h.id, "acknowledge", {"by": "bob"})
        await temporal.act(env.client, h.id, "resolve", {"by": "bob", "resolution": "restarted billing workers"})
        await advance_to(env, h, 3)

        third = await start(env.client, task_queue, priority="P1", service=service, title="Billing API down")
        await advance_to(env, third, 1)

        async def offered_issue() -> list:
            return [k for k in (await get_state(third)).known_issues if k["source_incident"] == first.incident_id]

        offered = await until(offered_issue, "the known issue offered to the third incident")
    assert offered[0]["times_used"] == 1 and offered[0]["success_rate"] == 1.0


async def test_another_service_or_category_learns_nothing(env, engine, task_queue):
    service = f"search-{uuid.uuid4().hex[:6]}"
    async with running_worker(env.client, task_queue, engine):
        first = await _resolved_with_review(env, env.client, task_queue, service, "reindexed")
        assert await _known(engine, first.incident_id)
        h = await start(env.client, task_queue, priority="P1", service=f"{service}-other", title="Billing API down")
        await advance_to(env, h, 1)
        s = await get_state(h)
    assert s.known_issues == []
    assessed = [e for e in events(s, "phase.completed") if e.details["phase"] == "assess"][0]
    assert assessed.details["route_to"] == "senior"
