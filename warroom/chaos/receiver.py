"""The loopback receiver of the chaos harness: every person's contact point is
`json://127.0.0.1:<port>/<person id>`, and this server keeps every request it answered (who,
the Idempotency-Key, when), so the checker can count each page's deliveries.

Room: shared library (warroom/chaos). It lives in the harness process, so it survives every
kill: what it saw is what a person's phone would have shown.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    person: str  # the path: /<person id>
    key: str  # the Idempotency-Key header ("" when none came)
    at: float  # time.time() on arrival


class Receiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[Delivery] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                d = Delivery(person=self.path.strip("/").split("?")[0],
                             key=self.headers.get("Idempotency-Key", ""), at=time.time())
                with receiver._lock:
                    receiver._seen.append(d)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a sender killed mid-request: nothing arrived, nothing to report

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="chaos-receiver", daemon=True)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._seen)
