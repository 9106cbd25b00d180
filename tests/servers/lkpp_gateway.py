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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .recording import HOST, RecordingServer


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


class LkppGatewayServer(RecordingServer):
    """The gateway stand-in on 127.0.0.1 and a free port; ``requests`` lists what it received."""

    thread_name = "lkpp-gateway-stand-in"

    def __init__(self, *, first_number: int = 20260001) -> None:
        super().__init__()
        self._failures: list[int] = []
        self._payload: dict[str, Any] | None = None
        self._numbers = itertools.count(first_number)

    @property
    def url(self) -> str:
        """The gateway's filing endpoint."""
        return f"http://{HOST}:{self._port}/api/tiket"

    def fail_next(self, status: int, *, times: int = 1) -> None:
        """Answer the next ``times`` requests with HTTP ``status``."""
        with self._lock:
            self._failures.extend([status] * times)

    def answer_with(self, payload: dict[str, Any]) -> None:
        """Answer the following successful requests with ``payload`` instead of a new ticket number."""
        with self._lock:
            self._payload = payload

    def _recorded(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> RecordedRequest:
        return RecordedRequest(method, path, body, headers)

    def _answer(self, recorded: RecordedRequest) -> tuple[int, dict[str, Any]]:
        with self._lock:
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
