"""record_events writes a batch of timeline events in one transaction with a few statements,
whatever its size, updates the incident row once, and writes nothing twice when retried."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from warroom import records


@contextlib.contextmanager
def counted(engine: Engine) -> Iterator[dict[str, list[str]]]:
    """The transactions committed and the statements sent inside the block."""
    seen: dict[str, list[str]] = {"commits": [], "statements": []}

    def on_commit(_: Any) -> None:
        seen["commits"].append("commit")

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen["statements"].append(statement.split(None, 3)[:3][-1] if statement else "")

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "before_cursor_execute", on_statement)


T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _events(first: int, n: int, type_: str = "alert.received") -> list[dict[str, Any]]:
    return [{"seq": s, "at": T0 + timedelta(seconds=s), "type": type_, "actor": "alertmanager",
             "details": {"fingerprint": f"f{s}"}} for s in range(first, first + n)]


def _record(engine: Engine, iid: str, events: list[dict[str, Any]], **snap: Any) -> int:
    snapshot = {"incident_id": iid, "workflow": "IncidentResponse", "title": "Checkout is down", "priority": "P0",
                "status": "triggered", "phase": "respond", "created_at": T0, "alert_count": len(events), **snap}
    return records.record_events(engine, run_id=f"{iid}-run", incident_id=iid, snapshot=snapshot, events=events)


def test_a_batch_of_events_is_one_transaction_of_a_few_statements(engine):
    iid = f"incident-batch-{uuid.uuid4().hex[:8]}"
    with counted(engine) as small:
        assert _record(engine, iid, _events(1, 3)) == 3
    with counted(engine) as big:  # 2,500 alerts coalesced into one batch
        assert _record(engine, iid, _events(4, 2500), alert_count=2503) == 2500
    assert len(small["commits"]) == len(big["commits"]) == 1
    # the incident row once (an upsert, never read first), the timeline rows in one multi-row
    # INSERT per 1,000
    assert len(small["statements"]) == 2
    assert len(big["statements"]) == 1 + 3
    rows = records.timeline(engine, incident_id=iid)
    assert [r.seq for r in rows] == list(range(1, 2504)) and rows[-1].details == {"fingerprint": "f2503"}
    assert records.incident(engine, incident_id=iid).alert_count == 2503

    with counted(engine) as retried:  # the same batch again (the answer was lost): nothing new
        assert _record(engine, iid, _events(4, 2500), alert_count=2503) == 0
    assert len(retried["commits"]) == 1
    assert len(records.timeline(engine, incident_id=iid)) == 2503


def test_mitigated_at_follows_the_batches_without_reading_the_row(engine):
    """The first mitigation event sets it, a later one keeps it, a reopen clears it and the next
    mitigation after the reopen sets it again, within a batch as across batches."""
    iid = f"incident-mit-{uuid.uuid4().hex[:8]}"

    def mitigated() -> datetime | None:
        return records.incident(engine, incident_id=iid).mitigated_at

    _record(engine, iid, _events(1, 2))
    assert mitigated() is None
    _record(engine, iid, _events(3, 1, "alert.resolved") + _events(4, 1, "resolve.requested"))
    assert mitigated() == T0 + timedelta(seconds=3)
    _record(engine, iid, _events(5, 1, "resolved"))  # a later mitigation keeps the first
    assert mitigated() == T0 + timedelta(seconds=3)
    _record(engine, iid, _events(6, 1, "note.added"))  # nothing about it: unchanged
    assert mitigated() == T0 + timedelta(seconds=3)
    _record(engine, iid, _events(7, 1, "reopened"))
    assert mitigated() is None
    _record(engine, iid, _events(8, 1, "verification.passed") + _events(9, 1, "reopened")
            + _events(10, 1, "resolve.requested") + _events(11, 1, "resolved"))
    assert mitigated() == T0 + timedelta(seconds=10)
