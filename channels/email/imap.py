"""The IMAP transport of the email channel: read new messages by UID, file them in folders, wait for mail.

No database and no Flask here: the poller keeps UIDVALIDITY and the last UID taken, and decides what is filed
where. Every network or protocol failure surfaces as :class:`ImapError`, whose message can be shown to staff
and never holds the password.

Folder paths are written with ``/`` ("Helpdesk/Diproses") and translated to the server's hierarchy delimiter
and personal namespace ("Helpdesk.Diproses" on Dovecot's maildir, "INBOX.Helpdesk.Diproses" on a server whose
personal namespace is "INBOX."). "INBOX" is always the inbox.
"""
from __future__ import annotations

import email.parser
import email.policy
import imaplib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from imapclient import DELETED, IMAPClient
from imapclient.exceptions import LoginError

logger = logging.getLogger(__name__)

SECURITY_MODES = ("ssl", "starttls", "plain")
MAX_IDLE_SECONDS = 25 * 60  # RFC 2177: a client re-issues IDLE at least every 29 minutes
SIZE_CHUNK = 500  # UIDs per RFC822.SIZE fetch, so command lines stay short however large the mailbox
IDLE_SLICE = 0.5  # how often a wait looks at the stop event
_NETWORK_ERRORS = (imaplib.IMAP4.error, OSError)  # imapclient's errors are imaplib's; socket and ssl are OSError


@dataclass(frozen=True)
class MailboxConfig:
    """Where one mailbox lives and how to reach it."""

    name: str
    host: str
    port: int | None
    user: str
    password: str = field(repr=False)
    security: str = "ssl"  # ssl | starttls | plain
    folder: str = "INBOX"
    processed_folder: str = "Helpdesk/Diproses"
    pending_folder: str = "Helpdesk/Pending"
    office: str | None = None  # office code
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"mailbox {self.name}: security must be one of {', '.join(SECURITY_MODES)}, "
                             f"not {self.security!r}")

    @property
    def effective_port(self) -> int:
        """The configured port, else 993 for ssl and 143 for starttls and plain."""
        return self.port or (993 if self.security == "ssl" else 143)


@dataclass(frozen=True)
class FetchedMessage:
    """One message as the server holds it."""

    uid: int
    raw: bytes
    internaldate: datetime  # when the server received it; aware, UTC
    size: int


class ImapError(Exception):
    """A connection, login or protocol failure; the message is fit to show staff."""


class ImapLoginError(ImapError):
    """The server refused the user name or password."""


