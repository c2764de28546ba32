"""A threaded HTTP/1.1 server on a free 127.0.0.1 port whose answers come from one method.

For stand-ins of servers that cannot run on our machines (Jaeger) or whose answers a test must script (refusals,
fixed metrics): subclasses override ``answer``; every request is recorded in ``requests`` before it is answered.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Self

__all__ = ("Answer", "StandInServer")


class Answer(NamedTuple):
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = {}  # noqa: RUF012 - a NamedTuple default, never mutated


class StandInServer:
    """Start with ``with`` (or ``start()``); ``url`` is where it listens."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        """(method, path) of every request, in arrival order."""
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def do_GET(self) -> None:
                self._reply("GET", b"")

            def do_POST(self) -> None:
                self._reply("POST", self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _reply(self, method: str, body: bytes) -> None:
                stand_in.requests.append((method, self.path))
                answer = stand_in.answer(method, self.path, body)
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the stdlib's name)
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def answer(self, method: str, path: str, body: bytes) -> Answer:
        return Answer(404, b"not found", "text/plain")

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
