"""The HTTP part the stand-ins for out-of-reach services share (Twilio's REST API, an LKPP gateway).

``RecordingServer`` listens on 127.0.0.1, keeps every POST it gets (``requests``, in order) and answers JSON with
what its subclass's ``_answer`` returns. ``stop()`` and ``start()`` again keep the port, so the app's configured
URL still points at it.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # http.server calls it by this name
        length = int(self.headers.get("Content-Length") or 0)
        status, payload = self.server.owner._receive(self.command, self.path, self.rfile.read(length),
                                                     dict(self.headers.items()))
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
    owner: RecordingServer


class RecordingServer:
    """A loopback HTTP server that records each POST as ``_recorded(...)`` and answers ``_answer(recorded)``."""

    thread_name = "stand-in"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Any] = []
        self._server: _Server | None = None
        self._port = 0

    @property
    def port(self) -> int:
        assert self._port, "the server is not started"
        return self._port

    @property
    def requests(self) -> list[Any]:
        """Every request received so far, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    def start(self) -> None:
        server = _Server((HOST, self._port), _Handler)
        server.owner = self
        self._server, self._port = server, server.server_address[1]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name,
                         daemon=True).start()

    def stop(self) -> None:
        """Stop listening (the port is kept, so ``start`` brings the same URL back)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _receive(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        recorded = self._recorded(method, path, body, headers)
        with self._lock:
            self._requests.append(recorded)
        return self._answer(recorded)

    def _recorded(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        raise NotImplementedError

    def _answer(self, recorded: Any) -> tuple[int, Any]:
        raise NotImplementedError
