"""`warroom simulate FILE|DIR ...`: run scenario files, print each result, then a summary.

Room: CLI (warroom/cli). Loads every scenario first (a broken file costs no server start),
then runs them one after another on one Simulator (one time-skipping server, one worker),
prints each as it finishes and checks its `expect:` section. Exit status: 0 when every
scenario ran and met its expectations, 1 when one missed an expectation, 2 when one could
not be loaded or run (bad file, unknown runbook, timed out), 130 when interrupted.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from warroom.cli.timeline import describe, format_offset

EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 1, 2, 130


@dataclass
class ScenarioRun:
    path: str
    result: dict[str, Any] | None = None
    failures: list[str] = field(default_factory=list)  # expectations missed
    error: str = ""  # could not run
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        return "error" if self.error else "failed" if self.failures else "passed"


def scenario_files(paths: list[Path]) -> list[Path]:
    """The files to run: a directory stands for its *.yaml / *.yml files, by name."""
    out: list[Path] = []
    for p in paths:
        out += sorted(f for f in p.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file()) if p.is_dir() else [p]
    return out


def run_files(paths: list[Path], *, as_json: bool, timeout: float, horizon: str = "7d") -> int:
    from warroom.cli import simulate as sim
    from warroom.timeparse import parse_duration

    try:
        until_at = parse_duration(horizon)
    except ValueError as err:
        typer.echo(f"error: --horizon: {err}", err=True)
        return EXIT_ERROR
    if until_at.total_seconds() <= 0:
        typer.echo("error: --horizon: must be more than 0", err=True)
        return EXIT_ERROR
    from warroom.keywords import KeywordsError
    from warroom.oncall import OnCallError
    from warroom.runbooks import RunbookError
    from warroom.runbooks.actions import ActionModuleError
    from warroom.settings import Settings

    files = scenario_files(paths)
    if not files:
        typer.echo(f"error: no scenario files (*.yaml) in {', '.join(map(str, paths))}", err=True)
        return EXIT_ERROR
    problems, scenarios = [], []
    for f in files:
        try:
            scenarios.append(sim.load_scenario(f))
        except sim.ScenarioError as err:
            problems.append(str(err))
    keys: dict[str, str] = {}
    for sc in scenarios:  # one run, one server: two scenarios may not share an incident
        for key in {sc.alert.dedup_key, *(e.payload["dedup_key"] for e in sc.events if e.payload.get("dedup_key"))}:
            if key in keys:
                problems.append(f"{sc.path}: incident.dedup_key {key!r} is also used by {keys[key]}: "
                                f"scenarios of one run need their own")
            keys.setdefault(key, sc.path)
    if problems:
        for problem in problems:
            typer.echo(f"error: {problem}", err=True)
        return EXIT_ERROR
    settings = Settings()
    single = len(files) == 1 and not paths[0].is_dir()
    show = _print_json if as_json and single else (lambda o: None) if as_json else _print_text
    try:
        outcomes = asyncio.run(_run_all(sim, scenarios, settings, timeout, show, until_at))
    except (KeyboardInterrupt, asyncio.CancelledError):
        typer.echo("interrupted: the test server and worker are stopped", err=True)
        return EXIT_INTERRUPTED
    except (RunbookError, OnCallError, KeywordsError, ActionModuleError) as err:  # what stops a worker at start
        typer.echo(f"error: the rehearsal's worker cannot start: {err}", err=True)
        return EXIT_ERROR
    if as_json and not single:
        _print_json_all(outcomes)
    elif not single and not as_json:
        _print_summary(outcomes)
    if any(o.error for o in outcomes):
        return EXIT_ERROR
    return EXIT_FAILED if any(o.failures for o in outcomes) else 0


async def _run_all(sim: Any, scenarios: list[Any], settings: Any, timeout: float, show: Any,
                   horizon: timedelta) -> list[ScenarioRun]:
    from warroom.cli.expectations import failures

    # SIGTERM (`timeout`, a CI runner) cancels like Ctrl-C does, so the `async with` below stops the server.
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    # only the main thread may handle signals (a CliRunner test runs the command in another)
    on_main = threading.current_thread() is threading.main_thread()
    if on_main:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    outcomes: list[ScenarioRun] = []
    try:
        simulator = sim.Simulator(settings)
        checked = []
        for sc in scenarios:  # runbooks and outcomes: reported before any server starts
            try:
                simulator.check(sc)
                checked.append(sc)
            except sim.ScenarioError as err:
                outcomes.append(ScenarioRun(sc.path, error=str(err)))
                show(outcomes[-1])
        if not checked:
            return outcomes
        # An incident left open (a fixed `until:`) keeps paging on the shared worker while later
        # scenarios skip time (see Simulator): those scenarios run last.
        checked.sort(key=lambda sc: isinstance(sc.until, timedelta))
        async with simulator:
            for sc in checked:
                t0 = time.perf_counter()
                out = ScenarioRun(sc.path)
                try:
                    async with asyncio.timeout(timeout):
                        out.result = await simulator.run(sc, horizon=horizon)
                    out.failures = failures(sc.path, sc.expect, out.result)
                    if out.result.get("stopped"):
                        out.failures.insert(0, stopped_line(sc.path, out.result["stopped"]))
                except sim.ScenarioError as err:
                    out.error = str(err)
                except TimeoutError:
                    out.error = f"{sc.path}: did not finish within {timeout:g} s (--timeout)"
                except Exception as err:  # the engine failed it (an RPC, a worker error): the next one runs
                    out.error = f"{sc.path}: {type(err).__name__}: {err}"
                out.seconds = time.perf_counter() - t0
                outcomes.append(out)
                show(out)
    finally:
        if on_main:
            loop.remove_signal_handler(signal.SIGTERM)
    order = {sc.path: i for i, sc in enumerate(scenarios)}
    return sorted(outcomes, key=lambda o: order[o.path])  # the summary in the order given


def stopped_line(path: str, stopped: dict[str, Any]) -> str:
    """`until: closed` met the horizon: where it stopped and what the incident waited on."""
    return (f"{path}: stopped at the horizon: until: closed, but the incident was still open at "
            f"{_span(stopped['at_seconds'])} of virtual time (--horizon {_span(stopped['horizon_seconds'])}); "
            f"waiting on: {'; '.join(stopped['waiting_on'])}")


def _span(seconds: int) -> str:
    """7d, 36h, 90m, or +hh:mm:ss for what does not divide."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return format_offset(seconds)


