"""The chaos harness, short: two rounds of random incidents on a whole stack (dev server, two
workers, the API, SQLite records, a loopback receiver), a worker SIGKILLed in the first round
and the Temporal server in the second (the harness takes each kind in turn), plus whatever the
seed adds. What a person would see must hold: every accepted incident in Temporal and in the
records, every page that the timeline says went out received, none sent under a key no page
accounts for, no event recorded twice, no timer lost, early or late (docs/chaos.md).

`scripts/chaos --rounds 20` is the long run (benchmarks/results.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from warroom.chaos.check import MUST_BE_ZERO

pytestmark = pytest.mark.devserver

REPO = Path(__file__).resolve().parents[2]
WHOLE_RUN = 600  # seconds; about 90 on a loaded 2-core machine


def test_two_chaos_rounds_lose_nothing(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    proc = subprocess.run(
        [sys.executable, "-m", "warroom.chaos", "--rounds", "2", "--seed", "14", "--records", "sqlite",
         "--drive-seconds", "12", "--workdir", str(tmp_path / "run"), "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=WHOLE_RUN)
    report = f"{proc.stdout}\n{proc.stderr[-3000:]}"
    assert out.exists(), report
    total = json.loads(out.read_text())["sqlite"]["total"]
    kills = json.loads(out.read_text())["sqlite"]["kills"]
    assert {name: total[name] for name in MUST_BE_ZERO} == dict.fromkeys(MUST_BE_ZERO, 0), report
    assert proc.returncode == 0, report
    # It did something worth checking: incidents in all three places, pages, timers, kills.
    assert total["accepted"] >= 6 and total["accepted"] == total["in_temporal"] == total["in_records"], report
    assert total["pages_expected"] > 0 and total["delivered_once"] + total["repeated_same_key"] > 0, report
    assert total["timers"] > 0, report
    assert kills.get("worker", 0) >= 1 and kills.get("temporal", 0) >= 1, report
