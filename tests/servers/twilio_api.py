"""A stand-in for Twilio's REST API on a loopback port, recording every request it gets (DESIGN.md §8).

``TwilioApiServer`` answers ``POST /2010-04-01/Accounts/<sid>/Messages.json`` like Twilio does (201 with the new
message's JSON: ``sid``, ``status``, ``to``, ``from``, ``body``...), and ``.../Calls.json`` (an outbound call).
Each request is kept as a ``RecordedRequest`` (method, path, form body, Authorization header). ``fail_next(status, code=..., message=...)`` makes the next
requests answer an error instead (500 for an outage, 400 for a refused number), in Twilio's error JSON.

The app reaches it through ``TWILIO_API_BASE_URL`` (``config()``), so the real ``twilio`` client builds and sends
every request; only the host differs.
"""
from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .recording import HOST, RecordingServer
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in received."""

    method: str
    path: str
    form: dict[str, list[str]]
    authorization: str | None
    headers: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        """The single value of form field ``name`` (None when absent)."""
        values = self.form.get(name)
        return values[0] if values else None

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        """The (user, password) of a Basic Authorization header."""
        if not self.authorization or not self.authorization.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(self.authorization[6:]).decode().partition(":")
        return user, password


class TwilioApiServer(RecordingServer):
    """The Messages API stand-in on 127.0.0.1 and a free port; ``requests`` lists what it received."""

    thread_name = "twilio-api-stand-in"

    def __init__(self) -> None:
        super().__init__()
        self._failures: list[tuple[int, int, str]] = []
        self._numbers = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def config(self, **overrides: Any) -> dict[str, Any]:
        """The app's TWILIO_* settings for this stand-in."""
        values: dict[str, Any] = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                                  "TWILIO_API_BASE_URL": self.url}
        values.update(overrides)
        return values

    def fail_next(self, status: int, *, code: int | None = None, message: str = "error", times: int = 1) -> None:
        """Answer the next ``times`` requests with HTTP ``status`` and Twilio's error JSON."""
        with self._lock:
            self._failures.extend([(status, code or status, message)] * times)

    def _recorded(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> RecordedRequest:
        return RecordedRequest(method, path, parse_qs(body.decode("utf-8"), keep_blank_values=True),
                               headers.get("Authorization"), headers)

    def _answer(self, recorded: RecordedRequest) -> tuple[int, dict[str, Any]]:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, code, message = failure
            return status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                            "status": status}
        account = recorded.path.split("/")[3] if recorded.path.count("/") >= 4 else ACCOUNT_SID
        if recorded.path.endswith("/Calls.json"):
            sid = f"CA{next(self._numbers):032x}"
            return 201, {
                "sid": sid, "account_sid": account, "status": "queued", "direction": "outbound-api",
                "to": recorded.value("To"), "from": recorded.value("From"), "api_version": "2010-04-01",
                "date_created": "Tue, 24 Nov 2026 03:00:00 +0000",
                "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json",
            }
        if not recorded.path.endswith("/Messages.json"):
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        sid = f"SM{next(self._numbers):032x}"
        return 201, {
            "sid": sid, "account_sid": account, "status": "queued", "direction": "outbound-api",
            "to": recorded.value("To"), "from": recorded.value("From"), "body": recorded.value("Body"),
            "num_segments": "1", "num_media": "0", "price": None, "error_code": None, "error_message": None,
            "api_version": "2010-04-01", "date_created": "Tue, 24 Nov 2026 03:00:00 +0000",
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }


@contextmanager
def twilio_api_server() -> Iterator[TwilioApiServer]:
    """A started TwilioApiServer, stopped at the end."""
    server = TwilioApiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
