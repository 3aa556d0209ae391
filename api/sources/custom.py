"""Room: api (HTTP edge) — source: any JSON body -> SourceEvents through an integration's mapping.

Custom integrations, for senders warroom has no parser for (Zabbix, Sentry, Kapacitor,
ElastAlert, an in-house monitor). Pure, no I/O except `load_mapping_file`, which only reads
the file it is given. An admin writes the mapping as YAML or JSON; `compile_mapping` checks
all of it up front and lists every problem; `CustomMapping.parse(body)` then never raises
anything but PayloadError, whatever JSON arrives.

The mapping is an object whose keys are the AlertInfo fields it sets:

    title (required), description, service, severity, priority, dedup_key, status,
    affected_users, business_impact, availability, labels, links
    events   (optional) JSON pointer to an array in the body: one event per element

A field spec is one of:

* a string: a Jinja2 template (sandboxed, no autoescape). It sees `body` (the whole JSON) and,
  with `events`, `alert` (the element). A missing key renders as "" and never raises
  (`{{ body.a.b.c }}`); null renders as "", true/false as "true"/"false", objects and arrays
  as JSON text. `body.x` reads the key `x` before any dict method of the same name. A string
  without `{` is plain text, used as is.
* `{pointer: "/a/b"}`: an RFC 6901 JSON pointer (missing -> ""). With `events`, pointers
  resolve against the element; templates reach the rest of the body through `body`.
* `{template: "..."}`: the same as the plain string, in object form.
* either object form may add `default:` (a literal used when the value is empty) and `map:`
  (translates the value; keys compared case-insensitively, e.g. `{PROBLEM: trigger}`).
  A value the map does not list passes through unchanged, except for `status`.
* a number or boolean: that constant.

Values are trimmed; empty means "not given". Field rules:

* title: required and non-empty for every event (PayloadError otherwise); cut at 500 chars.
* description: cut at 20000 chars. service, severity, dedup_key: as rendered. An empty
  dedup_key is left empty: intake then derives a stable one (classify.fallback_dedup_key).
* status: empty -> trigger. Otherwise trigger / resolve / acknowledge, or the synonyms
  firing / alerting / problem (-> trigger) and ok / resolved / recovered (-> resolve). Any
  other value -> PayloadError. `map` values for status must be trigger, resolve or acknowledge.
* affected_users: a whole number >= 0 (sent as a number or a string). availability: a number
  0-100 (a trailing % is accepted). priority: P0-P4, any case. business_impact: CRITICAL /
  HIGH / MEDIUM / LOW, any case. Anything else -> PayloadError naming the field.
* labels: an object of label name -> field spec, or `{pointer: "/tags"}` (the only key) to an
  object in the body whose values are stringified. Empty values are dropped.
* links: a list of field specs, one field spec, or `{pointer: "/urls"}` (the only key) to an
  array of strings or to one string. Empty values and repeats are dropped.

The sandbox blocks Python internals; it also caps each template's output (100 000 chars)
and turns any error while rendering into a PayloadError naming the field. It does not bound
CPU time: mappings are written by admins, bodies by senders.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import ChainableUndefined, Template, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from jsonpointer import EndOfList, JsonPointer, JsonPointerException

from api.sources import Parsed, PayloadError, SourceEvent
from warroom import yamldoc
from warroom.classify import IMPACT_LEVELS
from workflows.contracts import PRIORITIES, AlertInfo

TEXT_FIELDS = ("title", "description", "service", "severity", "priority", "dedup_key", "status",
               "affected_users", "business_impact", "availability")
FIELDS = (*TEXT_FIELDS, "labels", "links")
SPEC_KEYS = ("pointer", "template", "default", "map")
ACTIONS = ("trigger", "resolve", "acknowledge")
STATUS_WORDS = {
    "trigger": "trigger", "firing": "trigger", "alerting": "trigger", "problem": "trigger",
    "resolve": "resolve", "ok": "resolve", "resolved": "resolve", "recovered": "resolve",
    "acknowledge": "acknowledge",
}
MAX_TITLE = 500
MAX_DESCRIPTION = 20_000
MAX_OUTPUT = 100_000  # characters one template may produce
MAX_EXPONENT = 256


class MappingError(ValueError):
    """Everything wrong with a mapping; each error reads "mapping.<field>: <what is wrong>"."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


