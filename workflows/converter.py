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
difference. Decoding is Temporal's own.

Used inside the workflow sandbox too (the payload converter class is instantiated there):
standard library and temporalio only, no state beyond a cache of field names.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from temporalio.converter import (
    AdvancedJSONEncoder,
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

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


class ContractsPayloadConverter(CompositePayloadConverter):
    """Temporal's DefaultPayloadConverter, its converters in its order, with ContractsJSONEncoder
    for plain JSON."""

    def __init__(self) -> None:
        super().__init__(*(
            JSONPlainPayloadConverter(encoder=ContractsJSONEncoder) if type(c) is JSONPlainPayloadConverter else c
            for c in DefaultPayloadConverter.default_encoding_payload_converters))


DATA_CONVERTER = dataclasses.replace(DataConverter.default, payload_converter_class=ContractsPayloadConverter)
