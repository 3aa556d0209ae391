"""On-call configuration: people, teams, schedules, escalation policies and roles from the
YAML files of oncall/, validated against oncall/schema.json, and "who is on call at time T".

Room: configuration data + pure resolution (no Temporal, no database, no network). Used by
the notify activity (which resolves a page target at the moment it sends, and records the
answer in the timeline), the CLI and the API. Every problem is reported as
`file:line: field.path: message`, like runbooks. Contact URLs keep their `${ENV}`
placeholders as text: only the sending activity expands them, so secrets never sit in this
configuration, a workflow's input or its history.
"""

from __future__ import annotations

import copy
import difflib
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from warroom.yamldoc import (
    Doc,
    Path_,
    TextTimesLoader,
    ValidationProblem,
    format_path,
    load_schema,
    parse,
    schema_problems,
    syntax_problem,
)

log = logging.getLogger("warroom.oncall")

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "oncall.schema.json"  # also at oncall/schema.json
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = ("people", "teams", "schedules", "escalation_policies")
_WHAT = {"people": "person", "teams": "team", "schedules": "schedule", "escalation_policies": "policy"}
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://\S")
_LEVEL = re.compile(r"^oncall:L(\d+)$")
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")



class OnCallError(ValueError):
    """On-call files that cannot be used; the message names every file, line and field."""

    def __init__(self, problems: list[ValidationProblem]) -> None:
        files = sorted({p.file for p in problems})
        super().__init__(f"{len(problems)} on-call problem(s) in {', '.join(files)}:\n" +
                         "\n".join(str(p) for p in problems))
        self.problems = problems


# ---------------------------------------------------------------- the model

@dataclass(frozen=True)
class ContactPoint:
    kind: str  # sms | phone | email | chat | webhook
    url: str  # an Apprise URL; may contain ${ENV} placeholders, expanded only when sending


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    timezone: str
    language: str = "en"
    contacts: tuple[ContactPoint, ...] = ()  # fallback order
    chat_handles: tuple[tuple[str, str], ...] = ()  # (workspace kind, user), e.g. ("slack", "U024BE7LH")

    def handle(self, kind: str) -> str:
        return dict(self.chat_handles).get(kind, "")


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    members: tuple[str, ...]
    schedules: tuple[str, ...] = ()  # the first is the team's primary (what `team:<id>` pages)
    chat: str = ""


@dataclass(frozen=True)
class Restriction:
    """A weekly window in the schedule's time zone; `from` after `to` runs overnight."""
    days: tuple[int, ...]  # 0 = Monday
    start_minute: int
    end_minute: int  # 1440 = midnight at the end of the day

    def covers(self, local: datetime) -> bool:
        minute, day = local.hour * 60 + local.minute, local.weekday()
        if self.start_minute < self.end_minute:
            return day in self.days and self.start_minute <= minute < self.end_minute
        # overnight: 18:00-09:00 on fri covers Friday evening and Saturday morning
        return (day in self.days and minute >= self.start_minute) or \
            ((day - 1) % 7 in self.days and minute < self.end_minute)


@dataclass(frozen=True)
class Layer:
    name: str
    rotation: str  # weekly | daily
    start: datetime | None  # naive: wall time in the schedule's zone, the first hand-over (on demand: optional)
    users: tuple[str, ...]
    restrict: Restriction | None = None
    on_demand: bool = False

    def handover(self, index: int, zone: ZoneInfo) -> datetime:
        """The index-th hand-over in UTC: the same wall time every period, so a DST change
        moves it in UTC and never on the clock on the wall."""
        assert self.start is not None
        period = timedelta(days=7 if self.rotation == "weekly" else 1)
        return (self.start + index * period).replace(tzinfo=zone).astimezone(UTC)

    def user_at(self, at: datetime, zone: ZoneInfo) -> str | None:
        """Who this rotation puts on call at `at` (None before its start or outside `restrict`)."""
        local = at.astimezone(zone)
        if self.start is None or (self.restrict and not self.restrict.covers(local)):
            return None
        at_utc = at.astimezone(UTC)
        period = timedelta(days=7 if self.rotation == "weekly" else 1)
        index = (local.replace(tzinfo=None) - self.start) // period
        while self.handover(index + 1, zone) <= at_utc:
            index += 1
        while index >= 0 and self.handover(index, zone) > at_utc:
            index -= 1
        return None if index < 0 else self.users[index % len(self.users)]

    def active(self, at: datetime, zone: ZoneInfo) -> bool:
        return (self.start is None or at.astimezone(UTC) >= self.handover(0, zone)) and \
            (self.restrict is None or self.restrict.covers(at.astimezone(zone)))


