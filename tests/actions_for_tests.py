"""Python recovery actions registered for tests/activities/test_recovery_kinds.py (loaded via load_modules,
the way a worker loads the modules listed in WARROOM_ACTION_MODULES)."""

from __future__ import annotations

from warroom.runbooks.actions import action

CALLS: list[tuple[str, dict]] = []


@action("warm-cache")
def warm_cache(incident_id: str, *, region: str = "eu", keys: int = 10) -> str:
    CALLS.append((incident_id, {"region": region, "keys": keys}))
    return f"warmed {keys} keys in {region} for {incident_id}"


@action("cache-still-cold")
def cache_still_cold(incident_id: str) -> tuple[bool, str]:
    return False, "cache hit ratio 3%"


@action("cache-node-down")
def cache_node_down(incident_id: str) -> str:
    raise RuntimeError("cache node 10.0.0.7 unreachable")


@action("async-flush")
async def async_flush(incident_id: str, *, what: str) -> str:
    return f"flushed {what}"


@action("returns-nonsense")
def returns_nonsense(incident_id: str) -> int:
    return 42
