"""Benchmark: every ingest figure of issue 13, warroom beside bare Temporal, in one run on one server.

Room: benchmarks. Runs each figure (benchmarks/ingest.py for warroom, benchmarks/temporal_baseline.py
for the bare engine) `--runs` times, the two sides alternating (bare first on even runs, warroom
first on odd ones) on the same dev server, prints min / median / max of each side, the ratio
warroom / bare (the median of the per-run ratios: each pair ran back to back, so it is the
figure that survives a noisy machine) and the issue's goal beside each; --write replaces this
records database's section of benchmarks/results.md (the other sections stay as they are).

    .venv/bin/python benchmarks/run_all.py [--quick] [--runs 3] [--figures a,b,c,d,f]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--db-file] [--write]

--quick is a smoke run (small N; its figures are not the issue's), about 10 minutes. A full run
(the issue's sizes, 3 runs) took 37 minutes on 2 cores on 2026-12-01 (SQLite records, after the
"Ingest:" rewrite): c about 16 (both sides need 2-3 minutes to work off a 30 s blast), d about 15
(1,000 P0/P1 incidents page in about 3 minutes), a, b and f 2-3 each.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import ingest
from benchmarks import temporal_baseline as bare

RESULTS = Path(__file__).resolve().parent / "results.md"
TITLE = "Ingest beside bare Temporal"  # this script's sections of results.md start with it
SUPERSEDED = ("Alert storm through the HTTP API",)  # the old storm section, replaced by this one


@dataclass
class Row:
    fig: str  # which runs it reads ("e" reads d's)
    label: str
    warroom: str  # key in the warroom result
    bare: str  # key in the bare result ("" = no bare counterpart)
    goal: str = ""
    # (warroom median, ratio median, warroom runs) -> met?; None: no goal of its own
    met: Callable[[float, float, list[dict[str, Any]]], bool] | None = None


def _no_errors(runs: list[dict[str, Any]]) -> bool:
    return all(r.get("errors", 0) == 0 for r in runs)


ROWS = [
    Row("a", "storm: wall s to the last 202", "wall_s", "wall_s",
        "< 10 s, zero non-202, exact counts, ≤ 1.5× bare",
        lambda w, q, runs: w < 10 and q <= 1.5 and _no_errors(runs) and all(r.get("exact") for r in runs)),
    Row("a", "storm: alerts/s", "rate", "rate"),
    Row("a", "storm: p50 ms to the 202", "p50_ms", "p50_ms"),
    Row("a", "storm: p99 ms to the 202", "p99_ms", "p99_ms"),
    Row("a", "storm: CPU ms per alert, API (to the last 202)", "api_cpu_ms_each", ""),
    Row("a", "storm: CPU ms per alert, server", "server_cpu_ms_each", "server_cpu_ms_each"),
    Row("a", "storm: non-202 answers (0 = a connection error)", "errors", "errors", "0",
        lambda w, q, runs: _no_errors(runs)),
    Row("b", "hot key: alerts/s", "rate", "rate", "≥ 500/s", lambda w, q, runs: w >= 500),
    Row("b", "hot key: non-202 answers", "errors", "errors", "0", lambda w, q, runs: _no_errors(runs)),
    Row("b", "hot key: p50 ms to the 202", "p50_ms", "p50_ms"),
    Row("b", "hot key: CPU ms per alert, API (to the last 202)", "api_cpu_ms_each", ""),
    Row("b", "hot key: CPU ms per alert, worker", "worker_cpu_ms_each", "worker_cpu_ms_each"),
    Row("b", "hot key: CPU ms per alert, server", "server_cpu_ms_each", "server_cpu_ms_each"),
    Row("b", "hot key: p99 ms to the 202", "p99_ms", "p99_ms", "≤ 250 ms", lambda w, q, runs: w <= 250),
    Row("c", "distinct keys: accepted/s (bare: starts/s)", "accepted_per_s", "starts_per_s", "≥ 60/s",
        lambda w, q, runs: w >= 60 and _no_errors(runs)),
    Row("c", "distinct keys: handled/s (bare: one-activity completions/s)", "handled_per_s", "completions_per_s",
        "≥ 0.5× bare", lambda w, q, runs: q >= 0.5),
    Row("c", "distinct keys: non-202 answers", "errors", "", "0", lambda w, q, runs: _no_errors(runs)),
    Row("c", "distinct keys: accepted in the blast", "accepted", "started"),
    Row("c", "distinct keys: handled within the blast", "handled_in_blast", "handled_in_blast"),
    Row("c", "distinct keys: s until the last handled", "catch_up_s", "catch_up_s"),
    Row("d", "burst: accepted/s (bare: starts/s)", "accepted_per_s", "accepted_per_s"),
    Row("d", "burst: non-202 answers", "errors", "", "0", lambda w, q, runs: _no_errors(runs)),
    Row("d", "burst: through notify/s (bare: one-activity completions/s)", "paged_per_s", "completions_per_s",
        "≥ 0.5× bare", lambda w, q, runs: q >= 0.5),
    Row("d", "burst: s until the last paged (bare: last activity ran)", "all_paged_s", "all_ran_s"),
    Row("d", "burst: CPU ms per incident, worker + server", "cpu_ms_each", "cpu_ms_each", "≤ 3× bare",
        lambda w, q, runs: q <= 3),
    Row("d", "burst: CPU ms per incident, worker", "worker_cpu_ms_each", "worker_cpu_ms_each"),
    Row("d", "burst: CPU ms per incident, server", "server_cpu_ms_each", "server_cpu_ms_each"),
    Row("d", "burst: CPU ms per incident, API (no bare counterpart)", "api_cpu_ms_each", ""),
    Row("e", "worker RSS KB per open incident", "rss_kb_each", "rss_kb_each", "≤ 150 KB",
        lambda w, q, runs: w <= 150),
    Row("e", "worker RSS MB, idle (after warm-up)", "rss_idle_mb", "rss_idle_mb"),
    Row("e", "worker RSS MB with the burst open", "rss_open_mb", "rss_open_mb", "≤ 300 MB with 1,000 open",
        lambda w, q, runs: w <= 300 and all(r.get("n") == 1000 for r in runs)),
    Row("f", "first page: p50 ms, POST -> page (bare: start -> activity)", "p50_ms", "p50_ms", "≤ 2× bare",
        lambda w, q, runs: q <= 2),
    Row("f", "first page: p99 ms", "p99_ms", "p99_ms", "≤ 3× bare", lambda w, q, runs: q <= 3),
]

FIGURES = {
    "a": "storm: {storm_alerts} alerts over {storm_problems} problems (P2 tickets; known distinct alerts + "
         "re-sends), {concurrency} senders; bare: signal-with-starts to a counting workflow",
    "b": "one hot dedup key: {hot_alerts} alerts, {concurrency} senders; bare: the same on one workflow id",
    "c": "new dedup keys (P2 tickets), {concurrency} senders for {distinct_seconds:g} s; handled = first page at "
         "the receiver (bare: one-activity workflows, their activity ran)",
    "d": "{burst} P0/P1 incidents posted at once ({concurrency} senders); bare: {burst} one-activity workflows "
         "started at once, open after their activity",
    "e": "worker RSS: the worker's VmRSS before (warmed up) and after figure d's burst, over its size",
    "f": "low load, one at a time, {latency_samples} samples: alert POST -> first page at the receiver; bare: "
         "start -> activity running",
}


def fmt(x: Any) -> str:
    if not isinstance(x, int | float):
        return str(x)
    if math.isnan(x):
        return "–"
    a = abs(x)
    return f"{x:.0f}" if a >= 100 or float(x).is_integer() else f"{x:.1f}" if a >= 10 else f"{x:.2f}"


def spread(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{fmt(min(values))} / **{fmt(statistics.median(values))}** / {fmt(max(values))}"


def summarize(results: dict[str, dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    out = []
    for row in ROWS:
        src = results.get("d" if row.fig == "e" else row.fig)
        if not src:
            continue
        wr = [r for r in src["warroom"] if "error" not in r]
        br = [r for r in src["bare"] if "error" not in r]
        w = [float(r[row.warroom]) for r in wr if row.warroom in r]
        b = [float(r[row.bare]) for r in br if row.bare and row.bare in r]
        if not w and not b:
            continue  # a figure this run did not measure (an older --json)
        pairs = [float(x[row.warroom]) / float(y[row.bare]) for x, y in zip(src["warroom"], src["bare"], strict=False)
                 if row.bare and "error" not in x and "error" not in y and float(y.get(row.bare) or 0)]
        ratio = statistics.median(pairs) if pairs else float("nan")
        met = ""
        if row.met is not None and w:
            met = "yes" if row.met(statistics.median(w), ratio, wr) else "no"
        failed = len(src["warroom"]) - len(wr)
        out.append({"fig": row.fig, "label": row.label, "warroom": spread(w), "bare": spread(b) if row.bare else "",
                    "ratio": ((f"**{ratio:.2f}×**" + (f" ({min(pairs):.2f}–{max(pairs):.2f})" if len(pairs) > 1 else ""))
                              if pairs else ""),
                    "goal": row.goal, "met": met + (f" ({failed} run(s) failed)" if failed else "")})
    return out


def table(summary: list[dict[str, Any]]) -> str:
    lines = [("| figure | warroom min / **median** / max | bare Temporal min / **median** / max "
             "| warroom / bare | goal (issue 13) | met |"), "|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['label']} | {s['warroom']} | {s['bare']} | {s['ratio']} | {s['goal']} | {s['met']} |")
    return "\n".join(lines)


def section(meta: dict[str, Any], summary: list[dict[str, Any]], results: dict[str, Any]) -> str:
    sizes = meta["sizes"]
    kind = ("QUICK SMOKE RUN (small sizes, not the issue's figures)" if meta["quick"]
            else "full run" if meta["runs"] >= 3 else f"the issue's sizes, {meta['runs']} run(s) of each figure only")
    figs = "\n".join(f"- **{k}** {FIGURES[k].format(**sizes)}" for k in FIGURES
                     if k in results or (k == "e" and "d" in results))
    checks = []
    for fig in ("a", "b"):
        for r in results.get(fig, {}).get("warroom", []):
            if "exact" in r:
                checks.append(f"{fig}: {r['incidents']} incidents, alert_count {r['counts_seen']} for distinct "
                              f"{r['distinct']}: {'exact' if r['exact'] else 'NOT exact'}; answers {r['codes']}")
    errors = [f"{fig} {side} run {i + 1}: {r['error']}" for fig, sides in results.items()
              for side, runs in sides.items() for i, r in enumerate(runs) if "error" in r]
    raw = json.dumps(results, indent=None, default=str)
    return f"""## {TITLE}, records on {meta['records']} ({meta['date']}, {kind})

