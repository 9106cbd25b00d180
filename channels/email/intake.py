"""Email intake: raw bytes from IMAP or a file become a ticket, a reply on one, an ignored record or a quarantine entry.

``ingest`` is the one path for every inbound email (the IMAP poller and ``helpdesk mail import`` both use it).
Each message is one transaction: the raw bytes are stored first, a message already taken is recognised by its
dedupe key (Message-ID and content hash), then it is parsed and routed through the ticket service, and the
transaction commits. Anything that goes wrong after the raw bytes are safe rolls back and leaves the message
in quarantine, raw, with the error: never an exception out of ``ingest``, never a lost message.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from escalation import lkpp
from faq import autoanswer
from helpdesk import escalations, notices, tickets
from helpdesk.blobs import read_blob, store_blob, sync_pending
from helpdesk.extensions import db
from helpdesk.mail_ids import ticket_ref_from
from helpdesk.models import Escalation, InboundEmail, Office, OutboxMessage, Ticket, TicketEvent
from helpdesk.requesters import find_or_create_requester
from helpdesk.states import Status
from helpdesk.timeutil import as_utc, utcnow

from .parse import ParsedEmail, parse_email
from .quotes import split_quoted
from .signals import MailKind, Signals, classify

log = logging.getLogger(__name__)

# "[#LPSE-2026-000123]" (ours) and "[LPSE-2026-000123]" (older clients strip the #) in a subject.
SUBJECT_TAG = re.compile(r"\[#?\s*([A-Z][A-Z0-9]*-\d{4}-\d{6})\s*\]", re.IGNORECASE)
REPLY_PREFIXES = re.compile(r"^\s*((re|aw|fw|fwd|bls|balas|tr|wg|sv|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class IngestResult:
    """What became of one message: ``ticket`` (a new one), ``reply`` (joined one), ``duplicate``,
    ``ignored`` or ``quarantined``, with the ticket reference and the reason where there is one."""

    outcome: str
    ticket_ref: str | None = None
    reason: str | None = None
    inbound_id: int | None = None
    ticket_status: str | None = None

    def line(self) -> str:
        """One line for ``helpdesk mail import``: the reference, ``duplicate``, ``ignored: R``, ``quarantined: R``."""
        if self.outcome in ("ticket", "reply"):
            return self.ticket_ref or ""
        if self.outcome == "duplicate":
            return "duplicate"
        return f"{self.outcome}: {self.reason}"


class Ignore(Exception):
    """Routing decided the message makes no ticket; the reason is recorded on its inbound row."""


def dedupe_key(message_id: str | None, content_hash: str) -> str:
    """sha256 of the Message-ID and the content hash: the same message, not merely the same id."""
    return hashlib.sha256(f"{message_id or ''}\n{content_hash}".encode()).hexdigest()


def ingest(raw: bytes, *, received_at: datetime, office: Office, source: str, uid: int | None = None) -> IngestResult:
    """Take one raw message in its own transaction (commits). Never raises for bad mail; a fault of this machine
    (a full disk, a lost database) is raised with nothing committed, so the message waits for the next poll.

    ``received_at`` is when our side got it (IMAP INTERNALDATE, a file's modification time). The files it
    stores are made durable by ``helpdesk.blobs.sync_pending``, which the caller runs before it lets go of the
    message's source (the poller before it moves messages on the server).
    """
    received_at = as_utc(received_at)
    office_id = sa_inspect(office).identity[0]  # without reloading an office expired by the last commit
    blob = store_blob(raw, content_type="message/rfc822", durable=False)  # made durable before it is filed
    try:
        parsed: ParsedEmail | None = parse_email(raw, max_bytes=current_app.config["MAIL_MAX_BYTES"])
        message_id, content_hash = parsed.message_id, parsed.content_hash
    except Exception as exc:  # the parser promises never to raise; if it does, the message waits in quarantine
        log.exception("parser failed on a %d-byte message from %s", len(raw), source)
        parsed, message_id, content_hash = None, None, hashlib.sha256(raw).hexdigest()
        parse_error = f"parser: {type(exc).__name__}: {exc}"
    key = dedupe_key(message_id, content_hash)
    known = db.session.scalar(select(InboundEmail).where(InboundEmail.dedupe_key == key))
    if known is not None:
        db.session.rollback()
        return _duplicate(known)
    row = InboundEmail(
        office_id=office_id, dedupe_key=key, message_id=_clip(message_id, 250), content_hash=content_hash,
        raw_sha256=blob.sha256, size=len(raw), source=source[:120], uid=uid, received_at=received_at,
        from_address=_clip(parsed.sender.address if parsed and parsed.sender else None, 320),
        subject=_clip(parsed.subject if parsed else "", 300) or "", status="processing",
    )
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:  # another process took the same message a moment ago
        db.session.rollback()
        known = db.session.scalar(select(InboundEmail).where(InboundEmail.dedupe_key == key))
        return _duplicate(known) if known is not None else IngestResult("duplicate")
    if parsed is None:
        row.status, row.reason = "quarantined", parse_error
        db.session.commit()
        return IngestResult("quarantined", reason=parse_error, inbound_id=row.id)
    return _process(row, parsed, raw=raw)


def retry_quarantined(inbound_id: int) -> IngestResult:
    """Parse and route a quarantined message again from its raw bytes (after a fix). Commits."""
    try:
        return _retry(inbound_id)
    finally:
        sync_pending()


def _retry(inbound_id: int) -> IngestResult:
    row = db.session.get(InboundEmail, inbound_id)
    if row is None or row.status != "quarantined":
        raise ValueError(f"inbound email {inbound_id} is not in quarantine")
    row.attempts += 1
    try:
        parsed = parse_email(read_blob(row.raw_sha256), max_bytes=current_app.config["MAIL_MAX_BYTES"])
    except Exception as exc:
        log.exception("parser failed again on inbound email %s", inbound_id)
        row.reason = f"parser: {type(exc).__name__}: {exc}"
        db.session.commit()
        return IngestResult("quarantined", reason=row.reason, inbound_id=row.id)
    return _process(row, parsed)


def retry_all_quarantined() -> list[tuple[int, IngestResult]]:
    """``retry_quarantined`` for every message in quarantine, oldest first."""
    ids = db.session.scalars(select(InboundEmail.id).where(InboundEmail.status == "quarantined")
                             .order_by(InboundEmail.id)).all()
    return [(inbound_id, retry_quarantined(inbound_id)) for inbound_id in ids]


# -- routing --------------------------------------------------------------------------------------------------

def _process(row: InboundEmail, parsed: ParsedEmail, *, raw: bytes | None = None) -> IngestResult:
    """Route ``row`` and commit; on any error roll back and commit it as quarantined instead.

    ``raw``: the message's bytes when ``row`` is new in this transaction (a rollback takes the row and its blob
    row with it, so both are written again for the quarantine).
    """
    inbound_id, attempts = row.id, row.attempts
    saved = {column.key: getattr(row, column.key) for column in InboundEmail.__table__.columns
             if column.key != "id"}
    try:
        row.reason = None  # a retried message's old quarantine reason
        with db.session.no_autoflush:  # the verbs flush what they need; fewer flushes make intake faster
            outcome, ticket = _route(row, parsed)
        row.status, row.processed_at = ("ignored" if outcome == "ignored" else "processed"), utcnow()
        if ticket is not None:
            row.ticket_id = ticket.id
        result = IngestResult(outcome, ticket.ref if ticket else None, row.reason, row.id,
                              ticket.status if ticket else None)
        db.session.commit()
        log.info("inbound email %s: %s", inbound_id, result.line())
        return result
    except Exception as exc:
        db.session.rollback()
        if raw is not None and _is_machine_fault(exc):
            # A full disk or a lost database says nothing about the message: leave it unfiled on the server, where
            # the next poll takes it again (the poll's failure shows in the staff header meanwhile).
            log.warning("inbound email %s not taken: %s: %s", inbound_id, type(exc).__name__, exc)
            raise
        reason = f"{type(exc).__name__}: {exc}"[:2000]
        log.exception("inbound email %s quarantined", inbound_id)
    row = db.session.get(InboundEmail, inbound_id)
    if row is None:  # the row was new in the rolled-back transaction: write it (and its raw blob row) again
        store_blob(raw if raw is not None else read_blob(saved["raw_sha256"]), content_type="message/rfc822",
                   durable=False)
        row = InboundEmail(**saved)
        db.session.add(row)
    row.status, row.reason, row.attempts, row.ticket_id, row.event_id = "quarantined", reason, attempts, None, None
    db.session.commit()
    return IngestResult("quarantined", reason=reason, inbound_id=row.id)


def _is_machine_fault(exc: BaseException) -> bool:
    """Whether ``exc`` comes from this machine (disk, database connection) rather than from the message."""
    return isinstance(exc, (OSError, OperationalError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _route(row: InboundEmail, parsed: ParsedEmail) -> tuple[str, Ticket | None]:
    """Decide what the message is and make the ticket service calls. Returns (outcome, ticket)."""
    config = current_app.config
    office = db.session.get(Office, row.office_id)
    signals = classify(parsed, own_addresses=notices.own_addresses(), loop_header=config["MAIL_LOOP_HEADER"])
    at = row.received_at
    if signals.kind in (MailKind.BOUNCE, MailKind.DELIVERY_REPORT):
        return _route_report(row, parsed, signals)
    sender = parsed.sender
    if sender is None or not sender.address:
        raise ValueError("no usable sender address (From, Reply-To, Sender and Return-Path are all unusable)")
    if signals.no_reply_reason in ("loop_header", "own_address"):
        return _ignore(row, f"{signals.no_reply_reason}: {signals.no_reply_detail}"), None
    lkpp_routed = _route_lkpp(row, parsed, signals, sender.address)
    if lkpp_routed is not None:  # LKPP's side of an escalation: never a requester's message, never answered
        return lkpp_routed
    thread, untrusted_tag = _find_thread(parsed, sender.address)
    automatic = signals.kind in (MailKind.AUTO_REPLY, MailKind.OUT_OF_OFFICE)
    if signals.kind == MailKind.OUT_OF_OFFICE and (thread is None or thread.status == Status.CLOSED):
        return _ignore(row, f"out-of-office reply matching no open ticket ({signals.no_reply_detail})"), None
    if automatic and thread is not None and thread.status != Status.CLOSED:
        # Kept on the ticket, never a status change: an autoresponder is not the requester answering.
        event = tickets.record_automatic_mail(thread, kind=signals.kind.value, body=parsed.text, at=at,
                                              data=_message_data(row, parsed))
        _store_attachments(thread, event, parsed)
        row.event_id = event.id
        return "reply", thread
    if thread is not None and thread.status != Status.CLOSED:
        event = tickets.add_message(thread, direction="inbound", body=_body(parsed), via="email", at=at,
                                    data=_message_data(row, parsed))
        autoanswer.note_reply(thread, at=at)  # a reply to an automatic FAQ answer: marked "replied"
        _store_attachments(thread, event, parsed)
        _note_oversized(thread, parsed)
        row.event_id = event.id
        return "reply", thread
    requester = find_or_create_requester(name=sender.name, email=sender.address)
    subject = SUBJECT_TAG.sub("", REPLY_PREFIXES.sub("", parsed.subject)).strip() or parsed.subject
    ticket = tickets.open_ticket(office=office, requester=requester, channel="email", subject=subject,
                                 body=_body(parsed), received_at=at, event_data=_message_data(row, parsed))
    created = db.session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                          TicketEvent.kind == "created"))
    _store_attachments(ticket, created, parsed)
    row.ticket_id, row.event_id = ticket.id, created.id
    db.session.flush()  # the acknowledgement threads to this message (outbox.thread_headers)
    if thread is not None:  # a reply to a closed ticket
        tickets.link(ticket, thread, kind="follow_up_of", at=at)
    elif untrusted_tag is not None:
        tickets.link(ticket, untrusted_tag, kind="possible_duplicate", at=at)
    _note_oversized(ticket, parsed)
    if signals.no_reply_reason:
        tickets.block_automatic_mail(ticket, signals.no_reply_reason, detail=signals.no_reply_detail, at=at)
    else:
        thread = {"In-Reply-To": parsed.message_id, "References": parsed.message_id} if parsed.message_id else None
        # A question the FAQ answers gets that answer instead of the acknowledgement (faq/autoanswer.py's rules).
        if parsed.oversized or autoanswer.try_auto_answer(ticket, subject=subject, body=_body(parsed), at=at,
                                                          headers=thread) is None:
            tickets.notify(ticket, "acknowledgement", at=at, headers=thread, oversized=_oversized_context(parsed))
    return "ticket", ticket


def _route_report(row: InboundEmail, parsed: ParsedEmail, signals: Signals) -> tuple[str, Ticket | None]:
    """A bounce or delivery report: it concerns one of our messages, or it is recorded as ignored."""
    ours = None
    if signals.original_message_ids:
        ours = db.session.scalar(select(OutboxMessage).where(
            OutboxMessage.message_id.in_(signals.original_message_ids)).order_by(OutboxMessage.id.desc()).limit(1))
    label = "bounce" if signals.kind == MailKind.BOUNCE else "delivery report"
    if ours is None:
        return _ignore(row, f"{label} matching none of our messages"), None
    ticket = db.session.get(Ticket, ours.ticket_id) if ours.ticket_id else None
    if signals.kind == MailKind.BOUNCE:
        tickets.record_bounce(ours, detail=_first_lines(parsed.text, 12), at=row.received_at)
    elif ticket is not None:
        tickets.record_automatic_mail(ticket, kind="delivery_report", body=_first_lines(parsed.text, 12),
                                      at=row.received_at, data={"outbox_id": ours.id, **_message_data(row, parsed)})
    if ticket is None:
        return _ignore(row, f"{label} for outbox message {ours.id}, which has no ticket"), None
    return "reply", ticket


def _route_lkpp(row: InboundEmail, parsed: ParsedEmail, signals: Signals,
                sender: str) -> tuple[str, Ticket | None] | None:
    """Mail from LKPP about one of our escalations, or from an LKPP address at all; None for any other mail.

    A person's answer is recorded as the escalation's answer (staff review it before the requester hears of it);
    an automatic mail (acknowledgement, out-of-office) is kept on the ticket. Either way an LKPP ticket number in it
    is recorded when the escalation has none yet. LKPP mail matching no escalation is ignored with the reason
    ``lkpp_unmatched`` (visible on the quarantine page's ignored tab): opening a ticket would answer LKPP.
    """
    from_lkpp = lkpp.is_lkpp_address(sender)
    escalation = _lkpp_escalation_for(row, parsed, sender, from_lkpp=from_lkpp)
    if escalation is None:
        if from_lkpp:
            return _ignore(row, f"lkpp_unmatched: mail from LKPP ({sender}) matching none of our escalations"), None
        return None
    ticket = db.session.get(Ticket, escalation.ticket_id)
    at = row.received_at
    data = _message_data(row, parsed)
    if signals.kind in (MailKind.AUTO_REPLY, MailKind.OUT_OF_OFFICE):
        event = escalations.record_lkpp_mail(escalation, kind=signals.kind.value, body=parsed.text, at=at,
                                             data={**data, "detail": signals.no_reply_detail[:300]})
    else:
        event = escalations.record_answer(escalation, body=_body(parsed), via="email", at=at,
                                          inbound_email_id=row.id, event_data=data)
    if escalation.external_ref is None:
        sent = json.dumps(escalation.content or {}, ensure_ascii=False) + "\n" + ticket.ref
        numbers = lkpp.find_ticket_numbers(f"{parsed.subject}\n{parsed.text}",
                                           exclude=lkpp.find_ticket_numbers(sent))
        if numbers:
            escalations.record_external_ref(escalation, numbers[0], source="lkpp_mail", at=at)
    _store_attachments(ticket, event, parsed)
    row.event_id = event.id
    return "reply", ticket


def _lkpp_escalation_for(row: InboundEmail, parsed: ParsedEmail, sender: str, *,
                         from_lkpp: bool) -> Escalation | None:
    """The escalation to LKPP a message answers: by In-Reply-To/References naming our email to LKPP (from any
    sender but the people on the ticket: the requester is never LKPP), or, for mail from an LKPP address, by our
    ``[#REF]`` in the subject or by an LKPP ticket number in the subject or text. Numbers alone are trusted only
    from LKPP's addresses: a tender code or phone number in someone else's mail may look like one."""
    ours = select(Escalation).join(Ticket, Ticket.id == Escalation.ticket_id).where(
        Escalation.tier == "lkpp", Ticket.office_id == row.office_id)
    ids = list(dict.fromkeys([*parsed.in_reply_to, *reversed(parsed.references)]))[:50]
    if ids:
        found = db.session.scalar(ours.where(Escalation.message_id.in_(ids)).order_by(Escalation.id.desc()).limit(1))
        if found is not None and (from_lkpp or not _takes_part(found.ticket, sender)):
            return found
    on_chain = ours.where(Escalation.status.in_(escalations.ON_CHAIN))
    match = SUBJECT_TAG.search(parsed.subject) if from_lkpp else None
    if match is not None:
        found = db.session.scalar(on_chain.where(Ticket.ref == match.group(1).upper())
                                  .order_by(Escalation.id.desc()).limit(1))
        if found is not None:
            return found
    numbers = lkpp.find_ticket_numbers(f"{parsed.subject}\n{parsed.text}")[:50] if from_lkpp else []
    if numbers:
        return db.session.scalar(on_chain.where(Escalation.external_ref.in_(numbers))
                                 .order_by(Escalation.id.desc()).limit(1))
    return None


def _find_thread(parsed: ParsedEmail, sender: str) -> tuple[Ticket | None, Ticket | None]:
    """(the ticket this message continues, a ticket its subject tag names but the sender may not join).

    In-Reply-To and References are tried first (nearest parent first): our signed Message-IDs map to their
    ticket without a lookup, other ids through the Message-IDs we stored. A ``[#REF]`` tag in the subject is
    trusted only when the sender already takes part in that ticket.
    """
    candidates = list(dict.fromkeys([*parsed.in_reply_to, *reversed(parsed.references)]))
    for message_id in candidates[:50]:
        ticket = _ticket_for_message_id(message_id)
        if ticket is not None:
            return ticket, None
    match = SUBJECT_TAG.search(parsed.subject)
    if match is None:
        return None, None
    tagged = db.session.scalar(select(Ticket).where(Ticket.ref == match.group(1).upper()))
    if tagged is None:
        return None, None
    if _takes_part(tagged, sender):
        return tagged, None
    return None, tagged


def _ticket_for_message_id(message_id: str) -> Ticket | None:
    ref = ticket_ref_from(message_id)
    if ref is not None:
        ticket = db.session.scalar(select(Ticket).where(Ticket.ref == ref))
        if ticket is not None:
            return ticket
    ticket_id = db.session.scalar(select(OutboxMessage.ticket_id).where(
        OutboxMessage.message_id == message_id, OutboxMessage.ticket_id.is_not(None)).limit(1))
    if ticket_id is None:
        ticket_id = db.session.scalar(select(InboundEmail.ticket_id).where(
            InboundEmail.message_id == message_id, InboundEmail.ticket_id.is_not(None)).limit(1))
    return db.session.get(Ticket, ticket_id) if ticket_id is not None else None


def _takes_part(ticket: Ticket, sender: str) -> bool:
    """Whether ``sender`` is the ticket's requester or has written to it before."""
    sender = sender.lower()
    if (ticket.requester.email or "").lower() == sender:
        return True
    return db.session.scalar(select(InboundEmail.id).where(
        InboundEmail.ticket_id == ticket.id, InboundEmail.from_address == sender).limit(1)) is not None


# -- pieces ---------------------------------------------------------------------------------------------------

def _body(parsed: ParsedEmail) -> str:
    return parsed.text.strip() or "(email tanpa isi teks)"


def _message_data(row: InboundEmail, parsed: ParsedEmail) -> dict:
    """Event data for an email: its inbound row, subject, where quoted history starts, and its sanitised HTML."""
    text = _body(parsed)
    visible, quoted = split_quoted(text)
    data: dict = {"inbound_email_id": row.id, "subject": parsed.subject[:300],
                  "from": parsed.sender.address if parsed.sender else None}
    if quoted:
        data["quoted_at"] = len(visible)
    if parsed.cc:
        data["cc"] = [address.address for address in parsed.cc[:20]]
    if parsed.html:
        data["html_sha256"] = store_blob(parsed.html.encode(), content_type="text/html; charset=utf-8",
                                         durable=False).sha256
    return data


def _store_attachments(ticket: Ticket, event: TicketEvent | None, parsed: ParsedEmail) -> None:
    for part in parsed.attachments:
        blob = store_blob(part.data, content_type=part.content_type, durable=False)
        tickets.attach(ticket, event, blob=blob, filename=part.filename, content_type=part.content_type,
                       content_id=part.content_id, inline=part.inline)


def _note_oversized(ticket: Ticket, parsed: ParsedEmail) -> None:
    context = _oversized_context(parsed)
    if context is None:
        return
    names = "\n".join(f"- {name} ({size} MB)" for name, size in context["skipped"]) or "-"
    tickets.add_note(ticket, actor=None, body=(
        f"Email berukuran {context['size_mb']} MB melebihi batas {context['limit_mb']} MB. Teksnya dicatat dan "
        f"email aslinya disimpan utuh, tetapi lampiran berikut tidak disimpan:\n{names}"))


def _oversized_context(parsed: ParsedEmail) -> dict | None:
    if not parsed.oversized:
        return None
    return {"size_mb": _mb(parsed.size), "limit_mb": _mb(current_app.config["MAIL_MAX_BYTES"]),
            "skipped": [(name, _mb(size)) for name, _type, size in parsed.skipped_attachments]}


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".replace(".", ",")


def _ignore(row: InboundEmail, reason: str) -> str:
    row.reason = reason[:2000]
    return "ignored"


def _duplicate(known: InboundEmail) -> IngestResult:
    ref = known.ticket.ref if known.ticket_id is not None else None
    return IngestResult("duplicate", ticket_ref=ref, inbound_id=known.id)


def _first_lines(text: str, count: int) -> str:
    return "\n".join(text.strip().splitlines()[:count])


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value else value
