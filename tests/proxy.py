"""A TCP proxy on loopback that can freeze: while frozen it accepts connections and data but
relays nothing, as a PostgreSQL server stopped with SIGSTOP (or behind a dead network path)
looks to its clients. It can also stop: the listening socket closed and every open connection
aborted, so clients see their connections reset and new ones refused, as a PostgreSQL server that
was shut down (or crashed) looks; start() listens again on the same port, as the server restarted.
Used to put the records "frozen" or "stopped" under a running API and worker."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class FreezableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.tasks: set[asyncio.Task[Any]] = set()
        self.writers: set[asyncio.StreamWriter] = set()  # both ends of every relayed connection

    async def __aenter__(self) -> FreezableProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.thaw()
        if self.server is not None:
            self.server.close()
        for t in list(self.tasks):
            t.cancel()
        for t in list(self.tasks):
            with contextlib.suppress(BaseException):
                await t

    def freeze(self) -> None:
        self.flowing.clear()

    def thaw(self) -> None:
        self.flowing.set()

    async def start(self) -> None:
        """Listen (again): on a free port the first time, then on the same port as before."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening (a new connection is refused) and abort every open connection, both
        the client's end and the server's: a client blocked in a call or sending on a pooled
        connection gets a reset, at once."""
        assert self.server is not None
        server, self.server = self.server, None
        server.close()
        for w in list(self.writers):
            w.transport.abort()
        self.writers.clear()
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        if self.server is None:  # stopped while this connection was being opened
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self.writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(src, dst))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                await self.flowing.wait()
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.close()
            self.writers.discard(dst)