Command: `{meta['command']}` ({meta['wall_min']:.0f} min). One dev server ({meta['server']}) for the whole
run; each figure {meta['runs']} time(s), bare Temporal and warroom alternating, so every ratio compares two
runs made back to back. warroom: worker (`python worker.py`) and API (`warroom api`) as
subprocesses configured by WARROOM_* variables, records on {meta['records']}, pages through the notify
activity and an on-call file (one person, every role and level) to an HTTP receiver on 127.0.0.1 via
`json://`; senders (benchmarks/http_sender.py: keep-alive HTTP/1.1 on asyncio streams, tens of microseconds a
request) in the benchmark process. Bare: a worker subprocess (sandboxed, default
options) with a workflow that counts signals and a one-activity workflow; senders are Temporal
clients in the benchmark process. CPU is /proc/<pid>/stat from just before the load until the
processes are quiet again; RSS is /proc/<pid>/status VmRSS of the worker subprocess.

    machine: {meta['machine']}
    load average (1, 5, 15 min): {meta['load_start']} at start, {meta['load_end']} at end
    HEAD at the run: {meta['commit']} (plus the working tree)

{figs}

{table(summary)}

The ratio is the median of the per-run ratios (their range in brackets); "met" applies the goal to
the warroom median, or to that ratio where the goal is relative to bare.
{chr(10).join('- ' + c for c in checks)}
{chr(10).join('- failed: ' + e for e in errors)}

