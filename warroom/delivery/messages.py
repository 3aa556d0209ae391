"""Message templates: what a page, an update or a reminder says, in English or Chinese.

Room: delivery (warroom/delivery; rendering happens at send time, next to delivery; workflows keep sending
their plain English subject and body, which the templates quote as `subject` / `message`).

One Jinja2 file per kind and language, `templates/messages/<lang>/<kind>.j2`, with two blocks:
`{% block subject %}` (one line) and `{% block body %}`; `_footer.j2` in each language holds
the incident facts every body ends with. Plain text (no autoescape) and StrictUndefined: a
context key a template uses but the caller did not pass is an error, never an empty gap.

Context every template may use (all keys required, values may be empty):
incident_id, title, priority, service, category, status, phase, level ("L2"), commander,
subject (the engine's English subject), message (the engine's English body), link (may be
empty), person_name (who receives it, may be empty), via (how that person was reached: the
on-call chain, a string or a list of steps), ack_link (the one-tap acknowledge link made for
this person, warroom/acklink.py; empty unless the kind is in ASKS_TO_ACT and a public URL is set),
paged_as (what this person is paged as, in their language: "L1 on-call and technical manager",
from every target one message reaches them for; empty for a person named directly; paged_as()),
target_level ("L2" when the message's target is that on-call level, else empty: a manager paged
as a role is never told the incident needs them as a level), description (what the alert said,
may be empty) and links ((label, url) pairs in the person's language: link_labels()). The last
two are filled on the pages that bring a person to the incident (page, escalation; `_details.j2`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["ASKS_TO_ACT", "CONTEXT_KEYS", "KINDS", "LANGUAGES", "TEMPLATE_DIR", "kind_for", "language_for",
           "link_labels", "paged_as", "render"]

KINDS = ("page", "update", "reminder", "escalation", "resolution", "review_request", "follow_up", "handover")
# The kinds that ask the person to act now: they carry the acknowledge link.
ASKS_TO_ACT = ("page", "escalation", "reminder")
LANGUAGES = ("en", "zh")
CONTEXT_KEYS = ("incident_id", "title", "priority", "service", "category", "status", "phase", "level",
                "commander", "subject", "message", "link", "person_name", "via", "ack_link", "paged_as",
                "target_level", "description", "links")
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

_ENGINE_KINDS = {
    "INITIAL": "page",
    "UPDATE": "update",
    "REMINDER": "reminder",
    "ESCALATION": "escalation",
    "RESOLUTION": "resolution",
    "FOLLOW_UP": "follow_up",
}


def kind_for(notification_kind: str, target: str) -> str:
    """The template kind for an engine Notification.kind. `target` is accepted for later
    refinement (e.g. a review owner's reminder as review_request) but not used yet."""
    return _ENGINE_KINDS.get((notification_kind or "").upper(), "follow_up")


# Roles the engine and the SPEC name, as a person reads them; any other role is shown by its name.
_ROLES = {
    "en": {"technical_manager": "technical manager", "customer_success_manager": "customer success manager",
           "customer_success": "customer success", "senior_engineer": "senior engineer",
           "technical_lead": "technical lead", "management": "management", "incident_commander": "incident commander",
           "vendor_support": "vendor support"},
    "zh": {"technical_manager": "技术经理", "customer_success_manager": "客户成功经理", "customer_success": "客户成功",
           "senior_engineer": "高级工程师", "technical_lead": "技术负责人", "management": "管理层",
           "incident_commander": "事件指挥官", "vendor_support": "厂商支持"},
}
_ON_CALL = {"en": "{level} on-call", "zh": "{level} 值班"}
_AND = {"en": (", ", " and "), "zh": ("、", "和")}


def paged_as(targets: list[str] | tuple[str, ...], language: str | None) -> str:
    """What a person is paged as, from the page targets that reach them: oncall:L1 -> "L1
    on-call", technical_manager -> "technical manager", team:payments -> "team payments"; a
    person named directly (person:<id>) adds nothing. Joined "a, b and c" ("a、b和c")."""
    lang = language_for(language)
    labels: list[str] = []
    for t in targets:
        kind, _, name = t.partition(":")
        if not name:
            label = _ROLES[lang].get(kind, kind.replace("_", " "))
        elif kind == "oncall":
            label = _ON_CALL[lang].format(level=name)
        elif kind == "person":
            continue
        else:
            label = f"{kind} {name}"
        if label not in labels:
            labels.append(label)
    if len(labels) < 2:
        return "".join(labels)
    sep, last = _AND[lang]
    return sep.join(labels[:-1]) + last + labels[-1]


# What a source's link is (AlertInfo.link_texts: api/sources), as a page labels it.
_LINK_LABELS = {
    "en": {"runbook": "Runbook", "dashboard": "Dashboard", "panel": "Panel", "source": "Source",
           "silence": "Silence", "rule": "Alert rule", "image": "Image", "monitor": "Monitor", "link": "Link"},
    "zh": {"runbook": "运行手册", "dashboard": "仪表盘", "panel": "面板", "source": "告警来源",
           "silence": "静默", "rule": "告警规则", "image": "图片", "monitor": "监控", "link": "链接"},
}


def link_labels(links: list[str], texts: Mapping[str, str], language: str | None) -> list[tuple[str, str]]:
    """(label, url) for each link, in order: the source's word for it in the person's language
    ("runbook" -> "Runbook" / "运行手册"), a source's own text (a PagerDuty link's) as given."""
    labels = _LINK_LABELS[language_for(language)]
    out = []
    for url in links:
        text = (texts.get(url) or "link").strip()
        out.append((labels.get(text.lower(), text), url))
    return out


def language_for(language: str | None) -> str:
    """'zh', 'zh-CN', 'zh_Hans' -> 'zh'; 'en-GB' -> 'en'; anything unknown or empty -> 'en'."""
    base = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else "en"


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=False,  # plain text for chat, SMS and email bodies, not HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render(kind: str, language: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, body) for one message. Unknown language -> English; unknown kind ->
    ValueError; a key the template needs missing from `context` -> jinja2.UndefinedError."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r} (known: {', '.join(KINDS)})")
    template = _env().get_template(f"{language_for(language)}/{kind}.j2")
    ctx = template.new_context(dict(context))
    subject = "".join(template.blocks["subject"](ctx))
    body = "".join(template.blocks["body"](ctx))
    subject = " ".join(subject.split())  # one line, whatever the title contained
    body = "\n".join(line.rstrip() for line in body.strip().splitlines())
    return subject, body
