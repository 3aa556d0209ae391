"""Room: on-call (warroom/oncall), the files: YAML text to checked model objects, or every problem.

The on-call files of a directory (people, teams, schedules, escalation policies, roles),
checked together against oncall/schema.json and across files (unknown ids, time zones,
Apprise URLs, overlapping policies), each problem reported as `file:line: field.path:
message` like runbooks (warroom/yamldoc.py gives the lines). Only files that pass are built
into the model (model.py); resolve.py wraps what is built in an OnCallConfig. Also what a
re-read has to notice (fingerprint).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from warroom.oncall.model import (
    ContactPoint,
    EscalationLevel,
    EscalationPolicy,
    Layer,
    Override,
    Person,
    Restriction,
    Schedule,
    Swap,
    Team,
)
from warroom.timeparse import NaiveTimeError, TimeFormatError, parse_time
from warroom.yamldoc import (
    Doc,
    Path_,
    TextTimesLoader,
    ValidationProblem,
    files_of,
    format_path,
    load_schema,
    parse,
    schema_problems,
    syntax_problem,
)

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "oncall.schema.json"  # also at oncall/schema.json
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = ("people", "teams", "schedules", "escalation_policies")
_WHAT = {"people": "person", "teams": "team", "schedules": "schedule", "escalation_policies": "policy"}
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://\S")
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


class OnCallError(ValueError):
    """On-call files that cannot be used; the message names every file, line and field."""

    def __init__(self, problems: list[ValidationProblem]) -> None:
        files = sorted({p.file for p in problems})
        super().__init__(f"{len(problems)} on-call problem(s) in {', '.join(files)}:\n" +
                         "\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Checked:
    """What valid files build: the model objects by id, the roles, and the files as written."""
    people: dict[str, Person]
    teams: dict[str, Team]
    schedules: dict[str, Schedule]
    policies: dict[str, EscalationPolicy]
    roles: dict[str, tuple[str, ...]]
    raw: dict[str, Any]


def empty_raw() -> dict[str, Any]:
    """The files as written, when there are none."""
    return {"files": [], **{k: [] for k in KINDS}, "roles": {}}


def schema() -> dict[str, Any]:
    return load_schema(SCHEMA_PATH)


@cache
def _apprise_schemes() -> frozenset[str]:
    """The URL schemes the installed Apprise can send to (empty: do not check)."""
    try:
        from apprise.manager_plugins import NotificationManager
        return frozenset(s.lower() for s in NotificationManager().schemas())
    except Exception:  # another Apprise layout: the sending activity will report a bad URL
        return frozenset()


# ---------------------------------------------------------------- checks

@dataclass
class _Item:
    """One item of one file, with where it is (for problems that point at it)."""
    file: str
    doc: Doc
    path: Path_
    data: dict[str, Any]

    def line(self, *sub: str | int) -> int:
        return self.doc.line(self.path + sub)

    def at(self, *sub: str | int) -> str:
        return f"{self.file}:{self.line(*sub)}"


@dataclass
class _Checker:
    problems: list[ValidationProblem] = field(default_factory=list)
    items: dict[str, dict[str, _Item]] = field(default_factory=lambda: {k: {} for k in KINDS})
    roles: dict[str, tuple[_Item, list[Any]]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=empty_raw)

    def add(self, item: _Item, sub: Path_, message: str) -> None:
        path = item.path + sub
        self.problems.append(ValidationProblem(item.file, item.doc.line(path), format_path(path) or "(document)",
                                               message))

    def file(self, name: str, text: str | None) -> None:
        if text is None:
            self.problems.append(ValidationProblem(name, 1, "", "cannot read the file (not UTF-8 text?)"))
            return
        try:
            doc = parse(text, TextTimesLoader)
        except yaml.YAMLError as err:
            self.problems.append(syntax_problem(name, err))
            return
        found = list(doc.problems)
        if doc.data is None or doc.data == {}:
            found.append(((), 1, "the file is empty: it needs people, teams, schedules, escalation_policies "
                                 "or roles"))
        else:
            found.extend(schema_problems(SCHEMA_PATH, doc))
        self.problems.extend(ValidationProblem(name, line, format_path(path) or "(document)", msg)
                             for path, line, msg in found)
        if not isinstance(doc.data, dict):
            return
        self.raw["files"].append(Path(name).name)
        # Collect ids even from a file with problems, so its ids do not show up as unknown elsewhere.
        for kind in KINDS:
            for i, data in enumerate(_list(doc.data.get(kind))):
                if not isinstance(data, dict):
                    continue
                self.raw[kind].append({**data, "file": Path(name).name})
                item = _Item(name, doc, (kind, i), data)
                ident = data.get("id")
                if not isinstance(ident, str):
                    continue
                first = self.items[kind].get(ident)
                if first is not None:
                    self.add(item, ("id",), f"{_WHAT[kind]} id {ident!r} is already defined at {first.at('id')}")
                else:
                    self.items[kind][ident] = item
        roles = doc.data.get("roles")
        for role, targets in (roles.items() if isinstance(roles, dict) else []):
            item = _Item(name, doc, ("roles", role), {})
            if role in self.roles:
                self.add(item, (), f"role {role!r} is already defined at {self.roles[role][0].at()}")
                continue
            self.roles[role] = (item, targets if isinstance(targets, list) else [])
            self.raw["roles"][role] = targets

    # -------------------------------------------------------- cross references and values

    def ref(self, item: _Item, sub: Path_, kind: str, ident: Any) -> None:
        if isinstance(ident, str) and ident not in self.items[kind]:
            hint = difflib.get_close_matches(ident, list(self.items[kind]), n=1)
            self.add(item, sub, f"unknown {_WHAT[kind]} {ident!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))

    def target(self, item: _Item, sub: Path_, target: Any) -> None:
        if not isinstance(target, str) or ":" not in target:
            return
        kind, _, ident = target.partition(":")
        where = {"person": "people", "team": "teams", "schedule": "schedules"}.get(kind)
        if where:  # another kind is a schema problem already
            self.ref(item, sub, where, ident)

    def zone(self, item: _Item, sub: Path_, name: Any) -> None:
        if not isinstance(name, str):
            return
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            hint = difflib.get_close_matches(name, sorted(_zones()), n=1)
            self.add(item, sub, f"unknown time zone {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else
                                                                  " (an IANA name like Europe/Berlin)"))

    def url(self, item: _Item, sub: Path_, url: Any) -> None:
        if not isinstance(url, str):
            return
        for m in _PLACEHOLDER.finditer(url):
            if not _ENV_NAME.match(m.group(1)):
                self.add(item, sub, f"placeholder ${{{m.group(1)}}} must name an environment variable, "
                                    f"like ${{SMS_TOKEN}}")
        if "${" in _PLACEHOLDER.sub("", url):
            self.add(item, sub, "a ${ placeholder is not closed with }")
        scheme = _SCHEME.match(url)
        if not scheme:
            self.add(item, sub, f"{url!r} is not an Apprise URL (scheme://..., e.g. mailto://, json://, slack://)")
            return
        known = _apprise_schemes()
        if known and scheme.group(1).lower() not in known:
            hint = difflib.get_close_matches(scheme.group(1).lower(), sorted(known), n=1)
            self.add(item, sub, f"Apprise has no {scheme.group(1)!r} service" +
                     (f" (did you mean {hint[0]!r}?)" if hint else ""))

    def check(self) -> None:
        for item in self.items["people"].values():
            self.zone(item, ("timezone",), item.data.get("timezone"))
            for i, c in enumerate(_list(item.data.get("contacts"))):
                if isinstance(c, dict):
                    self.url(item, ("contacts", i, "url"), c.get("url"))
        for item in self.items["teams"].values():
            for i, m in enumerate(_list(item.data.get("members"))):
                self.ref(item, ("members", i), "people", m)
            for i, s in enumerate(_list(item.data.get("schedules"))):
                self.ref(item, ("schedules", i), "schedules", s)
                sched = self.items["schedules"].get(s) if isinstance(s, str) else None
                if sched and isinstance(sched.data.get("team"), str) and sched.data["team"] != item.data.get("id"):
                    self.add(item, ("schedules", i), f"schedule {s!r} belongs to team {sched.data['team']!r} "
                                                     f"({sched.at('team')})")
            self.url(item, ("chat",), item.data.get("chat"))
        for item in self.items["schedules"].values():
            self.schedule(item)
        self.policies()
        for role, (item, targets) in self.roles.items():
            for i, t in enumerate(targets):
                self.target(item, (i,), t)

    def schedule(self, item: _Item) -> None:
        data = item.data
        self.ref(item, ("team",), "teams", data.get("team"))
        self.zone(item, ("timezone",), data.get("timezone"))
        for i, layer in enumerate(_list(data.get("layers"))):
            if not isinstance(layer, dict):
                continue
            base = ("layers", i)
            for j, u in enumerate(_list(layer.get("users"))):
                self.ref(item, base + ("users", j), "people", u)
            start = layer.get("start")
            if isinstance(start, str):
                try:
                    _local(start)
                except ValueError as err:
                    self.add(item, base + ("start",), str(err))
            restrict = layer.get("restrict")
            if isinstance(restrict, dict):
                clocks = []
                for key in ("from", "to"):
                    value = restrict.get(key)
                    if isinstance(value, str):
                        try:
                            clocks.append(_clock(value, end=key == "to"))
                        except ValueError as err:
                            self.add(item, base + ("restrict", key), str(err))
                if len(clocks) == 2 and clocks[0] == clocks[1]:
                    self.add(item, base + ("restrict", "to"), "`from` and `to` are the same time: leave out "
                                                              "`restrict` for a layer on call all day")
        for key in ("overrides", "swaps"):
            for i, entry in enumerate(_list(data.get(key))):
                if not isinstance(entry, dict):
                    continue
                base = (key, i)
                for who in (("user",) if key == "overrides" else ("from", "to")):
                    self.ref(item, base + (who,), "people", entry.get(who))
                window = []
                for edge in ("start", "end"):
                    value = entry.get(edge)
                    if not isinstance(value, str):
                        continue
                    try:
                        window.append(_moment(value, _zone_or_utc(data.get("timezone")), end=edge == "end",
                                              day_ok=key == "swaps"))
                    except ValueError as err:
                        self.add(item, base + (edge,), str(err))
                if len(window) == 2 and window[0] >= window[1]:
                    self.add(item, base + ("end",), "must be after start")

    def policies(self) -> None:
        seen: list[tuple[_Item, frozenset[str], frozenset[str]]] = []
        for item in self.items["escalation_policies"].values():
            for i, level in enumerate(_list(item.data.get("levels"))):
                if isinstance(level, dict):
                    for j, t in enumerate(_list(level.get("targets"))):
                        self.target(item, ("levels", i, "targets", j), t)
            match = item.data.get("match") if isinstance(item.data.get("match"), dict) else {}
            services = frozenset(s for s in _list(match.get("services")) if isinstance(s, str))
            priorities = frozenset(p for p in _list(match.get("priorities")) if isinstance(p, str))
            for other, o_services, o_priorities in seen:
                same_keys = (bool(services), bool(priorities)) == (bool(o_services), bool(o_priorities))
                if same_keys and (not services or services & o_services) and \
                        (not priorities or priorities & o_priorities):
                    both = [", ".join(sorted(services & o_services))] if services else []
                    both += [", ".join(sorted(priorities & o_priorities))] if priorities else []
                    what = f" (both match {' / '.join(both)})" if both else " (both have no match: two defaults)"
                    self.add(item, ("match",) if match else ("id",),
                             f"as specific as policy {other.data.get('id')!r} at {other.at('id')}{what}: "
                             f"say which one wins by narrowing one of them")
            seen.append((item, services, priorities))

    # -------------------------------------------------------- conversion (only when valid)

    def build(self) -> Checked:
        people = {}
        for pid, item in self.items["people"].items():
            d = item.data
            people[pid] = Person(pid, d["name"], d["timezone"], d.get("language", "en"),
                                 tuple(ContactPoint(c["kind"], c["url"]) for c in d["contacts"]),
                                 tuple(sorted((d.get("chat_handles") or {}).items())))
        teams = {tid: Team(tid, i.data["name"], tuple(i.data["members"]), tuple(i.data.get("schedules") or ()),
                           i.data.get("chat", "")) for tid, i in self.items["teams"].items()}
        schedules = {}
        for sid, item in self.items["schedules"].items():
            d = item.data
            zone = ZoneInfo(d["timezone"])
            layers = []
            for n, layer in enumerate(d["layers"], 1):
                r = layer.get("restrict")
                restrict = None if r is None else Restriction(
                    tuple(DAYS.index(x) for x in r.get("days", DAYS)), _clock(r["from"]), _clock(r["to"], end=True))
                start = _local(layer["start"]) if "start" in layer else None
                layers.append(Layer(layer.get("name", f"layer {n}"), layer.get("rotation", "weekly"), start,
                                    tuple(layer["users"]), restrict, bool(layer.get("on_demand", False))))
            overrides = tuple(Override(_moment(o["start"], zone), _moment(o["end"], zone, end=True), o["user"],
                                       o.get("reason", "")) for o in d.get("overrides") or [])
            swaps = tuple(Swap(_moment(s["start"], zone, day_ok=True), _moment(s["end"], zone, end=True, day_ok=True),
                               s["from"], s["to"], s.get("reason", "")) for s in d.get("swaps") or [])
            schedules[sid] = Schedule(sid, d["team"], d["timezone"], tuple(layers), overrides, swaps, d.get("name", ""))
        policies = {}
        for pid, item in self.items["escalation_policies"].items():
            d = item.data
            match = d.get("match") or {}
            policies[pid] = EscalationPolicy(
                pid, tuple(EscalationLevel(tuple(lv["targets"]), lv.get("wait_minutes", 15)) for lv in d["levels"]),
                d.get("repeat", 1), tuple(match.get("services") or ()), tuple(match.get("priorities") or ()),
                d.get("name", ""))
        roles = {role: tuple(targets) for role, (_, targets) in self.roles.items()}
        return Checked(people=people, teams=teams, schedules=schedules, policies=policies, roles=roles,
                       raw=self.raw)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@cache
def _zones() -> frozenset[str]:
    from zoneinfo import available_timezones
    return frozenset(available_timezones())


def _zone_or_utc(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(name) if isinstance(name, str) else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _clock(value: str, *, end: bool = False) -> int:
    """Minutes after midnight of "HH:MM" ("24:00" only as an end)."""
    m = _CLOCK.match(value.strip())
    minutes = int(m.group(1)) * 60 + int(m.group(2)) if m else -1
    if not m or minutes > 1440 or (minutes == 1440 and not end):
        raise ValueError(f"{value!r} is not a time of day like \"09:00\"" + (' (or "24:00")' if end else ""))
    return minutes


def _local(value: str) -> datetime:
    """A hand-over: a wall-clock date-time in the schedule's zone, without an offset."""
    # Not warroom.timeparse: that one answers a moment (aware, UTC). A layer's start is a
    # wall-clock time kept naive on purpose: the rotation adds whole periods to it and only
    # then puts it in the schedule's zone, so hand-overs stay at 09:00 on the wall across
    # DST (rotation.py). An offset here is a mistake to report, not a moment to convert.
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date-time like 2026-01-05T09:00 (local to the schedule)") from None
    if moment.tzinfo is not None:
        raise ValueError(f"{value!r} has an offset: a layer starts at a wall-clock time in the schedule's "
                         f"time zone, like 2026-01-05T09:00")
    return moment