<details><summary>every run (JSON)</summary>

```json
{raw}
```
</details>
"""


def write_results(text: str, records_name: str) -> None:
    """Replace this records database's section (and the storm section it supersedes); keep the rest."""
    doc = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    head, *rest = doc.split("\n## ")
    sections = ["## " + s.rstrip("\n") + "\n" for s in rest]
    mine = f"## {TITLE}, records on {records_name} "

    def replaced(s: str) -> bool:
        return s.startswith(mine) or any(s.startswith(f"## {t}") for t in SUPERSEDED)

    at = next((i for i, s in enumerate(sections) if replaced(s)), None)
    kept = [s for s in sections if not replaced(s)]
    if at is None:
        # after the other ingest sections if any, else after "warroom simulate", else at the end
        ours = [i for i, s in enumerate(kept) if s.startswith(f"## {TITLE}")]
        sim = [i for i, s in enumerate(kept) if s.startswith("## warroom simulate")]
        at = ours[-1] + 1 if ours else sim[0] + 1 if sim else len(kept)
    else:
        at = sum(1 for s in sections[:at] if not replaced(s))
    kept.insert(at, text.rstrip("\n") + "\n")
    RESULTS.write_text(head.rstrip("\n") + "\n\n" + "\n".join(kept))


async def one_run(fig: str, side: str, server: bare.Server, tmp: Path, sizes: bare.Sizes, url: str) -> dict[str, Any]:
    t0 = time.monotonic()
    try:
        r = await (bare.figure(fig, server, tmp, sizes) if side == "bare"
                   else ingest.figure(fig, server, tmp, sizes, url))
    except Exception as err:  # noqa: BLE001 - one failed run is reported, the others still count
        traceback.print_exc()
        r = {"error": f"{type(err).__name__}: {str(err)[:300]}"}
    r["seconds"] = round(time.monotonic() - t0, 1)
    return r