# --------------------------------------------------------------------------- templates


def _text(value: Any) -> str:
    """A JSON value as the text a field gets: null -> "", true -> "true", containers -> JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _finalize(value: Any) -> Any:
    if value is None or isinstance(value, bool | dict | list | tuple):
        return _text(value)
    return value


class _Sandbox(SandboxedEnvironment):
    # Bodies are JSON: `body.items` should be the key "items", not dict.items.
    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        # Stop `'x' * 10**10` and `9 ** 9 ** 9` before they allocate, not after.
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT:
                    raise SecurityError(f"result over {MAX_OUTPUT} items")
        return super().call_binop(context, operator, left, right)


_ENV = _Sandbox(autoescape=False, undefined=ChainableUndefined, finalize=_finalize,
                keep_trailing_newline=False)


def _render(template: Template, context: dict[str, Any], where: str) -> str:
    out: list[str] = []
    size = 0
    try:
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise PayloadError(f"{where}: the template gave more than {MAX_OUTPUT} characters")
            out.append(chunk)
    except PayloadError:
        raise
    except Exception as e:  # SecurityError, UndefinedError, TypeError, RecursionError...
        raise PayloadError(f"{where}: the template failed on this body: {type(e).__name__}: {str(e)[:200]}") from None
    return "".join(out)


_MISSING = object()


def _resolve(pointer: JsonPointer, doc: Any) -> Any:
    try:
        value = pointer.resolve(doc, _MISSING)
    except Exception:  # e.g. a part applied to a string: missing, as for any absent key
        return _MISSING
    return _MISSING if isinstance(value, EndOfList) else value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


# --------------------------------------------------------------------------- field specs


@dataclass(frozen=True)
class _Scope:
    """What one event's values are read from."""

    body: Any
    element: Any = _MISSING  # the `events` element, when the mapping has `events`

    @property
    def target(self) -> Any:  # what pointers resolve against
        return self.body if self.element is _MISSING else self.element

    @property
    def context(self) -> dict[str, Any]:
        return {"body": self.body} if self.element is _MISSING else {"body": self.body, "alert": self.element}


@dataclass(frozen=True)
class _Spec:
    constant: str | None = None
    pointer: JsonPointer | None = None
    template: Template | None = None
    default: str = ""
    map: dict[str, str] = field(default_factory=dict)  # casefolded keys

    def value(self, scope: _Scope, where: str) -> str:
        if self.constant is not None:
            raw = self.constant
        elif self.pointer is not None:
            found = _resolve(self.pointer, scope.target)
            raw = "" if found is _MISSING else _text(found)
        else:
            assert self.template is not None
            raw = _render(self.template, scope.context, where)
        raw = raw.strip() or self.default
        return self.map.get(raw.casefold(), raw) if raw else raw


def _pointer(raw: Any, where: str, errors: list[str]) -> JsonPointer | None:
    if not isinstance(raw, str):
        errors.append(f"{where}: a JSON pointer must be a string such as \"/a/b\", not {_json_type(raw)}")
        return None
    try:
        return JsonPointer(raw)
    except JsonPointerException as e:
        errors.append(f"{where}: invalid JSON pointer {raw!r}: {e}")
        return None


def _template(raw: str, where: str, errors: list[str]) -> Template | None:
    try:
        return _ENV.from_string(raw)
    except TemplateSyntaxError as e:
        errors.append(f"{where}: template syntax error on line {e.lineno}: {e.message}")
    except Exception as e:  # noqa: BLE001 - whatever the compiler objects to is a mapping error
        errors.append(f"{where}: template cannot be compiled: {e}")
    return None


