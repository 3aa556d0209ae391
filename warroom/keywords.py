"""The keyword lists file: load Settings.classification_file (the shipped warroom/classification.yaml),
check it against warroom/schemas/classification.schema.json, and build warroom.classify.Keywords.

Room: shared library (warroom/): a file format people write by hand, like runbooks and on-call
files. Every problem is reported as `file:line: field.path: message`. The worker loads the file
once at start (an invalid file stops it); the version and a digest of what it read go on each
incident's timeline with the category they gave (docs/classification.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from warroom.classify import Keywords
from warroom.yamldoc import ValidationProblem, format_path, parse, schema_problems, syntax_problem, validate_files

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "classification.schema.json"
LANGUAGES = ("en", "zh")


class KeywordsError(ValueError):
    """A keyword lists file that cannot be used; the message names every line and field."""

    def __init__(self, message: str, problems: list[ValidationProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def _entries(data: dict[str, Any]) -> Iterable[tuple[tuple[str | int, ...], str, str]]:
    """(path, category or "" for a look-alike, term) of every term in the file."""
    for i, entry in enumerate(data.get("categories") or []):
        for lang in LANGUAGES:
            for j, term in enumerate(entry.get(lang) or []):
                yield ("categories", i, lang, j), entry["category"], term
    for lang in LANGUAGES:
        for j, term in enumerate((data.get("look_alikes") or {}).get(lang) or []):
            yield ("look_alikes", lang, j), "", term


def _semantic(doc: Any) -> list[tuple[tuple[str | int, ...], int, str]]:
    """What the schema cannot see: a category listed twice, a term that can never match, a
    term listed twice (in one list or two: which one would win is not for the reader to guess)."""
    out = []
    seen_category: dict[str, int] = {}
    for i, entry in enumerate(doc.data.get("categories") or []):
        path = ("categories", i, "category")
        if entry["category"] in seen_category:
            out.append((path, doc.line(path), f"{entry['category']} is already listed at line "
                                              f"{seen_category[entry['category']]}; list each category once, "
                                              f"in the order it wins"))
        seen_category.setdefault(entry["category"], doc.line(path))
    seen: dict[tuple[str, ...], tuple[str, int, str]] = {}
    for path, category, term in _entries(doc.data):
        line = doc.line(path)
        keys = Keywords.keys(term)
        if not keys:
            out.append((path, line, f"{term!r} has no letter or digit: it can never match"))
        for key in keys:
            if key in seen:
                other, other_line, other_category = seen[key]
                out.append((path, line, f"{term!r} matches the same words as {other!r} at line {other_line} "
                                        f"({other_category or 'look_alikes'})"))
                break
        for key in keys:
            seen.setdefault(key, (term, line, category))
    return out


def validate_text(text: str, *, file: str = "<input>") -> tuple[Keywords | None, list[ValidationProblem]]:
    """Parse and check a keyword lists file; the lists are None whenever there is any problem."""
    try:
        doc = parse(text)
    except yaml.YAMLError as err:
        return None, [syntax_problem(file, err)]
    found = list(doc.problems)
    if doc.data is None:
        found.append(((), 1, "the file is empty: it needs a version and the categories"))
    else:
        found.extend(schema_problems(SCHEMA_PATH, doc))
        if not found:
            found.extend(_semantic(doc))
    problems = sorted({ValidationProblem(file, line, format_path(path) or "(document)", msg)
                       for path, line, msg in found}, key=lambda p: (p.line, p.path, p.message))
    if problems:
        return None, problems
    data = doc.data
    categories = [(e["category"], [*(e.get("en") or []), *(e.get("zh") or [])]) for e in data["categories"]]
    look_alikes = [t for lang in LANGUAGES for t in (data.get("look_alikes") or {}).get(lang) or []]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return Keywords.build(str(data["version"]), categories, look_alikes, digest=digest), []


_loaded: dict[Path, tuple[tuple[int, int], Keywords]] = {}


def load_keywords(path: Path) -> Keywords:
    """The lists of one file (Settings.classification_file); raises KeywordsError naming each
    problem, or the file that is missing. Read again only when the file changed."""
    path = Path(path)
    try:
        stat = path.stat()
        key, stamp = path.resolve(), (stat.st_mtime_ns, stat.st_size)
        cached = _loaded.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise KeywordsError(f"cannot read the keyword lists {path} (WARROOM_CLASSIFICATION_FILE): {err}") from None
    keywords, problems = validate_text(text, file=str(path))
    if keywords is None:
        raise KeywordsError(f"{len(problems)} problem(s) in the keyword lists {path}:\n" +
                            "\n".join(str(p) for p in problems), problems)
    _loaded[key] = (stamp, keywords)
    return keywords


def validate_paths(paths: Iterable[Path]) -> list[ValidationProblem]:
    """Problems of the given files (a directory: its *.yaml files), never raising."""
    return validate_files(paths, validate_text)
