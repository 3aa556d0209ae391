"""Python recovery actions: the decorator SREs use, the registry it fills, and the loader.

Room: runbooks (warroom/runbooks), extension content for activities (the `python` action kind). SREs write

    from warroom.runbooks.actions import action

    @action("restart-cache")
    def restart_cache(incident_id: str, *, region: str = "eu") -> str | tuple[bool, str]:
        ...

in a module listed in the worker's WARROOM_ACTION_MODULES (a JSON list of importable module
names); a runbook step `kind: python, params: {function: restart-cache, args: {region: us}}`
then calls it with the incident id and `args` as keyword arguments. Return a string (success,
the detail) or `(ok, detail)`; raise to fail (the step is retried per its max_attempts).
Async functions work too. The worker imports the modules at start (`load_modules`), so a
broken module stops the worker before it takes any task.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

F = TypeVar("F", bound=Callable[..., Any])

# name -> function. Filled by @action when a module listed in WARROOM_ACTION_MODULES is imported.
_REGISTRY: dict[str, Callable[..., Any]] = {}


class ActionModuleError(RuntimeError):
    """A module listed in WARROOM_ACTION_MODULES could not be imported."""


def action(name: str) -> Callable[[F], F]:
    """Register the decorated function as the python action `name`."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"action name {name!r} must match {NAME_RE.pattern}")

    def register(fn: F) -> F:
        if not callable(fn):
            raise TypeError(f"@action({name!r}) must decorate a function")
        old = _REGISTRY.get(name)
        if old is not None and _qualname(old) != _qualname(fn):
            raise ValueError(f"python action {name!r} is registered twice: {_qualname(old)} and {_qualname(fn)}")
        _REGISTRY[name] = fn  # the same function again (a module re-imported) replaces itself
        return fn

    return register


def registered() -> dict[str, Callable[..., Any]]:
    """A copy of the registry: action name -> function."""
    return dict(_REGISTRY)


def load_modules(names: Iterable[str]) -> list[str]:
    """Import every module (registering its actions); return the names registered so far.

    Raises ActionModuleError naming the module and the cause when one cannot be imported."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001  any import-time failure: say which module, and why
            raise ActionModuleError(
                f"cannot import action module {name!r} listed in WARROOM_ACTION_MODULES: "
                f"{type(err).__name__}: {err}") from err
    return sorted(_REGISTRY)


def call(fn: Callable[..., Any], incident_id: str, args: Mapping[str, Any]) -> tuple[bool, str]:
    """Run one action function (sync, or async in its own event loop: the caller is a worker
    thread) and normalise its result to (ok, detail). Exceptions propagate to the caller."""
    result = fn(incident_id, **args)
    if inspect.isawaitable(result):
        result = asyncio.run(_await(result))
    if isinstance(result, str):
        return True, result
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], bool):
        return result[0], str(result[1])
    raise TypeError(f"returned {type(result).__name__}; expected str or (bool, str)")


async def _await(aw: Any) -> Any:
    return await aw


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
