"""The IMAP poller: one per configured mailbox. Takes new mail through ``intake.ingest``, then files it.

Order of work for each message: fetch (BODY.PEEK[], so nothing is marked read), ingest (its own committed
transaction), and only then move it on the server to the processed folder, or to the pending folder while its
ticket is pending. A crash between the commit and the move is harmless: the message is fetched again next
time and recognised as a duplicate. Nothing is ever deleted from the server.

The poller remembers UIDVALIDITY and the last UID taken (table ``mailbox``); when UIDVALIDITY changes the
folder is read again from the start and the dedupe keys keep it from making duplicates. The scheduler's
``mail-poll`` job calls ``poll_once`` for each mailbox (helpdesk/scheduler.py); ``helpdesk mail poll`` runs
``run``, which waits with IMAP IDLE when the server offers it, else polls every MAIL_POLL_SECONDS. A failing
server is retried with exponential backoff, and the queue header warns staff when a mailbox has not been read
for MAIL_STALE_MINUTES.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helpdesk.blobs import sync_pending
from helpdesk.extensions import db
from helpdesk.models import InboundEmail, Mailbox, Office, Ticket
from helpdesk.states import Status
from helpdesk.timeutil import utcnow

from .imap import FetchedMessage, ImapError, ImapSession, MailboxConfig
from .intake import IngestResult, ingest

log = logging.getLogger(__name__)

MOVE_BATCH = 50  # messages filed per MOVE command (and per save of the last UID)
REFILE_BATCH = 100
MAX_BACKOFF_SECONDS = 15 * 60


@dataclass
class PollSummary:
    """What one poll of one mailbox did."""

    mailbox: str
    taken: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    refiled: int = 0

    def count(self, result: IngestResult) -> None:
        self.taken += 1
        self.outcomes[result.outcome] = self.outcomes.get(result.outcome, 0) + 1

    def line(self) -> str:
        parts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(self.outcomes.items()))
        return f"{self.mailbox}: {self.taken} message(s){' (' + parts + ')' if parts else ''}" + (
            f", {self.refiled} refiled" if self.refiled else "")


def mailbox_configs(config: Mapping[str, Any]) -> list[MailboxConfig]:
    """The configured mailboxes: IMAP_* keys for the first, MAILBOXES for more. Empty when none is set."""
    found: list[MailboxConfig] = []
    common = {"processed_folder": config["MAIL_PROCESSED_FOLDER"], "pending_folder": config["MAIL_PENDING_FOLDER"],
              "timeout": float(config["MAIL_TIMEOUT_SECONDS"])}
    if config.get("IMAP_HOST"):
        found.append(MailboxConfig(
            name="default", host=config["IMAP_HOST"], port=config.get("IMAP_PORT"), user=config["IMAP_USER"] or "",
            password=config["IMAP_PASSWORD"] or "", security=config["IMAP_SECURITY"], folder=config["IMAP_FOLDER"],
            office=config.get("IMAP_OFFICE"), **common))
    for index, entry in enumerate(config.get("MAILBOXES") or (), start=1):
        values = {**common, "name": entry.get("name") or f"mailbox{index}", "folder": "INBOX", "security": "ssl",
                  **{key: value for key, value in entry.items() if value is not None}}
        found.append(MailboxConfig(**values))
    names = [mailbox.name for mailbox in found]
    if len(set(names)) != len(names):
        raise ValueError(f"mailbox names must be unique: {names}")
    return found


def poll_once(mailbox: MailboxConfig, *, stop: threading.Event | None = None) -> PollSummary:
    """Connect, take every new message, file them, disconnect. Records the mailbox's health; raises ImapError."""
    state_id = _state(mailbox).id  # read now: a database outage mid-cycle must not stop the failure being recorded
    try:
        with ImapSession(mailbox) as imap:
            summary = _cycle(imap, mailbox, stop=stop)
    except Exception as exc:
        _record_failure(state_id, exc)
        raise
    _record_success(state_id)
    return summary


def run(app: Flask, mailbox: MailboxConfig, stop: threading.Event) -> None:
    """Poll ``mailbox`` until ``stop`` is set: IDLE when offered, else every MAIL_POLL_SECONDS; back off on errors."""
    failures = 0
    while not stop.is_set():
        with app.app_context():
            state_id = _state(mailbox).id
            interval = float(current_app.config["MAIL_POLL_SECONDS"])
            try:
                with ImapSession(mailbox, stop=stop) as imap:
                    while not stop.is_set():
                        summary = _cycle(imap, mailbox, stop=stop)
                        _record_success(state_id)
                        failures = 0
                        if summary.taken:
                            log.info("%s", summary.line())
                        imap.wait_for_new(interval)  # IDLE, or an interruptible sleep without it
            except Exception as exc:  # ImapError, a database outage, a bug: never let the poller die
                failures += 1
                _record_failure(state_id, exc)
                delay = min(interval * 2 ** (failures - 1), MAX_BACKOFF_SECONDS) if failures > 1 else 5.0
                log.warning("mailbox %s: %s; retrying in %.0f s", mailbox.name, exc, delay)
                stop.wait(delay)
            finally:
                db.session.remove()


def stale_mailboxes(now: datetime | None = None) -> list[Mailbox]:
    """Configured mailboxes not read successfully for MAIL_STALE_MINUTES (never read counts once it was tried)."""
    names = [mailbox.name for mailbox in mailbox_configs(current_app.config)]
    if not names:
        return []
    limit = (now or utcnow()) - timedelta(minutes=current_app.config["MAIL_STALE_MINUTES"])
    rows = db.session.scalars(select(Mailbox).where(Mailbox.name.in_(names))).all()
    return [row for row in rows
            if (row.last_success_at or row.created_at) < limit]


