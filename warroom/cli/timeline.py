"""How a timeline event reads in a terminal: the same for `warroom simulate` and `warroom incidents show`.

Room: CLI (rendering only).
"""

from __future__ import annotations

from typing import Any


def describe(row: dict[str, Any]) -> str:
    d = row["details"]
    if row["type"] in ("notification.sent", "notification.failed"):
        return f"{d.get('kind')} -> {d.get('target')} via {d.get('channel') or '?'} [{d.get('status')}]"
    return ", ".join(f"{k}={v}" for k, v in d.items())


def format_offset(seconds: int) -> str:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"+{h:02d}:{m:02d}:{s:02d}"