def _scalar(raw: Any) -> bool:
    return isinstance(raw, str | int | float | bool)


def _compile_spec(raw: Any, where: str, errors: list[str]) -> _Spec | None:
    if isinstance(raw, bool | int | float):
        return _Spec(constant=_text(raw))
    if isinstance(raw, str):
        if "{" not in raw:  # no expression, statement or comment: the text itself
            return _Spec(constant=raw)
        template = _template(raw, where, errors)
        return _Spec(template=template) if template else None
    if not isinstance(raw, dict):
        errors.append(f"{where}: must be a template string, a {{pointer: ...}} or {{template: ...}} object "
                      f"or a constant, not {_json_type(raw)}")
        return None
    before = len(errors)
    for key in raw:
        if key not in SPEC_KEYS:
            errors.append(f"{where}: unknown key {key!r} (use pointer or template, with default and map)")
    pointer = template = constant = None
    if ("pointer" in raw) == ("template" in raw):
        errors.append(f"{where}: give exactly one of pointer or template")
    elif "pointer" in raw:
        pointer = _pointer(raw["pointer"], f"{where}.pointer", errors)
    elif not isinstance(raw["template"], str):
        errors.append(f"{where}.template: must be a string, not {_json_type(raw['template'])}")
    elif "{" not in raw["template"]:
        constant = raw["template"]
    else:
        template = _template(raw["template"], f"{where}.template", errors)
    default = raw.get("default", "")
    if not _scalar(default):
        errors.append(f"{where}.default: must be a string or number, not {_json_type(default)}")
        default = ""
    mapping = raw.get("map", {})
    table: dict[str, str] = {}
    if not isinstance(mapping, dict):
        errors.append(f"{where}.map: must be an object of value -> replacement, not {_json_type(mapping)}")
    else:
        for key, value in mapping.items():
            if not _scalar(value):
                errors.append(f"{where}.map: the value for {_text(key)!r} must be a string, not {_json_type(value)}")
            else:
                table[_text(key).strip().casefold()] = _text(value).strip()
    if len(errors) > before:
        return None
    return _Spec(constant=constant, pointer=pointer, template=template, default=_text(default).strip(), map=table)


# --------------------------------------------------------------------------- typed fields


def _int(value: str, where: str) -> int | None:
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        try:
            f = float(value)
        except ValueError:
            f = math.nan
        if not math.isfinite(f) or not f.is_integer():
            raise PayloadError(f"{where}: {value[:80]!r} is not a whole number") from None
        number = int(f)
    if number < 0:
        raise PayloadError(f"{where}: {value[:80]!r} must not be negative")
    return number


def _percent(value: str, where: str) -> float | None:
    if not value:
        return None
    try:
        number = float(value.removesuffix("%").strip())
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not 0 <= number <= 100:
        raise PayloadError(f"{where}: {value[:80]!r} must be a number from 0 to 100")
    return number


def _priority(value: str, where: str) -> str:
    if value and value.upper() not in PRIORITIES:
        raise PayloadError(f"{where}: {value[:80]!r} must be one of {', '.join(PRIORITIES)}")
    return value.upper()


def _impact(value: str, where: str) -> str:
    if value and value.upper() not in IMPACT_LEVELS:
        raise PayloadError(f"{where}: {value[:80]!r} must be one of {', '.join(IMPACT_LEVELS)}")
    return value.upper()


def _status(value: str, where: str, spec: _Spec | None = None) -> str:
    if not value:
        return "trigger"
    action = STATUS_WORDS.get(value.casefold())
    if action is None:
        mapped = f" (the map has {', '.join(spec.map)})" if spec and spec.map else ""
        raise PayloadError(f"{where}: {value[:80]!r} is not mapped; map it to one of "
                           f"{', '.join(ACTIONS)}{mapped}")
    return action


CHECKS = {"affected_users": _int, "availability": _percent, "priority": _priority,
          "business_impact": _impact, "status": _status}


# --------------------------------------------------------------------------- the mapping


