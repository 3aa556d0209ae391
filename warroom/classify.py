"""Classification: pure functions from a normalised alert to priority, category and ids.

Room: shared library (warroom/): classification, pure, no I/O. Used by the starter (priority picks the workflow type) and
by the assess activity (category, runbook).
"""

from __future__ import annotations

import hashlib
import re

from workflows.contracts import PRIORITIES, AlertInfo

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

CATEGORY_KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    # Order matters: the first category with a matching keyword wins. ASCII keywords match
    # at the start of a word ("auth" matches "authentication"); CJK ones anywhere.
    ("SECURITY_BREACH", ("security", "breach", "leak", "intrusion", "安全", "泄露")),
    ("AUTHENTICATION_FAILURE", ("login", "log in", "auth", "sign-in", "signin", "sso", "登录", "认证")),
    ("AUTHORIZATION_ERROR", ("permission", "access denied", "forbidden", "unauthorized", "权限")),
    ("DATA_INTEGRITY_ISSUE", ("data", "integrity", "replication", "corrupt", "数据丢失", "数据")),
    ("PERFORMANCE_DEGRADATION", ("slow", "latency", "performance", "timeout", "慢", "延迟", "性能")),
    ("CONFIGURATION_ERROR", ("config", "setting", "misconfig", "配置")),
    ("EXTERNAL_DEPENDENCY_FAILURE", ("external", "dependency", "third-party", "third party", "vendor", "第三方")),
    ("SYSTEM_UNAVAILABLE", ("down", "unavailable", "outage", "unreachable", "宕机", "无法访问")),
]
# Words that must stand alone: "data" is not "database", "down" is not "download".
_WHOLE_WORDS = {"data", "down", "leak", "slow"}
_CATEGORY_PATTERNS = [
    (category, [re.compile(r"\b" + re.escape(w) + (r"\b" if w in _WHOLE_WORDS else ""))
                if w.isascii() else re.compile(re.escape(w)) for w in words])
    for category, words in CATEGORY_KEYWORDS
]
FALLBACK_CATEGORY = "SYSTEM_UNAVAILABLE"

IMPACT_LEVELS = ("CRITICAL", "HIGH", "MEDIUM", "LOW")


def normalise_severity(raw: str) -> str:
    """critical / warning / info, or '' when the word is unknown."""
    return SEVERITY_ALIASES.get((raw or "").strip().lower(), "")


def classify_priority(alert: AlertInfo, *, tier1_services: list[str] | tuple[str, ...] = ()) -> tuple[str, str]:
    """(priority, reason). SPEC 2: explicit priority, then severity mapping, then impact rules."""
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


def classify_category(alert: AlertInfo) -> str:
    explicit = (alert.labels.get("category") or "").strip().upper()
    if explicit in {c for c, _ in CATEGORY_KEYWORDS}:
        return explicit
    text = " ".join([alert.title, alert.description, alert.service, *alert.labels.values()]).lower()
    for category, patterns in _CATEGORY_PATTERNS:
        if any(p.search(text) for p in patterns):
            return category
    return FALLBACK_CATEGORY


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
    return wf_id, int(n) if n.isdigit() and int(n) >= 2 else 0


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