@dataclass(frozen=True)
class Override:
    start: datetime  # aware
    end: datetime
    user: str
    reason: str = ""


@dataclass(frozen=True)
class Swap:
    start: datetime  # aware
    end: datetime
    from_user: str
    to_user: str
    reason: str = ""


@dataclass(frozen=True)
class Shift:
    """One person a schedule puts on call: from which layer and why."""
    person: str
    layer: str
    source: str  # rotation | override | on demand
    swapped_from: str = ""  # the person the rotation named, when a swap replaced them


@dataclass(frozen=True)
class Schedule:
    id: str
    team: str
    timezone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()
    swaps: tuple[Swap, ...] = ()
    name: str = ""

    def shifts(self, at: datetime) -> list[Shift]:
        """Who is on call at `at`: the last override covering it, else the highest layer with
        someone on call (swaps applied), else every user of the highest active on-demand layer."""
        for o in reversed(self.overrides):
            if o.start <= at < o.end:
                return [Shift(o.user, "override", "override")]
        zone = ZoneInfo(self.timezone)
        for layer in reversed(self.layers):
            if layer.on_demand:
                continue
            user = layer.user_at(at, zone)
            if user:
                return [self._swapped(Shift(user, layer.name, "rotation"), at)]
        for layer in reversed(self.layers):
            if layer.on_demand and layer.active(at, zone):
                return _unique_shifts(self._swapped(Shift(u, layer.name, "on demand"), at) for u in layer.users)
        return []

    def _swapped(self, shift: Shift, at: datetime) -> Shift:
        for s in self.swaps:
            if s.start <= at < s.end and shift.person == s.from_user:
                shift = Shift(s.to_user, shift.layer, shift.source, swapped_from=shift.swapped_from or s.from_user)
        return shift


def _unique_shifts(shifts: Iterable[Shift]) -> list[Shift]:
    seen: set[str] = set()
    out = []
    for s in shifts:
        if s.person not in seen:
            seen.add(s.person)
            out.append(s)
    return out


@dataclass(frozen=True)
class EscalationLevel:
    targets: tuple[str, ...]
    wait_minutes: int = 15  # before the next level (after the last: before the next repeat)


@dataclass(frozen=True)
class EscalationPolicy:
    id: str
    levels: tuple[EscalationLevel, ...]
    repeat: int = 1  # how many times to run through the levels while nobody acknowledges
    services: tuple[str, ...] = ()  # empty: any service
    priorities: tuple[str, ...] = ()  # empty: any priority
    name: str = ""

    @property
    def specificity(self) -> int:
        """A service match outranks a priority match; both outrank either; none is the default."""
        return 2 * bool(self.services) + bool(self.priorities)

    def matches(self, *, service: str, priority: str) -> bool:
        return (not self.services or service in self.services) and \
            (not self.priorities or priority in self.priorities)

    def level_for(self, engine_level: int) -> tuple[int, int, bool]:
        """(policy level, pass, beyond) for the engine's escalation level (L1, L2, ...): the
        levels run `repeat` times in a row (L3 of a two-level policy repeated twice is its
        level 1 again, second pass); past the last pass it stays at the last level."""
        n = len(self.levels)
        step = max(1, engine_level) - 1
        if step < n * max(1, self.repeat):
            return step % n + 1, step // n + 1, False
        return n, max(1, self.repeat), True

    def wait_seconds(self, engine_levels: int) -> list[int]:
        """Each engine level's wait before the next, for levels 1..engine_levels."""
        return [self.levels[self.level_for(k)[0] - 1].wait_minutes * 60 for k in range(1, engine_levels + 1)]


@dataclass(frozen=True)
class Resolution:
    target: str
    people: tuple[Person, ...]  # in page order, de-duplicated; may be empty
    via: str  # e.g. "policy critical L2 → schedule platform-l2 → Bob Li (override)"
    chat: tuple[str, ...] = ()  # team chat URLs reached through team targets


