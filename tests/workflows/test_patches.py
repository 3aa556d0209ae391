"""workflows/patches.py is the one table of patch ids: every `workflow.patched` goes through it,
and its history column says exactly which committed histories were recorded with each patch."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from workflows.patches import ALL, GENERATION, GENERATION_PATCHES, LATER, PATCHES

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = sorted((ROOT / "tests" / "replay" / "histories").glob("*.json"))


def _markers(path: Path) -> list[str]:
    ids = []
    for e in json.loads(path.read_text())["events"]:
        m = e.get("markerRecordedEventAttributes")
        if m and m.get("markerName") == "core_patch":
            ids.append(json.loads(base64.b64decode(m["details"]["patch-data"]["payloads"][0]["data"]))["id"])
    return ids


def test_ids_are_unique() -> None:
    assert len({p.id for p in ALL}) == len(ALL)


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_the_history_column_is_true(path: Path) -> None:
    markers = _markers(path)
    if GENERATION.id in markers:
        # a run of the generation records its marker alone, then LATER's; it took every patch
        # of PATCHES and GENERATION_PATCHES, and the history column says so
        assert markers == [GENERATION.id, *(p.id for p in LATER if path.stem in p.histories)]
        assert all(path.stem in p.histories for p in GENERATION_PATCHES)
        return
    assert set(markers) == {p.id for p in (*PATCHES, *LATER) if path.stem in p.histories}
    assert not any(path.stem in p.histories for p in GENERATION_PATCHES)
    # markers are recorded in the order the table asks them
    order = [p.id for p in (*PATCHES, *LATER)]
    assert markers == sorted(markers, key=order.index)


def test_every_named_history_exists() -> None:
    stems = {p.stem for p in HISTORIES}
    for p in ALL:
        assert set(p.histories) <= stems, p.id


def test_only_the_table_asks_workflow_patched() -> None:
    for src in (ROOT / "workflows").glob("*.py"):
        if src.name == "patches.py":
            continue
        text = src.read_text()
        assert not re.search(r"\bpatched\(\s*['\"]", text), f"{src.name} asks a patch by its id string"
        assert "workflow.patched" not in text and "deprecate_patch" not in text, src.name