async def run(args: argparse.Namespace) -> None:
    sizes = bare.Sizes.quick() if args.quick else bare.Sizes()
    figures = args.figures.split(",")
    results: dict[str, dict[str, list[dict[str, Any]]]] = {f: {"bare": [], "warroom": []} for f in figures}
    began = time.monotonic()
    load_start = bare.loadavg()
    records_name = "PostgreSQL" if args.database_url.startswith("postgresql") else "SQLite"
    records_name += ", dev server tuned" if args.tuned_server else ""  # a section of its own
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with ingest.records_db(tmp, args.database_url) as url:
            async with bare.dev_server(str(tmp / "temporal.db") if args.db_file else None,
                                       tuned=args.tuned_server) as server:
                print(f"machine: {bare.machine()}; load {load_start}; server {server.mode}; records {records_name}",
                      flush=True)
                for fig in figures:
                    for i in range(args.runs):
                        for side in (("bare", "warroom") if i % 2 == 0 else ("warroom", "bare")):
                            results[fig][side].append(await one_run(fig, side, server, tmp, sizes, url))
                            print(f"{fig} run {i + 1} {side}: {json.dumps(results[fig][side][-1], default=str)}",
                                  flush=True)
                    report(args, results, began, load_start, records_name, sizes, final=False)
    report(args, results, began, load_start, records_name, sizes, final=True)


def report(args: argparse.Namespace, results: dict[str, Any], began: float, load_start: str, records_name: str,
           sizes: bare.Sizes, *, final: bool) -> None:
    """After each figure: every run so far to --json (a run cut short can still be written with
    --from-json); at the end: the table, and with --write the section of results.md."""
    import subprocess

    commit = subprocess.run(["git", "log", "-1", "--format=%h %s"], capture_output=True, text=True,
                            cwd=bare.REPO, check=False).stdout.strip()[:100]
    meta = {"records": records_name, "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "quick": args.quick, "runs": args.runs, "machine": bare.machine(), "load_start": load_start,
            "load_end": bare.loadavg(), "server": ("on a SQLite file" if args.db_file else "in memory")
            + (", with `warroom dev`'s options (--tuned-server)" if args.tuned_server else ", its default options"),
            "sizes": asdict(sizes), "commit": commit, "wall_min": (time.monotonic() - began) / 60,
            "command": ".venv/bin/python benchmarks/run_all.py " + " ".join(sys.argv[1:])}
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))
    if final:
        publish(meta, results, write=args.write)


def publish(meta: dict[str, Any], results: dict[str, Any], *, write: bool) -> None:
    summary = summarize(results)
    print(table(summary))
    print(f"load average {meta['load_start']} at start, {meta['load_end']} at end; {meta['wall_min']:.1f} min")
    if write:
        write_results(section(meta, summary, results), meta["records"])
        print(f"wrote {RESULTS}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--figures", default="a,b,c,d,f", help="any of a,b,c,d,f (e comes with d)")
    ap.add_argument("--database-url", default="", help="records on this database (default: a SQLite file)")
    ap.add_argument("--db-file", action="store_true", help="the dev server on a SQLite file, not in memory")
    ap.add_argument("--tuned-server", action="store_true",
                    help="the dev server with `warroom dev`'s options (poll rates; WAL on a file)")
    ap.add_argument("--write", action="store_true", help="replace this run's section of benchmarks/results.md")
    ap.add_argument("--json", default="", help="also write every run to this file (after each figure)")
    ap.add_argument("--from-json", default="", help="run nothing: print (and --write) what this --json file holds")
    args = ap.parse_args()
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        saved["results"] = {f: sides for f, sides in saved["results"].items() if sides["bare"] or sides["warroom"]}
        publish(saved["meta"], saved["results"], write=args.write)
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