@dataclass(frozen=True)
class CustomMapping:
    """A compiled mapping. `spec` is the mapping as written (JSON-able, for storing and showing)."""

    spec: dict[str, Any]
    fields: dict[str, _Spec]
    labels: dict[str, _Spec] | JsonPointer | None = None
    links: list[_Spec] | JsonPointer | None = None
    events: JsonPointer | None = None

    def parse(self, body: Any) -> Parsed:
        notes: list[str] = []
        if self.events is None:
            scopes = [(_Scope(body), "")]
        else:
            where = f"events: {self.events.path or '(the whole body)'}"
            items = _resolve(self.events, body)
            if items is _MISSING:
                raise PayloadError(f"{where} is not in this body")
            if not isinstance(items, list):
                raise PayloadError(f"{where} must be an array, not {_json_type(items)}")
            if not items:
                return Parsed(events=[], notes=[f"{where} is empty: no alerts"])
            scopes = [(_Scope(body, item), f"events[{i}].") for i, item in enumerate(items)]
        events = [self._event(scope, prefix, notes) for scope, prefix in scopes]
        return Parsed(events=events, notes=notes)

    def _event(self, scope: _Scope, prefix: str, notes: list[str]) -> SourceEvent:
        values = {name: spec.value(scope, prefix + name) for name, spec in self.fields.items()}
        title = values.get("title", "")
        if not title:
            raise PayloadError(f"{prefix}title: the mapping gave an empty title for this body")
        title = _cut(title, MAX_TITLE, prefix + "title", notes)
        description = _cut(values.get("description", ""), MAX_DESCRIPTION, prefix + "description", notes)
        action = _status(values.get("status", ""), prefix + "status", self.fields.get("status"))
        alert = AlertInfo(
            title=title, description=description,
            service=values.get("service", ""), severity=values.get("severity", ""),
            priority=_priority(values.get("priority", ""), prefix + "priority"),
            affected_users=_int(values.get("affected_users", ""), prefix + "affected_users"),
            business_impact=_impact(values.get("business_impact", ""), prefix + "business_impact"),
            availability=_percent(values.get("availability", ""), prefix + "availability"),
            labels=self._labels(scope, prefix, notes), dedup_key=values.get("dedup_key", ""),
            links=self._links(scope, prefix, notes),
        )
        return SourceEvent(action=action, alert=alert)  # type: ignore[arg-type]

    def _labels(self, scope: _Scope, prefix: str, notes: list[str]) -> dict[str, str]:
        if self.labels is None:
            return {}
        if isinstance(self.labels, dict):
            pairs: Iterable[tuple[str, str]] = (
                (name, spec.value(scope, f"{prefix}labels.{name}")) for name, spec in self.labels.items())
            return {name: value for name, value in pairs if value}
        found = _resolve(self.labels, scope.target)
        if found is _MISSING or found is None:
            return {}
        if not isinstance(found, dict):
            _note(notes, f"{prefix}labels: {self.labels.path} is {_json_type(found)}, not an object; no labels taken")
            return {}
        labels = {str(k): _text(v).strip() for k, v in found.items()}
        return {k: v for k, v in labels.items() if v}

    def _links(self, scope: _Scope, prefix: str, notes: list[str]) -> list[str]:
        if self.links is None:
            return []
        if isinstance(self.links, list):
            found: list[str] = [spec.value(scope, f"{prefix}links[{i}]") for i, spec in enumerate(self.links)]
        else:
            raw = _resolve(self.links, scope.target)
            if raw is _MISSING or raw is None:
                found = []
            elif isinstance(raw, str):
                found = [raw.strip()]
            elif isinstance(raw, list):
                found = [x.strip() for x in raw if isinstance(x, str)]
            else:
                _note(notes, f"{prefix}links: {self.links.path} is {_json_type(raw)}, not an array; no links taken")
                found = []
        return list(dict.fromkeys(link for link in found if link))


