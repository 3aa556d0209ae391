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
SCENARIOS = len(list((REPO / "runbooks" / "scenarios").glob("*.yaml")))
# (label, virtual span, command); the first is the goal (< 1 s), set against BARE.
COMMANDS = [
    (BARE, "6 h", [sys.executable, "benchmarks/simulate_baseline.py"]),
    ("warroom simulate runbooks/scenarios/p1-checkout-6h.yaml --json", "6 h",
     [str(BIN / "warroom"), "simulate", "runbooks/scenarios/p1-checkout-6h.yaml", "--json"]),
    ("warroom simulate runbooks/scenarios/p0-login-outage.yaml --json", "26 h (to closed review)",
     [str(BIN / "warroom"), "simulate", "runbooks/scenarios/p0-login-outage.yaml", "--json"]),
    (f"warroom simulate runbooks/scenarios/ --json ({SCENARIOS} scenarios, one server)",
     f"{SCENARIOS} incidents, 1-30 h each",
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
Goal (issue 13): the 6-hour scenario, whole process, under 1 s on an idle machine. **Not met.**
This machine was not idle (load above); read ratios rather than seconds. What the run is made
of (profiles of `warroom simulate runbooks/scenarios/p1-checkout-6h.yaml`, same machine, load 5-8):

- **Imports, ~0.9 s** (bare: temporalio alone, ~0.45 s). `warroom --help` no longer pays them
  (0.2 s: no FastAPI, Apprise, SQLAlchemy, pydantic, httpx; it was 1.4 s). A rehearsal needs
  temporalio (client, worker, testing), SQLAlchemy and the records models (~0.35 s: the
  activities import them at module level, and the rehearsal records to a throw-away SQLite),
  jsonschema (the runbook and on-call schemas, ~0.1 s), pydantic-settings (~0.1 s) and httpx
  (the war-room providers, ~0.1 s). Apprise is no longer loaded (pages in a rehearsal go to no
  channel; it loads only when an on-call file has contact URLs to mask).
- **Server start, 0.12 s**: now hidden, the test server boots while the worker and records
  import; the throw-away records file gets `create_all` (0.03 s) instead of the Alembic
  migrations (0.2 s).
- **The incident itself, 1.6-2.9 s**: 108-115 pages, 43 `record_events`, ~120 workflow
  activations in 6 virtual hours. Activity CPU ~1.3 s, of which records calls ~1.15 s (87 %:
  `claim_communication` ~4.5 ms a page, `record_events` 5-10 ms each). Bare Temporal doing the
  same shape (96 one-line activities in 24 rounds of a 15-minute timer, same server) takes
  0.65-0.8 s. What remains is warroom's work per page and per event (records, rendering) and
  the number of activities per incident: the issue's other items (fewer records transactions,
  batched timeline writes, fewer workflow tasks), not the simulator.

Same run, the same 6-hour command before the issue-13 work (commit c391ae3, extracted to
/tmp) and now, 5 runs interleaved, load 6-8: before median 8.9 s (7.8-12.0), now 7.2 s
(5.2-9.2); bare 1.2-1.7 s. (Other engineers' issue-13 commits are in "now" too.)

Many scenarios: `warroom simulate runbooks/scenarios/` runs all 8 on one server and one
worker (was: 8 processes, 8 servers). An incident a scenario leaves open (fixed `until:`)
keeps paging on the shared worker while later scenarios skip time (it can be neither
terminated nor cancelled on the test server without locking its clock, sdk-java#1138 and
#3088, and a task queue nobody polls stops the clock too), so those scenarios run last:
with p1-checkout-6h in the middle, the two after it took 15 s each instead of ~1.2 s.
"""

if __name__ == "__main__":
    main()
