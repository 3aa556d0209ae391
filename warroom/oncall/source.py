"""Room: on-call (warroom/oncall), the loaded configuration of a directory, re-read when a file changes.

What long-running processes page from: the worker (OnCallSource) and the API (load_oncall,
remember after a PUT). The directory is always given by the caller, who has it from
Settings.oncall_dir (worker.py, the API's lifespan, the CLI): nothing here reads the
environment.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from warroom.oncall.files import OnCallError, fingerprint
from warroom.oncall.resolve import OnCallConfig

log = logging.getLogger("warroom.oncall")

# How long an edit of the on-call files may take to reach the worker's pages (OnCallSource).
CHECK_EVERY_SECONDS = 1.0

_loaded: dict[Path, tuple[tuple[tuple[str, int, int], ...], OnCallConfig]] = {}


def remember(directory: Path, config: OnCallConfig) -> None:
    """Make `config` the loaded one for `directory` (after writing a file there)."""
    _loaded[Path(directory).resolve()] = (fingerprint(directory), config)


def load_oncall(directory: Path) -> OnCallConfig:
    """The configuration of `directory` (Settings.oncall_dir); empty when the directory does
    not exist. Raises OnCallError when any file is invalid. Re-read only when a file changed,
    so callers may call it for every page."""
    directory = Path(directory)
    if not directory.is_dir():
        return OnCallConfig.empty()
    key, stamp = directory.resolve(), fingerprint(directory)
    cached = _loaded.get(key)
    if cached and cached[0] == stamp:
        return cached[1]
    config = OnCallConfig.load(directory)
    _loaded[key] = (stamp, config)
    return config


class OnCallSource:
    """What the worker pages from: the directory's configuration, re-read when a file changes.
    Files that become invalid while the worker runs (a hand edit) never stop paging: the last
    valid configuration stays in use, and the problems are logged at every page until fixed.
    Built with the files valid (the worker refuses to start otherwise). The files are looked at
    again at most once per `check_every` seconds, so an edit pages from the next second on."""

    def __init__(self, directory: Path, *, check_every: float = CHECK_EVERY_SECONDS) -> None:
        self.directory = directory
        self.check_every = check_every
        self.last = load_oncall(directory)
        self._checked = time.monotonic()

    def __call__(self) -> OnCallConfig:
        # Looking for a changed file stats every file of the directory (about 1 ms); a burst of
        # incidents asks for every page, war room and assess: once per check_every is enough.
        now = time.monotonic()
        if now - self._checked < self.check_every:
            return self.last
        self._checked = now
        try:
            self.last = load_oncall(self.directory)
        except OnCallError as err:
            log.error("on-call files in %s are invalid; paging with the last valid ones: %s", self.directory, err)
        return self.last

