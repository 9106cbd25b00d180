"""A private Dovecot IMAP server for the tests: its own config, maildirs and sockets in a temp directory.

Nothing system-wide is touched: no root daemon config, no system socket, no system user database. Dovecot
listens on a free loopback port; users live in a passwd-file with plaintext passwords, so adding a user (a
fresh, empty mailbox) costs one line in a file. Written for Dovecot 2.3, Debian bookworm's version (``make
test`` installs it: scripts/ensure-dovecot).

Running as root, Dovecot refuses to run its login processes or to open mail as root, so those run as
``nobody``; as an ordinary user everything runs as that user.

tests/conftest.py wires it: a session-wide ``dovecot_server`` (``session_server``: a server that cannot
start is a skip locally and a failure when ``CI=true``) and a ``dovecot`` fixture with a fresh mailbox.
"""
from __future__ import annotations

import grp
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, Self

from imapclient import IMAPClient

HOST = "127.0.0.1"
SUPPORTED_SERIES = "2.3"
START_TIMEOUT = 10.0
STOP_GRACE = 0.3  # seconds between SIGTERM and SIGKILL
USER_POOL = 200  # users written ahead for fresh_mailbox (Dovecot re-reads its passwd-file once a second)
# The capabilities of an old server: no MOVE, no IDLE, no NAMESPACE (UIDPLUS kept unless asked otherwise).
OLD_SERVER_CAPABILITIES = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE UIDPLUS UNSELECT CHILDREN"


class DovecotError(RuntimeError):
    """Dovecot is missing, of an unsupported version, or did not start; the message carries the log tail."""


def dovecot_executable() -> str | None:
    """The dovecot binary: on PATH, or where Debian puts it (/usr/sbin is not on an ordinary user's PATH)."""
    return shutil.which("dovecot") or next(
        (path for path in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(path, os.X_OK)), None)


