"""Secrets: how a file names one, the one place their values are read, and the one masker.

Room: shared library. The only module besides warroom/settings.py that reads the environment,
and it does so when a message or an action is sent (on the worker, inside the activity), so a
secret's value never sits in Settings, a workflow's input or its history.

The scheme: a file names a secret as `${NAME}` (contact URLs, war-room settings); its value is
the worker's environment variable NAME. A runbook's `secret_headers: {Header: NAME}` is the
shorthand of `${WARROOM_SECRET_NAME}` (docs/runbooks.md). A value that might show in an error,
a log line or an answer is masked by `mask`, as itself, percent-encoded and Python-quoted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from secrets import token_urlsafe
from urllib.parse import quote

__all__ = ["MASK", "PLACEHOLDER", "RUNBOOK_PREFIX", "MissingSecret", "environment", "expand", "mask",
           "placeholders", "read", "runbook_secret", "server_key"]

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
RUNBOOK_PREFIX = "WARROOM_SECRET_"  # runbook secret_headers: NAME -> ${WARROOM_SECRET_NAME}
MASK = "****"
_SHORTEST_MASKED = 3  # masking "1" everywhere would destroy the text and protect nothing


class MissingSecret(LookupError):
    """Secrets a text names that the environment does not have (names only, never values)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


def environment() -> Mapping[str, str]:
    """Where secret values come from: the process environment, read at the moment of use."""
    return os.environ


def placeholders(text: str) -> list[str]:
    """The secret names `text` refers to, in order, each once."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def read(name: str, env: Mapping[str, str] | None = None) -> str:
    """The value of secret `name` ("" when unset)."""
    return (environment() if env is None else env).get(name, "")


def runbook_secret(name: str, env: Mapping[str, str] | None = None) -> str:
    """The value a runbook's `secret_headers` NAME stands for (${WARROOM_SECRET_NAME})."""
    return read(RUNBOOK_PREFIX + name, env)


def expand(text: str, env: Mapping[str, str] | None = None) -> tuple[str, tuple[str, ...]]:
    """`text` with every `${NAME}` replaced by its value (verbatim), and the values inserted
    (to mask later). A missing or empty one raises MissingSecret naming them all."""
    env = environment() if env is None else env
    missing = [name for name in placeholders(text) if not env.get(name)]
    if missing:
        raise MissingSecret(missing)
    values: list[str] = []

    def fill(m: re.Match[str]) -> str:
        values.append(env[m.group(1)])
        return env[m.group(1)]

    return PLACEHOLDER.sub(fill, text), tuple(values)


def mask(text: str, values: Iterable[str]) -> str:
    """`text` with each secret value replaced by MASK: longest first (a secret containing
    another is masked whole), each also as a URL, Python's repr of it or of its bytes show it."""
    for value in sorted(set(values), key=len, reverse=True):
        if len(value) < _SHORTEST_MASKED:
            continue
        for form in dict.fromkeys((value, quote(value, safe=""), repr(value)[1:-1], repr(value.encode())[2:-1])):
            text = text.replace(form, MASK)
    return text


def server_key(secret_key: str, data_dir: Path) -> bytes:
    """The API's own HMAC key (console sessions, acknowledge links): Settings.secret_key, or a
    random one made once and kept in <data_dir>/secret.key (readable by its owner only)."""
    if secret_key:
        return secret_key.encode()
    path = data_dir / "secret.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = token_urlsafe(48).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key