# -- one cycle ------------------------------------------------------------------------------------------------

def _cycle(imap: ImapSession, mailbox: MailboxConfig, *, stop: threading.Event | None) -> PollSummary:
    state = _state(mailbox)
    office = _office(mailbox)
    summary = PollSummary(mailbox.name)
    uidvalidity = imap.select()
    if state.uidvalidity != uidvalidity:
        if state.uidvalidity is not None:
            log.warning("mailbox %s: UIDVALIDITY changed %s -> %s; reading the folder again (duplicates are "
                        "recognised)", mailbox.name, state.uidvalidity, uidvalidity)
        state.uidvalidity, state.last_uid = uidvalidity, 0
        db.session.commit()
    folders = {"processed": imap.ensure_folder(mailbox.processed_folder),
               "pending": imap.ensure_folder(mailbox.pending_folder)}
    to_file: list[tuple[FetchedMessage, IngestResult]] = []
    batch_bytes = max(current_app.config["MAIL_MAX_BYTES"] * 2, 8 * 1024 * 1024)
    for message in imap.iter_new(state.last_uid, batch_size=current_app.config["MAIL_BATCH_SIZE"],
                                 batch_bytes=batch_bytes):
        result = ingest(message.raw, received_at=message.internaldate, office=office,
                        source=f"imap:{mailbox.name}", uid=message.uid)
        summary.count(result)
        to_file.append((message, result))
        if len(to_file) >= MOVE_BATCH:
            _file(imap, state, folders, to_file)
            to_file = []
        if stop is not None and stop.is_set():
            break
    if to_file:
        _file(imap, state, folders, to_file)
    summary.refiled = _refile(imap, mailbox, folders)
    return summary


def _file(imap: ImapSession, state: Mailbox, folders: dict[str, str],
          taken: list[tuple[FetchedMessage, IngestResult]]) -> None:
    """Move taken messages out of the inbox (after their commit, made durable first), then remember the last UID."""
    sync_pending()
    by_folder: dict[str, list[tuple[int, int | None]]] = {}
    for message, result in taken:
        target = folders["pending"] if result.ticket_status == Status.PENDING else folders["processed"]
        by_folder.setdefault(target, []).append((message.uid, result.inbound_id))
    for folder, entries in by_folder.items():
        imap.move([uid for uid, _ in entries], folder)
        ids = [inbound_id for _, inbound_id in entries if inbound_id is not None]
        if ids:
            db.session.execute(db.update(InboundEmail).where(InboundEmail.id.in_(ids))
                               .values(filed_folder=folder))
    state.last_uid = max(state.last_uid, max(message.uid for message, _ in taken))
    db.session.commit()


def _refile(imap: ImapSession, mailbox: MailboxConfig, folders: dict[str, str]) -> int:
    """Keep the SOP's pending folder true: mail of pending tickets in it, mail of other tickets out of it."""
    source = f"imap:{mailbox.name}"
    moved = 0
    for want, current, pending in (("pending", "processed", True), ("processed", "pending", False)):
        status_test = Ticket.status == Status.PENDING if pending else Ticket.status != Status.PENDING
        rows = db.session.execute(
            select(InboundEmail.id, InboundEmail.message_id).join(Ticket, Ticket.id == InboundEmail.ticket_id)
            .where(InboundEmail.source == source, InboundEmail.filed_folder == folders[current],
                   InboundEmail.message_id.is_not(None), status_test)
            .order_by(InboundEmail.id).limit(REFILE_BATCH)).all()
        for inbound_id, message_id in rows:
            uids = imap.search_message_id(folders[current], message_id)
            if uids:
                imap.move_between(folders[current], uids, folders[want])
                moved += 1
            # Not found (moved by a person, or its Message-ID was not unique there): remember where we wanted it.
            db.session.execute(db.update(InboundEmail).where(InboundEmail.id == inbound_id)
                               .values(filed_folder=folders[want]))
        db.session.commit()
    return moved


# -- state ----------------------------------------------------------------------------------------------------

def _office(mailbox: MailboxConfig) -> Office:
    query = select(Office).order_by(Office.id).limit(1)
    if mailbox.office:
        query = select(Office).where(Office.code == mailbox.office)
    office = db.session.scalar(query)
    if office is None:
        raise LookupError(f"mailbox {mailbox.name}: no office {mailbox.office or '(none at all)'}; run helpdesk init")
    return office


def _state(mailbox: MailboxConfig) -> Mailbox:
    """The mailbox's row, created on first use."""
    row = db.session.scalar(select(Mailbox).where(Mailbox.name == mailbox.name))
    if row is not None:
        return row
    row = Mailbox(name=mailbox.name, office_id=_office(mailbox).id, last_uid=0, failures=0)
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # another process created it first
        db.session.rollback()
        row = db.session.scalar(select(Mailbox).where(Mailbox.name == mailbox.name))
    return row


def _record_success(state_id: int) -> None:
    now = utcnow()
    db.session.execute(db.update(Mailbox).where(Mailbox.id == state_id).values(
        last_attempt_at=now, last_success_at=now, failures=0, last_error=None))
    db.session.commit()


def _record_failure(state_id: int, exc: BaseException) -> None:
    try:
        db.session.rollback()
        message = str(exc) if isinstance(exc, ImapError) else f"{type(exc).__name__}: {exc}"
        db.session.execute(db.update(Mailbox).where(Mailbox.id == state_id).values(
            last_attempt_at=utcnow(), last_error=message[:2000], failures=Mailbox.failures + 1))
        db.session.commit()
    except Exception:  # the database itself is down: the log is all we have
        db.session.rollback()
        log.exception("could not record the failure of mailbox %s", state_id)