def _cut(value: str, limit: int, where: str, notes: list[str]) -> str:
    if len(value) <= limit:
        return value
    _note(notes, f"{where}: cut to {limit} characters")
    return value[:limit].rstrip()


def _note(notes: list[str], note: str) -> None:
    if note not in notes:
        notes.append(note)


def compile_mapping(spec: Any) -> CustomMapping:
    """Check a whole mapping and compile it; MappingError lists every problem found."""
    if not isinstance(spec, dict):
        raise MappingError([f"mapping: must be an object of field -> spec, not {_json_type(spec)}"])
    errors: list[str] = []
    for key in spec:
        if key not in FIELDS and key != "events":
            errors.append(f"mapping.{key}: unknown field (known: {', '.join(FIELDS)}, events)")
    if "title" not in spec:
        errors.append("mapping.title: required")

    fields: dict[str, _Spec] = {}
    for name in TEXT_FIELDS:
        if name in spec:
            compiled = _compile_spec(spec[name], f"mapping.{name}", errors)
            if compiled is not None:
                _check_literals(name, compiled, errors)
                fields[name] = compiled

    events = _pointer(spec["events"], "mapping.events", errors) if "events" in spec else None
    labels = _compile_labels(spec["labels"], errors) if "labels" in spec else None
    links = _compile_links(spec["links"], errors) if "links" in spec else None
    if errors:
        raise MappingError(errors)
    return CustomMapping(spec=spec, fields=fields, labels=labels, links=links, events=events)


def _check_literals(name: str, spec: _Spec, errors: list[str]) -> None:
    """A constant, default or map value that could never pass the field's rule is a mapping error."""
    where = f"mapping.{name}"
    if name == "title" and spec.constant is not None and not spec.constant.strip() and not spec.default:
        errors.append(f"{where}: must not be empty")
    check = CHECKS.get(name)
    if check is None:
        return
    if name == "status":
        for key, value in spec.map.items():
            if value.casefold() not in ACTIONS:
                errors.append(f"{where}.map: {key!r} -> {value!r}: must map to one of {', '.join(ACTIONS)}")
    else:
        for key, value in spec.map.items():
            try:
                check(value, f"{where}.map")
            except PayloadError as e:
                errors.append(f"{e} (for {key!r})")
    literals = []
    if spec.constant is not None and spec.constant.strip():
        literals.append((spec.map.get(spec.constant.strip().casefold(), spec.constant.strip()), where))
    if spec.default:
        literals.append((spec.map.get(spec.default.casefold(), spec.default), f"{where}.default"))
    for value, at in literals:
        try:
            check(value, at)
        except PayloadError as e:
            errors.append(str(e))


def _compile_labels(raw: Any, errors: list[str]) -> dict[str, _Spec] | JsonPointer | None:
    if not isinstance(raw, dict):
        errors.append(f"mapping.labels: must be an object of label -> spec, or {{pointer: ...}}, not {_json_type(raw)}")
        return None
    if set(raw) == {"pointer"}:
        return _pointer(raw["pointer"], "mapping.labels.pointer", errors)
    labels: dict[str, _Spec] = {}
    for name, value in raw.items():
        compiled = _compile_spec(value, f"mapping.labels.{name}", errors)
        if compiled is not None:
            labels[_text(name)] = compiled
    return labels


def _compile_links(raw: Any, errors: list[str]) -> list[_Spec] | JsonPointer | None:
    if isinstance(raw, dict) and set(raw) == {"pointer"}:
        return _pointer(raw["pointer"], "mapping.links.pointer", errors)
    if not isinstance(raw, list):
        compiled = _compile_spec(raw, "mapping.links", errors)
        return [compiled] if compiled else None
    specs = [_compile_spec(item, f"mapping.links[{i}]", errors) for i, item in enumerate(raw)]
    return [s for s in specs if s is not None]


