"""Build the RFC 5322 message of an outbox row: headers, plain text body, an optional HTML alternative, and the
ticket attachments the row names (``OutboxMessage.attachments``, read from the blob store).

Pure apart from lookups (the ticket's office, for the From display name and the Date's time zone; the attachments
and their files) and, for a row queued without one, a new Message-ID stored on the row. Nothing here talks to a
server.

Header injection: nothing taken from the row can add a header. Line breaks and other control characters in the
subject and in extra header values are folded into spaces; a recipient with them, a recipient that is not
exactly one address, an extra header with a malformed name, or one that would replace a header this module
owns (From, To, Bcc, Message-ID, ...) is refused with ``ComposeError``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import select

from helpdesk.blobs import read_blob
from helpdesk.errors import HelpdeskError
from helpdesk.extensions import db
from helpdesk.mail_ids import mail_domain, make_message_id
from helpdesk.models import Attachment, Office, OutboxMessage, Ticket
from helpdesk.timeutil import utcnow

# Headers compose() sets itself; a row's extra headers may not replace them.
OWN_HEADERS = frozenset({
    "from", "sender", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version",
    "content-type", "content-transfer-encoding", "content-disposition", "return-path", "auto-submitted",
    "x-auto-response-suppress",
})

# Identifier headers stay on one line (up to RFC 5322's 998 characters): policy.SMTP folds a long Message-ID onto
# a continuation line, which Python's parser (like some mail clients) reads back with a leading space.
_ONE_LINE_HEADERS = frozenset({"message-id", "in-reply-to", "references"})
_MAX_LINE = 998

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FIELD_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 ftext: printable ASCII except the colon
_MIME_TYPE = re.compile(r"^([a-z0-9][a-z0-9!#$&^_.+-]*)/([a-z0-9][a-z0-9!#$&^_.+-]*)$")


class _MailPolicy(EmailPolicy):
    """policy.SMTP, except that Message-ID, In-Reply-To and References are never folded."""

    def fold(self, name: str, value: Any) -> str:
        return self._one_line(name, value) or super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        line = self._one_line(name, value)
        return line.encode("ascii") if line else super().fold_binary(name, value)

    def _one_line(self, name: str, value: Any) -> str | None:
        if name.lower() not in _ONE_LINE_HEADERS:
            return None
        line = f"{name}: {' '.join(str(value).split())}"
        return line + self.linesep if line.isascii() and len(line) <= _MAX_LINE else None


MAIL_POLICY: Final = _MailPolicy(linesep="\r\n")


class ComposeError(HelpdeskError):
    """The row cannot become an email as it stands (a malformed recipient or header); retrying will not help."""


class NoSenderAddress(HelpdeskError):
    """No usable From address: neither MAIL_FROM nor the office's email address is set (a configuration gap)."""


