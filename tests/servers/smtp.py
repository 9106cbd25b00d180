"""A real SMTP server (aiosmtpd) on a loopback port for tests, recording every message it accepts.

``SmtpServer`` binds 127.0.0.1 on a port the OS chooses, and keeps that port when stopped and started again, so a
test can take the server down and bring it back. Options: ``users`` requires AUTH (PLAIN/LOGIN); ``tls`` with
``security="starttls"`` offers (and requires) STARTTLS, with ``security="ssl"`` speaks TLS from the first byte.
``reject(recipient, reply)`` makes RCPT TO of one address answer ``reply`` (``"550 5.1.1 ..."``).

``make_test_ca`` writes a CA and a certificate for 127.0.0.1 signed by it with the ``openssl`` CLI; clients trust
it through ``SSL_CERT_FILE`` (what ``ssl.create_default_context()`` reads), so the code under test runs its real
verifying TLS path.
"""
from __future__ import annotations

import shutil
import smtplib
import ssl
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class ReceivedMail:
    """One message the server accepted: its envelope, its bytes as received, and who had logged in."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None = None
    peer: tuple | None = None  # the client's (address, port): one per connection

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)


@dataclass(frozen=True)
class TestCa:
    """A CA certificate (for SSL_CERT_FILE) and a server certificate and key for 127.0.0.1 signed by it."""

    __test__ = False  # not a test class, whatever pytest's name matching says

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        reply = self.server._rejections.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        login = session.auth_data if isinstance(session.auth_data, str) else None
        mail = ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.original_content, login,
                            tuple(session.peer) if session.peer else None)
        with self.server._lock:
            self.server._received.append(mail)
        return "250 2.0.0 OK queued"


class _Controller(Controller):
    def _trigger_server(self) -> None:
        # Bound to port 0: learn the port the OS chose before the base class connects to it.
        if self.port == 0:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """aiosmtpd on 127.0.0.1 that records what it accepts; stop() and start() again keep the port."""

    def __init__(self, *, users: Mapping[str, str] | None = None, tls: TestCa | None = None,
                 security: str = "plain") -> None:
        if security not in ("plain", "starttls", "ssl"):
            raise ValueError(f"security must be plain, starttls or ssl, not {security!r}")
        if security != "plain" and tls is None:
            raise ValueError(f"security {security!r} needs a TestCa")
        self.users = dict(users or {})
        self.tls = tls
        self.security = security
        self.port = 0
        self._controller: _Controller | None = None
        self._lock = threading.Lock()
        self._received: list[ReceivedMail] = []
        self._rejections: dict[str, str] = {}

    @property
    def received(self) -> list[ReceivedMail]:
        """Every message accepted so far, in order (a copy)."""
        with self._lock:
            return list(self._received)

    @property
    def connections(self) -> int:
        """How many client connections delivered the messages accepted so far."""
        with self._lock:
            return len({mail.peer for mail in self._received})

    @property
    def running(self) -> bool:
        return self._controller is not None

    def reject(self, recipient: str, reply: str) -> None:
        """Answer RCPT TO:<recipient> with ``reply`` (e.g. ``"550 5.1.1 mailbox unavailable"``) from now on."""
        self._rejections[recipient.lower()] = reply

    def accept(self, recipient: str) -> None:
        """Accept ``recipient`` again."""
        self._rejections.pop(recipient.lower(), None)

    def config(self, **overrides: Any) -> dict[str, Any]:
        """The app's SMTP_* settings for this server (with the password of its first user, if any)."""
        values: dict[str, Any] = {"SMTP_HOST": HOST, "SMTP_PORT": self.port, "SMTP_SECURITY": self.security,
                                  "MAIL_TIMEOUT_SECONDS": 10}
        if self.users:
            values["SMTP_USER"], values["SMTP_PASSWORD"] = next(iter(self.users.items()))
        values.update(overrides)
        return values

    def start(self) -> None:
        """Listen (again) on the server's port; the first start takes a free port."""
        if self._controller is not None:
            return
        kwargs: dict[str, Any] = {"server_hostname": "smtp.test.invalid", "ready_timeout": 10}
        if self.security == "starttls":
            kwargs.update(tls_context=self.tls.server_context(), require_starttls=True)
        elif self.security == "ssl":
            kwargs["ssl_context"] = self.tls.server_context()
        if self.users:
            # Over implicit TLS aiosmtpd does not know the channel is encrypted; it is.
            kwargs.update(auth_required=True, authenticator=self._authenticate,
                          auth_require_tls=self.security == "starttls")
        controller = _Controller(_Handler(self), hostname=HOST, port=self.port, **kwargs)
        controller.start()
        self.port = controller.port
        self._controller = controller

    def stop(self) -> None:
        """Stop listening: connections are refused until start()."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(self, server, session, envelope, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        ok = self.users.get(login) == auth_data.password.decode("utf-8", "replace")
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)


@contextmanager
def smtp_server(**kwargs: Any) -> Iterator[SmtpServer]:
    """A started SmtpServer, stopped at the end."""
    server = SmtpServer(**kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make_test_ca(directory: Path) -> TestCa | None:
    """A CA and a server certificate for 127.0.0.1 and localhost under ``directory``; None without ``openssl``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.cnf").write_text(
        "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = ca_ext\n"
        "[dn]\nCN = LPSE Helpdesk test CA\n"
        "[ca_ext]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier = hash\n")
    (directory / "server.ext").write_text(
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
        "extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    commands = [
        [openssl, "req", "-x509", "-config", "ca.cnf", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
        [openssl, "req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
        [openssl, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
         "-days", "2", "-extfile", "server.ext", "-out", "server.pem"],
    ]
    for command in commands:
        result = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command[1:3])} failed: {result.stderr.strip()}")
    return TestCa(directory / "ca.pem", directory / "server.pem", directory / "server.key")


def refuse_other_hosts(monkeypatch: Any) -> None:
    """Make smtplib refuse any host but the loopback, so a misconfigured test cannot send real mail."""
    connect = smtplib.SMTP.connect

    def guarded(self: smtplib.SMTP, host: str = "localhost", port: int = 0, source_address: Any = None):
        if host not in LOOPBACK:
            raise AssertionError(f"a test tried to reach the SMTP server {host}:{port}")
        return connect(self, host, port, source_address)

    monkeypatch.setattr(smtplib.SMTP, "connect", guarded)
