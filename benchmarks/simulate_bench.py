"""Benchmark: wall time of `warroom simulate` on the shipped scenarios.

    .venv/bin/python benchmarks/simulate_bench.py [--runs 5]

Each run is the whole command as a user runs it (a fresh process: time-skipping server
start, worker, incident, timeline). Results go to benchmarks/results.md by hand.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = ["runbooks/scenarios/p1-checkout-6h.yaml", "runbooks/scenarios/p0-login-outage.yaml"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    warroom = str(Path(sys.executable).parent / "warroom")
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| scenario | virtual span | runs | median s | min s | max s |")
    print("|---|---|---|---|---|---|")
    for sc in SCENARIOS:
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run([warroom, "simulate", sc, "--json"], cwd=REPO, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - t0)
        span = "6 h" if "6h" in sc else "26 h (to closed review)"
        print(f"| {sc} | {span} | {args.runs} | {statistics.median(times):.2f} | {min(times):.2f} | "
              f"{max(times):.2f} |")


if __name__ == "__main__":
    main()
