"""The Temporal servers a command starts die with it, however it ends (Ctrl-C, SIGTERM, SIGKILL).

Room: shared library (warroom/), used by the composition roots that start servers: `warroom
dev` (the dev server, a subprocess it spawns itself) and `warroom simulate` (the time-skipping
test server, which temporalio's core spawns). A process killed with SIGKILL runs no cleanup, so
neither can rely on its own `finally`:

- a server warroom spawns gets PR_SET_PDEATHSIG (Linux): the kernel sends it SIGTERM when the
  thread that spawned it dies (`die_with_parent`, a Popen preexec_fn; the main thread spawns);
- a server spawned by someone else (temporalio's core) is watched by a `Watchdog`, started
  before the server: a small process of its own session (Ctrl-C to the terminal does not reach
  it) that finds the server among this process's children as soon as it is spawned, and holds
  the read end of a pipe whose only write end is in this process. When this process ends,
  however it ends, the kernel closes that end; the watchdog reads end-of-file and stops the
  server (SIGTERM, then SIGKILL after a grace period), checking it is still the same process.

Linux only (prctl, /proc); elsewhere both are no-ops and the servers end as before, when the
command stops them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
_LINUX = sys.platform.startswith("linux")


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """preexec_fn for subprocess.Popen: the child gets `sig` when its parent dies. If the parent
    died between the fork and the prctl, the child ends at once."""
    if not _LINUX:
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)


def _start_time(pid: int) -> str:
    """The process's start time (field 22 of /proc/<pid>/stat): with the pid, who it is."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def children(parent: int, executable: str, newer_than: int = 0) -> list[int]:
    """The children of `parent` running `executable` (by /proc/<pid>/exe), among the processes
    whose pid is above `newer_than` (pids grow: those spawned since it; 0: all)."""
    target = os.path.realpath(executable)
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) <= newer_than:
            continue
        try:
            if int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1]) != parent:
                continue
            if os.path.realpath(f"/proc/{name}/exe") == target:
                found.append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _watch(args: list[str]) -> None:
    """The watchdog's body (`python -I -S reaper.py GRACE PARENT EXECUTABLE`): until the parent
    spawns its first child running EXECUTABLE, look for it every 20 ms (so a server spawned by
    someone else's code is known from its first moments); then wait for end-of-file on stdin (the
    parent ended) and stop each server that is still the process it was (same start time):
    SIGTERM, and SIGKILL after GRACE seconds."""
    import selectors
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    grace, parent, executable = float(args[0]), int(args[1]), args[2]
    watched: dict[int, str] = {}
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ)
    since, full_scan_at = os.getpid(), time.monotonic() + 2
    while True:
        if sel.select(timeout=None if watched else 0.02) and not os.read(0, 4096):
            break  # end-of-file: the parent is gone (or let us go)
        if not watched:
            # the server is spawned after this watchdog, so its pid is above ours; after 2 s
            # (the pids may have wrapped around) every process is looked at
            newer = since if time.monotonic() < full_scan_at else 0
            watched = {pid: _start_time(pid) for pid in children(parent, executable, newer)}

    def same(pid: int, start: str) -> bool:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return False
        return fields[19] == start and fields[0] != "Z"

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, start in watched.items():
            if same(pid, start):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(same(p, s) for p, s in watched.items()):
            time.sleep(0.05)


class Watchdog:
    """Stops the first child of this process that runs `executable` when this process ends,
    however it ends. Start it before the server is spawned; `close()` once the server was stopped
    the ordinary way (the watchdog then finds it gone and exits)."""

    def __init__(self, executable: str, grace_seconds: float = 5.0) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self._write = -1
        if not _LINUX:
            return
        read, self._write = os.pipe()  # both non-inheritable: no other child holds the write end
        try:
            # -I -S: no site, no user paths; this file run as a script needs the standard library only
            self.proc = subprocess.Popen([sys.executable, "-I", "-S", __file__, str(grace_seconds), str(os.getpid()),
                                          os.path.realpath(executable)],
                                         stdin=read, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
        finally:
            os.close(read)

    def close(self) -> None:
        if self._write >= 0:
            os.close(self._write)
            self._write = -1
        if self.proc is not None:
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


if __name__ == "__main__":
    _watch(sys.argv[1:])
