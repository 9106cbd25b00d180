"""A stand-in for an LKPP integration gateway on a loopback port, recording every request it gets (DESIGN.md §8).

LPSE Support has no public API; offices that run a gateway post the LPSE Support fields to it as JSON. This server
answers ``POST`` with 201 and ``{"ticket_number": "<n>"}`` (numbers from ``first_number`` up), keeps each request
as a ``RecordedRequest`` (method, path, headers, raw body, parsed JSON), and ``fail_next(status, times=...)``
makes the next requests answer an error instead (503 for an outage, 400 for a refused payload).
``answer_with(payload)`` replaces the JSON of the following successful answers.
"""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in received."""

    method: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # http.server calls it by this name
        length = int(self.headers.get("Content-Length") or 0)
        recorded = RecordedRequest(self.command, self.path, self.rfile.read(length), dict(self.headers.items()))
        status, payload = self.server.owner._answer(recorded)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LkppGatewayServer


class LkppGatewayServer:
    """The gateway stand-in on 127.0.0.1 and a free port; ``requests`` lists what it received."""

    def __init__(self, *, first_number: int = 20260001) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: list[int] = []
        self._payload: dict[str, Any] | None = None
        self._numbers = itertools.count(first_number)
        self._server: _Server | None = None
        self._port = 0

    @property
    def url(self) -> str:
        """The gateway's filing endpoint."""
        return f"http://{HOST}:{self._port}/api/tiket"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    def fail_next(self, status: int, *, times: int = 1) -> None:
        """Answer the next ``times`` requests with HTTP ``status``."""
        with self._lock:
            self._failures.extend([status] * times)

    def answer_with(self, payload: dict[str, Any]) -> None:
        """Answer the following successful requests with ``payload`` instead of a new ticket number."""
        with self._lock:
            self._payload = payload

    def start(self) -> None:
        server = _Server((HOST, self._port), _Handler)
        server.owner = self
        self._server, self._port = server, server.server_address[1]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="lkpp-gateway-stand-in",
                         daemon=True).start()

    def stop(self) -> None:
        """Stop listening (the port is kept, so ``start`` brings the same URL back)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _answer(self, recorded: RecordedRequest) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self._requests.append(recorded)
            failure = self._failures.pop(0) if self._failures else None
            payload = self._payload
        if failure is not None:
            return failure, {"error": f"gagal ({failure})"}
        if payload is not None:
            return 201, payload
        return 201, {"ticket_number": str(next(self._numbers)), "status": "diterima"}


@contextmanager
def lkpp_gateway_server(**kwargs: Any) -> Iterator[LkppGatewayServer]:
    """A started LkppGatewayServer, stopped at the end."""
    server = LkppGatewayServer(**kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()