def _print_json(o: ScenarioRun) -> None:
    if o.error:
        typer.echo(f"error: {o.error}", err=True)
        return
    assert o.result is not None
    json.dump({**o.result, "expectations": {"passed": not o.failures, "failures": o.failures}}, sys.stdout,
              indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _print_json_all(outcomes: list[ScenarioRun]) -> None:
    json.dump({"scenarios": [{"path": o.path, "verdict": o.verdict, "error": o.error, "failures": o.failures,
                              "seconds": round(o.seconds, 3), **(o.result or {})} for o in outcomes],
               "summary": _counts(outcomes)}, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _counts(outcomes: list[ScenarioRun]) -> dict[str, int]:
    return {v: sum(o.verdict == v for o in outcomes) for v in ("passed", "failed", "error")}


def _print_text(o: ScenarioRun) -> None:
    console = Console(width=None if sys.stdout.isatty() else 140)
    if o.error:
        typer.echo(f"error: {o.error}", err=True)
        return
    assert o.result is not None
    inc = o.result["incident"]
    table = Table(title=f"{inc['priority']} {inc['title']}  ({inc['incident_id']})\n{o.path}", show_lines=False)
    for col in ("offset", "event", "actor"):  # as `incidents show`: long details fold, never these
        table.add_column(col, no_wrap=True)
    table.add_column("details", overflow="fold")
    for row in o.result["timeline"]:
        table.add_row(format_offset(row["offset_seconds"]), row["type"], row["actor"], describe(row))
    console.print(table)
    console.print(f"final: status {inc['status']}, phase {inc['phase']}, priority {inc['priority']}, "
                  f"escalation level {inc['escalation_level']}, commander {inc['commander'] or '-'}")
    for r in o.result["refused"]:
        console.print(f"[yellow]refused at {format_offset(r['offset_seconds'])} (line {r['line']}, "
                      f"{r['event']}): {r['reason']}[/yellow]")
    for f in o.failures:  # one line each, whatever the width: file:line first
        typer.secho(f if o.result.get("stopped") and f == o.failures[0] else f"expectation not met: {f}", fg="red")


def _print_summary(outcomes: list[ScenarioRun]) -> None:
    console = Console(width=None if sys.stdout.isatty() else 140)
    table = Table(title="scenarios")
    for col in ("scenario", "result", "final", "wall s"):
        table.add_column(col, overflow="fold")
    for o in outcomes:
        inc = (o.result or {}).get("incident") or {}
        final = f"{inc['status']}, {inc['priority']}, L{inc['escalation_level']}" if inc else o.error
        table.add_row(o.path, o.verdict if o.verdict == "passed" else o.verdict.upper(), final, f"{o.seconds:.2f}")
    console.print(table)
    c = _counts(outcomes)
    console.print(f"{c['passed']} passed, {c['failed']} failed, {c['error']} could not run", highlight=False)
