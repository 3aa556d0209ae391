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


def _clean(doc: Any) -> Any:
    """Walk the document without recursion: depth, numbers and NUL characters (see the module)."""
    root: list[Any] = [doc]
    stack: list[tuple[Any, Any, Any, list[str | int]]] = [(root, 0, doc, [])]  # (parent, key, value, path)
    while stack:
        parent, key, value, path = stack.pop()
        if isinstance(value, str):
            if _dirty(value):
                parent[key] = _text(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise BadJson(f"{_where(path)}: {value} is not a number JSON can carry; send a finite number",
                              status=422)
        elif isinstance(value, _Huge):
            raise BadJson(f"{_where(path)}: an integer of {len(value.digits.lstrip('-'))} digits; "
                          f"at most {MAX_INT_DIGITS} are accepted")
        elif isinstance(value, (dict, list)):
            if len(path) >= MAX_DEPTH:
                raise BadJson(f"{_where(path)}: nested more than {MAX_DEPTH} levels deep")
            if isinstance(value, dict):
                if any(_dirty(k) for k in value):
                    value = {_text(k): v for k, v in value.items()}
                    parent[key] = value
                stack.extend((value, k, v, [*path, k]) for k, v in value.items())
            else:
                stack.extend((value, i, v, [*path, i]) for i, v in enumerate(value))
    return root[0]


def read_json(raw: bytes) -> Any:
    """The body as JSON values, or BadJson saying what is wrong (with its status)."""
    if len(raw) > MAX_BYTES:
        raise BadJson(f"request body larger than {MAX_BYTES} bytes", status=413)
    try:
        doc = json.loads(raw, parse_int=_int, parse_constant=float)
    except RecursionError:
        raise BadJson(f"body: nested more than {MAX_DEPTH} levels deep") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadJson(f"body is not valid JSON: {err}") from None
    return _clean(doc)


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