class ImapSession:
    """One logged-in connection to a mailbox: a context manager that logs in on enter and out on exit.

    ``stop``, when set from another thread, ends :meth:`wait_for_new` early. Methods that work on the
    configured folder select it again when another method selected some other folder.
    """

    def __init__(self, config: MailboxConfig, *, stop: threading.Event | None = None) -> None:
        self.config = config
        self._stop = stop or threading.Event()
        self._imap: IMAPClient | None = None
        self._selected: str | None = None
        self._namespace: tuple[str, str | None] | None = None  # personal prefix, hierarchy delimiter
        self._ensured: dict[str, str] = {}

    # -- connection ------------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect (TLS as configured) and log in."""
        config = self.config
        context = ssl.create_default_context() if config.security != "plain" else None
        try:
            imap = IMAPClient(config.host, config.effective_port, ssl=config.security == "ssl",
                              ssl_context=context, timeout=config.timeout)
        except _NETWORK_ERRORS as exc:
            raise self._error("connect", exc) from exc
        step = "log in"
        try:
            if config.security == "starttls":
                step = "start TLS"
                imap.starttls(context)
                step = "log in"
            imap.login(config.user, config.password)
        except LoginError as exc:
            _shutdown(imap)
            raise ImapLoginError(self._message(step, exc)) from exc
        except _NETWORK_ERRORS as exc:
            _shutdown(imap)
            raise self._error(step, exc) from exc
        imap.normalise_times = False  # INTERNALDATE with its zone, not naive local time
        self._imap = imap
        logger.debug("mailbox %s: logged in to %s:%s", config.name, config.host, config.effective_port)

    def close(self) -> None:
        """Log out and close the connection; never raises."""
        imap, self._imap = self._imap, None
        self._selected = None
        if imap is None:
            return
        try:
            imap.logout()
        except _NETWORK_ERRORS as exc:
            logger.debug("mailbox %s: logout failed: %s", self.config.name, _describe(exc))
            _shutdown(imap)

    @property
    def has_idle(self) -> bool:
        """Whether the server offers IDLE (RFC 2177)."""
        return self._capable("IDLE")

    # -- reading ---------------------------------------------------------------------------------------

    def select(self) -> int:
        """Select the configured folder read-write and return its UIDVALIDITY."""
        info = self._select(self.config.folder)
        return int(info[b"UIDVALIDITY"])

    def iter_new(self, after_uid: int, *, batch_size: int = 50,
                 batch_bytes: int = 64 * 1024 * 1024) -> Iterator[FetchedMessage]:
        """Yield the messages of the configured folder with a UID above ``after_uid``, in UID order.

        Bodies are fetched with BODY.PEEK[] (no \\Seen) in batches of at most ``batch_size`` messages and
        ``batch_bytes`` bytes (a larger message comes alone), so memory holds one batch however large the
        mailbox. Messages expunged meanwhile are skipped. Other methods (move, search) may be called between
        two messages.
        """
        if batch_size < 1 or batch_bytes < 1:
            raise ValueError("batch_size and batch_bytes must be positive")
        folder = self.config.folder
        self._ensure_selected(folder)
        imap = self._connected()
        try:
            found = imap.search(["UID", f"{after_uid + 1}:*"])
        except _NETWORK_ERRORS as exc:
            raise self._error(f"search {folder}", exc) from exc
        # "UID n:*" always matches the highest UID, even when it is below n.
        uids = sorted(uid for uid in found if uid > after_uid)
        for batch in _batches(self._sizes(uids), batch_size, batch_bytes):
            yield from self._fetch_batch(batch)

    def _sizes(self, uids: Sequence[int]) -> Iterator[tuple[int, int]]:
        folder = self.config.folder
        for start in range(0, len(uids), SIZE_CHUNK):
            chunk = list(uids[start:start + SIZE_CHUNK])
            self._ensure_selected(folder)
            try:
                sizes = self._connected().fetch(chunk, ["RFC822.SIZE"])
            except _NETWORK_ERRORS as exc:
                raise self._error(f"fetch sizes in {folder}", exc) from exc
            for uid in chunk:
                if uid in sizes and b"RFC822.SIZE" in sizes[uid]:
                    yield uid, int(sizes[uid][b"RFC822.SIZE"])

    def _fetch_batch(self, batch: list[int]) -> Iterator[FetchedMessage]:
        folder = self.config.folder
        self._ensure_selected(folder)
        try:
            data = self._connected().fetch(batch, ["BODY.PEEK[]", "INTERNALDATE"])
        except _NETWORK_ERRORS as exc:
            raise self._error(f"fetch messages in {folder}", exc) from exc
        for uid in batch:
            item = data.get(uid, {})
            raw = item.get(b"BODY[]")
            if raw is None:
                continue  # expunged since the search: left out, or answered with an empty body
            received = item.get(b"INTERNALDATE")
            if not isinstance(received, datetime):
                logger.warning("mailbox %s: UID %s has no INTERNALDATE; using now", self.config.name, uid)
                received = datetime.now(UTC)
            yield FetchedMessage(uid=uid, raw=bytes(raw), internaldate=_as_utc(received), size=len(raw))

    def search_message_id(self, folder: str, message_id: str) -> list[int]:
        """UIDs in ``folder`` of the messages whose Message-ID is ``message_id`` (angle brackets optional).

        Selects ``folder``; a folder that does not exist holds nothing.
        """
        wanted = _bare_message_id(message_id)
        if not wanted:
            return []
        name = self._server_name(folder)
        imap = self._connected()
        try:
            if not self._folder_exists(name):
                return []
            self._select(folder)
            charset = None if wanted.isascii() else "UTF-8"
            quoted = wanted.replace("\\", "\\\\").replace('"', '\\"')
            # HEADER searches for a substring: confirm each candidate against its own header.
            candidates = sorted(imap.search(f'HEADER Message-ID "{quoted}"', charset=charset))
            headers = imap.fetch(candidates, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if candidates else {}
        except _NETWORK_ERRORS as exc:
            raise self._error(f"search {folder}", exc) from exc
        matches = []
        for uid in candidates:
            header = next((value for key, value in headers.get(uid, {}).items()
                           if key.upper().startswith(b"BODY[HEADER.FIELDS")), b"")
            parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(header or b"")
            if _bare_message_id(str(parsed.get("Message-ID", ""))) == wanted:
                matches.append(uid)
        return matches

    # -- filing ----------------------------------------------------------------------------------------

    def ensure_folder(self, path: str) -> str:
        """Create ``path`` and its parents where missing, subscribe it, and return its name on the server."""
        if path in self._ensured:
            return self._ensured[path]
        name = self._server_name(path)
        _prefix, delimiter = self._personal_namespace()
        parts = name.split(delimiter) if delimiter else [name]
        try:
            for depth in range(1, len(parts) + 1):
                ancestor = delimiter.join(parts[:depth]) if delimiter else name
                if ancestor.upper() != "INBOX" and not self._folder_exists(ancestor):
                    self._create(ancestor)
            self._connected().subscribe_folder(name)
        except _NETWORK_ERRORS as exc:
            raise self._error(f"create folder {path}", exc) from exc
        self._ensured[path] = name
        return name

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move ``uids`` from the configured folder to ``folder`` (created if missing)."""
        self.move_between(self.config.folder, uids, folder)

    def move_between(self, source: str, uids: Sequence[int], target: str) -> None:
        """Move ``uids`` from ``source`` to ``target`` (created if missing); leaves ``source`` selected.

        MOVE (RFC 6851) when offered; else COPY, flag \\Deleted and UID EXPUNGE of exactly these UIDs
        (UIDPLUS). A server with neither keeps the originals flagged \\Deleted: a plain EXPUNGE would also
        remove messages others flagged.
        """
        if not uids:
            return
        uid_set = _uid_set(uids)
        try:
            try:
                self._move_once(source, uid_set, self.ensure_folder(target))
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as exc:
                if "TRYCREATE" not in str(exc).upper():
                    raise
                # Someone deleted the folder since this session made sure of it: make it again.
                self._ensured.pop(target, None)
                self._move_once(source, uid_set, self.ensure_folder(target))
        except _NETWORK_ERRORS as exc:
            raise self._error(f"move messages from {source} to {target}", exc) from exc
        logger.debug("mailbox %s: moved UIDs %s from %s to %s", self.config.name, uid_set, source, target)

    def _move_once(self, source: str, uid_set: str, target_name: str) -> None:
        self._ensure_selected(source)
        imap = self._connected()
        if self._capable("MOVE"):
            imap.move(uid_set, target_name)
            return
        imap.copy(uid_set, target_name)  # a missing target fails here, before anything is flagged
        imap.add_flags(uid_set, [DELETED], silent=True)
        if self._capable("UIDPLUS"):
            imap.uid_expunge(uid_set)
        else:
            logger.warning("mailbox %s: the server offers neither MOVE nor UIDPLUS; the originals stay in %s "
                           "flagged \\Deleted", self.config.name, source)

    # -- waiting ---------------------------------------------------------------------------------------

    def wait_for_new(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for new mail in the configured folder; True if some arrived.

        With IDLE the server reports arrivals as they happen (the wait is capped at 25 minutes, below the
        29-minute IDLE limit) and IDLE is ended before returning, so the session can be used again. Without
        IDLE this only sleeps and returns False. Either way the ``stop`` event ends the wait early.
        """
        if not self.has_idle:
            self._stop.wait(max(timeout, 0))
            return False
        self._ensure_selected(self.config.folder)
        imap = self._connected()
        deadline = time.monotonic() + min(max(timeout, 0), MAX_IDLE_SECONDS)
        try:
            imap.idle()
            arrived = self._idle_until(imap, deadline)
            _text, late = imap.idle_done()
        except _NETWORK_ERRORS as exc:
            raise self._error("wait for new mail", exc) from exc
        return arrived or any(_announces_mail(response) for response in late)

    def _idle_until(self, imap: IMAPClient, deadline: float) -> bool:
        quick_empties = 0
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            wait = min(remaining, IDLE_SLICE)
            started = time.monotonic()
            responses = imap.idle_check(timeout=wait)
            if any(_announces_mail(response) for response in responses):
                return True
            # imapclient swallows end-of-file while idling: an empty answer long before the timeout, again
            # and again, is a closed connection (a BYE before it changes nothing).
            quick_empties = quick_empties + 1 if not responses and time.monotonic() - started < wait / 2 else 0
            if quick_empties >= 3:
                raise imaplib.IMAP4.abort("the server closed the connection")
        return False

    # -- helpers ---------------------------------------------------------------------------------------

    def _connected(self) -> IMAPClient:
        if self._imap is None:
            raise RuntimeError("the IMAP session is not open: use it as a context manager")
        return self._imap

    def _capable(self, capability: str) -> bool:
        try:
            return bool(self._connected().has_capability(capability))
        except _NETWORK_ERRORS as exc:
            raise self._error("read capabilities", exc) from exc

    def _select(self, folder: str) -> dict[bytes, Any]:
        name = self._server_name(folder)
        try:
            info = self._connected().select_folder(name)
        except _NETWORK_ERRORS as exc:
            self._selected = None
            raise self._error(f"select {folder}", exc) from exc
        self._selected = folder
        return info

    def _ensure_selected(self, folder: str) -> None:
        if self._selected != folder:
            self._select(folder)

    def _personal_namespace(self) -> tuple[str, str | None]:
        """The personal namespace's prefix and hierarchy delimiter (None: a flat server)."""
        if self._namespace is None:
            imap = self._connected()
            try:
                personal = imap.namespace().personal if self._capable("NAMESPACE") else None
                if personal:
                    prefix, delimiter = personal[0]
                else:
                    listed = imap.list_folders("", "")
                    prefix, delimiter = "", listed[0][1] if listed else None
            except _NETWORK_ERRORS as exc:
                raise self._error("read the folder hierarchy", exc) from exc
            if isinstance(delimiter, bytes):
                delimiter = delimiter.decode()
            self._namespace = (prefix or "", delimiter or None)
        return self._namespace

    def _server_name(self, path: str) -> str:
        if path.upper() == "INBOX":
            return "INBOX"
        prefix, delimiter = self._personal_namespace()
        name = path.replace("/", delimiter) if delimiter else path
        if prefix and not name.startswith(prefix):
            name = prefix + name
        return name

    def _folder_exists(self, name: str) -> bool:
        return any(listed == name for _flags, _delimiter, listed in self._connected().list_folders("", name))

    def _create(self, name: str) -> None:
        try:
            self._connected().create_folder(name)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error:
            if not self._folder_exists(name):  # another poller may have just created it
                raise

    def _error(self, action: str, exc: BaseException) -> ImapError:
        return ImapError(self._message(action, exc))

    def _message(self, action: str, exc: BaseException) -> str:
        config = self.config
        text = f"mailbox {config.name} ({config.host}:{config.effective_port}): {action} failed: {_describe(exc)}"
        if config.password:
            text = text.replace(config.password, "***")
        return text


def _describe(exc: BaseException) -> str:
    """A short, readable account of a network or protocol error."""
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "no answer before the timeout"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc})"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    detail = str(detail)
    if detail.startswith(("b'", 'b"')) and detail[-1:] in ("'", '"'):
        detail = detail[2:-1]  # imapclient's LoginError wraps the repr of the server's bytes
    if isinstance(exc, imaplib.IMAP4.abort):
        return f"connection lost ({detail})" if detail else "connection lost"
    return detail or type(exc).__name__


