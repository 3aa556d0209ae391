"""Runbook files: validate YAML from runbooks/ against runbooks/schema.json, turn it into
RunbookSpec, and pick one for an incident.

Room: runbooks (warroom/runbooks): runbook data + registry. Used by the assess activity, the worker (which refuses to
start while any file is invalid), the CLI and the API. The chosen spec travels into workflow
history, so editing a file never changes a running incident. Every problem is reported as
`file:line: field.path: message`; the line comes from the YAML node the problem is about.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from warroom.yamldoc import (
    Doc,
    Path_,
    ValidationProblem,
    files_of,
    format_path,
    load_schema,
    parse,
    schema_problems,
    syntax_problem,
)
from workflows.contracts import ActionSpec, CheckSpec, ResponsePolicy, RunbookSpec
from workflows.policy import default_policy

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "runbook.schema.json"  # also at runbooks/schema.json
ACTION_KINDS = ("http", "command", "manual", "wait", "approval", "python")
CHECK_KINDS = ("http", "prometheus", "manual")
# Fallbacks: picked by name when nothing more specific matches, never by their `match`.
_DEFAULT_NAME = re.compile(r"^default(-p[0-4])?$")


class RunbookError(ValueError):
    """Runbook files that cannot be used; the message names every file, line and field."""

    def __init__(self, message: str, problems: list[ValidationProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []




@dataclass
class RunbookEntry:
    spec: RunbookSpec
    match: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None
    name_line: int = 1  # where `name:` is, for duplicate-name problems

    def score(self, *, category: str, service: str, priority: str,
              labels: dict[str, str] | None = None) -> int | None:
        """None when it does not match; otherwise how specific the match is (one per key,
        one per label)."""
        score = 0
        for key, value in (("category", category), ("service", service), ("priority", priority)):
            want = self.match.get(key)
            if want is None:
                continue
            if value not in ([want] if isinstance(want, str) else list(want)):
                return None
            score += 1
        for name, value in (self.match.get("labels") or {}).items():
            if (labels or {}).get(name) != value:
                return None
            score += 1
        return score


# ---------------------------------------------------------------- schema errors, in words

def schema() -> dict[str, Any]:
    return load_schema(SCHEMA_PATH)


# ---------------------------------------------------------------- checks the schema cannot make

def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []


def _failure_actions(ovf: Any) -> tuple[list[Any], Path_]:
    if isinstance(ovf, dict):
        return (ovf.get("actions") if isinstance(ovf.get("actions"), list) else []), ("on_verify_failure", "actions")
    return (ovf if isinstance(ovf, list) else []), ("on_verify_failure",)


def _semantic(doc: Doc, policy: ResponsePolicy) -> list[tuple[Path_, int, str]]:
    data = doc.data
    if not isinstance(data, dict):
        return []
    out: list[tuple[Path_, int, str]] = []
    steps: list[tuple[Path_, Any]] = []
    ovf_steps, ovf_path = _failure_actions(data.get("on_verify_failure"))
    for base, items in ((("recover",), data.get("recover")), (("verify",), data.get("verify")),
                        (ovf_path, ovf_steps)):
        for i, step in enumerate(items if isinstance(items, list) else []):
            steps.append((base + (i,), step))
            if isinstance(step, dict) and isinstance(step.get("rollback"), dict):
                steps.append((base + (i, "rollback"), step["rollback"]))
    seen: dict[str, Path_] = {}
    for path, step in steps:
        sid = step.get("id") if isinstance(step, dict) else None
        if not isinstance(sid, str):
            continue
        if sid in seen:
            out.append((path + ("id",), doc.line(path + ("id",)),
                        f"duplicate step id {sid!r} (first used at line {doc.line(seen[sid] + ('id',))}, "
                        f"{format_path(seen[sid])})"))
        else:
            seen[sid] = path

    notify = data.get("notify")
    match = data.get("match") if isinstance(data.get("match"), dict) else {}
    priorities = [p for p in _as_list(match.get("priority")) if p in policy.priorities] or \
        sorted(policy.priorities)
    if isinstance(notify, dict):
        for key, attr, what in (("update_minutes", "update_seconds", "stakeholder update cadence"),
                                ("ack_minutes", "ack_seconds", "acknowledgement SLA")):
            value = notify.get(key)
            if not isinstance(value, int) or isinstance(value, bool):
                continue
            limits = sorted((getattr(policy.priorities[p], attr), p) for p in priorities)
            limit, prio = limits[0]
            if value * 60 > limit:
                scope = "" if match.get("priority") else " (this runbook can match any priority)"
                out.append((("notify", key), doc.line(("notify", key)),
                            f"{value} minutes is longer than {prio}'s {what} ({limit // 60} minutes){scope}; "
                            f"a runbook may only shorten it"))
    return out


# ---------------------------------------------------------------- conversion

# The steps that reach outside warroom: a runbook that is not live rehearses them.
AUTOMATIC_KINDS = ("http", "command", "python", "prometheus")


def _action(raw: dict[str, Any], rehearse: str = "") -> ActionSpec:
    rb = raw.get("rollback")
    return ActionSpec(id=raw["id"], kind=raw["kind"], title=raw.get("title", ""), params=dict(raw.get("params") or {}),
                      timeout_seconds=raw.get("timeout_seconds", 60), max_attempts=raw.get("max_attempts", 3),
                      backoff_seconds=raw.get("backoff_seconds", 5), rollback=_action(rb, rehearse) if rb else None,
                      rehearse=rehearse if raw["kind"] in AUTOMATIC_KINDS else "")


def _check(raw: dict[str, Any], rehearse: str = "") -> CheckSpec:
    return CheckSpec(id=raw["id"], kind=raw["kind"], title=raw.get("title", ""), params=dict(raw.get("params") or {}),
                     timeout_seconds=raw.get("timeout_seconds", 300), interval_seconds=raw.get("interval_seconds", 30),
                     rehearse=rehearse if raw["kind"] in AUTOMATIC_KINDS else "")


def _to_spec(data: dict[str, Any], source: str) -> RunbookSpec:
    live = bool(data.get("live", True))
    # An example runbook's automatic steps are rehearsed: recorded on the timeline, never run.
    rehearse = "" if live else f"runbook {data['name']} is an example (live: false)"
    notify = data.get("notify")
    notify = {"targets": notify} if isinstance(notify, list) else (notify or {})
    ovf = data.get("on_verify_failure")
    ovf = {"actions": ovf} if isinstance(ovf, list) else (ovf or {})
    return RunbookSpec(
        name=data["name"], version=str(data["version"]), description=str(data.get("description") or "").strip(),
        source=source, war_room=data.get("war_room"), notify=list(notify.get("targets") or []),
        recover=[_action(a, rehearse) for a in data.get("recover") or []],
        verify=[_check(c, rehearse) for c in data.get("verify") or []],
        on_verify_failure=[_action(a, rehearse) for a in ovf.get("actions") or []],
        escalate_on_verify_failure=bool(ovf.get("escalate", True)),
        match=dict(data.get("match") or {}),
        update_minutes=notify.get("update_minutes"), ack_minutes=notify.get("ack_minutes"), live=live,
    )


def validate_text(text: str, *, file: str = "<input>", source: str | None = None,
                  policy: ResponsePolicy | None = None) -> tuple[RunbookEntry | None, list[ValidationProblem]]:
    """Parse and check one runbook; the entry is None whenever there is any problem."""
    try:
        doc = parse(text)
    except yaml.YAMLError as err:
        return None, [syntax_problem(file, err)]
    found = list(doc.problems)
    if doc.data is None:
        found.append(((), 1, "the file is empty: a runbook needs at least name and version"))
    else:
        found.extend(schema_problems(SCHEMA_PATH, doc))
        found.extend(_semantic(doc, policy or default_policy()))
    problems = sorted({ValidationProblem(file, line, format_path(path) or "(document)", msg)
                       for path, line, msg in found}, key=lambda p: (p.line, p.path, p.message))
    if problems:
        return None, problems
    entry = RunbookEntry(spec=_to_spec(doc.data, source or Path(file).name), match=dict(doc.data.get("match") or {}),
                         name_line=doc.line(("name",)))
    return entry, []


def validate_data(data: Any, *, file: str = "<input>", policy: ResponsePolicy | None = None
                  ) -> tuple[RunbookEntry | None, list[ValidationProblem]]:
    """Check already-parsed data (e.g. a JSON body); lines point into its JSON rendering."""
    return validate_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), file=file, policy=policy)


def _check_file(path: Path, policy: ResponsePolicy | None) -> tuple[RunbookEntry | None, list[ValidationProblem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return None, [ValidationProblem(str(path), 1, "", f"cannot read: {err}")]
    entry, problems = validate_text(text, file=str(path), source=path.name, policy=policy)
    if entry:
        entry.file = path
    return entry, problems


def _raise(problems: list[ValidationProblem]) -> None:
    files = sorted({p.file for p in problems})
    raise RunbookError(f"{len(problems)} runbook problem(s) in {', '.join(files)}:\n" +
                       "\n".join(str(p) for p in problems), problems)


def load_runbook(path: Path, *, policy: ResponsePolicy | None = None) -> RunbookEntry:
    """One file; raises RunbookError listing all of its problems."""
    entry, problems = _check_file(Path(path), policy)
    if problems or entry is None:
        _raise(problems)
    assert entry is not None
    return entry


def runbook_files(directory: Path) -> list[Path]:
    """The runbook files of a directory: *.yaml / *.yml directly in it (not scenarios/)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def _check_all(paths: Iterable[Path], policy: ResponsePolicy | None
               ) -> tuple[list[RunbookEntry], list[ValidationProblem]]:
    entries: list[RunbookEntry] = []
    problems: list[ValidationProblem] = []
    by_name: dict[str, RunbookEntry] = {}
    for path in paths:
        entry, found = _check_file(path, policy)
        problems.extend(found)
        if entry is None:
            continue
        first = by_name.get(entry.spec.name)
        if first is not None:
            problems.append(ValidationProblem(str(path), entry.name_line, "name",
                                              f"runbook name {entry.spec.name!r} is already used by "
                                              f"{first.file}:{first.name_line}"))
            continue
        by_name[entry.spec.name] = entry
        entries.append(entry)
    return entries, problems


