"""YAML documents with the line of every node, and schema errors in words.

Room: shared library (warroom/), used by the file formats people write by hand (runbooks, on-call files): every
problem is reported as `file:line: field.path: message`, the line coming from the YAML node
the problem is about.

Why not ruamel.yaml's line and column data (issue 16 asked; measured 2026-12-07): it does not
make this simpler and it is slower. Its round-trip loader (the only one that keeps lines) read
the shipped runbooks, the on-call example and the replay scenarios (15 files, 24 KB) in a median
62 ms against 33 ms for the pure-Python walk below, and 135 ms against 5.4 ms once this module
read through libyaml (7 interleaved rounds each, same process, 2 cores under load; ruamel's C
loader keeps no lines); keys merged
with `<<` carry no line there (`.lc.key` raises KeyError), so the walk below would stay; a
duplicate key stops its parse with one exception instead of being one problem among all the
others, naming both lines; and it reads YAML 1.2, where `yes`/`on` are text, so an on-call file
saying `on_demand: yes` would change meaning. The PyYAML node walk stays.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError

Path_ = tuple[str | int, ...]
_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true/false", "null": "empty"}


@dataclass(frozen=True)
class ValidationProblem:
    file: str
    line: int
    path: str  # field path as people write it: recover[1].kind ("" for YAML syntax errors)
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}" if self.path else \
            f"{self.file}:{self.line}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}


class Doc:
    """Plain data from a YAML text plus the line of every node (by field path)."""

    def __init__(self, data: Any, lines: dict[Path_, int], problems: list[tuple[Path_, int, str]],
                 starts: dict[Path_, int] | None = None) -> None:
        self.data, self.lines, self.problems = data, lines, problems
        self.starts = starts or {}

    def line(self, path: Iterable[str | int]) -> int:
        """The line of the field at `path`: of its key in a mapping, of its item in a list."""
        p = tuple(path)
        while p and p not in self.lines:
            p = p[:-1]
        return self.lines.get(p, 1)

    def start(self, path: Iterable[str | int]) -> int:
        """The line where the value at `path` begins: for a key followed by a block (`incident:`
        and its fields below), the block's first line; otherwise the same as line()."""
        p = tuple(path)
        return self.starts.get(p) or self.line(p)


