"""Shared fixtures: a time-skipping test server per test (it starts in a fraction of a
second, and workflows left running by one test cannot hold the clock of the next), a records database per
test run (SQLite by default, PostgreSQL when WARROOM_TEST_DATABASE_URL says so), and a
worker per test on its own task queue."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from warroom import binaries, records
from workflows.converter import DATA_CONVERTER

REPO = Path(__file__).resolve().parent.parent
# Every worker, API and CLI of the tests (and the processes they start) reads this upgrades file
# unless a test names another: the shipped rules without the window (tests/upgrades/quiet.yaml
# says why). Tests of the window give their worker a records database of its own.
os.environ.setdefault("WARROOM_UPGRADES_FILE", str(REPO / "tests" / "upgrades" / "quiet.yaml"))


# --------------------------------------------------------------------------- no network beyond loopback

# Tests never reach outside this machine: a name that is not loopback is not looked up, and a
# connection to an address that is not loopback is refused, in this process (the worker, the
# API, the activities' threads). The call fails as an unreachable network would (OSError), and
# the test fails at its end naming where it tried to go, even if the code under test swallowed
# the error. Subprocesses (warroom dev, the Temporal servers, Chromium) are not covered.
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "0.0.0.0", "::", ""}
_attempts: list[str] = []
_attempts_lock = threading.Lock()


def _loopback(host: object) -> bool:
    if host is None:
        return True  # a wildcard bind, no name to resolve
    name = host.decode() if isinstance(host, bytes) else str(host)
    name = name.strip("[]").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return addr.is_loopback or addr.is_unspecified


def _refuse(what: str) -> OSError:
    with _attempts_lock:
        _attempts.append(what)
    return OSError(101, f"tests/conftest.py: no network beyond loopback in tests ({what})")


_real_connect, _real_connect_ex = socket.socket.connect, socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded(address: object, family: int) -> None:
    if family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and not _loopback(address[0]):
        raise _refuse(f"connect to {address[0]}:{address[1]}")


def _connect(self: socket.socket, address: object) -> None:
    _guarded(address, self.family)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: object) -> int:
    _guarded(address, self.family)
    return _real_connect_ex(self, address)


def _ip_literal(host: object) -> bool:
    try:
        ipaddress.ip_address((host.decode() if isinstance(host, bytes) else str(host)).strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _getaddrinfo(host: object, *args: object, **kw: object) -> list:
    # an address needs no lookup (its connection is checked); a name beyond loopback is not looked up
    if not _loopback(host) and not _ip_literal(host):
        raise socket.gaierror(socket.EAI_NONAME, str(_refuse(f"name lookup of {host}")))
    return _real_getaddrinfo(host, *args, **kw)  # type: ignore[arg-type]


socket.socket.connect = _connect  # type: ignore[method-assign]
socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _getaddrinfo  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def no_network_beyond_loopback() -> Iterator[None]:
    with _attempts_lock:
        _attempts.clear()
    yield
    with _attempts_lock:
        tried = list(dict.fromkeys(_attempts))
        _attempts.clear()
    if tried:
        pytest.fail(f"the test tried to reach beyond loopback: {', '.join(tried)}", pytrace=False)


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = os.environ.get("WARROOM_TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    eng = records.make_engine(url)
    records.Base.metadata.drop_all(eng)
    with eng.begin() as conn:  # and the migrations' own table: the schema is made afresh
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    records.create_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def own_records(tmp_path: Path) -> Iterator[Engine]:
    """A records database of the test's own, of the kind the suite runs on (a fresh PostgreSQL
    database when WARROOM_TEST_DATABASE_URL says so, dropped after): for what reads every open
    incident the records hold (cascades, hand-overs), which the shared database fills with other
    tests' incidents."""
    url = os.environ.get("WARROOM_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        eng = records.make_engine(f"sqlite:///{tmp_path / 'own.db'}")
        records.create_schema(eng)
        yield eng
        eng.dispose()
        return
    from tests.helpers import postgres_database

    with postgres_database(url, "warroom_own") as eng:
        yield eng


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    e = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=binaries.test_server(),
                                                   data_converter=DATA_CONVERTER,
                                                   test_server_startup_timeout=binaries.STARTUP_TIMEOUT)
    async with e:
        yield e


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (real time, real persistence semantics) on free ports,
    one per test module; for what the time-skipping server cannot show."""
    e = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binaries.temporal_cli(), dev_server_log_level="error", data_converter=DATA_CONVERTER,
        dev_server_startup_timeout=binaries.STARTUP_TIMEOUT,
    )
    async with e:
        yield e


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def runbooks_dir() -> Path:
    return REPO / "runbooks"


@pytest.fixture(scope="session")
def payloads_dir() -> Path:
    """Real webhook deliveries from public projects (../shared/payloads, with SOURCES.md).
    Read in place, never copied into the repo. Missing is a failure, not a skip."""
    path = Path(os.environ.get("WARROOM_PAYLOADS_DIR") or REPO.parent / "shared" / "payloads")
    if not (path / "SOURCES.md").is_file():
        pytest.fail(f"payload corpus not found at {path}; set WARROOM_PAYLOADS_DIR")
    return path
