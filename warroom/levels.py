"""Room: shared library (warroom/). The service-levels file: the SPEC's table (section 2) per
priority, optionally per service tier, as configuration.

A YAML file (WARROOM_SERVICE_LEVELS; docs/service-levels.md) over the shipped defaults
(workflows/policy.py default_policy(); levels/service-levels.yaml says the same): a field left
out keeps its default, so a file may loosen as well as tighten. Checked against
schemas/service-levels.schema.json and then here (durations, the ladder's order, a service in
two tiers); every problem as `file:line: field.path: message`, like runbooks and on-call files.

The starters (the API's intake, `warroom simulate`) load it once and put the ResponsePolicy of
an incident's service into its workflow input, so a running incident keeps its numbers; the
worker loads it at start only to refuse an invalid one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from warroom.timeparse import parse_duration
from warroom.yamldoc import Doc, Path_, ValidationProblem, files_of, format_path, parse, schema_problems, syntax_problem
from workflows.contracts import FULL_RESPONSE_PRIORITIES, PRIORITIES, PriorityPolicy, ResponsePolicy
from workflows.policy import default_policy

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "service-levels.schema.json"
BUILT_IN = "built-in defaults (SPEC section 2)"

# YAML field -> PriorityPolicy field, for the plain durations.
_DURATIONS = {"ack": "ack_seconds", "update": "update_seconds", "resolve": "resolve_seconds",
              "review": "review_seconds"}


class ServiceLevelsError(ValueError):
    """A service-levels file that cannot be used; the message names every line and field."""

    def __init__(self, message: str, problems: list[ValidationProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class ServiceLevels:
    """The service levels in force: `policy` for services in no tier, one policy per tier."""

    policy: ResponsePolicy
    tiers: dict[str, ResponsePolicy] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)  # service -> its tier
    source: str = BUILT_IN

    def tier_of(self, service: str) -> str:
        """The tier a service is in ("" for none)."""
        return self.services.get(service, "")

    def policy_for(self, service: str = "") -> ResponsePolicy:
        """The numbers an incident on `service` starts with (a copy: it goes into the input)."""
        tier = self.tier_of(service)
        return copy.deepcopy(self.tiers[tier] if tier else self.policy)


def defaults() -> ServiceLevels:
    return ServiceLevels(policy=default_policy())


# ---------------------------------------------------------------- checks the schema cannot make


def _seconds(value: Any) -> int:
    """Whole seconds of a duration (ValueError naming the problem)."""
    seconds = parse_duration(value).total_seconds()
    if seconds != int(seconds):
        raise ValueError(f"{value!r} is not a whole number of seconds")
    return int(seconds)


def _percent(value: Any) -> int:
    text = str(value).strip()
    number = text[:-1].strip() if text.endswith("%") else text
    if isinstance(value, bool) or not number.isdigit():
        raise ValueError(f"{value!r} is not a percentage like 80%")
    if not 0 <= int(number) <= 99:
        raise ValueError(f"{value!r}: a share of the ack SLA between 0% (never) and 99%")
    return int(number)


class _Builder:
    """Applies a document's priorities over a policy, collecting the problems with their lines."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.found: list[tuple[Path_, int, str]] = []

    def problem(self, path: Path_, message: str) -> None:
        self.found.append((path, self.doc.line(path), message))

    def duration(self, path: Path_, value: Any, *, zero: bool = False) -> int | None:
        try:
            seconds = _seconds(value)
        except ValueError as err:
            self.problem(path, str(err))
            return None
        if seconds < (0 if zero else 1):
            self.problem(path, "must be 0 (none) or longer" if zero else "must be at least 1 second")
            return None
        return seconds

    def priorities(self, base: ResponsePolicy, raw: Any, path: Path_) -> ResponsePolicy:
        policy = copy.deepcopy(base)
        for priority, fields in (raw or {}).items():
            if priority in PRIORITIES and isinstance(fields, dict):
                policy.priorities[priority] = self.levels(policy.of(priority), fields, path + (priority,))
        return policy

    def levels(self, pp: PriorityPolicy, raw: dict[str, Any], path: Path_) -> PriorityPolicy:
        pp = copy.deepcopy(pp)
        for key, attr in _DURATIONS.items():
            if key in raw:
                seconds = self.duration(path + (key,), raw[key], zero=key == "review")
                if seconds is not None:
                    setattr(pp, attr, seconds)
        for key, attr in (("war_room", "war_room"), ("stakeholders", "stakeholders"), ("top_level", "top_level"),
                          ("resolve_missed", "resolve_notify"), ("silence", "silence_intervals")):
            if key in raw:
                setattr(pp, attr, copy.deepcopy(raw[key]))
        if "ladder" in raw:
            waits = [self.duration(path + ("ladder", i), v) for i, v in enumerate(raw["ladder"])]
            if None not in waits:
                if any(b <= a for a, b in zip(waits, waits[1:])):  # type: ignore[operator]
                    self.problem(path + ("ladder",), "each wait must be longer than the one before "
                                                     "(L2, then L3, then vendor support)")
                pp.no_progress_seconds = [w for w in waits if w is not None]
        if "brief" in raw:
            briefings = {target: self.duration(path + ("brief", target), v) for target, v in raw["brief"].items()}
            pp.briefings = {t: s for t, s in briefings.items() if s is not None}
        if "nudge" in raw:
            try:
                pp.nudge_percent = _percent(raw["nudge"])
            except ValueError as err:
                self.problem(path + ("nudge",), str(err))
        return pp