@dataclass(frozen=True)
class OnCallEntry:
    """One line of `warroom oncall now`: a schedule and one person it puts on call (or nobody)."""
    schedule: str
    team: str
    layer: str
    person: Person | None
    source: str  # rotation | override | swap | on demand | nobody
    local_time: str  # the person's wall clock at `at` (ISO), "" for nobody
    levels: tuple[str, ...] = ()  # policy levels that page this schedule, e.g. ("critical L1",)
    swapped_from: str = ""

    def as_dict(self) -> dict[str, Any]:
        p = self.person
        return {"schedule": self.schedule, "team": self.team, "layer": self.layer, "source": self.source,
                "person": None if p is None else {"id": p.id, "name": p.name, "timezone": p.timezone,
                                                  "language": p.language},
                "local_time": self.local_time, "levels": list(self.levels), "swapped_from": self.swapped_from}


def parse_at(value: str | None) -> datetime:
    """The moment a caller asks about (CLI --at, API ?at=): ISO 8601 with an offset or Z; None is now."""
    if value is None or not value.strip():
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date-time like 2026-12-01T09:00+08:00") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no offset: say which zone, like 2026-12-01T09:00+08:00 or "
                         f"2026-12-01T01:00Z")
    return moment


def _aware(at: datetime) -> datetime:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"a moment must carry its time zone (got {at!r})")
    return at


def _names(people: list[Person], shifts: list[Shift]) -> str:
    if not shifts:
        return "nobody on call"
    by_source: dict[str, list[str]] = {}
    for person, shift in zip(people, shifts):
        why = shift.source if not shift.swapped_from else f"swap for {shift.swapped_from}"
        by_source.setdefault(why, []).append(person.name)
    return "; ".join(f"{', '.join(names)} ({why})" for why, names in by_source.items())


