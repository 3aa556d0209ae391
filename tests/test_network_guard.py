"""The test suite's network guard (tests/conftest.py): nothing reaches beyond loopback."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests import conftest


def test_a_connection_beyond_loopback_is_refused_and_named():
    with pytest.raises(OSError, match="no network beyond loopback"):
        socket.create_connection(("192.0.2.10", 80), timeout=1)  # TEST-NET-1: never routed anyway
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("auth-admin.internal", 8080)  # not even looked up
    with pytest.raises(httpx.ConnectError):
        httpx.get("https://login.example.com/synthetic/check", timeout=1)
    assert conftest._attempts == ["connect to 192.0.2.10:80", "name lookup of auth-admin.internal",
                                  "name lookup of login.example.com"]
    conftest._attempts.clear()  # this test tried on purpose; any other that tries fails at its end


def test_loopback_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    assert socket.getaddrinfo("localhost", 80) and conftest._attempts == []
