"""The ticket service: the one writer of tickets (DESIGN.md §3).

Every verb changes the ticket row and appends its ticket event in the same transaction. Verbs flush, never
commit: the caller (a view, a poller, a job) owns the transaction. They raise ``HelpdeskError`` subclasses,
never HTTP errors, because they run in jobs and pollers too.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from . import clocks, notices, settings
from .calendars import calendar_for
from .checklists import RESULTS as CHECKLIST_RESULTS
from .checklists import checklist_for
from .errors import UnknownTicket, ValidationError
from .extensions import db
from .models import (
    Attachment,
    Blob,
    FaqAnswer,
    FaqEntry,
    Office,
    OutboxMessage,
    Requester,
    Staff,
    Ticket,
    TicketEvent,
)
from .outbox import TEXT_CHANNELS, enqueue_email, enqueue_text
from .requesters import format_phone, is_mobile
from .sequences import next_value
from .states import REOPENED_BY_REQUESTER, Status, check_transition
from .timeutil import as_utc, utcnow
from .vocab import Application, Channel, Level, ProblemKind, StaffRole, TicketType, Urgency

log = logging.getLogger(__name__)

SYSTEM_LABEL: Final = "Sistem"
SUBJECT_MAX: Final = 300
SEARCH_TEXT_MAX: Final = 20000

# Fields an officer may classify, with the vocabulary each takes (None: free text; bool: yes/no).
CLASSIFICATION_FIELDS: Final[dict[str, Any]] = {
    "application": Application, "spse_version": None, "error_code": None, "tender_code": None,
    "ticket_type": TicketType, "is_technical": bool, "kind": ProblemKind, "urgency": Urgency,
    "impact": Level, "priority": Level,
}

# Status changes the requester of an email ticket hears about automatically: the notice sent.
STATUS_NOTICES: Final = {Status.PENDING: "pending", Status.RESOLVED: "resolved"}

LINK_KINDS: Final = ("possible_duplicate", "follow_up_of")

# What an officer decides at the end of a walk-in consultation (SOP-LPSE.BTG-008 steps 8-10).
CONSULTATION_OUTCOMES: Final = ("solved", "pending", "escalate")
WALKIN_STEPS: Final = ("visitor_called", "visitor_left")

# How the requester was told something, for replies and follow-ups.
TOLD_VIA: Final = ("email", "phone", "walkin", "sms", "whatsapp")


# -- lookups ------------------------------------------------------------------------------------------------

def get_by_ref(ref: str) -> Ticket:
    """The ticket with reference ``ref`` (case-insensitive), or UnknownTicket."""
    ticket = db.session.scalar(select(Ticket).where(Ticket.ref == ref.strip().upper()))
    if ticket is None:
        raise UnknownTicket(ref)
    return ticket


def format_ref(prefix: str, year: int, number: int) -> str:
    """``<PREFIX>-<YYYY>-<NNNNNN>``."""
    return f"{prefix}-{year:04d}-{number:06d}"


# -- verbs --------------------------------------------------------------------------------------------------

def open_ticket(*, office: Office, requester: Requester, channel: str, subject: str, body: str,
                received_at: datetime, actor: Staff | None = None, event_data: dict[str, Any] | None = None,
                **classification: Any) -> Ticket:
    """Create a ticket with its reference, its follow-up deadline and its ``created`` event.

    ``received_at`` is when our side got it (IMAP INTERNALDATE, the call, the form submission). The reference
    is numbered per office and per year of receipt in the office's zone. ``event_data`` adds channel details
    to the ``created`` event (an email's id, where its quoted history starts...). Flushes, never commits.
    """
    if channel not in Channel.__members__.values():
        raise ValidationError(_l("Unknown channel %(channel)s.", channel=repr(channel)))
    subject = " ".join((subject or "").split())[:SUBJECT_MAX]
    body = (body or "").strip()
    if not subject:
        subject = _subject_from(body)
    if not subject:
        raise ValidationError(_l("A ticket needs a subject or a description."))
    received_at = as_utc(received_at)
    calendar = calendar_for(office)
    year = calendar.local(received_at).year
    number = next_value(f"ticket:{office.id}:{year}")
    due = calendar.follow_up_due(received_at, working_days=int(settings.get_setting("sla.follow_up_working_days")))
    ticket = Ticket(
        office_id=office.id, office=office, ref=format_ref(office.ticket_prefix, year, number), channel=channel,
        subject=subject, description=body, status=Status.NEW.value, requester_id=requester.id,
        requester=requester, received_at=received_at, follow_up_due_at=as_utc(due),
        calendar_version=calendar.version,
    )
    _apply_classification(ticket, classification)
    ticket.search_text = _search_text(ticket)
    clocks.start(ticket)
    db.session.add(ticket)
    db.session.flush()
    record_event(ticket, "created", actor=actor, body=body, at=received_at,
            data={**(event_data or {}), "channel": channel, "follow_up_due_at": ticket.follow_up_due_at.isoformat(),
                  "calendar_version": calendar.version})
    log.info("%s opened via %s, follow-up due %s", ticket.ref, channel, ticket.follow_up_due_at.isoformat())
    return ticket


def add_message(ticket: Ticket, *, direction: str, body: str, actor: Staff | None = None,
                via: str | None = None, at: datetime | None = None,
                data: dict[str, Any] | None = None) -> TicketEvent:
    """Record a message on the ticket. Flushes, never commits.

    ``inbound``: from the requester; a waiting, pending or resolved ticket comes back to open.
    ``outbound``: a reply by ``actor`` to the requester, told ``via`` email (queued in the outbox), phone or in
    person. The first human reply is the ticket's follow-up. ``data`` adds channel details to the event (the
    inbound email's id, where its quoted history starts...).
    """
    body = (body or "").strip()
    if not body:
        raise ValidationError(_l("The message is empty."))
    at = as_utc(at) if at else utcnow()
    if ticket.status == Status.CLOSED:
        raise ValidationError(_l("%(ref)s is closed; a new message needs a new ticket.", ref=ticket.ref))
    if direction == "inbound":
        event = record_event(ticket, "message_received", body=body, at=at, actor_label=ticket.requester.name,
                        data={"via": via or ticket.channel, **(data or {})})
        ticket.search_text = (ticket.search_text + "\n" + body.lower())[:SEARCH_TEXT_MAX]
        if ticket.status in REOPENED_BY_REQUESTER:
            _move(ticket, Status.OPEN, actor=None, at=at, reason="requester_replied")
        return event
    if direction != "outbound":
        raise ValueError(f"direction must be inbound or outbound, not {direction!r}")
    if data:
        raise ValueError("extra event data is for inbound messages")
    if actor is None:
        raise ValidationError(_l("A reply needs the officer who wrote it."))
    via = via or ("email" if ticket.requester.email else ticket.channel)
    if via not in TOLD_VIA:
        raise ValidationError(_l("Unknown way to reach the requester: %(via)s.", via=repr(via)))
    if via == "email" and not ticket.requester.email:
        raise ValidationError(_l("The requester has no email address; record the reply as told by phone or in "
                                  "person."))
    data: dict[str, Any] = {"via": via}
    message = None
    if via == "email":
        message = enqueue_email(to=ticket.requester.email, template="staff-reply", ticket=ticket,
                                reply=body, officer=actor, signature=settings.get_setting("mail.signature"))
        data["outbox_id"] = message.id
    elif via in TEXT_CHANNELS:
        if not is_mobile(ticket.requester.phone):
            raise ValidationError(_l("The requester has no mobile number to send an SMS or WhatsApp message to."))
        message = enqueue_text(channel=via, to=ticket.requester.phone, template="staff-reply", ticket=ticket,
                               reply=body, officer=actor, signature=settings.get_setting("mail.signature"))
        data["outbox_id"] = message.id
    event = record_event(ticket, "replied", actor=actor, body=body, at=at, data=data)
    if message is not None:
        message.event_id = event.id
    if ticket.status == Status.NEW:
        _move(ticket, Status.OPEN, actor=actor, at=at)
    _record_follow_up(ticket, at=at, how="reply", actor=actor)
    return event


def add_note(ticket: Ticket, *, body: str, actor: Staff, at: datetime | None = None) -> TicketEvent:
    """Record an internal note, never shown to the requester. Flushes, never commits."""
    body = (body or "").strip()
    if not body:
        raise ValidationError(_l("The note is empty."))
    return record_event(ticket, "note_added", actor=actor, body=body, at=as_utc(at) if at else utcnow())


def change_status(ticket: Ticket, new: str, *, actor: Staff | None, note: str = "",
                  at: datetime | None = None) -> TicketEvent:
    """Move the ticket to ``new`` if the transition table allows it, else raise InvalidTransition.

    Resolving counts as the follow-up when none happened yet. Escalating needs a target: use ``escalate``.
    Flushes, never commits.
    """
    if new == Status.ESCALATED:
        raise ValidationError(_l("Escalating needs a target: use the escalation form."))
    at = as_utc(at) if at else utcnow()
    event = _move(ticket, Status(new), actor=actor, at=at, note=note)
    if new == Status.RESOLVED:
        _record_follow_up(ticket, at=at, how="resolution", actor=actor)
    if new in STATUS_NOTICES and ticket.channel == Channel.EMAIL:
        notify(ticket, STATUS_NOTICES[new], at=at, note=note.strip())
    return event


def resolve(ticket: Ticket, *, actor: Staff | None, solution: str, at: datetime | None = None) -> TicketEvent:
    """Mark the ticket resolved with the solution given. Flushes, never commits."""
    if not (solution or "").strip():
        raise ValidationError(_l("Write the solution before resolving."))
    return change_status(ticket, Status.RESOLVED, actor=actor, note=solution, at=at)


def reopen(ticket: Ticket, *, actor: Staff | None, reason: str, at: datetime | None = None) -> TicketEvent:
    """Bring a resolved ticket back to open. Flushes, never commits."""
    return change_status(ticket, Status.OPEN, actor=actor, note=reason, at=at)


def close_unanswered(ticket: Ticket, *, working_days: int, at: datetime | None = None) -> TicketEvent:
    """Close a resolved ticket the requester did not answer for ``working_days`` working days (a scheduler job).

    Records the move with reason ``no_reply``; a later message from the requester opens a new linked ticket.
    Flushes, never commits.
    """
    return _move(ticket, Status.CLOSED, actor=None, at=as_utc(at) if at else utcnow(), reason="no_reply",
                 note=f"Ditutup otomatis: tidak ada balasan pelapor selama {working_days} hari kerja setelah "
                      "tiket diselesaikan.")


def assign(ticket: Ticket, assignee: Staff | None, *, actor: Staff | None,
           at: datetime | None = None) -> TicketEvent | None:
    """Give the ticket to ``assignee`` (None: unassign). Returns None when nothing changed. Flushes."""
    if assignee is not None and (not assignee.active or assignee.office_id != ticket.office_id):
        raise ValidationError(_l("Tickets go only to active officers of the ticket's office."))
    if ticket.assignee_id == (assignee.id if assignee else None):
        return None
    previous = ticket.assignee
    ticket.assignee = assignee
    ticket.assignee_id = assignee.id if assignee else None
    log.info("%s assigned to %s", ticket.ref, assignee.email if assignee else "nobody")
    return record_event(ticket, "assigned", actor=actor, at=as_utc(at) if at else utcnow(), data={
        "from": previous.id if previous else None, "from_name": previous.name if previous else None,
        "to": assignee.id if assignee else None, "to_name": assignee.name if assignee else None})


def escalate(ticket: Ticket, *, role: str, actor: Staff | None, reason: str, requester_told: bool = False,
             at: datetime | None = None) -> TicketEvent:
    """Hand the ticket to a more competent role inside the office (internal tier); the ``escalated`` event.

    The move itself must be allowed (an escalated ticket is refused here; ``escalations.escalate_internal`` takes
    a ticket further up the chain). The rest is ``escalations.escalate_internal``: the escalation record, the
    holder, the notice to the role's officers, and the follow-up when the requester was told. Flushes, never
    commits.
    """
    from . import escalations

    if role not in StaffRole.__members__.values():
        raise ValidationError(_l("Unknown role %(role)s.", role=repr(role)))
    check_transition(ticket.status, Status.ESCALATED)  # before changing anything
    return escalations._escalate_internal(ticket, actor=actor, reason=reason, role=role, officer=None,
                                          requester_told=requester_told, at=at)[1]


def classify(ticket: Ticket, *, actor: Staff | None, at: datetime | None = None,
             **changes: Any) -> TicketEvent | None:
    """Change the LPSE Support fields and the Standar LPSE classification. None when nothing changed."""
    changes = _clean_classification(changes)  # refuses unknown fields and values before anything changes
    before = {field: getattr(ticket, field) for field in changes}
    _apply_classification(ticket, changes)
    diff = {field: [before[field], getattr(ticket, field)]
            for field in changes if before[field] != getattr(ticket, field)}
    if not diff:
        return None
    ticket.search_text = _search_text(ticket)
    data: dict[str, Any] = {"changes": diff}
    if {"ticket_type", "priority"} & diff.keys() and clocks.retarget(ticket):
        data["resolution_due_at"] = ticket.resolution_due_at.isoformat() if ticket.resolution_due_at else None
    return record_event(ticket, "classified", actor=actor, at=as_utc(at) if at else utcnow(), data=data)


def record_consultation(ticket: Ticket, *, analysis: str, answer: str, outcome: str, officer: Staff,
                        service_type: str, at: datetime | None = None) -> TicketEvent:
    """The officer's part of the consultation form: analysis, answer or solution, initialled by ``officer``.

    Records ``consultation_recorded`` (the initials are the officer's name and the time). The outcome is applied
    by the caller (resolve, pending, escalate), because each needs its own inputs. An answer told in person is the
    ticket's follow-up. Flushes, never commits.
    """
    analysis, answer = (analysis or "").strip(), (answer or "").strip()
    if outcome not in CONSULTATION_OUTCOMES:
        raise ValidationError(_l("Choose the outcome of the consultation."))
    if outcome == "solved" and not answer:
        raise ValidationError(_l("Write the answer or solution given to the visitor."))
    if not (analysis or answer):
        raise ValidationError(_l("Write the analysis or the answer before initialling the form."))
    at = as_utc(at) if at else utcnow()
    event = record_event(ticket, "consultation_recorded", actor=officer, body=answer, at=at, data={
        "analysis": analysis, "answer": answer, "outcome": outcome, "service_type": service_type,
        "officer_id": officer.id, "officer_name": officer.name, "initialled_at": at.isoformat()})
    if answer:
        if ticket.status == Status.NEW:
            _move(ticket, Status.OPEN, actor=officer, at=at)
        _record_follow_up(ticket, at=at, how="reply", actor=officer)
    return event


def record_checklist(ticket: Ticket, *, service_type: str, items: dict[str, dict[str, str]], actor: Staff,
                     at: datetime | None = None) -> TicketEvent | None:
    """Record the service type's checklist: ``items`` maps an item key to ``{"result", "note"}``.

    Every item of the type's checklist is stored, unanswered ones with result None; each answered item keeps
    the time it was first answered. None when nothing changed since the last record. Flushes, never commits.
    """
    definition = checklist_for(service_type)
    known = {item.key for item in definition}
    unknown = set(items) - known
    if unknown:
        raise ValidationError(_l("Unknown checklist item %(key)s.", key=repr(min(unknown))))
    at = as_utc(at) if at else utcnow()
    previous = latest_checklist(ticket)
    before = {entry["key"]: entry for entry in (previous or {}).get("items", [])}
    stored = []
    for item in definition:
        given = items.get(item.key) or {}
        result = given.get("result") or None
        if result is not None and result not in CHECKLIST_RESULTS:
            raise ValidationError(_l("Unknown checklist result %(result)s.", result=repr(result)))
        note = (given.get("note") or "").strip()[:500]
        old = before.get(item.key, {})
        answered_at = old.get("at") if old.get("result") == result and result is not None else None
        stored.append({"key": item.key, "result": result, "note": note,
                       "at": answered_at or (at.isoformat() if result is not None else None)})
    if previous is not None and previous.get("service_type") == service_type and [
            (e["key"], e["result"], e["note"]) for e in previous["items"]] == [
            (e["key"], e["result"], e["note"]) for e in stored]:
        return None
    return record_event(ticket, "checklist_recorded", actor=actor, at=at,
                   data={"service_type": service_type, "items": stored})


def record_walkin_step(ticket: Ticket, step: str, *, actor: Staff, at: datetime | None = None,
                       **data: Any) -> TicketEvent:
    """Record a step of the walk-in queue: ``visitor_called`` (the officer is now working on it: a new ticket
    opens) or ``visitor_left`` (the visitor gave up their place). Flushes, never commits."""
    if step not in WALKIN_STEPS:
        raise ValueError(f"unknown walk-in step {step!r}")
    at = as_utc(at) if at else utcnow()
    event = record_event(ticket, step, actor=actor, at=at, data=data)
    if step == "visitor_called" and ticket.status == Status.NEW:
        _move(ticket, Status.OPEN, actor=actor, at=at)
    return event


def latest_checklist(ticket: Ticket) -> dict[str, Any] | None:
    """The data of the ticket's last ``checklist_recorded`` event, or None."""
    return _latest_event_data(ticket, "checklist_recorded")


def latest_consultation(ticket: Ticket) -> dict[str, Any] | None:
    """The data of the ticket's last ``consultation_recorded`` event, or None."""
    return _latest_event_data(ticket, "consultation_recorded")


def record_automatic_mail(ticket: Ticket, *, kind: str, body: str, at: datetime,
                          data: dict[str, Any] | None = None) -> TicketEvent:
    """Keep an automatic reply from the requester's side (out-of-office, autoresponder) on the ticket.

    Unlike ``add_message`` it never changes the ticket's status. Flushes, never commits.
    """
    return record_event(ticket, "automatic_mail_received", body=(body or "").strip(), at=as_utc(at),
                   actor_label=ticket.requester.name, data={"kind": kind, **(data or {})})


def attach(ticket: Ticket, event: TicketEvent | None, *, blob: Blob, filename: str, content_type: str,
           content_id: str | None = None, inline: bool = False,
           identity_document: bool | None = None) -> Attachment:
    """Attach a stored blob to the ticket (and to the event that brought it). Flushes, never commits.

    ``identity_document`` None: marked as an identity document (purged under the retention schedule) when the
    file name matches the ``retention.identity_pattern`` setting.
    """
    filename = (filename or "lampiran")[:255]
    if identity_document is None:
        identity_document = looks_like_identity_document(filename)
    attachment = Attachment(
        ticket_id=ticket.id, event_id=event.id if event else None, blob_sha256=blob.sha256,
        filename=filename, content_type=(content_type or blob.content_type)[:200],
        size=blob.size, content_id=(content_id or None) and content_id[:250], inline=inline,
        identity_document=identity_document)
    db.session.add(attachment)
    db.session.flush()
    return attachment


def looks_like_identity_document(filename: str) -> bool:
    """Whether ``filename`` matches ``retention.identity_pattern`` (case-insensitive, anywhere in the name).

    A pattern that is not a valid regular expression marks nothing and is logged: intake must never fail on it.
    """
    pattern = settings.get_setting("retention.identity_pattern")
    if not pattern:
        return False
    try:
        return re.search(pattern, filename or "", flags=re.IGNORECASE) is not None
    except (re.error, TypeError):
        log.warning("retention.identity_pattern %r is not a valid regular expression", pattern)
        return False


def link(ticket: Ticket, other: Ticket, *, kind: str, at: datetime | None = None) -> TicketEvent:
    """Link ``ticket`` to ``other``: ``possible_duplicate`` or ``follow_up_of`` (a closed ticket).

    Flushes, never commits.
    """
    if kind not in LINK_KINDS:
        raise ValueError(f"unknown link kind {kind!r}")
    ticket.linked_ticket_id, ticket.link_kind = other.id, kind
    return record_event(ticket, "linked", at=as_utc(at) if at else utcnow(),
                   data={"kind": kind, "ticket_id": other.id, "ref": other.ref})


def block_automatic_mail(ticket: Ticket, reason: str, *, detail: str = "", at: datetime | None = None) -> None:
    """Never send automatic notices on this ticket (its report came from a machine, a list...). Flushes."""
    ticket.auto_reply_block = reason[:200]
    record_event(ticket, "auto_reply_suppressed", at=as_utc(at) if at else utcnow(),
            data={"notice": "acknowledgement", "reason": reason, "detail": detail[:300]})


def notify(ticket: Ticket, notice: str, *, at: datetime | None = None, headers: dict[str, str] | None = None,
           **context: Any) -> OutboxMessage | None:
    """Send the requester an automatic notice (acknowledgement, pending, resolved) unless it must not go.

    Either way the ticket records it: ``auto_reply_queued`` with the outbox message, or
    ``auto_reply_suppressed`` with the reason. Returns the queued message or None. Flushes, never commits.
    """
    at = as_utc(at) if at else utcnow()
    reason = notices.block_reason(ticket, at=at)
    if reason is not None:
        if reason != "no_email":  # a phone or walk-in requester without email has nothing to suppress
            record_event(ticket, "auto_reply_suppressed", at=at, data={"notice": notice, "reason": reason})
        return None
    message = enqueue_email(to=ticket.requester.email, template=notices.NOTICES[notice], ticket=ticket,
                            automatic=True, headers=headers, created_at=at,
                            signature=settings.get_setting("mail.signature"), **context)
    event = record_event(ticket, "auto_reply_queued", at=at, data={"notice": notice, "outbox_id": message.id})
    message.event_id = event.id
    return message


def text_requester(ticket: Ticket, notice: str, *, channel: str | None = None,
                   at: datetime | None = None) -> OutboxMessage | None:
    """Text the requester an automatic notice (``ticket-number``) by SMS or WhatsApp, if they gave a mobile number.

    The channel is the ticket's own when it came by SMS or WhatsApp, else SMS. Nothing is sent (and None
    returned) without a mobile number or with the ``sms.ticket_number_notice`` setting off; the ticket records
    ``text_queued`` with the outbox message otherwise. Flushes, never commits.
    """
    at = as_utc(at) if at else utcnow()
    channel = channel or (ticket.channel if ticket.channel in TEXT_CHANNELS else "sms")
    if not settings.get_setting("sms.ticket_number_notice") or not is_mobile(ticket.requester.phone):
        return None
    message = enqueue_text(channel=channel, to=ticket.requester.phone, template=notice, ticket=ticket,
                           automatic=True, created_at=at)
    event = record_event(ticket, "text_queued", at=at, data={"notice": notice, "channel": channel,
                                                         "outbox_id": message.id, "to": message.recipient})
    message.event_id = event.id
    return message


def record_bounce(message: OutboxMessage, *, detail: str, at: datetime) -> TicketEvent | None:
    """A bounce reports that ``message`` was not delivered: mark it failed and flag its ticket. Flushes."""
    message.status = "failed"
    message.last_error = (detail or "bounced")[:2000]
    if message.ticket_id is None:
        return None
    ticket = db.session.get(Ticket, message.ticket_id)
    event = record_event(ticket, "email_bounced", at=as_utc(at), data={
        "outbox_id": message.id, "recipient": message.recipient, "detail": (detail or "")[:500]})
    flag(ticket, "bounce", at=at)
    return event


def record_delivery(message: OutboxMessage, *, outcome: str, error: str | None = None,
                    at: datetime | None = None) -> TicketEvent | None:
    """Record on the message's ticket that it was ``sent`` or finally ``failed`` (the ticket is flagged).

    Returns None for a message without a ticket. Flushes, never commits.
    """
    if outcome not in ("sent", "failed"):
        raise ValueError(f"outcome must be sent or failed, not {outcome!r}")
    if message.ticket_id is None:
        return None
    ticket = db.session.get(Ticket, message.ticket_id)
    at = as_utc(at) if at else utcnow()
    data = {"outbox_id": message.id, "recipient": message.recipient, "template": message.template}
    if outcome == "failed":
        data["error"] = (error or "")[:500]
        event = record_event(ticket, "email_failed", at=at, data=data)
        flag(ticket, "delivery_failed", at=at)
        return event
    return record_event(ticket, "email_sent", at=at, data=data)


def flag(ticket: Ticket, reason: str, *, actor: Staff | None = None, at: datetime | None = None) -> TicketEvent:
    """Ask an officer to look at the ticket again (a bounce, a failed delivery...). Flushes, never commits."""
    ticket.flag = reason
    return record_event(ticket, "flagged", actor=actor, at=as_utc(at) if at else utcnow(), data={"flag": reason})


def clear_flag(ticket: Ticket, *, actor: Staff | None, at: datetime | None = None) -> TicketEvent | None:
    """Clear the ticket's flag; None when it had none. Flushes, never commits."""
    if ticket.flag is None:
        return None
    previous, ticket.flag = ticket.flag, None
    return record_event(ticket, "flag_cleared", actor=actor, at=as_utc(at) if at else utcnow(), data={"flag": previous})


# -- automatic FAQ answers (issue 5) --------------------------------------------------------------------------

FAQ_OUTCOMES: Final = ("confirmed", "rejected", "replied")


def record_faq_answer(ticket: Ticket, *, entry: FaqEntry, score: float, confidence: float, answer_text: str,
                      link: Callable[[FaqAnswer], str], at: datetime | None = None,
                      headers: dict[str, str] | None = None) -> FaqAnswer:
    """Answer a new email ticket with FAQ ``entry``, automatically, and wait for the requester to confirm it.

    Creates the ``FaqAnswer``, queues the ``faq-answer`` email (automatic mail: the caller checked
    ``notices.block_reason``) with the two signed links made by ``link(answer)`` (``?pilihan=ya`` /
    ``?pilihan=tidak``), records ``faq_answered``, moves the ticket to ``waiting`` and counts the answer as the
    follow-up (``followed_up`` with ``how="faq_answer"``, reported apart from human follow-ups). Flushes, never
    commits.
    """
    if not ticket.requester.email:
        raise ValidationError(_l("The requester has no email address."))
    at = as_utc(at) if at else utcnow()
    check_transition(ticket.status, Status.WAITING)  # before anything is written
    answer = FaqAnswer(ticket_id=ticket.id, entry_id=entry.id, entry_version=entry.version, score=float(score),
                       confidence=float(confidence), sent_at=at)
    db.session.add(answer)
    db.session.flush()
    url = link(answer)
    message = enqueue_email(to=ticket.requester.email, template="faq-answer", ticket=ticket, automatic=True,
                            headers=headers, created_at=at, entry=entry, answer_text=answer_text,
                            confirm_url=url + "?pilihan=ya", reject_url=url + "?pilihan=tidak",
                            signature=settings.get_setting("mail.signature"))
    answer.outbox_id = message.id
    event = record_event(ticket, "faq_answered", at=at, body=answer_text, data={
        "key": entry.key, "entry_id": entry.id, "entry_version": entry.version, "question": entry.question,
        "score": round(float(score), 4), "confidence": round(float(confidence), 4), "outbox_id": message.id,
        "faq_answer_id": answer.id})
    message.event_id = event.id
    _move(ticket, Status.WAITING, actor=None, at=at, reason="faq_answer")
    _record_follow_up(ticket, at=at, how="faq_answer", actor=None)
    log.info("%s answered from FAQ %s (confidence %.2f)", ticket.ref, entry.key, confidence)
    return answer


def confirm_faq_answer(answer: FaqAnswer, *, at: datetime | None = None) -> TicketEvent:
    """The requester says the FAQ answer answered them ("Sudah terjawab"): the ticket is resolved.

    Records ``faq_confirmed`` (and the move to resolved, without a resolution notice: the requester just told
    us). Refused for an answer already confirmed or rejected, and on a closed ticket. Flushes, never commits.
    """
    ticket, at = _undecided_faq_ticket(answer), as_utc(at) if at else utcnow()
    answer.outcome, answer.decided_at = "confirmed", at
    event = record_event(ticket, "faq_confirmed", at=at, actor_label=ticket.requester.name,
                    data={"faq_answer_id": answer.id, "entry_id": answer.entry_id})
    if ticket.status != Status.RESOLVED:
        _move(ticket, Status.RESOLVED, actor=None, at=at, reason="faq_confirmed",
              note="Pelapor mengonfirmasi bahwa jawaban FAQ otomatis sudah menjawab pertanyaannya.")
    _record_follow_up(ticket, at=at, how="resolution", actor=None)
    return event


def reject_faq_answer(answer: FaqAnswer, *, at: datetime | None = None) -> TicketEvent:
    """The requester needs an officer after all ("Belum, saya perlu bantuan petugas").

    Records ``faq_rejected``; a waiting, pending or resolved ticket goes back to ``open`` and the ticket is
    flagged ``faq_rejected`` for an officer. Refused for an answer already confirmed or rejected, and on a closed
    ticket. Flushes, never commits.
    """
    ticket, at = _undecided_faq_ticket(answer), as_utc(at) if at else utcnow()
    answer.outcome, answer.decided_at = "rejected", at
    event = record_event(ticket, "faq_rejected", at=at, actor_label=ticket.requester.name,
                    data={"faq_answer_id": answer.id, "entry_id": answer.entry_id})
    if ticket.status in REOPENED_BY_REQUESTER:
        _move(ticket, Status.OPEN, actor=None, at=at, reason="faq_rejected")
    flag(ticket, "faq_rejected", at=at)
    return event


def note_faq_reply(ticket: Ticket, *, at: datetime | None = None) -> FaqAnswer | None:
    """The requester replied by email to an automatic FAQ answer: mark the undecided answer ``replied``.

    The reply itself is ``add_message``'s (it reopens the ticket). The answer's links keep working: a click
    afterwards still records the requester's choice. Returns the answer marked, or None. Flushes, never commits.
    """
    answer = db.session.scalar(select(FaqAnswer).where(FaqAnswer.ticket_id == ticket.id, FaqAnswer.outcome.is_(None))
                               .order_by(FaqAnswer.id.desc()).limit(1))
    if answer is None:
        return None
    answer.outcome, answer.decided_at = "replied", as_utc(at) if at else utcnow()
    db.session.flush()
    return answer


def _undecided_faq_ticket(answer: FaqAnswer) -> Ticket:
    """The answer's ticket, if the requester may still decide: not confirmed or rejected yet, ticket not closed."""
    if answer.outcome in ("confirmed", "rejected"):
        raise ValidationError(_l("This answer was already %(outcome)s.", outcome=answer.outcome))
    ticket = db.session.get(Ticket, answer.ticket_id)
    if ticket.status == Status.CLOSED:
        raise ValidationError(_l("%(ref)s is closed.", ref=ticket.ref))
    return ticket


# -- internals ----------------------------------------------------------------------------------------------

def record_event(ticket: Ticket, kind: str, *, actor: Staff | None = None, actor_label: str | None = None,
                 body: str = "", data: dict[str, Any] | None = None, at: datetime | None = None) -> TicketEvent:
    """Append one event to ``ticket`` (and touch its ``updated_at``): the ticket service's single writer of events,
    for the domain modules (escalations, requesters, retention) whose verbs record on a ticket. Flushes."""
    event = TicketEvent(
        ticket_id=ticket.id, kind=kind, actor_id=actor.id if actor else None,
        actor_label=actor_label or (actor.name if actor else SYSTEM_LABEL), body=body, data=data or {},
        created_at=at or utcnow(),
    )
    db.session.add(event)
    ticket.updated_at = utcnow()
    db.session.flush()
    return event


def _move(ticket: Ticket, new: Status, *, actor: Staff | None, at: datetime, note: str = "",
          reason: str | None = None) -> TicketEvent:
    old = ticket.status
    check_transition(old, new)
    ticket.status = new.value
    if new == Status.RESOLVED:
        ticket.resolved_at = at
    elif new == Status.CLOSED:
        ticket.closed_at = at
    elif new == Status.OPEN and old == Status.RESOLVED:
        ticket.resolved_at = None
    log.info("%s %s -> %s", ticket.ref, old, new.value)
    data: dict[str, Any] = {"from": old, "to": new.value}
    if reason:
        data["reason"] = reason
    event = record_event(ticket, "status_changed", actor=actor, body=note.strip(), at=at, data=data)
    _move_clock(ticket, old, new, at=at)
    return event


def _move_clock(ticket: Ticket, old: str, new: Status, *, at: datetime) -> None:
    """Pause the resolution clock while the ticket waits on the requester or stays resolved; resume it after."""
    if new == Status.WAITING:
        pause_clock(ticket, "requester", at=at)
    elif new == Status.RESOLVED:
        pause_clock(ticket, "resolved", at=at)
    elif new == Status.CLOSED:
        resume_clock(ticket, at=at)
    elif old in (Status.WAITING, Status.RESOLVED):
        resume_clock(ticket, at=at, reason="requester" if old == Status.WAITING else "resolved")


def pause_clock(ticket: Ticket, reason: str, *, at: datetime) -> TicketEvent | None:
    """Pause the resolution clock for ``reason`` (requester, lkpp, resolved), recording ``clock_paused``.

    A running pause for another reason is closed first (``clock_resumed``). None when already paused for it.
    Flushes, never commits.
    """
    at = as_utc(at)
    if ticket.clock_paused_at is not None and ticket.clock_paused_for == reason:
        return None
    closed = clocks.pause(ticket, reason, at=at)
    if closed is not None:
        record_event(ticket, "clock_resumed", at=at, data=closed)
    return record_event(ticket, "clock_paused", at=at, data={"for": reason})


def resume_clock(ticket: Ticket, *, at: datetime, reason: str | None = None) -> TicketEvent | None:
    """End the running pause (only one for ``reason``, when given), recording ``clock_resumed`` with its working
    seconds. None when no such pause ran. Flushes, never commits."""
    resumed = clocks.resume(ticket, at=as_utc(at), reason=reason)
    if resumed is None:
        return None
    data = {**resumed, "resolution_due_at": ticket.resolution_due_at.isoformat() if ticket.resolution_due_at else None}
    return record_event(ticket, "clock_resumed", at=as_utc(at), data=data)


def _record_follow_up(ticket: Ticket, *, at: datetime, how: str, actor: Staff | None) -> None:
    """Stop the follow-up clock at the first follow-up, recording whether it met the deadline."""
    if ticket.first_follow_up_at is not None:
        return
    ticket.first_follow_up_at = at
    ticket.follow_up_met = at <= ticket.follow_up_due_at
    record_event(ticket, "followed_up", actor=actor, at=at, data={
        "how": how, "met": ticket.follow_up_met, "due": ticket.follow_up_due_at.isoformat()})


def _latest_event_data(ticket: Ticket, kind: str) -> dict[str, Any] | None:
    data = db.session.scalar(select(TicketEvent.data).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == kind)
                             .order_by(TicketEvent.id.desc()).limit(1))
    return dict(data) if data is not None else None


def _apply_classification(ticket: Ticket, values: dict[str, Any]) -> None:
    for field, value in _clean_classification(values).items():
        setattr(ticket, field, value)


def _clean_classification(values: dict[str, Any]) -> dict[str, Any]:
    """The values checked against CLASSIFICATION_FIELDS, or ValidationError for the first bad one."""
    cleaned: dict[str, Any] = {}
    for field, value in values.items():
        if field not in CLASSIFICATION_FIELDS:
            raise ValidationError(_l("Unknown ticket field %(field)s.", field=repr(field)))
        vocab = CLASSIFICATION_FIELDS[field]
        if value == "":
            value = None
        if value is not None and vocab is bool and not isinstance(value, bool):
            raise ValidationError(_l("%(field)s must be yes or no.", field=field))
        if value is not None and vocab not in (None, bool) and value not in vocab.__members__.values():
            raise ValidationError(_l("Unknown value %(value)s for %(field)s.", value=repr(value), field=field))
        if isinstance(value, str):
            value = value.strip()[:200] or None
        cleaned[field] = value
    return cleaned


def _search_text(ticket: Ticket) -> str:
    """What the queue's search looks in: reference, subject, text, requester, codes and the requester's messages."""
    requester = ticket.requester
    messages = [] if ticket.id is None else db.session.scalars(
        select(TicketEvent.body).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "message_received")
        .order_by(TicketEvent.id)).all()
    parts = [ticket.ref, ticket.subject, ticket.description, requester.name, requester.organization or "",
             requester.email or "", requester.phone or "", format_phone(requester.phone), ticket.tender_code or "",
             ticket.error_code or "", *messages]
    return "\n".join(part for part in parts if part).lower()[:SEARCH_TEXT_MAX]


def _subject_from(body: str) -> str:
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    return first[:80] + ("…" if len(first) > 80 else "")