class OnCallConfig:
    """Every on-call file of a directory, all valid, or an OnCallError naming each problem."""

    def __init__(self, *, people: dict[str, Person] | None = None, teams: dict[str, Team] | None = None,
                 schedules: dict[str, Schedule] | None = None,
                 policies: dict[str, EscalationPolicy] | None = None,
                 roles: dict[str, tuple[str, ...]] | None = None, raw: dict[str, Any] | None = None) -> None:
        self.people = people or {}
        self.teams = teams or {}
        self.schedules = schedules or {}
        self.policies = policies or {}
        self.roles = roles or {}
        self.raw = raw or {"files": [], **{k: [] for k in KINDS}, "roles": {}}

    @classmethod
    def load(cls, directory: Path) -> OnCallConfig:
        """Raises OnCallError listing every problem of every file."""
        config, problems = check_files(oncall_files(Path(directory)))
        if problems or config is None:
            raise OnCallError(problems)
        return config

    @classmethod
    def empty(cls) -> OnCallConfig:
        return cls()

    def as_dict(self) -> dict[str, Any]:
        """The configuration as written (each item with the file it came from); a copy."""
        return copy.deepcopy(self.raw)

    # ------------------------------------------------------------ policies

    def policy_for(self, *, service: str, priority: str) -> EscalationPolicy | None:
        """The most specific matching policy (validation leaves no tie at the top)."""
        found = [p for p in self.policies.values() if p.matches(service=service, priority=priority)]
        return max(found, key=lambda p: p.specificity) if found else None

    # ------------------------------------------------------------ who is on call

    def _team_schedules(self, team: Team) -> tuple[str, ...]:
        return team.schedules or tuple(s.id for s in self.schedules.values() if s.team == team.id)

    def _levels_paging(self, schedule: Schedule) -> tuple[str, ...]:
        team = self.teams.get(schedule.team)
        primary = team is not None and self._team_schedules(team)[:1] == (schedule.id,)
        out = []
        for policy in self.policies.values():
            for n, level in enumerate(policy.levels, 1):
                if f"schedule:{schedule.id}" in level.targets or (primary and f"team:{schedule.team}" in level.targets):
                    out.append(f"{policy.id} L{n}")
        return tuple(out)

    def on_call(self, at: datetime, team: str | None = None) -> list[OnCallEntry]:
        """Per schedule (of `team`, or all), the people it puts on call at `at`."""
        _aware(at)
        if team is not None and team not in self.teams:
            raise KeyError(f"no team {team!r}")
        ids = list(self._team_schedules(self.teams[team])) if team else list(self.schedules)
        entries = []
        for sid in ids:
            schedule = self.schedules[sid]
            levels = self._levels_paging(schedule)
            shifts = schedule.shifts(at)
            if not shifts:
                entries.append(OnCallEntry(sid, schedule.team, "", None, "nobody", "", levels))
            for s in shifts:
                person = self.people[s.person]
                local = at.astimezone(ZoneInfo(person.timezone)).isoformat(timespec="minutes")
                source = "swap" if s.swapped_from else s.source
                entries.append(OnCallEntry(sid, schedule.team, s.layer, person, source, local, levels,
                                           s.swapped_from))
        return entries

    # ------------------------------------------------------------ resolution

    def _one(self, target: str, at: datetime) -> tuple[list[Person], list[str], str]:
        """People, team chats and the chain for a person:/team:/schedule: target."""
        kind, _, ident = target.partition(":")
        if kind in ("person", "commander") and ident in self.people:
            p = self.people[ident]
            return [p], [], f"person {ident} → {p.name}"
        if kind == "schedule" and ident in self.schedules:
            shifts = self.schedules[ident].shifts(at)
            people = [self.people[s.person] for s in shifts]
            return people, [], f"schedule {ident} → {_names(people, shifts)}"
        if kind == "team" and ident in self.teams:
            team = self.teams[ident]
            chat = [team.chat] if team.chat else []
            primary = self._team_schedules(team)[:1]
            if primary:
                people, _, via = self._one(f"schedule:{primary[0]}", at)
                if people:
                    return people, chat, f"team {ident} → {via}"
            people = [self.people[m] for m in team.members]
            return people, chat, f"team {ident} → all members: {', '.join(p.name for p in people)}"
        what = {"person": "person", "commander": "person", "schedule": "schedule", "team": "team"}.get(kind)
        return [], [], f"unknown {what} {ident!r}" if what else f"unknown target {target!r}"

    def resolve(self, target: str, *, service: str, priority: str, at: datetime) -> Resolution:
        """Who a page to `target` reaches at `at`: oncall:L<n> (that level of the policy for
        service+priority, the levels running `repeat` times; then the last level),
        person:/team:/schedule:<id>, or a
        role name. Unknown targets reach nobody, and `via` says why."""
        _aware(at)
        level = _LEVEL.match(target)
        if level:
            n = int(level.group(1))
            policy = self.policy_for(service=service, priority=priority)
            if policy is None:
                return Resolution(target, (), f"no escalation policy matches service {service!r} priority {priority}")
            if n < 1:
                return Resolution(target, (), f"no level L{n}: levels start at L1")
            index, turn, beyond = policy.level_for(n)
            prefix = f"policy {policy.id} L{index}" + (
                f" (L{n} is beyond the last level)" if beyond else f" (pass {turn} of {policy.repeat})" if turn > 1 else "")
            targets = list(policy.levels[index - 1].targets)
        elif target in self.roles:
            prefix, targets = f"role {target}", list(self.roles[target])
        elif target.partition(":")[0] in ("person", "team", "schedule", "commander"):
            prefix, targets = "", [target]
        else:
            return Resolution(target, (), f"unknown target {target!r}: not a level, person, team, schedule or role")
        people: list[Person] = []
        chat: list[str] = []
        chains = []
        for t in targets:
            found, chats, chain = self._one(t, at)
            people.extend(p for p in found if p not in people)
            chat.extend(c for c in chats if c not in chat)
            chains.append(chain)
        via = "; ".join(chains)
        return Resolution(target, tuple(people), f"{prefix} → {via}" if prefix else via, tuple(chat))


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
    raw: dict[str, Any] = field(default_factory=lambda: {"files": [], **{k: [] for k in KINDS}, "roles": {}})

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

    def build(self) -> OnCallConfig:
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
        return OnCallConfig(people=people, teams=teams, schedules=schedules, policies=policies, roles=roles,
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
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date-time like 2026-01-05T09:00 (local to the schedule)") from None
    if moment.tzinfo is not None:
        raise ValueError(f"{value!r} has an offset: a layer starts at a wall-clock time in the schedule's "
                         f"time zone, like 2026-01-05T09:00")
    return moment


def _moment(value: str, zone: ZoneInfo, *, end: bool = False, day_ok: bool = False) -> datetime:
    """An absolute moment: a date-time with its offset; where day_ok, also a date, meaning that
    whole day in the schedule's zone (an end date is included: its day ends at midnight after)."""
    value = value.strip()
    if day_ok and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a date") from None
        return datetime.combine(day + timedelta(days=1 if end else 0), time(), tzinfo=zone)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date-time like 2026-12-24T09:00:00+08:00" +
                         (" or a date like 2026-12-24" if day_ok else "")) from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} needs an offset, like 2026-12-24T09:00:00+08:00" +
                         (" (or give a whole day: 2026-12-24)" if day_ok else ""))
    return moment