class _TextTimes:
    """YAML 1.1 would read 18:00 as the number 1080 (base 60) and 2026-01-05T09:00 as a
    datetime; on-call files are full of both, so they stay text and get checked as such."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        tag = super().resolve(kind, value, implicit)  # type: ignore[misc]
        if kind is yaml.ScalarNode and implicit[0] and (
                tag == "tag:yaml.org,2002:timestamp" or
                (tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in value)):
            return "tag:yaml.org,2002:str"
        return tag


class TextTimesLoader(_TextTimes, yaml.SafeLoader):
    pass


# libyaml's parser (PyYAML's C extension, in its wheels), where present, reads a valid text to
# the same nodes and lines ten times faster (every runbook file is read at each worker, API and
# rehearsal start). A text it refuses is read again by the pure-Python parser, whose errors
# (line, wording, lone surrogates echoed) are the ones people see.
_FAST: dict[type, type] = {}
if hasattr(yaml, "CSafeLoader"):
    _FAST = {yaml.SafeLoader: yaml.CSafeLoader,
             TextTimesLoader: type("CTextTimesLoader", (_TextTimes, yaml.CSafeLoader), {})}


def parse(text: str, loader_class: type[yaml.SafeLoader] = yaml.SafeLoader) -> Doc:
    """Plain data plus the line of every node. Raises yaml.YAMLError for text that is not YAML."""
    fast = _FAST.get(loader_class)
    if fast is not None:
        try:
            return _parse(text, fast)
        except (yaml.YAMLError, UnicodeError):
            pass
    return _parse(text, loader_class)


def _parse(text: str, loader_class: type) -> Doc:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        starts: dict[Path_, int] = {}  # where each mapping value begins (a block: below its key)
        problems: list[tuple[Path_, int, str]] = []
        if node is None:
            return Doc(None, {(): 1}, problems)
        lines[()] = node.start_mark.line + 1

        def build(n: yaml.Node, path: Path_) -> Any:
            if isinstance(n, yaml.MappingNode):
                own = len(n.value)
                loader.flatten_mapping(n)  # merge keys (<<: *anchor) share a layer between schedules
                merged = len(n.value) - own  # the merged pairs come first; a key written here overrides them
                inherited: set[str] = set()
                out: dict[Any, Any] = {}
                for index, (k, v) in enumerate(n.value):
                    key = loader.construct_object(k, deep=True)
                    line = k.start_mark.line + 1
                    if not isinstance(key, str | int | bool) or key is None:
                        problems.append((path, line, "a key must be plain text"))
                        continue
                    key = str(key) if not isinstance(key, str) else key
                    if index < merged:
                        if key in out:
                            continue  # the earlier of two merged mappings wins, as in YAML
                        inherited.add(key)
                    elif key in inherited:
                        inherited.discard(key)
                        del out[key]
                    if key in out:
                        problems.append((path + (key,), line,
                                         f"duplicate key {key!r} (first at line {lines[path + (key,)]})"))
                        continue
                    lines[path + (key,)] = line
                    starts[path + (key,)] = v.start_mark.line + 1
                    out[key] = build(v, path + (key,))
                return out
            if isinstance(n, yaml.SequenceNode):
                items = []
                for i, item in enumerate(n.value):
                    lines[path + (i,)] = item.start_mark.line + 1
                    items.append(build(item, path + (i,)))
                return items
            return loader.construct_object(n, deep=True)

        return Doc(build(node, ()), lines, problems, starts)
    finally:
        loader.dispose()


def format_path(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind_of(data: Any, path: Path_) -> str | None:
    """The kind of the step that contains path, if any."""
    node, found = data, None
    for part in path:
        if isinstance(node, dict) and isinstance(node.get("kind"), str):
            found = node["kind"]
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    if isinstance(node, dict) and isinstance(node.get("kind"), str):
        found = node["kind"]
    return found


def _got(value: Any) -> str:
    for name, types in (("a mapping", dict), ("a list", list), ("true/false", bool), ("empty", type(None))):
        if isinstance(value, types):
            return name
    return repr(value)


def explain(err: ValidationError, doc: Doc) -> list[tuple[Path_, int, str]]:
    path: Path_ = tuple(err.absolute_path)
    v, want, inst = err.validator, err.validator_value, err.instance
    for_kind = ""
    if "then" in err.absolute_schema_path:
        kind = _kind_of(doc.data, path)
        for_kind = f" for kind {kind}" if kind else ""
    if err.schema is False:  # {"rollback": false} inside a rollback
        # jsonschema leaves the property name off the path of a false subschema
        if list(err.absolute_schema_path)[-1:] == ["properties"]:
            path = path + ("rollback",)
        return [(path, doc.line(path), "a rollback cannot have its own rollback")]
    if v == "required":
        missing = [name for name in want if not (isinstance(inst, dict) and name in inst)]
        return [(path + (name,), doc.line(path), f"required{for_kind}") for name in missing]
    if v == "additionalProperties" and isinstance(inst, dict):
        known = sorted(err.schema.get("properties", {}))
        out = []
        for key in inst:
            if key in known:
                continue
            hint = difflib.get_close_matches(str(key), known, n=1)
            msg = f"unknown field{for_kind}" + (f" (did you mean {hint[0]!r}?)" if hint else
                                                f" (expected one of: {', '.join(known)})" if known else "")
            out.append((path + (key,), doc.line(path + (key,)), msg))
        return out
    if v == "type":
        names = [want] if isinstance(want, str) else list(want)
        expected = " or ".join(_TYPE_NAMES.get(n, n) for n in names if n != "null")
        return [(path, doc.line(path), f"expected {expected}, got {_got(inst)}")]
    if v == "anyOf" and all(isinstance(alt, dict) and list(alt) == ["required"] for alt in want):
        options = " or ".join(f"`{alt['required'][0]}`" for alt in want)
        return [(path, doc.line(path), f"needs {options}{for_kind}")]
    messages = {
        "enum": lambda: f"{inst!r} is not one of {', '.join(map(str, want))}",
        "const": lambda: f"must be {want!r}",
        "minimum": lambda: f"must be at least {want} (got {inst})",
        "maximum": lambda: f"must be at most {want} (got {inst})",
        "minItems": lambda: "must not be an empty list",
        "minLength": lambda: "must not be empty",
        "maxLength": lambda: f"must be at most {want} characters",
        "pattern": lambda: f"{inst!r} does not match {want}",
        "uniqueItems": lambda: "has duplicate entries",
    }
    message = messages[v]() if v in messages else err.message
    return [(path, doc.line(path), message)]


# ---------------------------------------------------------------- a format's schema and syntax errors


@cache
def load_schema(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def _validator(path: Path) -> Draft202012Validator:
    # The schemas ship with the package and are checked against the meta-schema by the tests
    # (tests/warroom/test_packaging.py), not at every start: that check cost each process
    # (worker, API, every CLI command) ~60 ms.
    return Draft202012Validator(load_schema(path))


def schema_problems(schema_path: Path, doc: Doc) -> list[tuple[Path_, int, str]]:
    """What the JSON Schema at `schema_path` finds wrong with the document, in words."""
    return [found for err in _validator(schema_path).iter_errors(doc.data) for found in explain(err, doc)]


def syntax_problem(file: str, err: yaml.YAMLError) -> ValidationProblem:
    """A text that is not YAML, at the line the parser stopped."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem, context = getattr(err, "problem", None), getattr(err, "context", None)
    what = f"{problem} ({context})" if problem and context else (problem or context or str(err))
    return ValidationProblem(file, (mark.line + 1) if mark else 1, "", f"not valid YAML: {what}")


def files_of(paths: Iterable[Path], listing: Callable[[Path], list[Path]], *,
             missing: str = "no such file") -> tuple[list[Path], list[ValidationProblem]]:
    """The files to check for the paths a person named: a directory stands for the files
    `listing` finds in it; a path that is neither is a problem (`missing`) at line 1."""
    files: list[Path] = []
    problems: list[ValidationProblem] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(listing(p))
        elif p.is_file():
            files.append(p)
        else:
            problems.append(ValidationProblem(str(p), 1, "", missing))
    return files, problems


def yaml_files(directory: Path) -> list[Path]:
    """A directory's *.yaml and *.yml files, in name order."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def validate_files(paths: Iterable[Path],
                   validate_text: Callable[..., tuple[Any, list[ValidationProblem]]]) -> list[ValidationProblem]:
    """Problems of the given files (a directory: its YAML files) by `validate_text(text, file=)`,
    never raising: an unreadable file is a problem at line 1."""
    files, problems = files_of(paths, yaml_files)
    for path in files:
        try:
            problems.extend(validate_text(path.read_text(encoding="utf-8"), file=str(path))[1])
        except (OSError, UnicodeDecodeError) as err:
            problems.append(ValidationProblem(str(path), 1, "", f"cannot read: {err}"))
    return problems
