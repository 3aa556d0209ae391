"""Replay the committed histories (tests/replay/histories/) against the current workflow code.

A failure here means a change altered what running incidents do: put it behind
workflow.patched(...) instead of re-recording (STYLE.md 7).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.heartbeat import Heartbeat
from workflows.incident import IncidentResponse
from workflows.maintenance import MaintenanceWindow
from workflows.ticket import Ticket

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_representative_histories():
    names = {p.name for p in HISTORIES}
    assert len(names) >= 3
    assert {"p0-login-outage.json", "ticket-upgraded.json", "ticket-upgraded.run2.json",
            "p1-engineer-actions-cold-worker.json", "heartbeat-miss-recover.json"} <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_on_current_code(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await Replayer(workflows=[IncidentResponse, Ticket, MaintenanceWindow, Heartbeat]).replay_workflow(
        history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