# ---------------------------------------------------------------- files and loading

def oncall_files(directory: Path) -> list[Path]:
    """The on-call files of a directory: *.yaml / *.yml directly in it."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def check_texts(sources: Iterable[tuple[str, str | None]]) -> tuple[OnCallConfig | None, list[ValidationProblem]]:
    """Check files given as (name, text) together; the config is None whenever there is any problem."""
    checker = _Checker()
    for name, text in sources:
        checker.file(name, text)
    checker.check()
    problems = sorted(set(checker.problems), key=lambda p: (p.file, p.line, p.path, p.message))
    if problems:
        return None, problems
    return checker.build(), []


def _read(paths: Iterable[Path]) -> Iterator[tuple[str, str | None]]:
    for path in paths:
        try:
            yield str(path), path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            yield str(path), None


def check_files(paths: Iterable[Path]) -> tuple[OnCallConfig | None, list[ValidationProblem]]:
    return check_texts(_read(paths))


def validate_paths(paths: Iterable[Path]) -> list[ValidationProblem]:
    """Problems of the given files (directories: their on-call files) checked together; never raises."""
    files: list[Path] = []
    missing: list[ValidationProblem] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(oncall_files(p))
        elif p.is_file():
            files.append(p)
        else:
            missing.append(ValidationProblem(str(p), 1, "", "no such file or directory"))
    return missing + check_files(files)[1]


def default_oncall_dir() -> Path:
    return Path(os.environ.get("WARROOM_ONCALL_DIR") or "oncall")


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


_loaded: dict[Path, tuple[tuple[tuple[str, int, int], ...], OnCallConfig]] = {}


def remember(directory: Path, config: OnCallConfig) -> None:
    """Make `config` the loaded one for `directory` (after writing a file there)."""
    _loaded[Path(directory).resolve()] = (fingerprint(directory), config)


def load_oncall(directory: Path | None = None) -> OnCallConfig:
    """The configuration of `directory` (default: env WARROOM_ONCALL_DIR, else ./oncall);
    empty when the directory does not exist. Raises OnCallError when any file is invalid.
    Re-read only when a file changed, so callers may call it for every page."""
    directory = Path(directory) if directory is not None else default_oncall_dir()
    if not directory.is_dir():
        return OnCallConfig.empty()
    key, stamp = directory.resolve(), fingerprint(directory)
    cached = _loaded.get(key)
    if cached and cached[0] == stamp:
        return cached[1]
    config = OnCallConfig.load(directory)
    _loaded[key] = (stamp, config)
    return config


class OnCallSource:
    """What the worker pages from: the directory's configuration, re-read when a file changes.
    Files that become invalid while the worker runs (a hand edit) never stop paging: the last
    valid configuration stays in use, and the problems are logged at every page until fixed.
    Built with the files valid (the worker refuses to start otherwise)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.last = load_oncall(directory)

    def __call__(self) -> OnCallConfig:
        try:
            self.last = load_oncall(self.directory)
        except OnCallError as err:
            log.error("on-call files in %s are invalid; paging with the last valid ones: %s", self.directory, err)
        return self.last


__all__ = ["ContactPoint", "EscalationLevel", "EscalationPolicy", "OnCallConfig", "OnCallEntry", "OnCallError",
           "OnCallSource", "Person", "Resolution", "Schedule", "Team", "check_texts", "default_oncall_dir", "load_oncall",
           "oncall_files", "parse_at", "remember", "schema", "validate_paths"]