def dovecot_version(executable: str) -> str:
    """``2.3.19.1`` from ``dovecot --version``."""
    try:
        output = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DovecotError(f"{executable} --version failed: {exc}") from exc
    return output.stdout.split()[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class _Account:
    name: str
    password: str


class DovecotServer:
    """A Dovecot started on a free loopback port; a context manager that stops it and removes its files.

    ``user``/``password`` are the current account: the one set by :meth:`fresh_mailbox` (the ``dovecot``
    fixture gives every test its own), used by the helpers when no ``user`` is passed.
    ``imap_capability`` overrides what the server advertises after login (for example
    :data:`OLD_SERVER_CAPABILITIES`); the commands themselves keep working. ``namespace`` is the personal
    namespace's ``(prefix, separator)``, e.g. ``("INBOX.", ".")`` as cPanel hosting serves it; default
    Dovecot's ``("", ".")``. ``tz`` is the server's time zone (POSIX TZ; default Jakarta's UTC+7), in which it
    reports INTERNALDATE.
    """

    def __init__(self, *, imap_capability: str | None = None, namespace: tuple[str, str] | None = None,
                 tz: str = "WIB-7", executable: str | None = None) -> None:
        found = executable or dovecot_executable()
        if found is None:
            raise DovecotError("dovecot is not installed (make test installs it: scripts/ensure-dovecot)")
        self.executable = found
        self.version = dovecot_version(found)
        if not self.version.startswith(SUPPORTED_SERIES + "."):
            raise DovecotError(f"Dovecot {self.version} is installed; tests/servers/dovecot.py writes a "
                               f"Dovecot {SUPPORTED_SERIES} configuration")
        self.imap_capability = imap_capability
        self.namespace = namespace
        self.tz = tz
        self.host = HOST
        self.port = 0
        self.base = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
        self.base.chmod(0o755)  # the login and mail processes may run as another user (see the module doc)
        self.config_path = self.base / "dovecot.conf"
        self.users_path = self.base / "users"
        self.log_path = self.base / "dovecot.log"
        self.mail_root = self.base / "mail"
        self._process: subprocess.Popen[bytes] | None = None
        self._counter = itertools.count(1)
        self._account = _Account("helpdesk", "rahasia-imap")
        self.users_path.write_text("")
        self.users_path.chmod(0o600)
        self.mail_root.mkdir()
        self._mail_owner = self._service_account()
        os.chown(self.mail_root, self._mail_owner.pw_uid, self._mail_owner.pw_gid)
        self._pool: list[_Account] = []
        self._write_users([self._account])
        self._extend_pool()

    # -- lifecycle -------------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start Dovecot (on the port it had before, if any) and wait for its greeting."""
        if self.running:
            return
        keep_port = self.port != 0
        for _ in range(1 if keep_port else 3):  # a fresh port can be taken between probe and bind: try another
            if not keep_port:
                self.port = _free_port()
            self._write_config()
            self._process = subprocess.Popen(
                [self.executable, "-F", "-c", str(self.config_path)], env={**os.environ, "TZ": self.tz},
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
            if self._wait_for_greeting():
                return
            self.stop()
            if "Address already in use" not in self.log_tail():
                break
        raise DovecotError(f"Dovecot {self.version} did not start on {self.host}:{self.port}; log:\n"
                           f"{self.log_tail()}")

    def stop(self) -> None:
        """Stop Dovecot and every process it started; connected clients are told BYE and cut off."""
        process, self._process = self._process, None
        if process is not None:
            _end_process_group(process, grace=STOP_GRACE)

    def kill(self) -> None:
        """Stop abruptly, as a crash or a cut cable would: no BYE, the connections just end."""
        process, self._process = self._process, None
        if process is not None:
            _end_process_group(process, grace=None)

    def restart(self) -> None:
        """Stop and start again on the same port, keeping users and mail."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop Dovecot and remove its directory."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log written)"

    def _wait_for_greeting(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as connection:
                    if connection.makefile("rb").readline().startswith(b"* OK"):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    # -- configuration ---------------------------------------------------------------------------------

    @staticmethod
    def _service_account() -> pwd.struct_passwd:
        """Who the login and mail processes run as: the current user, or nobody when that is root."""
        return pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())

    def _write_config(self) -> None:
        me = pwd.getpwuid(os.geteuid())
        owner = self._mail_owner
        extra = f"imap_capability = {self.imap_capability}\n" if self.imap_capability else ""
        if self.namespace:
            prefix, separator = self.namespace
            extra += f"namespace inbox {{\n  inbox = yes\n  prefix = {prefix}\n  separator = {separator}\n}}\n"
        self.config_path.write_text(f"""\
# Written by tests/servers/dovecot.py for Dovecot {self.version}.
instance_name = helpdesk-test-{self.port}
base_dir = {self.base}/run
state_dir = {self.base}/state
log_path = {self.log_path}
listen = {self.host}
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
default_internal_user = {me.pw_name}
default_internal_group = {grp.getgrgid(os.getegid()).gr_name}
default_login_user = {owner.pw_name}
mail_uid = {owner.pw_uid}
mail_gid = {owner.pw_gid}
first_valid_uid = {owner.pw_uid}
first_valid_gid = {owner.pw_gid}
mail_location = maildir:{self.mail_root}/%u
{extra}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_path}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.users_path}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service imap-urlauth-login {{
  chroot =
}}
service anvil {{
  chroot =
}}
""")

    # -- users -----------------------------------------------------------------------------------------

    @property
    def user(self) -> str:
        return self._account.name

    @property
    def password(self) -> str:
        return self._account.password

    def add_user(self, name: str, password: str) -> None:
        """Add a user with an empty mailbox; returns once Dovecot can see it (within a second)."""
        self._write_users([_Account(name, password)])
        if self.running:
            # Dovecot re-reads a changed passwd-file at most once a second: wait for the next second.
            time.sleep(1.01 - time.time() % 1)

    def fresh_mailbox(self) -> DovecotServer:
        """Make a new user with an empty mailbox the current one, and return self.

        Users come from a pool written ahead, so this is instant; when the pool runs out a new batch costs
        one wait of up to a second (see :meth:`add_user`).
        """
        if not self._pool:
            self._extend_pool()
        self._account = self._pool.pop(0)
        return self

    def _extend_pool(self) -> None:
        self._pool = [_Account(f"petugas{next(self._counter)}", secrets.token_urlsafe(12)) for _ in range(USER_POOL)]
        self._write_users(self._pool)
        if self.running:
            time.sleep(1.01 - time.time() % 1)

    def _write_users(self, accounts: Sequence[_Account]) -> None:
        for account in accounts:
            if not re.fullmatch(r"[A-Za-z0-9._@-]+", account.name) or any(c in account.password for c in ":\n\r"):
                raise ValueError("user names are [A-Za-z0-9._@-]+; passwords hold no ':' or line break")
        with self.users_path.open("a") as users:
            users.writelines(f"{a.name}:{{PLAIN}}{a.password}::::{self.mail_root / a.name}::\n" for a in accounts)

    # -- the helpers the tests assert with (real IMAP, through imapclient) ------------------------------

    def client(self, user: str | None = None, password: str | None = None) -> IMAPClient:
        """A logged-in IMAPClient (a context manager that logs out); times come back timezone-aware."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        client.normalise_times = False
        if user is None:
            user, password = self.user, self.password
        elif password is None:
            password = self._password_of(user)
        client.login(user, password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX", internaldate: datetime | None = None,
               user: str | None = None, flags: Sequence[str] = ()) -> int:
        """APPEND ``raw`` to ``folder`` (created if missing) and return its UID."""
        with self.client(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=flags, msg_time=internaldate)
        found = re.search(rb"\[APPENDUID \d+ (\d+)\]", response)
        if found is None:
            raise DovecotError(f"APPEND answered without APPENDUID: {response!r}")
        return int(found.group(1))

    def folder_uids(self, folder: str = "INBOX", user: str | None = None) -> list[int]:
        """The UIDs in ``folder``, ascending; a folder that does not exist is empty."""
        with self.client(user) as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return sorted(client.search("ALL"))

    def fetch_all(self, folder: str = "INBOX", user: str | None = None) -> dict[int, StoredMessage]:
        """Every message in ``folder`` by UID, read without setting \\Seen; a folder that does not exist is empty."""
        with self.client(user) as client:
            if not client.folder_exists(folder):
                return {}
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            found = client.fetch(uids, ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"]) if uids else {}
        return {uid: StoredMessage(uid=uid, raw=data[b"BODY[]"], internaldate=data[b"INTERNALDATE"],
                                   flags=frozenset(flag.decode() for flag in data[b"FLAGS"]))
                for uid, data in sorted(found.items())}

    def folders(self, user: str | None = None) -> list[tuple[str, str]]:
        """``(name, delimiter)`` of every folder of the user."""
        with self.client(user) as client:
            return [(name, delimiter.decode()) for _flags, delimiter, name in client.list_folders()]

    def _password_of(self, user: str) -> str:
        for line in self.users_path.read_text().splitlines():
            name, field = line.split(":")[:2]
            if name == user:
                return field.removeprefix("{PLAIN}")
        raise KeyError(user)


@dataclass(frozen=True)
class StoredMessage:
    """One message as the server holds it."""

    uid: int
    raw: bytes
    internaldate: datetime
    flags: frozenset[str]


def _end_process_group(process: subprocess.Popen[bytes], *, grace: float | None) -> None:
    """SIGTERM the whole group and wait ``grace`` seconds (None: no SIGTERM), then SIGKILL what is left."""
    try:
        if grace is not None:
            # Every process at once: the master alone takes a second to stop and leaves mail processes behind;
            # now and then it still waits a second for one, which the tests need not do.
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def session_server(**kwargs: Any) -> Iterator[DovecotServer]:
    """Yield a started DovecotServer for a session fixture, then stop it.

    A Dovecot that is missing or cannot start is a skip with the reason locally and a failure when
    ``CI=true``. Keyword arguments go to :class:`DovecotServer`.
    """
    try:
        server = DovecotServer(**kwargs)
    except DovecotError as exc:
        _skip_or_fail(str(exc))
    try:
        server.start()
    except DovecotError as exc:
        server.close()
        _skip_or_fail(str(exc))
    try:
        yield server
    finally:
        server.close()


def _skip_or_fail(reason: str) -> NoReturn:
    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
