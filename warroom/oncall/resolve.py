"""Room: on-call (warroom/oncall), resolution: who is on call at a moment, who a page target reaches.

OnCallConfig holds every valid on-call file of a directory (built by files.py) and answers
the notify activity (which resolves a page target at the moment it sends and records the
answer in the timeline), the CLI and the API. Pure: the moment is always given, never read
from a clock here except where a caller asks for "now" (parse_at).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from warroom.oncall.files import (
    Checked,
    OnCallError,
    check_sources,
    empty_raw,
    oncall_files,
    read,
)
from warroom.oncall.model import (
    EscalationPolicy,
    OnCallEntry,
    OnCallShift,
    Person,
    Resolution,
    Schedule,
    Shift,
    Team,
)
from warroom.timeparse import NaiveTimeError, TimeFormatError, parse_time
from warroom.yamldoc import ValidationProblem

_LEVEL = re.compile(r"^oncall:L(\d+)$")


def parse_at(value: str | None) -> datetime:
    """The moment a caller asks about (CLI --at, API ?at=): ISO 8601 with an offset or Z; None is now.
    The moment keeps the offset it was written with: the CLI and the API echo it back as asked."""
    if value is None or not value.strip():
        return datetime.now(UTC)
    try:
        return parse_time(value, naive=None, keep_offset=True)  # a person asking must say the zone
    except TimeFormatError:
        raise ValueError(f"{value!r} is not an ISO date-time like 2026-12-01T09:00+08:00") from None
    except NaiveTimeError:
        raise ValueError(f"{value!r} has no offset: say which zone, like 2026-12-01T09:00+08:00 or "
                         f"2026-12-01T01:00Z") from None


def _aware(at: datetime) -> datetime:
    """A moment handed in by code; one without a zone is a bug of the caller, said as such."""
    if isinstance(at, datetime):
        try:
            return parse_time(at, naive=None)
        except NaiveTimeError:
            pass
    raise ValueError(f"a moment must carry its time zone (got {at!r})")


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
        self.raw = raw or empty_raw()

    @classmethod
    def load(cls, directory: Path) -> OnCallConfig:
        """Raises OnCallError listing every problem of every file."""
        config, problems = check_files(oncall_files(Path(directory)))
        if problems or config is None:
            raise OnCallError(problems)
        return config

    @classmethod
    def built(cls, checked: Checked) -> OnCallConfig:
        return cls(people=checked.people, teams=checked.teams, schedules=checked.schedules,
                   policies=checked.policies, roles=checked.roles, raw=checked.raw)

    @classmethod
    def empty(cls) -> OnCallConfig:
        return cls()

    def as_dict(self) -> dict[str, Any]:
        """The configuration as written (each item with the file it came from); a copy."""
        return copy.deepcopy(self.raw)

    def person_by_chat(self, kind: str, *handles: str) -> Person | None:
        """The person whose `chat_handles[kind]` is one of `handles` (a Slack user id, a
        username with or without @, an email; compared without case)."""
        wanted = {h.strip().lstrip("@").lower() for h in handles if h and h.strip()}
        for person in self.people.values():
            if person.handle(kind).strip().lstrip("@").lower() in wanted:
                return person
        return None

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

    def shifts_between(self, after: datetime, before: datetime, *, team: str | None = None,
                       person: str | None = None) -> list[OnCallShift]:
        """Every shift over [after, before) of `team`'s schedules (or all), only `person`'s
        when given, in time order: what on_call() answers at each moment, as stretches."""
        _aware(after), _aware(before)
        if team is not None and team not in self.teams:
            raise KeyError(f"no team {team!r}")
        if person is not None and person not in self.people:
            raise KeyError(f"no person {person!r}")
        ids = list(self._team_schedules(self.teams[team])) if team else list(self.schedules)
        out = []
        for sid in ids:
            schedule = self.schedules[sid]
            levels = self._levels_paging(schedule)
            for span in schedule.spans(after, before):
                for s in span.shifts:
                    if person is None or s.person == person:
                        out.append(OnCallShift(sid, schedule.team, s.layer, self.people[s.person],
                                               "swap" if s.swapped_from else s.source, span.start, span.end,
                                               levels, s.swapped_from))
        return sorted(out, key=lambda s: (s.start, s.schedule, s.person.id))

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


def check_texts(sources: Iterable[tuple[str, str | None]]) -> tuple[OnCallConfig | None, list[ValidationProblem]]:
    """Check files given as (name, text) together; the config is None whenever there is any problem."""
    checked, problems = check_sources(sources)
    return (None if checked is None else OnCallConfig.built(checked)), problems


def check_files(paths: Iterable[Path]) -> tuple[OnCallConfig | None, list[ValidationProblem]]:
    return check_texts(read(paths))
