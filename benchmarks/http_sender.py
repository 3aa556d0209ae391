"""A cheap HTTP/1.1 sender for the benchmarks: keep-alive connections over asyncio streams.

Why not httpx here: on these 2 cores the benchmark's own sender shares the CPU with the API,
the worker and the server, and httpx's connection pool cost about 7 ms of CPU per request with
64 connections (its pool scan is linear in the connections for every request, and httpcore
retries `import sniffio` on each one when it is not installed). The bare-Temporal side sends with
Temporal's Rust client, so an expensive HTTP sender would charge warroom for the benchmark's
own overhead. This one costs tens of microseconds per request: it writes the request, reads the
status line, the headers and a Content-Length body, and keeps the connection.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit


class Answer:
    __slots__ = ("content", "status_code")

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class SenderError(Exception):
    """The connection failed or the answer was not HTTP/1.1 as expected."""


class Sender:
    """Up to `connections` keep-alive connections to one host; `post` waits for a free one."""

    def __init__(self, base_url: str, *, connections: int = 64, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(connections)

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Answer:
        data = json.dumps(body).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.headers}{extra}"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
        async with self.slots:
            while True:
                reused = bool(self.idle)
                if reused:
                    reader, writer = self.idle.pop()
                else:
                    try:
                        reader, writer = await asyncio.open_connection(self.host, self.port)
                    except OSError as err:
                        raise SenderError(f"connect: {err}") from err
                try:
                    writer.write(head + data)
                    status, keep, content = await self._answer(reader)
                except asyncio.IncompleteReadError as err:
                    writer.close()
                    if reused and not err.partial:
                        # the server had closed this idle connection (its keep-alive timeout)
                        # before reading the request: send it on a new one, as browsers do
                        continue
                    raise SenderError(f"connection closed mid-answer: {err}") from err
                except (OSError, ValueError) as err:
                    writer.close()
                    raise SenderError(f"{type(err).__name__}: {err}") from err
                if keep:
                    self.idle.append((reader, writer))
                else:
                    writer.close()
                return Answer(status, content)

    @staticmethod
    async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
        line = await reader.readuntil(b"\r\n")
        version, status, _ = line.decode("latin-1").split(" ", 2)
        length, keep = 0, version == "HTTP/1.1"
        while True:
            header = await reader.readuntil(b"\r\n")
            if header == b"\r\n":
                break
            name, _, value = header.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.lower() == "close":
                keep = False
            elif name == "transfer-encoding":
                raise ValueError(f"transfer-encoding {value} is not read here")
        return int(status), keep, await reader.readexactly(length) if length else b""