def _moment(value: str, zone: ZoneInfo, *, end: bool = False, day_ok: bool = False) -> datetime:
    """An absolute moment (in UTC): a date-time with its offset; where day_ok, also a date,
    meaning that whole day in the schedule's zone (an end date is included: its day ends at
    midnight after). A date is a day on the schedule's calendar, not a timestamp, so it is
    read here; the next day's midnight is found on that calendar, never by adding 24 hours."""
    value = value.strip()
    if day_ok and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a date") from None
        return datetime.combine(day + timedelta(days=1 if end else 0), time(), tzinfo=zone)
    try:
        return parse_time(value, naive=None)  # an override must say its zone: no guess at 3 a.m.
    except TimeFormatError:
        raise ValueError(f"{value!r} is not a date-time like 2026-12-24T09:00:00+08:00" +
                         (" or a date like 2026-12-24" if day_ok else "")) from None
    except NaiveTimeError:
        raise ValueError(f"{value!r} needs an offset, like 2026-12-24T09:00:00+08:00" +
                         (" (or give a whole day: 2026-12-24)" if day_ok else "")) from None


# ---------------------------------------------------------------- files

def oncall_files(directory: Path) -> list[Path]:
    """The on-call files of a directory: *.yaml / *.yml directly in it."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def check_sources(sources: Iterable[tuple[str, str | None]]) -> tuple[Checked | None, list[ValidationProblem]]:
    """Check files given as (name, text) together; nothing is built whenever there is any problem."""
    checker = _Checker()
    for name, text in sources:
        checker.file(name, text)
    checker.check()
    problems = sorted(set(checker.problems), key=lambda p: (p.file, p.line, p.path, p.message))
    if problems:
        return None, problems
    return checker.build(), []


def read(paths: Iterable[Path]) -> Iterator[tuple[str, str | None]]:
    for path in paths:
        try:
            yield str(path), path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            yield str(path), None


def validate_paths(paths: Iterable[Path]) -> list[ValidationProblem]:
    """Problems of the given files (directories: their on-call files) checked together; never raises."""
    files, missing = files_of(paths, oncall_files, missing="no such file or directory")
    return missing + check_sources(read(files))[1]


def fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the files: what a reload has to notice."""
    out = []
    for p in oncall_files(directory):
        try:
            st = p.stat()
        except OSError:
            continue
        out.append((p.name, st.st_size, st.st_mtime_ns))
    return tuple(out)