def summary(entry: RunbookEntry) -> dict[str, Any]:
    return {"name": entry.spec.name, "version": entry.spec.version, "description": entry.spec.description,
            "match": entry.match, "file": entry.spec.source}


class RunbookLibrary:
    """Every runbook file in a directory, all valid, or a RunbookError naming each problem."""

    def __init__(self, directory: Path, *, policy: ResponsePolicy | None = None) -> None:
        self.directory = Path(directory)
        self.policy = policy
        entries, problems = _check_all(runbook_files(self.directory), policy)
        if problems:
            _raise(problems)
        self.entries: dict[str, RunbookEntry] = {e.spec.name: e for e in entries}

    @staticmethod
    def validate_paths(paths: Iterable[Path], *, policy: ResponsePolicy | None = None) -> list[ValidationProblem]:
        """Problems of the given files (directories: their runbook files), never raising.
        Duplicate names are checked across all of them."""
        files, missing = files_of(paths, runbook_files)
        return missing + _check_all(files, policy)[1]

    def summaries(self) -> list[dict[str, Any]]:
        return [summary(self.entries[name]) for name in sorted(self.entries)]

    def entry(self, name_or_path: str) -> RunbookEntry:
        if name_or_path in self.entries:
            return self.entries[name_or_path]
        for path in (Path(name_or_path), self.directory / name_or_path):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                return load_runbook(path, policy=self.policy)
        raise RunbookError(f"no runbook named {name_or_path!r} in {self.directory}")

    def get(self, name_or_path: str) -> RunbookSpec:
        """By name, or by the path of a file (also relative to the directory)."""
        return self.entry(name_or_path).spec

    def select(self, *, category: str, service: str, priority: str,
               labels: dict[str, str] | None = None) -> RunbookSpec:
        """The most specific matching runbook (ties by name), else default-<priority>, else
        default, else an empty built-in one. A runbook without `match` is only used by name."""
        best: tuple[int, str] | None = None
        for name in sorted(self.entries):
            entry = self.entries[name]
            if _DEFAULT_NAME.match(name) or not entry.match:
                continue
            score = entry.score(category=category, service=service, priority=priority, labels=labels)
            if score and (best is None or score > best[0]):
                best = (score, name)
        if best:
            return self.entries[best[1]].spec
        for name in (f"default-{priority.lower()}", "default"):
            if name in self.entries:
                return self.entries[name].spec
        return RunbookSpec(name="builtin", version="0", description="no runbook files found")