def compose(message: OutboxMessage, *, sender: str, loop_header: str,
            now: datetime | None = None) -> EmailMessage:
    """The email of ``message``, ready for SMTP (CRLF line ends, 7-bit headers and bodies).

    ``sender`` is the From address, with or without a display name; without one the office's name is used.
    Sets the row's ``message_id`` when it has none, so a retried delivery repeats the same id (the caller's
    transaction saves it). Raises ComposeError for a row that cannot be sent safely.
    """
    office = office_of(message)
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = _from_address(sender, office)
    msg["To"] = _recipient(message.recipient)
    msg["Subject"] = _single_line(message.subject or "")
    msg["Date"] = format_datetime((now or utcnow()).astimezone(_zone(office)))
    if message.message_id is None:
        ticket = db.session.get(Ticket, message.ticket_id) if message.ticket_id is not None else None
        message.message_id = make_message_id(ticket.ref if ticket is not None else None)
    msg["Message-ID"] = message.message_id
    for name, value in _extra_headers(message.headers or {}, loop_header=loop_header):
        msg[name] = value
    # Every message we send carries the loop header, so our own intake recognises it and never answers it.
    msg[loop_header] = mail_domain()
    if message.automatic:
        # RFC 3834: other robots must not answer an automatic reply; Exchange honours the second header.
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(message.body or "", subtype="plain", charset="utf-8", cte="quoted-printable")
    if message.body_html:
        msg.add_alternative(message.body_html, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in _attachments(message):
        maintype, subtype = _content_type(attachment.content_type)
        msg.add_attachment(_attachment_bytes(attachment), maintype=maintype, subtype=subtype,
                           filename=_single_line(attachment.filename) or "lampiran")
    return msg


def sender_address(office: Office | None, *, config: Mapping[str, Any] | None = None) -> str:
    """Our From address: MAIL_FROM, else the office's email address; raises NoSenderAddress when neither is set."""
    config = current_app.config if config is None else config
    for candidate in (config.get("MAIL_FROM"), office.email if office is not None else None):
        if candidate and _is_address(parseaddr(candidate)[1]) and not _CONTROL.search(candidate):
            return candidate.strip()
    where = f" nor the email address of {office.name}" if office is not None else ""
    raise NoSenderAddress(f"no sender address for outgoing mail: neither MAIL_FROM{where} is set to a valid address")


def office_of(message: OutboxMessage) -> Office | None:
    """The office of the message's ticket, or None for a message without a ticket."""
    if message.ticket_id is None:
        return None
    ticket = db.session.get(Ticket, message.ticket_id)
    return ticket.office if ticket is not None else None


def _from_address(sender: str, office: Office | None) -> Address:
    if _CONTROL.search(sender):
        raise ComposeError("the sender address contains line breaks or control characters")
    name, addr = parseaddr(sender)
    if not _is_address(addr):
        raise ComposeError(f"the sender {sender!r} is not an email address")
    if not name and office is not None:
        name = office.name
    return Address(display_name=_single_line(name), addr_spec=addr)


def _recipient(recipient: str) -> str:
    """The recipient as a To value, refused unless it is exactly one plain address."""
    if _CONTROL.search(recipient):
        raise ComposeError("the recipient contains line breaks or control characters")
    probe = EmailMessage(policy=policy.SMTP)
    probe["To"] = recipient
    header = probe["To"]
    addresses = header.addresses
    if header.defects or len(addresses) != 1 or not _is_address(addresses[0].addr_spec):
        raise ComposeError(f"the recipient {recipient!r} is not exactly one email address")
    return recipient.strip()


def _extra_headers(headers: Mapping[str, Any], *, loop_header: str) -> list[tuple[str, str]]:
    result = []
    for name, value in headers.items():
        if not isinstance(name, str) or not _FIELD_NAME.match(name):
            raise ComposeError(f"malformed header name {name!r}")
        if name.lower() in OWN_HEADERS or name.lower() == loop_header.lower():
            raise ComposeError(f"header {name} is set by the mailer and cannot be given on an outbox message")
        if not isinstance(value, str):
            raise ComposeError(f"header {name} has a {type(value).__name__} value, not text")
        value = _single_line(value)
        if value:
            result.append((name, value))
    return result


@dataclass(frozen=True)
class _File:
    filename: str
    content_type: str
    blob_sha256: str


def _attachments(message: OutboxMessage) -> list[_File]:
    """The files the row sends along (``OutboxMessage.attachments``), in its order: ids of its ticket's
    attachments, or ``{"blob", "filename", "content_type"}`` for a stored file of a message without a ticket (a
    report's CSV)."""
    items = list(message.attachments or ())
    ids = [int(item) for item in items if not isinstance(item, dict)]
    found = {a.id: a for a in db.session.scalars(select(Attachment).where(Attachment.id.in_(ids)))} if ids else {}
    files = []
    for item in items:
        if isinstance(item, dict):
            if not item.get("blob"):
                raise ComposeError("a stored file of this message names no blob")
            files.append(_File(str(item.get("filename") or "lampiran"), str(item.get("content_type") or ""),
                               str(item["blob"])))
            continue
        attachment = found.get(int(item))
        if attachment is None or attachment.ticket_id != message.ticket_id:
            raise ComposeError(f"attachment {item} of this message is not an attachment of its ticket")
        files.append(_File(attachment.filename, attachment.content_type, attachment.blob_sha256))
    return files


def _attachment_bytes(attachment: _File) -> bytes:
    try:
        return read_blob(attachment.blob_sha256)
    except OSError as exc:
        raise ComposeError(f"the file of attachment {attachment.filename!r} cannot be read: {exc}") from exc


def _content_type(value: str | None) -> tuple[str, str]:
    """``(maintype, subtype)`` of a stored content type; application/octet-stream when it is not one."""
    match = _MIME_TYPE.match((value or "").split(";", 1)[0].strip().lower())
    return (match.group(1), match.group(2)) if match else ("application", "octet-stream")


def _single_line(text: str) -> str:
    """Line breaks and other control characters become spaces; runs of whitespace one space."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _is_address(addr: str) -> bool:
    local, at, domain = addr.rpartition("@")
    return bool(at and local and domain) and not any(c.isspace() for c in addr)


def _zone(office: Office | None) -> ZoneInfo | timezone:
    if office is None:
        return UTC
    try:
        return ZoneInfo(office.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
