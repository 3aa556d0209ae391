"""Room: shared library (warroom/). The upgrades file: what raises an incident to P0 by itself
besides the alert's figures (SPEC section 3; docs/upgrades.md), and what makes open incidents
one cascade.

A YAML file (Settings.upgrades_file, WARROOM_UPGRADES_FILE; default the shipped
warroom/upgrades.yaml), checked against schemas/upgrades.schema.json and then here (durations,
a service that depends on itself); every problem as `file:line: field.path: message`, like the
runbooks, on-call, service-levels and keyword files. The starters (the API's intake, `warroom
simulate`) put its `rules` (the recovery limit, the suggestion terms) into each incident's input,
so a running incident keeps them; the worker's find_related activity reads its cascade rules.
`cascade()` is the pure decision find_related makes over the open incidents.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from warroom.timeparse import parse_duration
from warroom.yamldoc import Path_, ValidationProblem, format_path, parse, schema_problems, syntax_problem, validate_files
from workflows.contracts import ResponsePolicy, UpgradeRules
from workflows.policy import DEFAULT_SUGGEST

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "upgrades.schema.json"
SHIPPED = Path(__file__).resolve().parent / "upgrades.yaml"
# P4 is a question or a request: no impact to cascade.
CASCADING_PRIORITIES = ("P0", "P1", "P2", "P3")
WINDOW_PRIORITIES = ("P0", "P1")


class UpgradesError(ValueError):
    """An upgrades file that cannot be used; the message names every line and field."""

    def __init__(self, message: str, problems: list[ValidationProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class Upgrades:
    rules: UpgradeRules = field(default_factory=lambda: UpgradeRules(
        suggest={k: list(v) for k, v in DEFAULT_SUGGEST.items()}, version="built-in"))
    window_seconds: int = 15 * 60
    window_incidents: int = 3
    dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)  # service -> what it depends on
    source: str = "built-in"

    def depends(self, service: str, on: str) -> bool:
        return on in self.dependencies.get(service, ())


def _seconds(value: Any) -> int:
    seconds = parse_duration(value).total_seconds()
    if seconds != int(seconds) or seconds < 1:
        raise ValueError(f"{value!r} is not a whole number of seconds, 1 or more")
    return int(seconds)


def validate_text(text: str, *, file: str = "<input>") -> tuple[Upgrades | None, list[ValidationProblem]]:
    """Parse and check an upgrades file; None whenever there is any problem."""
    try:
        doc = parse(text)
    except yaml.YAMLError as err:
        return None, [syntax_problem(file, err)]
    found: list[tuple[Path_, int, str]] = list(doc.problems)
    if doc.data is None:
        found.append(((), 1, "the file is empty: it needs at least `version: 1`"))
    else:
        found.extend(schema_problems(SCHEMA_PATH, doc))
    upgrades = None
    if not found:
        upgrades, more = _build(doc, text, file)
        found.extend(more)
    problems = sorted({ValidationProblem(file, line, format_path(path) or "(document)", msg)
                       for path, line, msg in found}, key=lambda p: (p.line, p.path, p.message))
    return (None if problems else upgrades), problems


def _build(doc: Any, text: str, file: str) -> tuple[Upgrades | None, list[tuple[Path_, int, str]]]:
    data, found = doc.data, []
    durations: dict[str, int] = {}
    for key, path in (("recovery", ("recovery_beyond",)), ("window", ("cascade", "window"))):
        raw: Any = data
        for part in path:
            raw = raw.get(part) if isinstance(raw, dict) else None
        if raw is not None:
            try:
                durations[key] = _seconds(raw)
            except ValueError as err:
                found.append((path, doc.line(path), str(err)))
    cascade = data.get("cascade") or {}
    if cascade.get("incidents") == 1:
        path = ("cascade", "incidents")
        found.append((path, doc.line(path), "1 would make every P0/P1 a cascade of its own: 2 or more, or 0 (off)"))
    deps = cascade.get("dependencies") or {}
    for service, needs in deps.items():
        for i, other in enumerate(needs):
            if other == service:
                path = ("cascade", "dependencies", service, i)
                found.append((path, doc.line(path), f"{service!r} cannot depend on itself"))
    if found:
        return None, found
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    suggest = data.get("suggest")
    rules = UpgradeRules(
        recovery_beyond_seconds=durations.get("recovery", 4 * 3600),
        suggest={k: list(v) for k, v in (DEFAULT_SUGGEST if suggest is None else suggest).items()},
        version=f"{data['version']} ({digest})")
    return Upgrades(rules=rules, window_seconds=durations.get("window", 15 * 60),
                    window_incidents=int(cascade.get("incidents", 3)),
                    dependencies={s: tuple(n) for s, n in deps.items()}, source=file), []


def load_upgrades(path: Path | None) -> Upgrades:
    """The upgrades of the file at `path` (Settings.upgrades_file); None: the shipped file.
    Raises UpgradesError naming every problem, or the file that cannot be read."""
    path = Path(path) if path is not None else SHIPPED
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UpgradesError(f"cannot read the upgrades file {path} (WARROOM_UPGRADES_FILE): {err}") from None
    upgrades, problems = validate_text(text, file=str(path))
    if upgrades is None:
        raise UpgradesError(f"{len(problems)} problem(s) in the upgrades file {path}:\n"
                            + "\n".join(str(p) for p in problems), problems)
    return upgrades


def validate_paths(paths: Iterable[Path]) -> list[ValidationProblem]:
    """Problems of the given files (a directory: its *.yaml files), never raising."""
    return validate_files(paths, validate_text)


# ------------------------------------------------------------------ cascades (pure)


@dataclass(frozen=True)
class OpenIncident:
    incident_id: str
    service: str
    priority: str
    created_at: datetime
    parent: str | None = None


def _relation(me: OpenIncident, other: OpenIncident, up: Upgrades) -> str:
    if me.service and other.service and me.service != other.service:
        if up.depends(me.service, other.service):
            return f"{me.service} depends on {other.service}"
        if up.depends(other.service, me.service):
            return f"{other.service} depends on {me.service}"
    return ""


def _key(i: OpenIncident) -> tuple[datetime, str]:
    return i.created_at, i.incident_id


def cascade(me: OpenIncident, others: Sequence[OpenIncident], up: Upgrades
            ) -> tuple[tuple[str, str] | None, list[tuple[str, str]]]:
    """(parent, reason) of `me` (None when `me` is the earliest), and [(incident, reason)]: the
    others of the cascade that are no one's child yet and become the parent's children (the
    third P1 of a window links the second as well). The cascade is the open incidents (`others`,
    without `me`) related to `me` by the dependencies or by the window. The parent is the
    earliest opened (an incident already a child counts as its parent): it holds the commander
    and the war room already. Incidents already children of another are left where they are."""
    if me.priority not in CASCADING_PRIORITIES:
        return None, []
    others = [o for o in others if o.incident_id != me.incident_id and o.priority in CASCADING_PRIORITIES]
    related: dict[str, str] = {}
    for o in others:
        why = _relation(me, o, up)
        if why:
            related[o.incident_id] = why
    if me.priority in WINDOW_PRIORITIES and up.window_incidents >= 2:
        window = timedelta(seconds=up.window_seconds)
        near = [o for o in others if o.priority in WINDOW_PRIORITIES and abs(o.created_at - me.created_at) <= window]
        if len(near) + 1 >= up.window_incidents:
            why = f"{len(near) + 1} P0/P1 incidents opened within {up.window_seconds // 60} min"
            for o in near:
                related.setdefault(o.incident_id, why)
    if not related:
        return None, []
    by_id = {o.incident_id: o for o in others}
    members = [by_id[i] for i in related]
    roots: dict[str, tuple[OpenIncident, str]] = {}
    for o in members:
        root = by_id.get(o.parent or "", o)
        why = related[o.incident_id] if root is o else f"with {o.incident_id}: {related[o.incident_id]}"
        roots.setdefault(root.incident_id, (root, why))
    first, why = min(roots.values(), key=lambda rw: _key(rw[0]))
    if _key(me) < _key(first):  # me is the earliest: the parent
        return None, [(o.incident_id, related[o.incident_id]) for o in sorted(members, key=_key) if not o.parent]
    return (first.incident_id, why), [(o.incident_id, related[o.incident_id]) for o in sorted(members, key=_key)
                                      if not o.parent and o is not first]


def with_rules(policy: ResponsePolicy, upgrades: Upgrades) -> ResponsePolicy:
    """The policy an incident starts with, carrying the rules (unless its caller set some)."""
    if policy.upgrades is None:
        policy.upgrades = copy.deepcopy(upgrades.rules)
    return policy