def _build(doc: Doc, source: str) -> tuple[ServiceLevels | None, list[tuple[Path_, int, str]]]:
    data = doc.data
    b = _Builder(doc)
    policy = b.priorities(default_policy(), data.get("priorities"), ("priorities",))
    reminders = data.get("reminders") or {}
    for key, attr in (("review", "review_reminder_seconds"), ("manual_step", "manual_step_reminder_seconds")):
        if key in reminders:
            seconds = b.duration(("reminders", key), reminders[key])
            if seconds is not None:
                setattr(policy.escalation, attr, seconds)
    tiers: dict[str, ResponsePolicy] = {}
    services: dict[str, str] = {}
    tier_at: dict[str, Path_] = {}
    service_at: dict[str, Path_] = {}
    for i, tier in enumerate(data.get("tiers") or []):
        name = tier["name"]
        if name in tiers:
            b.problem(("tiers", i, "name"), f"tier {name!r} is already named at line {doc.line(tier_at[name])}")
            continue
        tier_at[name] = ("tiers", i, "name")
        tiers[name] = b.priorities(policy, tier.get("priorities"), ("tiers", i, "priorities"))
        for j, service in enumerate(tier["services"]):
            if service in services:
                b.problem(("tiers", i, "services", j), f"service {service!r} is already in tier {services[service]!r} "
                                                       f"(line {doc.line(service_at[service])})")
                continue
            services[service], service_at[service] = name, ("tiers", i, "services", j)
    if b.found:
        return None, b.found
    return ServiceLevels(policy=policy, tiers=tiers, services=services, source=source), []


def check_text(text: str, *, file: str = "<input>") -> tuple[ServiceLevels | None, list[ValidationProblem]]:
    """Parse and check one service-levels file; the levels are None whenever there is any problem."""
    try:
        doc = parse(text)
    except yaml.YAMLError as err:
        return None, [syntax_problem(file, err)]
    found = list(doc.problems)
    levels = None
    if doc.data is None:
        found.append(((), 1, "the file is empty: a service-levels file needs at least `version: 1`"))
    else:
        schema = schema_problems(SCHEMA_PATH, doc)
        found.extend(schema)
        if not schema and not found:
            levels, more = _build(doc, file)
            found.extend(more)
    problems = sorted({ValidationProblem(file, line, format_path(path) or "(document)", msg)
                       for path, line, msg in found}, key=lambda p: (p.line, p.path, p.message))
    return (None if problems else levels), problems


def _check_file(path: Path) -> tuple[ServiceLevels | None, list[ValidationProblem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return None, [ValidationProblem(str(path), 1, "", f"cannot read: {err}")]
    return check_text(text, file=str(path))


def load_levels(path: Path | None) -> ServiceLevels:
    """The service levels of the file at `path` (Settings.service_levels), or the built-in
    defaults when it is None. Raises ServiceLevelsError naming every problem."""
    if path is None:
        return defaults()
    levels, problems = _check_file(Path(path))
    if problems or levels is None:
        raise ServiceLevelsError(f"{len(problems)} service-levels problem(s) in {path}:\n"
                                 + "\n".join(str(p) for p in problems), problems)
    return levels


def level_files(directory: Path) -> list[Path]:
    """The service-levels files of a directory: *.yaml / *.yml directly in it."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def validate_paths(paths: Iterable[Path]) -> list[ValidationProblem]:
    """Problems of the given files (a directory: each of its files, each a file of its own), never raising."""
    files, missing = files_of(paths, level_files)
    return missing + [p for f in files for p in _check_file(f)[1]]


def table(levels: ServiceLevels, service: str = "") -> list[dict[str, Any]]:
    """The numbers in force for `service`, one row per priority (what `warroom levels show` prints).
    P2-P4 run the ticket workflow, which has no no-progress ladder and no stakeholder updates,
    so their rows show neither (an incident raised to P0/P1 takes that priority's numbers)."""
    policy = levels.policy_for(service)
    rows = []
    for priority in PRIORITIES:
        pp = policy.of(priority)
        full = priority in FULL_RESPONSE_PRIORITIES  # the ladder and silence belong to the full response
        rows.append({
            "priority": priority, "ack_seconds": pp.ack_seconds, "update_seconds": pp.update_seconds,
            "resolve_seconds": pp.resolve_seconds, "review_seconds": pp.review_seconds, "war_room": pp.war_room,
            "stakeholders": list(pp.stakeholders), "ladder_seconds": pp.ladder(policy.escalation) if full else [],
            "top_level": pp.top_level, "briefings": dict(pp.briefings or {}),
            "resolve_notify": list(pp.resolve_notify), "silence_intervals": pp.silence_intervals if full else 0,
            "nudge_percent": pp.nudge_percent,
        })
    return rows


def as_json(levels: ServiceLevels, service: str = "") -> str:
    policy = levels.policy_for(service)
    return json.dumps({"source": levels.source, "tier": levels.tier_of(service), "priorities": table(levels, service),
                       "reminders": {"review_seconds": policy.escalation.review_reminder_seconds,
                                     "manual_step_seconds": policy.escalation.manual_step_reminder_seconds}},
                      indent=2, ensure_ascii=False)
