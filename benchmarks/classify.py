"""What classification costs: loading the keyword lists (the worker, once at start) and
classifying one alert (the assess activity, once per incident). No Temporal.

Room: benchmarks. Prints min / median / max of --runs runs of each, on the shipped lists
(or --file). docs/classification.md cites the figures.

    .venv/bin/python benchmarks/classify.py [--runs 5] [--file warroom/classification.yaml]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from warroom.classify import classify_category
from warroom.keywords import validate_text
from warroom.settings import Settings
from workflows.contracts import AlertInfo

TITLES = [
    "Database down", "数据库宕机", "Login slow", "权限系统宕机", "Memory leak in checkout workers",
    "Service slowly recovering after outage", "订单数据丢失", "Third-party payment API slow",
    "[P2] [Triggered] Unauthorized access to API keep-api", "CPU throttling", "KubePodCrashLooping",
    "DISK at 99% on machine prod-datapipe03.example.com",
]
DESCRIPTION = ("27% throttling of CPU in namespace monitoring for container config-reloader in pod "
               "alertmanager-ot-mon-prometheus-operator-alertmanager-0. See https://runbooks.example/cpu")


def timed(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--file", type=Path, default=Settings().classification_file)
    args = parser.parse_args()
    text = args.file.read_text(encoding="utf-8")
    keywords = validate_text(text, file=str(args.file))[0]
    assert keywords is not None, "the lists are invalid: run `warroom classification validate`"
    alerts = [AlertInfo(title=t, description=DESCRIPTION if i % 2 else "", labels={"alertname": "SomethingHappened"})
              for i, t in enumerate(TITLES)]
    load, per_alert = [], []
    for _ in range(args.runs):
        load.append(timed(lambda: validate_text(text, file=str(args.file)), 20))
        per_alert.append(timed(lambda: [classify_category(a, keywords) for a in alerts], 200) / len(alerts))
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"lists: {args.file.name} ({keywords.version_label}), {len(keywords.terms)} word sequences")
    print("| what | runs | min | median | max |\n|---|---|---|---|---|")
    for name, values, unit, scale in (("load and validate the lists", load, "ms", 1e3),
                                      ("classify one alert (title, description, alertname)", per_alert, "µs", 1e6)):
        print(f"| {name} | {len(values)} | {min(values) * scale:.1f} {unit} | "
              f"{statistics.median(values) * scale:.1f} {unit} | {max(values) * scale:.1f} {unit} |")


if __name__ == "__main__":
    main()
