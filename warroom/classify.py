"""Classification: pure functions from a normalised alert to priority, category and ids.

Room: shared library (warroom/): classification, pure, no I/O. Used by the starter (priority
picks the workflow type) and by the assess activity (category, which picks the runbook). The
category comes from words and phrases of the keyword lists (Keywords, which warroom/keywords.py
builds from the YAML file); the rules are docs/classification.md.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from workflows.contracts import PRIORITIES, AlertInfo
from workflows.upgrades import SAID, from_labels

# Severity words real senders use, mapped to the SPEC's three (critical / warning / info).
SEVERITY_ALIASES = {
    "critical": "critical", "crit": "critical", "disaster": "critical", "fatal": "critical",
    "emergency": "critical", "page": "critical", "high": "critical", "major": "critical",
    "severe": "critical", "p1": "critical", "p0": "critical", "sev1": "critical", "sev0": "critical",
    "error": "warning", "warning": "warning", "warn": "warning", "average": "warning", "medium": "warning",
    "minor": "warning", "p2": "warning", "sev2": "warning",
    "info": "info", "information": "info", "informational": "info", "low": "info", "ok": "info",
    "notice": "info", "debug": "info", "p3": "info", "p4": "info", "p5": "info", "none": "info",
}

# The SPEC's categories (section 2), in its order. Which words name each one, and which wins
# when several are named, is configuration: warroom/classification.yaml (warroom/keywords.py).
CATEGORIES = (
    "AUTHENTICATION_FAILURE", "AUTHORIZATION_ERROR", "PERFORMANCE_DEGRADATION", "SYSTEM_UNAVAILABLE",
    "DATA_INTEGRITY_ISSUE", "SECURITY_BREACH", "CONFIGURATION_ERROR", "EXTERNAL_DEPENDENCY_FAILURE",
)
FALLBACK_CATEGORY = "SYSTEM_UNAVAILABLE"

# Words: a run of letters and digits, except CJK, which is one token per character (Chinese
# has no spaces; its terms match as whole runs of characters). Links name places, not problems.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
# CamelCase alert names read as words: InstanceDown, PostgreSQLReplicationLag, HTTP503Errors.
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def tokenize(text: str) -> list[str]:
    """The words of a text, lower case: English split on anything but letters and digits and at
    CamelCase humps, CJK one character each; full-width forms read as their ASCII ones."""
    out: list[str] = []
    for m in _TOKEN.finditer(_URL.sub(" ", unicodedata.normalize("NFKC", text))):
        word = m.group()
        out.extend(part.lower() for part in (_CAMEL.findall(word) if word.isascii() else [word]))
    return out


@dataclass(frozen=True)
class Keywords:
    """The keyword lists, ready to match: every term's words -> (its category, or "" for a
    look-alike, and the term as written). Built by warroom/keywords.py from the YAML file."""

    version: str
    order: tuple[str, ...]  # categories, the first wins
    terms: dict[tuple[str, ...], tuple[str, str]]
    digest: str = ""  # of the file's bytes: an edit that forgot to bump `version` still shows

    @cached_property
    def longest(self) -> int:
        return max((len(k) for k in self.terms), default=1)

    @staticmethod
    def keys(term: str) -> set[tuple[str, ...]]:
        """The word sequences a term matches: as written and in lower case ("MySQL" is split
        at its hump like the alert's text, and matches "mysql" too)."""
        return {k for k in (tuple(tokenize(term)), tuple(tokenize(term.lower()))) if k}

    @classmethod
    def build(cls, version: str, categories: Iterable[tuple[str, Iterable[str]]], look_alikes: Iterable[str] = (),
              digest: str = "") -> Keywords:
        categories = list(categories)
        terms: dict[tuple[str, ...], tuple[str, str]] = {}
        for category, words in [("", list(look_alikes)), *categories]:
            for term in words:
                terms.update(dict.fromkeys(cls.keys(term), (category, term)))
        return cls(version=str(version), order=tuple(c for c, _ in categories), terms=terms, digest=digest)

    def find(self, text: str) -> list[tuple[str, str]]:
        """(category or "", term) of every term in the text, left to right, the longest term at
        each place first; the words of a term are not matched again by a shorter one."""
        words, found, i = tokenize(text), [], 0
        while i < len(words):
            for n in range(min(self.longest, len(words) - i), 0, -1):
                hit = self.terms.get(tuple(words[i:i + n]))
                if hit:
                    found.append(hit)
                    i += n
                    break
            else:
                i += 1
        return found

    @property
    def version_label(self) -> str:
        return f"keyword lists {self.version}" + (f" (sha256 {self.digest})" if self.digest else "")


@dataclass(frozen=True)
class Classification:
    """An alert's category and why: the field and terms that decided it, and the lists used."""

    category: str
    field: str = ""  # title | description | alertname | label; "" when nothing matched
    terms: tuple[str, ...] = ()
    lists: str = ""  # Keywords.version_label

    @property
    def reason(self) -> str:
        if self.field == "label":
            return "the alert's category label"
        said = (f"{', '.join(map(repr, self.terms))} in the {self.field}" if self.field else
                f"no keyword in the {', '.join(_FIELDS[:-1])} or {_FIELDS[-1]}: the fallback")
        return f"{said}; {self.lists}" if self.lists else said


IMPACT_LEVELS = ("CRITICAL", "HIGH", "MEDIUM", "LOW")


def normalise_severity(raw: str) -> str:
    """critical / warning / info, or '' when the word is unknown."""
    return SEVERITY_ALIASES.get((raw or "").strip().lower(), "")


def classify_priority(alert: AlertInfo, *, tier1_services: list[str] | tuple[str, ...] = ()) -> tuple[str, str]:
    """(priority, reason). SPEC 2: explicit priority, then severity mapping, then impact rules;
    impact signals in the labels (data_loss, security_risk, all_users, business_down: SPEC 3's
    upgrade triggers, workflows/upgrades.py) make any of them P0, saying so."""
    priority, reason = _classify_priority(alert, tier1_services)
    signals = from_labels(alert.labels).signals
    if signals and priority != "P0":
        said = ", ".join(f"{SAID[n]} (label {n})" for n in signals)
        return "P0", f"{reason}, raised to P0: {said}"
    return priority, reason


def _classify_priority(alert: AlertInfo, tier1_services: list[str] | tuple[str, ...]) -> tuple[str, str]:
    explicit = (alert.priority or "").strip().upper()
    if explicit in PRIORITIES:
        return explicit, "explicit priority"
    by_impact = _impact_priority(alert)
    severity = normalise_severity(alert.severity)
    if severity == "critical":
        tier_priority = "P0" if alert.service and alert.service in tier1_services else "P1"
        # Impact can only raise a critical alert, never lower it.
        if by_impact and by_impact < tier_priority:
            return by_impact, f"severity {alert.severity}, impact rules raise it"
        return tier_priority, f"severity {alert.severity}" + (" on a tier-1 service" if tier_priority == "P0" else "")
    if by_impact:
        return by_impact, "impact rules"
    if severity == "warning":
        return "P2", f"severity {alert.severity}"
    if severity == "info":
        return "P4", f"severity {alert.severity}"
    return "P3", "no severity or impact given"


def _impact_priority(alert: AlertInfo) -> str:
    users, impact, avail = alert.affected_users, (alert.business_impact or "").upper(), alert.availability
    if (users is not None and users > 1000) or impact == "CRITICAL" or (avail is not None and avail < 50):
        return "P0"
    if (users is not None and users > 100) or impact == "HIGH" or (avail is not None and avail < 80):
        return "P1"
    if (users is not None and users > 10) or impact == "MEDIUM" or (avail is not None and avail < 95):
        return "P2"
    return ""


# What an alert says is wrong, most telling first. The service and the other labels name where
# (they pick the runbook with the category), never what: "security-scanner" is not a breach.
_FIELDS = ("title", "description", "alertname")


def classify_category(alert: AlertInfo, keywords: Keywords) -> Classification:
    """SPEC 2: the alert's own `category` label; else the first field (title, description,
    alertname) that holds a keyword decides, by the lists' precedence; else the fallback."""
    explicit = (alert.labels.get("category") or "").strip().upper()
    if explicit in CATEGORIES:
        return Classification(explicit, "label", lists=keywords.version_label)
    texts = (alert.title, alert.description, alert.labels.get("alertname", ""))
    for name, text in zip(_FIELDS, texts, strict=True):
        found = [(c, t) for c, t in keywords.find(text) if c]
        if found:
            best = min((c for c, _ in found), key=keywords.order.index)
            terms = tuple(dict.fromkeys(t for c, t in found if c == best))
            return Classification(best, name, terms, keywords.version_label)
    return Classification(FALLBACK_CATEGORY, lists=keywords.version_label)


_SAFE_KEY = re.compile(r"^[A-Za-z0-9._:@=+-]{1,200}$")  # no "/": ids are URL path segments


def incident_workflow_id(dedup_key: str) -> str:
    """One workflow per dedup key: a repeated alert joins the open incident."""
    if _SAFE_KEY.match(dedup_key):
        return f"incident-{dedup_key}"
    return "incident-h" + hashlib.sha256(dedup_key.encode()).hexdigest()[:32]


# A dedup key that fires again after its incident closed opens a new incident on the same
# workflow id (signal-with-start stays atomic); the public ids are then `<workflow id>~2`, `~3`...
# "~" is outside _SAFE_KEY, so such an id never collides with another key's workflow id.
OCCURRENCE_SEP = "~"


def occurrence_id(workflow_id: str, occurrence: int) -> str:
    return workflow_id if occurrence <= 1 else f"{workflow_id}{OCCURRENCE_SEP}{occurrence}"


def split_incident_id(incident_id: str) -> tuple[str, int]:
    """(workflow id, occurrence) of a public incident id; an unreadable suffix is occurrence 0."""
    wf_id, sep, n = incident_id.partition(OCCURRENCE_SEP)
    if not sep:
        return wf_id, 1
    # ASCII digits only: "²".isdigit() is True and int("²") raises
    return wf_id, int(n) if n.isascii() and n.isdigit() and len(n) <= 9 and int(n) >= 2 else 0


# Every id warroom gives an incident: incident_workflow_id, then `~N` for a key that fired
# again (occurrence_id), or `~r<run>` for the one after an incident that ended without a state
# (warroom.client). ASCII only: re's \d would match Unicode digits.
INCIDENT_ID = re.compile(r"incident-[A-Za-z0-9._:@=+-]{1,200}(?:~(?:[0-9]{1,9}|r[0-9a-f-]{1,12}))?")


class BadIncidentId(ValueError):
    """Not an id warroom gives an incident; str() says why (it can only be an unknown incident)."""


def parse_incident_id(incident_id: str) -> tuple[str, int]:
    """The one reader of public incident ids (API, console, Slack, ack links, warroom.client):
    (workflow id, occurrence), or BadIncidentId for a text that no incident can have."""
    if not isinstance(incident_id, str) or not INCIDENT_ID.fullmatch(incident_id):
        shown = incident_id if len(incident_id) <= 80 else incident_id[:80] + "..."
        raise BadIncidentId(f"unknown incident {shown!r}: an incident id is incident-<key> or "
                            "incident-<key>~<n> (letters, digits and ._:@=+- only)")
    return split_incident_id(incident_id)


def fallback_dedup_key(alert: AlertInfo) -> str:
    """A stable key from what identifies the problem, when the sender gave none."""
    parts = [alert.source, alert.service, alert.title, *sorted(f"{k}={v}" for k, v in alert.labels.items())]
    return "h" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def alert_fingerprint(alert: AlertInfo) -> str:
    """One alert's identity within its incident when its source gave none: what names the
    alert (source, service, title, labels), not its changing figures (description, affected
    users, availability), so the same alert sent again is a re-send, not a new alert."""
    parts = [alert.source, alert.service, alert.title, *sorted(f"{k}={v}" for k, v in alert.labels.items())]
    return "f" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
