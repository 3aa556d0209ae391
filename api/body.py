"""Room: api (HTTP edge) — the one JSON reader: every JSON body the API takes is read here.

Every endpoint reads JSON through `read_json` (the sources' webhooks, PagerDuty, change events,
Slack's payload field) or, for the routes whose body is a pydantic model (the generic alert,
POST /api/v1/incidents, the engineers' actions, keys, integrations...), through `JsonRoute`,
which makes FastAPI read its body here too. What it refuses, and why (docs/limits.md):

  over MAX_BYTES              413  (api/limits.py refuses it earlier, on the bytes received)
  not JSON, not UTF-8         400  "body is not valid JSON: ..."
  nested deeper than MAX_DEPTH 400  naming the path where it went too deep; a deep body
                                    would otherwise exhaust Python's recursion (500)
  an integer of more than     400  naming the field; Python refuses to convert over 4300
  MAX_INT_DIGITS digits             digits (500), and no field of any sender needs 20
  NaN, Infinity, 1e400        422  naming the field: JSON has no such numbers, and an answer
                                    echoing one cannot be written as JSON (500)

NUL characters ("\\u0000") are removed from every string, key or value: PostgreSQL cannot store
them in text, SQLite can, so without this the same alert would be recorded on one and lost on
the other. A lone surrogate ("\\ud800", half of a UTF-16 pair: JSON can carry it, UTF-8 cannot)
becomes U+FFFD, for the same reason on both (docs/limits.md).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fastapi import HTTPException, Request
from fastapi.routing import APIRoute

MAX_BYTES = 1024 * 1024  # api/app.py's BodySizeLimit, the same number
MAX_DEPTH = 64  # objects and arrays inside each other; real webhooks go 6 deep
MAX_INT_DIGITS = 20  # the largest 64-bit integers have 19 digits (20 with a sign)


class BadJson(ValueError):
    """The body cannot be read; `status` is the answer (400 or 422), str() what is wrong."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class _Huge:
    """An integer literal too long to convert: kept as text until its place is known."""

    __slots__ = ("digits",)

    def __init__(self, digits: str) -> None:
        self.digits = digits


class _NotFinite:
    """NaN, an infinity, or a number too large for a float: kept apart until its place is known."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value


def _int(text: str) -> int | _Huge:
    return _Huge(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def _where(path: list[str | int]) -> str:
    out = "body"
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _text(value: str) -> str:
    """The string without NUL characters and lone surrogates (see the module)."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _dirty(value: str) -> bool:
    if "\x00" in value:
        return True
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _problem(value: Any, depth: int) -> tuple[str, int] | None:
    """What is wrong with this value itself (the message after its place, the status), if anything."""
    if type(value) is _NotFinite:
        return f"{value.value} is not a number JSON can carry; send a finite number", 422
    if type(value) is _Huge:
        return f"an integer of {len(value.digits.lstrip('-'))} digits; at most {MAX_INT_DIGITS} are accepted", 400
    if depth >= MAX_DEPTH and type(value) in (dict, list):
        return f"nested more than {MAX_DEPTH} levels deep", 400
    return None


def _place(doc: Any, parent: Any, key: Any) -> str:
    """Where parent[key] sits in the document (a second walk, with paths: only for an error)."""
    stack: list[tuple[Any, list[str | int]]] = [(doc, [])]
    while stack:
        node, path = stack.pop()
        if node is parent:
            return _where([*path, key])
        if type(node) is dict:
            stack.extend((v, [*path, k]) for k, v in node.items() if type(v) in (dict, list))
        elif type(node) is list:
            stack.extend((v, [*path, i]) for i, v in enumerate(node) if type(v) in (dict, list))
    return "body"


def _clean(doc: Any) -> Any:
    """Walk the document without recursion: depth, numbers and texts (see the module). Places
    are worked out only for an error, so a valid body costs one pass and no paths."""
    root: list[Any] = [doc]
    stack: list[tuple[Any, Any, Any, int]] = [(root, 0, doc, 0)]  # (parent, key, value, depth)
    while stack:
        parent, key, value, depth = stack.pop()
        kind = type(value)
        if kind is str:
            if _dirty(value):
                parent[key] = _text(value)
            continue
        problem = _problem(value, depth)
        if problem is not None:
            where = "body" if parent is root else _place(root[0], parent, key)
            raise BadJson(f"{where}: {problem[0]}", status=problem[1])
        if kind is dict:
            if any(_dirty(k) for k in value):
                value = {_text(k): v for k, v in value.items()}
                parent[key] = value
            stack.extend((value, k, v, depth + 1) for k, v in value.items() if type(v) not in (int, bool))
        elif kind is list:
            stack.extend((value, i, v, depth + 1) for i, v in enumerate(value) if type(v) not in (int, bool))
    return root[0]


# A text whose strings may hold a NUL or a surrogate (escaped: raw ones are refused by the
# strict UTF-8 decoding and by JSON itself); only then are its strings looked at one by one.
_SUSPECT_TEXT = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _float(text: str) -> float | _NotFinite:
    value = float(text)
    return value if math.isfinite(value) else _NotFinite(value)


def _too_deep(doc: Any) -> bool:
    """Whether containers nest more than MAX_DEPTH deep: level by level, looking at containers
    only (a text's brackets cannot tell: a string may hold any)."""
    level, depth = [doc], 0
    while level:
        if depth >= MAX_DEPTH:
            return True
        depth += 1
        below: list[Any] = []
        for node in level:
            below.extend(v for v in (node.values() if type(node) is dict else node) if type(v) in (dict, list))
        level = below
    return False


def read_json(raw: bytes) -> Any:
    """The body as JSON values, or BadJson saying what is wrong (with its status). A valid body
    costs one parse and a look at its text; only a body with a NUL or surrogate escape, an
    out-of-range number, or more than MAX_DEPTH containers is walked (_clean, which names the
    place of a problem)."""
    if len(raw) > MAX_BYTES:
        raise BadJson(f"request body larger than {MAX_BYTES} bytes", status=413)
    flagged: list[bool] = []

    def big_int(digits: str) -> int | _Huge:
        value = _int(digits)
        if type(value) is _Huge:
            flagged.append(True)
        return value

    def odd_float(text: str) -> float | _NotFinite:
        value = _float(text)
        if type(value) is _NotFinite:
            flagged.append(True)
        return value

    try:
        text = raw.decode("utf-8-sig")  # strict: JSON is UTF-8 (RFC 8259); an encoded surrogate is not
        doc = json.loads(text, parse_int=big_int, parse_float=odd_float,
                         parse_constant=lambda name: flagged.append(True) or _NotFinite(float(name)))
    except RecursionError:
        raise BadJson(f"body: nested more than {MAX_DEPTH} levels deep") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadJson(f"body is not valid JSON: {err}") from None
    suspect = _SUSPECT_TEXT.search(text) is not None
    containers = text.count("[") + text.count("{")  # at least the containers: fewer cannot nest too deep
    if flagged or suspect or (containers > MAX_DEPTH and _too_deep(doc)):
        return _clean(doc)
    return doc


async def request_json(request: Request) -> Any:
    """The request's body through read_json, refused as an HTTPException."""
    try:
        return read_json(await request.body())
    except BadJson as err:
        raise HTTPException(err.status, str(err)) from None


class _JsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = await request_json(self)
        return self._json


class JsonRoute(APIRoute):
    """An APIRoute whose JSON body FastAPI reads through read_json (request.json() is what
    FastAPI calls for a body model): one reader for every endpoint."""

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Any:
            return await handler(_JsonRequest(request.scope, request.receive))

        return route_handler
