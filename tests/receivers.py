"""Local HTTP receivers for delivery tests: a real server on 127.0.0.1 that records every
request and can be told to fail, so channel and engine tests see what a webhook sees.

    with Receiver(fail_first=2) as rx:
        deliver(f"json://{rx.netloc}/hook", ...)      # 500, 500, then 200
        rx.wait_for(1)                                # the requests it answered with 2xx
        rx.requests                                   # every request, failed ones too

Loopback only; port 0, so parallel tests never collide.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Reply = tuple[int, Any]  # (status, body: bytes | str | JSON-able)


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    status: int = 0  # what the receiver answered (0 while it is still being held)
    at: float = field(default_factory=time.monotonic)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def form(self) -> dict[str, str]:
        """The body parsed as application/x-www-form-urlencoded (last value wins)."""
        return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Receiver:
    """A recording HTTP server on 127.0.0.1.

    fail_first: answer the first N requests with `fail_status` (then succeed).
    always_fail: answer every request with `fail_status`.
    delay: seconds to hold each request before answering (to exercise client timeouts).
    reply: the successful answer, (status, body); Slack webhooks expect (200, "ok").
    handler: optional function Request -> Reply | None, consulted for requests that are not
      failed on purpose; None falls back to `reply`. Lets a test fake an API (routes by path).
    All of these may be changed while the server runs (attributes or `program(...)`).
    """

    def __init__(self, *, fail_first: int = 0, always_fail: bool = False, fail_status: int = 500,
                 delay: float = 0.0, reply: Reply = (200, {"ok": True}),
                 handler: Callable[[Request], Reply | None] | None = None) -> None:
        self.fail_first = fail_first
        self.always_fail = always_fail
        self.fail_status = fail_status
        self.delay = delay
        self.reply = reply
        self.handler = handler
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                receiver._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False  # a request held by `delay` must not hold up stop()
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"receiver-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # where it listens ------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "receiver not started"
        return self._server.server_address[1]

    @property
    def netloc(self) -> str:
        """host:port, for Apprise URLs such as f"json://{rx.netloc}/hook"."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.netloc}"

    # programming and reading -----------------------------------------------------------------
    def program(self, **behaviour: Any) -> None:
        """Change behaviour while running, e.g. rx.program(always_fail=False, fail_first=1)."""
        with self._lock:
            for name, value in behaviour.items():
                if name not in {"fail_first", "always_fail", "fail_status", "delay", "reply", "handler"}:
                    raise TypeError(f"unknown receiver behaviour {name!r}")
                setattr(self, name, value)

    @property
    def requests(self) -> list[Request]:
        """Every request received, in arrival order (failed ones included)."""
        with self._lock:
            return list(self._requests)

    @property
    def delivered(self) -> list[Request]:
        """The requests answered with 2xx: the messages that actually arrived."""
        return [r for r in self.requests if r.ok]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def wait_for(self, count: int, timeout: float = 5.0, *, delivered: bool = True) -> list[Request]:
        """Wait until `count` requests arrived (2xx ones unless delivered=False); returns them."""
        deadline = time.monotonic() + timeout

        def seen() -> list[Request]:
            return [r for r in self._requests if r.ok or not delivered]

        with self._changed:
            while len(seen()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"receiver saw {len(seen())} of {count} requests")
                self._changed.wait(left)
            return seen()

    # serving ---------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parts = urlsplit(h.path)
        req = Request(method=h.command, path=parts.path, query=parse_qs(parts.query),
                      headers={k.lower(): v for k, v in h.headers.items()}, body=body)
        with self._changed:  # recorded on arrival, so a request held by `delay` is visible
            index = len(self._requests)
            self._requests.append(req)
            self._changed.notify_all()
            fail = self.always_fail or index < self.fail_first
            delay, reply, handler, fail_status = self.delay, self.reply, self.handler, self.fail_status
        if delay:  # deliberate latency: a slow or hanging remote (the delay), cut short when the receiver stops
            self._stopping.wait(delay)
        if fail:
            status, payload = fail_status, {"ok": False, "error": "failing on purpose"}
        else:
            status, payload = (handler(req) if handler else None) or reply
        data = _encode(payload)
        with self._changed:
            req.status = status
            self._changed.notify_all()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json" if not isinstance(payload, (bytes, str))
                          else "text/plain; charset=utf-8")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(data)
        except OSError:  # the client gave up (a timeout test); the request is still recorded
            pass


def _encode(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


def unused_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
