"""record_events (activities/store.py) when the records refuse a write for its data: it can never
succeed, so it fails at once and for good, with a short message; the workflow says so on its
timeline (`records.failed`) and in the logs, goes on writing its later events, and closes
after resolve and review (issue 14: before, the write was retried for ever and the incident never
finished). Same on SQLite and PostgreSQL: the text below is refused by both (a lone surrogate,
which no UTF-8 database can store; the API's door turns it into U+FFFD, api/body.py, so only a
caller that starts workflows itself can bring it here)."""

from __future__ import annotations

import logging

from tests.helpers import advance_to, assert_replays, events, final_state, running_worker, start, types, until
from warroom import client as temporal
from warroom import records


async def test_a_write_the_records_refuse_is_reported_and_the_incident_still_closes(env, engine, task_queue,
                                                                                      caplog):
    caplog.set_level(logging.ERROR, logger="warroom.records")
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1", description="half a pair: \ud800 here")
        await advance_to(env, h, 2)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        await temporal.act(env.client, h.id, "resolve", {"by": "alice", "resolution": "restarted"})
        await advance_to(env, h, 10)
        await temporal.act(env.client, h.id, "submit_review", {"by": "alice", "root_cause": "bad text"})
        final = await final_state(env.client, h)
        await assert_replays(env.client, h)

    assert final.status == "closed" and types(final)[-1] == "closed"
    [failed] = events(final, "records.failed")
    assert failed.details["first_seq"] == 1  # the batch with the triggered event (the description)
    error = failed.details["error"]
    assert "surrogates not allowed" in error and len(error) <= 300, error
    # the later events were written: the incident is in the records, closed
    row = await until(lambda: records.incident(engine, incident_id=final.incident_id), "the incident recorded",
                      ok=lambda r: r is not None and r.status == "closed")
    assert row.description == ""
    recorded = [t.type for t in records.timeline(engine, incident_id=final.incident_id)]
    assert "triggered" not in recorded and "closed" in recorded and "records.failed" not in recorded
    logged = [r.getMessage() for r in caplog.records if r.name == "warroom.records"]
    assert any("refused the events of" in m and "surrogates not allowed" in m for m in logged), logged
