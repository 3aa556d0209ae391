"""Room: workflows (deterministic, standard library only). The P1 -> P0 upgrade triggers of the
SPEC (section 3) as pure rules: which impact signals an alert's labels or an engineer update
report, which of them raise the priority, and which terms in an update's text suggest one.

Shared by the engine (core.py: later alerts, updates) and the edge (warroom/classify.py: the
starting alert's labels are impact rules). docs/upgrades.md says why each rule is what it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# The signals, in the order people read them; each alone makes an incident a P0 (SPEC 2's P0 row).
SIGNALS: tuple[str, ...] = ("data_loss", "security_risk", "all_users", "business_down")
RECOVERY_LABEL = "expected_recovery_minutes"
SAID = {
    "data_loss": "data loss",
    "security_risk": "a security risk",
    "all_users": "all users affected",
    "business_down": "the business fully down",
}
_TRUE = frozenset({"true", "yes", "1", "y", "on"})
_FALSE = frozenset({"false", "no", "0", "n", "off", ""})


@dataclass(frozen=True)
class Impact:
    """What one alert or update reports."""

    signals: tuple[str, ...] = ()
    recovery_minutes: int | None = None

    def __bool__(self) -> bool:
        return bool(self.signals) or self.recovery_minutes is not None


@dataclass(frozen=True)
class Trigger:
    name: str  # a signal, or "expected_recovery"
    reason: str


def label_problems(labels: Mapping[str, str]) -> list[str]:
    """What is wrong with an alert's impact labels, each naming the label (the edge answers 422)."""
    out = []
    for name in SIGNALS:
        value = str(labels.get(name, "")).strip().lower()
        if value not in _TRUE and value not in _FALSE:
            out.append(f"labels.{name}: {labels[name]!r} is not true or false")
    raw = str(labels.get(RECOVERY_LABEL, "")).strip()
    if raw and not raw.isdigit():
        out.append(f"labels.{RECOVERY_LABEL}: {labels[RECOVERY_LABEL]!r} is not a whole number of minutes")
    return out


def from_labels(labels: Mapping[str, str]) -> Impact:
    """The impact an alert's labels report (`data_loss: "true"`, `expected_recovery_minutes: "300"`).
    A value that is not a clear yes or a number reports nothing (label_problems names it)."""
    signals = tuple(n for n in SIGNALS if str(labels.get(n, "")).strip().lower() in _TRUE)
    raw = str(labels.get(RECOVERY_LABEL, "")).strip()
    return Impact(signals, int(raw) if raw.isdigit() else None)


def from_fields(fields: object) -> Impact:
    """The impact an engineer update reports (contracts.PostUpdate's flags)."""
    signals = tuple(n for n in SIGNALS if getattr(fields, n, False))
    minutes = getattr(fields, RECOVERY_LABEL, None)
    return Impact(signals, minutes if isinstance(minutes, int) and minutes >= 0 else None)


def triggers(impact: Impact, priority: str, recovery_beyond_seconds: int) -> list[Trigger]:
    """Why `impact` raises an incident of `priority` to P0 (empty: it does not). Each signal
    raises any priority below P0 (the SPEC's P0 row names them); an expected recovery beyond
    the limit raises a P1 only: it is the P1 resolve target, and P2-P4 have longer ones."""
    if priority == "P0":
        return []
    out = [Trigger(n, f"{SAID[n]} reported") for n in impact.signals]
    minutes = impact.recovery_minutes
    if priority == "P1" and minutes is not None and minutes * 60 > recovery_beyond_seconds:
        out.append(Trigger("expected_recovery", f"expected recovery {_span(minutes)} is beyond "
                                                f"{_span(recovery_beyond_seconds // 60)}"))
    return out


def _span(minutes: int) -> str:
    h, m = divmod(minutes, 60)
    return " ".join(p for p in (f"{h} h" if h else "", f"{m} min" if m else "") if p) or "0 min"


# A term right after one of these (in the same clause) is negated: "no data loss", "没有数据丢失".
_NEGATION = re.compile(r"(?:\b(?:no|not|without|zero|never)\b|没有|未|无)[^.,;!?。，；！？]{0,12}$", re.IGNORECASE)


def _pattern(term: str) -> re.Pattern[str]:
    # Latin terms match as whole words ("breach" is not in "breaches"... unless listed); CJK terms
    # have no word boundaries and match as written.
    escaped = re.escape(term.lower())
    if term.isascii():
        return re.compile(rf"(?<![a-z0-9]){escaped}(?![a-z0-9])")
    return re.compile(escaped)


def suggestions(text: str, suggest: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    """(signal, term) for each signal a term of `suggest` finds in `text`, not negated; the first
    term found per signal. A suggestion, never applied: a person confirms it."""
    low = text.lower()
    out: list[tuple[str, str]] = []
    for signal in SIGNALS:
        for term in sorted(suggest.get(signal, ()), key=len, reverse=True):  # longest first
            hit = next((m for m in _pattern(term).finditer(low) if not _NEGATION.search(low[:m.start()])), None)
            if hit is not None:
                out.append((signal, term))
                break
    return out
