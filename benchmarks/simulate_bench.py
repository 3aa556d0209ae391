"""Benchmark: wall time of `warroom simulate` beside bare Temporal on the same test server.

    .venv/bin/python benchmarks/simulate_bench.py [--runs 7] [--write]

Each run is a whole process as a user runs it (interpreter start, imports, time-skipping
server start, worker, the incident, output). In the same run, interleaved with it, the
bare-Temporal counterpart benchmarks/simulate_baseline.py: the same server binary, one worker,
one workflow with one activity and a 6-virtual-hour timer. Prints min/median/max per command,
the ratio warroom / bare of the medians, the machine and its load average before and after.
--write replaces the "warroom simulate" section of benchmarks/results.md (and nothing else).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results.md"
BIN = Path(sys.executable).parent
BARE = "bare Temporal (benchmarks/simulate_baseline.py)"
# (label, virtual span, command); the first is the goal (< 1 s), set against BARE.
COMMANDS = [
    (BARE, "6 h", [sys.executable, "benchmarks/simulate_baseline.py"]),
    ("warroom simulate runbooks/scenarios/p1-checkout-6h.yaml --json", "6 h",
     [str(BIN / "warroom"), "simulate", "runbooks/scenarios/p1-checkout-6h.yaml", "--json"]),
    ("warroom simulate runbooks/scenarios/p0-login-outage.yaml --json", "26 h (to closed review)",
     [str(BIN / "warroom"), "simulate", "runbooks/scenarios/p0-login-outage.yaml", "--json"]),
    ("warroom simulate runbooks/scenarios/ --json (8 scenarios, one server)", "8 incidents, 6-30 h each",
     [str(BIN / "warroom"), "simulate", "runbooks/scenarios/", "--json"]),
    ("warroom --help", "-", [str(BIN / "warroom"), "--help"]),
    ("python -c 'import warroom.cli.main'", "-", [sys.executable, "-c", "import warroom.cli.main"]),
]


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--write", action="store_true", help="replace the section in benchmarks/results.md")
    args = ap.parse_args()
    machine = f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    before = load()
    times: dict[str, list[float]] = {label: [] for label, _, _ in COMMANDS}
    failed: dict[str, list[int]] = {label: [] for label, _, _ in COMMANDS}
    for _ in range(args.runs):  # interleaved: a change of load hits every command alike
        for label, _, cmd in COMMANDS:
            t0 = time.perf_counter()
            code = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            if code:  # counted apart, never timed: a crash is not a fast run
                failed[label].append(code)
            else:
                times[label].append(time.perf_counter() - t0)
    after = load()
    bare = statistics.median(times[BARE])
    lines = [f"    machine: {machine}", f"    load average (1/5/15 min): before {before}, after {after}", "",
             "| command | virtual span | runs | min s | median s | max s | median / bare |",
             "|---|---|---|---|---|---|---|"]
    for label, span, _ in COMMANDS:
        t = times[label] or [float("nan")]
        ratio = "1" if label == BARE else f"{statistics.median(t) / bare:.2f}×" if span == "6 h" else "-"
        lines.append(f"| {label} | {span} | {len(t)} | {min(t):.2f} | {statistics.median(t):.2f} | {max(t):.2f} "
                     f"| {ratio} |" + (f" {len(failed[label])} run(s) failed: exit {failed[label]}" if failed[label] else ""))
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section(table, args.runs)


def write_section(table: str, runs: int) -> None:
    """Replace the `## warroom simulate` section of results.md (up to the next `## `) only."""
    text = RESULTS.read_text(encoding="utf-8")
    head = f"## warroom simulate ({dt.date.today().isoformat()})"
    intro = SECTION_INTRO.format(runs=runs)
    body = f"{head}\n\n{intro}\n{table}\n\n{SECTION_NOTES.strip()}\n\n"
    pattern = re.compile(r"^## warroom simulate.*?(?=^## |\Z)", re.S | re.M)
    new, n = pattern.subn(lambda _: body, text, count=1)
    if not n:
        new = text.rstrip("\n") + "\n\n" + body
    RESULTS.write_text(new, encoding="utf-8")
    print(f"wrote the section to {RESULTS}")


SECTION_INTRO = """\
Command: `.venv/bin/python benchmarks/simulate_bench.py --runs {runs} --write`. Each run is a whole
process: interpreter start and imports, time-skipping test server start, worker, the incident
with its real activities (records in a throw-away SQLite file), output. The bare counterpart
(`benchmarks/simulate_baseline.py`) starts the same server binary, one worker and one workflow
with one activity and a 6-virtual-hour timer. Commands are interleaved run by run.
"""

SECTION_NOTES = """\
Where the 6-hour scenario's time goes and what remains: see docs/simulate.md (profile,
what is left to reach < 1 s).
"""

if __name__ == "__main__":
    main()
