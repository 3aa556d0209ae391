"""The records database: tables (models), incidents and their timeline, communications.

Room: records (warroom/records). The package's face: callers write `records.record_events(...)`;
API keys are `warroom.records.keys`, reports and SLA figures `warroom.records.reports`.

The face loads its modules (and SQLAlchemy, ~0.1 s and ~20 MB) on the first name asked of it,
not on `from warroom import records`: a worker that keeps no records (a rehearsal) never pays
for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from warroom.records.communications import *  # noqa: F403
    from warroom.records.incidents import *  # noqa: F403
    from warroom.records.models import *  # noqa: F403

_MODULES = ("models", "incidents", "communications")


def _load() -> dict[str, Any]:
    names: dict[str, Any] = {}
    for m in _MODULES:
        module = importlib.import_module(f"warroom.records.{m}")
        names.update({n: getattr(module, n) for n in module.__all__})
    names["__all__"] = [n for n in names]
    return names


def __getattr__(name: str) -> Any:
    names = _load()
    globals().update(names)
    if name not in names:
        raise AttributeError(f"module 'warroom.records' has no attribute {name!r}")
    return names[name]
