"""Room: on-call (warroom/oncall), the loaded configuration of a directory, re-read when a file changes.

What long-running processes page from: the worker (OnCallSource) and the API (load_oncall,
remember after a PUT). The directory is always given by the caller, who has it from
Settings.oncall_dir (worker.py, the API's lifespan, the CLI): nothing here reads the
environment.
"""

from __future__ import annotations

import logging
from pathlib import Path

from warroom.oncall.files import OnCallError, fingerprint
from warroom.oncall.resolve import OnCallConfig

log = logging.getLogger("warroom.oncall")

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
    Built with the files valid (the worker refuses to start otherwise)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.last = load_oncall(directory)

    def __call__(self) -> OnCallConfig:
        try:
            self.last = load_oncall(self.directory)
        except OnCallError as err:
            log.error("on-call files in %s are invalid; paging with the last valid ones: %s", self.directory, err)
        return self.last
