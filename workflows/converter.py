"""Room: workflows (deterministic). The data converter every warroom client and worker uses:
Temporal's default, with a cheaper way to write a dataclass as JSON.

Temporal's JSON encoder turns a dataclass into a dict with `dataclasses.asdict`, which copies
the whole tree (every nested dataclass, list and dict, and a deepcopy of every other value)
before `json.dumps` walks it again. An incident's state, a batch of pages or a records write
is a tree of a few hundred values: that copy was most of the cost of writing it (issue 13:
0.4 ms of 0.5 ms for a record_events input). Here a dataclass becomes a flat dict of its
fields and the encoder walks the nested values itself. The bytes are the same (same keys,
same order, sort_keys as before: tests/workflows/test_converter.py compares them), so
histories, payloads already stored, other SDKs and readers with the default converter see no
difference.

Reading is the other half: Temporal's `value_to_type` walks a contract's type hints anew for
every value of every payload (0.5 ms for a record_events input). `ContractsTypeConverter`
builds, once per contract class, a reader that does what `value_to_type` does for the kinds
of field the contracts use (str, int, float, bool, None, datetime, Any, X | Y, list[X],
dict[str, X], nested dataclasses) and hands any other kind to `value_to_type` itself; the
same test reads every payload of the committed histories both ways and compares the objects.

Used inside the workflow sandbox too (the payload converter class is instantiated there):
standard library and temporalio only, no state beyond a cache of field names.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio.converter import (
    AdvancedJSONEncoder,
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    value_to_type,
)

Reader = Callable[[Any], Any]
# The contracts modules: their dataclasses are read by the readers built here.
CONTRACTS_MODULES = frozenset({"workflows.contracts", "workflows.contracts_activities",
                               "workflows.contracts_maintenance", "workflows.contracts_links"})

_FIELDS: dict[type, tuple[str, ...]] = {}


class ContractsJSONEncoder(AdvancedJSONEncoder):
    """A dataclass as the dict of its fields, in field order; everything else as Temporal does."""

    def default(self, o: Any) -> Any:
        names = _FIELDS.get(type(o))
        if names is None and dataclasses.is_dataclass(o) and not isinstance(o, type):
            names = _FIELDS.setdefault(type(o), tuple(f.name for f in dataclasses.fields(o)))
        if names is not None:
            return {n: getattr(o, n) for n in names}
        return super().default(o)


def _primitive(hint: type) -> Reader:
    if hint is str:
        def read(v: Any) -> Any:
            if not isinstance(v, str):
                raise TypeError(f"Expected value to be str, was {type(v)}")
            return v
    elif hint is bool:
        def read(v: Any) -> Any:
            if not isinstance(v, bool):
                raise TypeError(f"Expected value to be bool, was {type(v)}")
            return v
    elif hint is int or hint is float:
        def read(v: Any) -> Any:
            if not isinstance(v, (int, float)):
                raise TypeError(f"Expected value to be int|float, was {type(v)}")
            return hint(v)
    else:  # NoneType
        def read(v: Any) -> Any:
            if v is not None:
                raise TypeError(f"Expected None, got value of type {type(v)}")
            return None
    return read


def _union(readers: list[Reader], hint: Any) -> Reader:
    def read(v: Any) -> Any:
        for r in readers:
            try:
                return r(v)
            except Exception:  # noqa: BLE001 - as value_to_type: the next member is tried
                pass
        raise TypeError(f"Failed converting to {hint} from {v}")
    return read


def _list(item: Reader | None, hint: Any) -> Reader:
    def read(v: Any) -> Any:
        if not isinstance(v, collections.abc.Iterable):
            raise TypeError(f"Expected {hint}, value was {type(v)}")
        if item is None:
            return list(v)
        out = []
        for i, x in enumerate(v):
            try:
                out.append(item(x))
            except Exception as err:
                raise TypeError(f"Failed converting {hint} index {i}") from err
        return out
    return read


def _dict(value: Reader | None, hint: Any) -> Reader:
    def read(v: Any) -> Any:
        if not isinstance(v, collections.abc.Mapping):
            raise TypeError(f"Expected {hint}, value was {type(v)}")
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                k = value_to_type(str, k)
            if value is not None:
                try:
                    x = value(x)
                except Exception as err:
                    raise TypeError(f"Failed converting value for key {k!r} in mapping {hint}") from err
            out[k] = x
        return out
    return read


def _dataclass(cls: type) -> Reader:
    fields = dataclasses.fields(cls)
    hints = typing.get_type_hints(cls)
    built: list[list[tuple[str, bool, Reader]]] = []

    def read(v: Any) -> Any:
        if not built:  # on first use, when a field that names this very class can find it
            built.append([(f.name, f.init, _reader(hints[f.name])) for f in fields])  # two threads: same list
        readers = built[0]
        if not isinstance(v, dict):
            raise TypeError(f"Cannot convert to dataclass {cls}, value is {type(v)} not dict")
        init: dict[str, Any] = {}
        later: dict[str, Any] = {}
        for name, is_init, r in readers:
            if name in v:
                try:
                    x = r(v[name])
                except Exception as err:
                    raise TypeError(f"Failed converting field {name} on dataclass {cls}") from err
                (init if is_init else later)[name] = x
        obj = cls(**init)
        for name, x in later.items():
            object.__setattr__(obj, name, x)
        return obj
    return read


_READERS: dict[Any, Reader] = {}


def _reader(hint: Any) -> Reader:
    """What value_to_type(hint, value) does, decided once for the hint."""
    found = _READERS.get(hint)
    if found is not None:
        return found
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    read: Reader
    if hint is Any:
        read = _identity
    elif hint in (str, bool, int, float, type(None)):
        read = _primitive(hint)
    elif hint is datetime:
        def read(v: Any) -> Any:
            return value_to_type(datetime, v)
    elif origin is typing.Union or origin is types.UnionType:
        read = _union([_reader(a) for a in args], hint)
    elif origin is list and len(args) == 1:
        read = _list(None if args[0] is Any else _reader(args[0]), hint)
    elif origin is dict and len(args) == 2 and args[0] is str:
        read = _dict(None if args[1] is Any else _reader(args[1]), hint)
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
        read = _dataclass(hint)
    else:  # a kind the contracts do not use today: Temporal's own reading
        def read(v: Any) -> Any:
            return value_to_type(hint, v)
    _READERS[hint] = read
    return read


def _identity(v: Any) -> Any:
    return v


class ContractsTypeConverter(JSONTypeConverter):
    """Reads a dataclass of the contracts modules with the reader built for it; anything else is
    left to Temporal (Unhandled)."""

    def to_typed_value(self, hint: type, value: Any) -> Any:
        if getattr(hint, "__module__", None) not in CONTRACTS_MODULES or not dataclasses.is_dataclass(hint):
            return JSONTypeConverter.Unhandled
        return _reader(hint)(value)


class ContractsPayloadConverter(CompositePayloadConverter):
    """Temporal's DefaultPayloadConverter, its converters in its order, with ContractsJSONEncoder
    for plain JSON."""

    def __init__(self) -> None:
        super().__init__(*(
            JSONPlainPayloadConverter(encoder=ContractsJSONEncoder, custom_type_converters=[ContractsTypeConverter()])
            if type(c) is JSONPlainPayloadConverter else c
            for c in DefaultPayloadConverter.default_encoding_payload_converters))


DATA_CONVERTER = dataclasses.replace(DataConverter.default, payload_converter_class=ContractsPayloadConverter)