def load_mapping_file(path: Path) -> dict[str, Any]:
    """A mapping written as YAML or JSON (JSON is YAML), read like runbooks (warroom.yamldoc): bad
    syntax and a key written twice name their line. compile_mapping checks the rest, not here."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise MappingError([f"{path}: cannot be read: {e}"]) from None
    try:
        doc = yamldoc.parse(text)
    except yaml.YAMLError as e:
        problem = yamldoc.syntax_problem(str(path), e)
        what = problem.message.removeprefix("not valid YAML: ")
        raise MappingError([f"{path}: not valid YAML or JSON on line {problem.line}: {what}"]) from None
    if doc.problems:
        raise MappingError([str(yamldoc.ValidationProblem(str(path), line, yamldoc.format_path(("mapping", *at)), what))
                            for at, line, what in doc.problems])  # fields named as compile_mapping names them
    if not isinstance(doc.data, dict):
        raise MappingError([f"{path}: must hold an object of field -> spec, not {_json_type(doc.data)}"])
    return doc.data


# --------------------------------------------------------------------------- examples

EXAMPLES: dict[str, dict[str, Any]] = {
    # Grafana OnCall's "formatted webhook" body: alert_uid, title, state (alerting | ok),
    # link_to_upstream_details, message, image_url; every field optional.
    "grafana-oncall-formatted-webhook": {
        "title": {"template": "{{ body.title or body.message }}", "default": "Alert from a formatted webhook"},
        "description": {"pointer": "/message"},
        "dedup_key": {"pointer": "/alert_uid"},
        "status": {"pointer": "/state", "map": {"alerting": "trigger", "ok": "resolve"}},
        "links": [{"pointer": "/link_to_upstream_details"}, {"pointer": "/image_url"}],
    },
    # ElastAlert's HTTP POST alerter as Grafana OnCall documents it: only `message`. No key:
    # intake derives one from the title, so repeats of one message join one incident.
    "elastalert": {
        "title": {"template": "{{ (body.message | string).strip().splitlines() | first }}",
                  "default": "ElastAlert alert"},
        "description": {"pointer": "/message"},
    },
    # Kapacitor's alert POST: id, message, details, level (OK | INFO | WARNING | CRITICAL),
    # data (normally an object of series; some senders put a string there).
    "kapacitor": {
        "title": "{{ body.message or body.id }}",
        "description": "{{ body.message }}{% if body.data %}\n\ndata: {{ body.data }}{% endif %}",
        "dedup_key": {"pointer": "/id"},
        "severity": {"pointer": "/level", "map": {"CRITICAL": "critical", "WARNING": "warning",
                                                  "INFO": "info", "OK": "info"}},
        "status": {"pointer": "/level", "map": {"OK": "resolve", "INFO": "trigger",
                                                "WARNING": "trigger", "CRITICAL": "trigger"}},
    },
    # Zabbix webhook media type whose parameters are sent as a JSON object:
    #   event_id={EVENT.ID} status={EVENT.STATUS} severity={EVENT.SEVERITY} host={HOST.NAME}
    #   trigger_name={TRIGGER.NAME} message={ALERT.MESSAGE} event_url={$ZABBIX.URL}/tr_events.php?...
    # A recovery carries the problem's {EVENT.ID}, so it resolves the same incident.
    "zabbix": {
        "title": "{% set name = body.trigger_name or body.event_name %}"
                 "{% if name %}{{ name }}{% if body.host %} on {{ body.host }}{% endif %}{% endif %}",
        "description": {"pointer": "/message"},
        "service": {"pointer": "/host"},
        "severity": {"pointer": "/severity", "map": {
            "Disaster": "critical", "High": "critical", "Average": "warning", "Warning": "warning",
            "Information": "info", "Not classified": "info"}},
        "status": {"pointer": "/status", "map": {"PROBLEM": "trigger", "RESOLVED": "resolve", "OK": "resolve"}},
        "dedup_key": "{% if body.event_id %}zabbix:{{ body.event_id }}{% endif %}",
        "labels": {"host": {"pointer": "/host"}, "zabbix_severity": {"pointer": "/severity"}},
        "links": [{"pointer": "/event_url"}],
    },
}