def _shutdown(imap: IMAPClient) -> None:
    try:
        imap.shutdown()
    except _NETWORK_ERRORS:
        pass  # already closed


def _batches(sized: Iterable[tuple[int, int]], batch_size: int, batch_bytes: int) -> Iterator[list[int]]:
    """Group ``(uid, size)`` into runs of at most ``batch_size`` UIDs and ``batch_bytes`` bytes."""
    batch: list[int] = []
    total = 0
    for uid, size in sized:
        if batch and (len(batch) >= batch_size or total + size > batch_bytes):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def _uid_set(uids: Iterable[int]) -> str:
    """``[1, 2, 3, 7]`` as the IMAP sequence set ``1:3,7``."""
    ordered = sorted(set(uids))
    runs: list[tuple[int, int]] = []
    start = end = ordered[0]
    for uid in ordered[1:]:
        if uid != end + 1:
            runs.append((start, end))
            start = uid
        end = uid
    runs.append((start, end))
    return ",".join(str(low) if low == high else f"{low}:{high}" for low, high in runs)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:  # the server sent no zone; IMAP always does, so this is a broken server
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _bare_message_id(value: str) -> str:
    """A Message-ID without whitespace and its angle brackets, for comparing."""
    bare = "".join(value.split())
    if bare.startswith("<") and bare.endswith(">"):
        bare = bare[1:-1]
    return bare


def _announces_mail(response: tuple[Any, ...]) -> bool:
    """An untagged ``* n EXISTS`` or ``* n RECENT`` (n > 0): the server telling of new mail."""
    if len(response) < 2 or not isinstance(response[0], int):
        return False
    kind = response[1].upper() if isinstance(response[1], bytes) else b""
    return kind == b"EXISTS" or (kind == b"RECENT" and response[0] > 0)
