"""`scripts/chaos [--rounds N] [--seed S] [--records sqlite|postgresql|both]`: start a whole
stack, run the rounds, print a table per round and in total, exit 1 when a figure that must be
0 is not (docs/chaos.md).

Room: shared library (warroom/chaos), the harness's entry point (`python -m warroom.chaos`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from warroom.chaos.check import MUST_BE_ZERO, Checker, Figures, failures
from warroom.chaos.drive import Driver
from warroom.chaos.receiver import Receiver
from warroom.chaos.stack import Stack

COLUMNS = [  # (figure, header)
    ("kills", "kills"), ("accepted", "accepted"), ("in_temporal", "in Temporal"), ("in_records", "in records"),
    ("not_closed", "not closed"), ("state_mismatch", "state ≠ events"), ("actions_lost", "actions lost"), ("pages_expected", "pages expected"),
    ("delivered_once", "delivered once"), ("repeated_same_key", "same-key repeats"),
    ("repeat_gap", "repeat after s"),
    ("repeated_other_key", "other-key repeats"), ("missing", "missing"), ("pages_failed", "failed"), ("timeline_doubles", "events twice"),
    ("records_behind", "records behind"), ("timers", "timers"), ("timers_not_fired", "due, not fired"),
    ("timers_early", "early"), ("timers_late", "late"), ("max_late", "max late s"),
    ("not_replayable", "not replayable"),
]


def row(label: str, f: Figures) -> str:
    cells = [label] + [f"{getattr(f, k):.1f}" if k in ("max_late", "repeat_gap") else str(getattr(f, k))
                       for k, _ in COLUMNS]
    return "| " + " | ".join(cells) + " |"


def header(title: str) -> str:
    return "| " + " | ".join([title] + [h for _, h in COLUMNS]) + " |\n|" + "---|" * (len(COLUMNS) + 1)


async def run(records: str, rounds: int, seed: int, workers: int, drive_seconds: float, workdir: Path,
              out: Any = sys.stdout) -> tuple[Figures, list[Figures], dict[str, int]]:
    receiver = Receiver().start()
    stack = Stack(workdir / records, records, workers, receiver.netloc)
    rng = random.Random(f"{seed}-{records}")
    total, per_round = Figures(), []
    kinds: dict[str, int] = {}
    driver = None
    engine = None
    try:
        print(f"== chaos on {records}: {rounds} rounds, seed {seed}, {workers} workers, in {stack.workdir}",
              file=out, flush=True)
        await stack.start()
        from warroom import records as rec

        engine = rec.make_engine(stack.database_url)
        driver = Driver(stack, rng, drive_seconds=drive_seconds, seed=seed)
        checker = Checker(await stack.client(), engine, stack.outages)
        print(header("round"), file=out, flush=True)
        for n in range(1, rounds + 1):
            log = await driver.round(n)
            for o in log.kills:
                kinds[o.component.split("-")[0]] = kinds.get(o.component.split("-")[0], 0) + 1
            f = await checker.round(log, receiver.deliveries())
            per_round.append(f)
            total.add(f)
            print(row(str(n), f), file=out, flush=True)
        print(row("total", total), file=out, flush=True)
        kills = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
        print(f"kills: {kills or 'none'}; deadlines overtaken by an action (deadline.missed): "
              f"{total.deadlines_missed}; pages failed: {total.pages_failed}", file=out, flush=True)
        for note in total.notes[:50]:
            print(f"  - {note}", file=out)
    finally:
        if driver is not None:
            await driver.close()
        if engine is not None:
            engine.dispose()
        await stack.stop()
        receiver.stop()
    return total, per_round, kinds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/chaos", description="Kill warroom's processes at random moments "
                                "while incidents run, and count what was lost (docs/chaos.md).")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    p.add_argument("--records", choices=["sqlite", "postgresql", "both"], default="sqlite")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--drive-seconds", type=float, default=20.0,
                   help="how long each round sends alerts and actions and kills things (then it closes them)")
    p.add_argument("--workdir", type=Path, default=None, help="keep the logs here (default: a temporary directory)")
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    a = p.parse_args(argv)
    if a.rounds < 1 or a.workers < 1 or a.drive_seconds < 2:
        p.error("--rounds and --workers must be at least 1, --drive-seconds at least 2")
    seed = a.seed if a.seed is not None else random.randrange(10**6)
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="warroom-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)  # PostgreSQL runs as its own user when we are root
    results: dict[str, Any] = {"seed": seed, "rounds": a.rounds, "must_be_zero": list(MUST_BE_ZERO)}
    failed: list[str] = []
    started = time.monotonic()
    for records in (["sqlite", "postgresql"] if a.records == "both" else [a.records]):
        total, per_round, kinds = asyncio.run(run(records, a.rounds, seed, a.workers, a.drive_seconds, workdir))
        results[records] = {"total": asdict(total), "rounds": [asdict(f) for f in per_round], "kills": kinds}
        failed += [f"{records}: {name} = {getattr(total, name)}" for name in failures(total)]
    results["seconds"] = round(time.monotonic() - started, 1)
    if a.json:
        a.json.write_text(json.dumps(results, indent=2))
    if failed:
        print("FAIL: must be 0: " + "; ".join(failed), file=sys.stderr)
        return 1
    print(f"OK: every must-be-0 figure is 0 ({results['seconds']:.0f}s, seed {seed})")
    if a.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
