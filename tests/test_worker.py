"""worker.py, the worker's composition root: process settings it applies before any thread."""

from __future__ import annotations

import platform

from worker import limit_malloc_arenas


def test_malloc_arenas_are_capped_on_glibc_and_left_alone_at_zero() -> None:
    assert limit_malloc_arenas(0) is False
    glibc = platform.libc_ver()[0] == "glibc"
    assert limit_malloc_arenas(2) is glibc
