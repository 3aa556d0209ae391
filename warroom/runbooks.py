"""Runbook files: load YAML from runbooks/ into RunbookSpec, and pick one for an incident.

Room: runbook data + registry. Used by the assess activity and the CLI; the chosen spec
travels into workflow history, so editing a file never changes a running incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workflows.contracts import ActionSpec, CheckSpec, RunbookSpec

ACTION_KINDS = ("http", "manual", "wait")
CHECK_KINDS = ("http", "manual")


class RunbookError(ValueError):
    """A runbook file that cannot be used; the message names the file and field."""


@dataclass
class RunbookEntry:
    spec: RunbookSpec
    match: dict[str, Any] = field(default_factory=dict)

    def score(self, *, category: str, service: str, priority: str) -> int | None:
        """None when it does not match; otherwise how specific the match is."""
        score = 0
        for key, value in (("category", category), ("service", service), ("priority", priority)):
            want = self.match.get(key)
            if want is None:
                continue
            wanted = [want] if isinstance(want, str) else list(want)
            if value not in wanted:
                return None
            score += 1
        return score


def _steps(path: Path, raw: Any, where: str, kinds: tuple[str, ...], cls: type) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RunbookError(f"{path}: {where}: must be a list")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not item.get("id") or item.get("kind") not in kinds:
            raise RunbookError(f"{path}: {where}[{i}]: needs an id and a kind ({', '.join(kinds)})")
        known = {f for f in cls.__dataclass_fields__}
        extra = set(item) - known
        if extra:
            raise RunbookError(f"{path}: {where}[{i}]: unknown field(s) {', '.join(sorted(extra))}")
        out.append(cls(**item))
    return out


def load_runbook(path: Path) -> RunbookEntry:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise RunbookError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(doc, dict) or not doc.get("name"):
        raise RunbookError(f"{path}: name: required")
    spec = RunbookSpec(
        name=str(doc["name"]), version=str(doc.get("version", "1")), description=doc.get("description", ""),
        source=path.name, war_room=doc.get("war_room"), notify=list(doc.get("notify") or []),
        recover=_steps(path, doc.get("recover"), "recover", ACTION_KINDS, ActionSpec),
        verify=_steps(path, doc.get("verify"), "verify", CHECK_KINDS, CheckSpec),
        on_verify_failure=_steps(path, doc.get("on_verify_failure"), "on_verify_failure", ACTION_KINDS, ActionSpec),
    )
    return RunbookEntry(spec=spec, match=dict(doc.get("match") or {}))


class RunbookLibrary:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.entries: dict[str, RunbookEntry] = {}
        for path in sorted(directory.glob("*.y*ml")) if directory.is_dir() else []:
            entry = load_runbook(path)
            self.entries[entry.spec.name] = entry

    def get(self, name: str) -> RunbookSpec:
        if name in self.entries:
            return self.entries[name].spec
        path = Path(name)
        if path.is_file():
            return load_runbook(path).spec
        raise RunbookError(f"no runbook named {name!r} in {self.directory}")

    def select(self, *, category: str, service: str, priority: str) -> RunbookSpec:
        best: tuple[int, str] | None = None
        for name, entry in self.entries.items():
            if name.startswith("default"):
                continue
            score = entry.score(category=category, service=service, priority=priority)
            if score is not None and score > 0 and (best is None or score > best[0]):
                best = (score, name)
        if best:
            return self.entries[best[1]].spec
        for name in (f"default-{priority.lower()}", "default"):
            if name in self.entries:
                return self.entries[name].spec
        return RunbookSpec(name="builtin", version="0", description="no runbook files found")
