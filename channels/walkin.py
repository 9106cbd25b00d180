"""The walk-in desk (SOP-LPSE.BTG-008, SOP-LPSE.BTG-006): guest book, consultation form, queue and answer.

A visitor fills the consultation form at the kiosk (or an officer fills it for them): the form is checked
for completeness, becomes a ``walkin`` ticket with its attachments, and the visitor gets the day's queue
number. An officer calls the next number (shown on the now-serving display), analyses the problem, writes the
answer on the form and initials it, and picks the outcome: solved, pending or escalated.

Every ticket change goes through the ticket service; this module owns only the queue rows.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

import filetype
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from helpdesk import blobs, tickets
from helpdesk.calendars import calendar_for
from helpdesk.checklists import QUEUE_LETTERS, checklist_for
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.models import Office, Staff, Ticket, TicketEvent, WalkinVisit
from helpdesk.requesters import find_or_create_requester, normalise_phone
from helpdesk.sequences import next_value
from helpdesk.timeutil import as_utc, utcnow
from helpdesk.vocab import Application, ServiceType, SpseRole, StaffRole

from .base import Contact

log = logging.getLogger(__name__)

WAITING: Final = "waiting"
CALLED: Final = "called"
DONE: Final = "done"
LEFT: Final = "left"

# Files a visitor may attach, by the type their content shows (never by the name they carry).
ALLOWED_UPLOADS: Final = {
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "application/pdf",
    "application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
}


@dataclass(frozen=True)
class Upload:
    """A file the visitor attached, as received."""

    filename: str
    data: bytes
    declared_type: str = ""


@dataclass(frozen=True)
class ConsultationRequest:
    """The visitor's half of the consultation form."""

    contact: Contact
    description: str
    service_type: str = ServiceType.CONSULTATION
    application: str | None = None
    tender_code: str | None = None
    error_message: str | None = None
    uploads: tuple[Upload, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ConsultationAnswer:
    """The officer's half: analysis, answer, outcome, and the service type's checklist."""

    analysis: str
    answer: str
    outcome: str  # solved, pending, escalate
    escalate_role: str | None = None
    checklist: dict[str, dict[str, str]] = field(default_factory=dict)


# -- the visitor's form -------------------------------------------------------------------------------------

def missing_fields(request: ConsultationRequest) -> dict[str, object]:
    """The form's problems, field name -> message; empty when the form is complete (SOP step 4).

    Required: name, agency or company, SPSE role, a phone number that reads as one, the application (for a
    consultation) and the description of the problem; a bidding-room visit also needs the tender/package code.
    An email address is optional but must be valid when given.
    """
    contact = request.contact
    problems: dict[str, object] = {}
    if not (contact.name or "").strip():
        problems["name"] = _l("Fill in your name.")
    if not (contact.organization or "").strip():
        problems["organization"] = _l("Fill in your agency or company.")
    if contact.spse_role not in SpseRole.__members__.values():
        problems["spse_role"] = _l("Choose your role in SPSE.")
    phone = normalise_phone(contact.phone)
    if phone is None:
        problems["phone"] = _l("Fill in a phone number we can call you back on.")
    elif not phone.valid:
        problems["phone"] = _l("This does not read as a phone number; check it (for example 0812-3456-7890).")
    if contact.email:
        try:
            validate_email(contact.email, check_deliverability=False)
        except EmailNotValidError:
            problems["email"] = _l("This email address is not valid.")
    if request.service_type not in ServiceType.__members__.values():
        problems["service_type"] = _l("Choose the service you came for.")
    needs_application = request.service_type == ServiceType.CONSULTATION or request.application
    if needs_application and request.application not in Application.__members__.values():
        problems["application"] = _l("Choose the application your question is about.")
    if request.service_type == ServiceType.BIDDING_ROOM and not (request.tender_code or "").strip():
        problems["tender_code"] = _l("Fill in the tender or package code you are uploading for.")
    if len((request.description or "").strip()) < 10:
        problems["description"] = _l("Describe the problem or question (at least a sentence).")
    return problems


def check_uploads(uploads: list[Upload], *, max_files: int, max_bytes: int) -> tuple[list[Upload], list[str]]:
    """The uploads the kiosk accepts, with their sniffed types, and a message for each one refused."""
    accepted: list[Upload] = []
    refused: list[str] = []
    for upload in uploads:
        if not upload.data:
            continue  # an empty file input
        name = upload.filename or "berkas"
        if len(accepted) >= max_files:
            refused.append(str(_l("%(name)s: at most %(n)d files can be attached.", name=name, n=max_files)))
        elif len(upload.data) > max_bytes:
            refused.append(str(_l("%(name)s is %(size)s MB; each file may be at most %(limit)s MB.", name=name,
                                  size=_megabytes(len(upload.data)), limit=_megabytes(max_bytes))))
        elif (sniffed := _sniff(upload.data)) not in ALLOWED_UPLOADS:
            refused.append(str(_l("%(name)s is not an allowed kind of file; attach images (PNG, JPG), PDF, or "
                                  "Word/Excel documents.", name=name)))
        else:
            accepted.append(Upload(filename=name[:255], data=upload.data, declared_type=sniffed))
    return accepted, refused


def register_visit(request: ConsultationRequest, *, office: Office, at: datetime | None = None,
                   source: str = "kiosk", officer: Staff | None = None) -> WalkinVisit:
    """Sign the visitor in: requester, ``walkin`` ticket with attachments, and the day's queue number.

    Refuses an incomplete form with ValidationError (nothing is written). ``officer`` is who filled the form at
    the desk (``source="desk"``); the visitor is then being served already. Uploads must have passed
    ``check_uploads``. A visitor who gave a mobile number is texted the ticket number. Flushes, never commits.
    """
    problems = missing_fields(request)
    if problems:
        raise ValidationError(_l("The consultation form is incomplete: %(fields)s.", fields=", ".join(problems)))
    at = as_utc(at) if at else utcnow()
    contact = request.contact
    requester = find_or_create_requester(
        name=contact.name, email=contact.email, phone=contact.phone, organization=contact.organization,
        spse_role=contact.spse_role)
    service_type = ServiceType(request.service_type)
    day = service_day(office, at)
    letter = QUEUE_LETTERS[service_type]
    number = next_value(f"queue:{office.id}:{day.isoformat()}:{letter}")
    label = f"{letter}-{number:03d}"
    body = request.description.strip()
    if request.error_message and request.error_message.strip():
        body += "\n\nPesan kesalahan: " + request.error_message.strip()
    ticket = tickets.open_ticket(
        office=office, requester=requester, channel="walkin", subject=_subject(request), body=body,
        received_at=at, actor=officer, application=request.application or None,
        tender_code=request.tender_code or None, error_code=(request.error_message or "").strip()[:200] or None,
        event_data={"queue": label, "service_type": service_type.value, "source": source})
    created = db.session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                          TicketEvent.kind == "created"))
    for upload in request.uploads:
        blob = blobs.store_blob(upload.data, content_type=upload.declared_type or "application/octet-stream")
        tickets.attach(ticket, created, blob=blob, filename=upload.filename, content_type=blob.content_type)
    visit = WalkinVisit(office_id=office.id, ticket_id=ticket.id, service_type=service_type.value, service_day=day,
                        queue_letter=letter, queue_number=number, status=WAITING, source=source, arrived_at=at)
    db.session.add(visit)
    db.session.flush()
    if officer is not None:
        _take(visit, officer, at=at, desk=None)
    tickets.text_requester(ticket, "ticket-number", at=at)
    log.info("%s: walk-in visitor %s signed in (%s, %s)", ticket.ref, label, service_type.value, source)
    return visit


# -- the queue ----------------------------------------------------------------------------------------------

def service_day(office: Office, at: datetime) -> date:
    """The office-local date queue numbers are counted in."""
    return calendar_for(office).local(as_utc(at)).date()


def waiting(office: Office, *, day: date) -> list[WalkinVisit]:
    """Visitors of ``day`` not yet called, in order of arrival."""
    return list(db.session.scalars(
        select(WalkinVisit).where(WalkinVisit.office_id == office.id, WalkinVisit.service_day == day,
                                  WalkinVisit.status == WAITING)
        .order_by(WalkinVisit.arrived_at, WalkinVisit.id)))


def in_service(office: Office, *, day: date) -> list[WalkinVisit]:
    """Visitors of ``day`` called and not finished, latest call first."""
    return list(db.session.scalars(
        select(WalkinVisit).where(WalkinVisit.office_id == office.id, WalkinVisit.service_day == day,
                                  WalkinVisit.status == CALLED)
        .order_by(WalkinVisit.called_at.desc(), WalkinVisit.id.desc())))


def call_next(office: Office, officer: Staff, *, desk: str | None = None, service_type: str | None = None,
              at: datetime | None = None) -> WalkinVisit | None:
    """Call the longest-waiting visitor of today (of ``service_type`` when given); None when nobody waits.

    The claim is one conditional UPDATE, so two officers pressing "call next" together get different
    visitors. The ticket is assigned to the officer if it had nobody. Flushes, never commits.
    """
    at = as_utc(at) if at else utcnow()
    day = service_day(office, at)
    for _attempt in range(5):
        query = (select(WalkinVisit.id).where(WalkinVisit.office_id == office.id, WalkinVisit.service_day == day,
                                              WalkinVisit.status == WAITING)
                 .order_by(WalkinVisit.arrived_at, WalkinVisit.id).limit(1))
        if service_type:
            query = query.where(WalkinVisit.service_type == service_type)
        visit_id = db.session.scalar(query)
        if visit_id is None:
            return None
        claimed = db.session.execute(
            update(WalkinVisit).where(WalkinVisit.id == visit_id, WalkinVisit.status == WAITING)
            .values(status=CALLED, called_at=at, called_by_id=officer.id, calls=WalkinVisit.calls + 1, desk=desk)
            .execution_options(synchronize_session=False))
        if claimed.rowcount == 1:
            visit = db.session.get(WalkinVisit, visit_id, populate_existing=True)
            _record_call(visit, officer, at=at)
            return visit
    return None


def call(visit: WalkinVisit, officer: Staff, *, desk: str | None = None, at: datetime | None = None) -> WalkinVisit:
    """Call this visitor (out of turn, or again when they did not come up). Flushes, never commits."""
    if visit.status not in (WAITING, CALLED):
        raise ValidationError(_l("%(label)s is no longer waiting.", label=visit.queue_label))
    _take(visit, officer, at=as_utc(at) if at else utcnow(), desk=desk)
    return visit


def mark_left(visit: WalkinVisit, officer: Staff, *, at: datetime | None = None) -> None:
    """The visitor did not come up when called, or left: their place is given up; the ticket stays open for a
    follow-up by phone or email. Flushes, never commits."""
    if visit.status not in (WAITING, CALLED):
        raise ValidationError(_l("%(label)s is no longer waiting.", label=visit.queue_label))
    at = as_utc(at) if at else utcnow()
    visit.status, visit.finished_at = LEFT, at
    tickets.record_walkin_step(visit.ticket, "visitor_left", actor=officer, at=at, queue=visit.queue_label)


def now_serving(office: Office, *, day: date, recent: int = 5) -> dict[str, object]:
    """What the public display shows: the latest numbers called today, with their desks, and how many wait."""
    called = db.session.execute(
        select(WalkinVisit.queue_letter, WalkinVisit.queue_number, WalkinVisit.desk, WalkinVisit.called_at,
               WalkinVisit.calls)
        .where(WalkinVisit.office_id == office.id, WalkinVisit.service_day == day,
               WalkinVisit.called_at.is_not(None))
        .order_by(WalkinVisit.called_at.desc(), WalkinVisit.id.desc()).limit(recent)).all()
    numbers = [{"number": f"{letter}-{number:03d}", "desk": desk or "", "called_at": called_at.isoformat(),
                "calls": calls} for letter, number, desk, called_at, calls in called]
    waiting_count = len(waiting(office, day=day))
    return {"current": numbers[0] if numbers else None, "recent": numbers[1:], "waiting": waiting_count,
            "day": day.isoformat()}


# -- the officer's answer -----------------------------------------------------------------------------------

def visit_for(ticket: Ticket) -> WalkinVisit | None:
    """The walk-in visit behind a ticket, or None for tickets of other channels."""
    return db.session.scalar(select(WalkinVisit).where(WalkinVisit.ticket_id == ticket.id))


def answer_consultation(visit: WalkinVisit, answer: ConsultationAnswer, *, officer: Staff,
                        reason: str = "", at: datetime | None = None) -> TicketEvent:
    """Record the officer's analysis, answer and initials, the checklist, and apply the outcome (SOP steps 8-10).

    ``solved`` resolves the ticket with the answer; ``pending`` puts it on the pending list (follow up later);
    ``escalate`` hands it to ``answer.escalate_role`` with the visitor told. The visit is finished. Returns the
    ``consultation_recorded`` event (the archived PDF copy hangs on it). Flushes, never commits.
    """
    at = as_utc(at) if at else utcnow()
    ticket = visit.ticket
    if answer.outcome == "escalate" and answer.escalate_role not in StaffRole.__members__.values():
        raise ValidationError(_l("Choose who the problem is escalated to."))
    if checklist_for(visit.service_type):
        tickets.record_checklist(ticket, service_type=visit.service_type, items=answer.checklist, actor=officer,
                                 at=at)
    if ticket.assignee_id is None:
        tickets.assign(ticket, officer, actor=officer, at=at)
    event = tickets.record_consultation(ticket, analysis=answer.analysis, answer=answer.answer,
                                        outcome=answer.outcome, officer=officer, service_type=visit.service_type,
                                        at=at)
    if answer.outcome == "solved":
        tickets.resolve(ticket, actor=officer, solution=answer.answer, at=at)
    elif answer.outcome == "pending":
        tickets.change_status(ticket, "pending", actor=officer, note=answer.analysis, at=at)
    else:
        tickets.escalate(ticket, role=answer.escalate_role, actor=officer,
                         reason=(reason or answer.analysis or answer.answer), requester_told=True, at=at)
    visit.status, visit.finished_at = DONE, at
    if visit.called_at is None:
        visit.called_at, visit.called_by_id = at, officer.id
    db.session.flush()
    return event


# -- internals ----------------------------------------------------------------------------------------------

def _take(visit: WalkinVisit, officer: Staff, *, at: datetime, desk: str | None) -> None:
    visit.status, visit.called_at, visit.called_by_id = CALLED, at, officer.id
    visit.calls = (visit.calls or 0) + 1
    visit.desk = desk or visit.desk
    db.session.flush()
    _record_call(visit, officer, at=at)


def _record_call(visit: WalkinVisit, officer: Staff, *, at: datetime) -> None:
    ticket = visit.ticket
    tickets.record_walkin_step(ticket, "visitor_called", actor=officer, at=at, queue=visit.queue_label,
                               desk=visit.desk or "", calls=visit.calls)
    if ticket.assignee_id is None:
        tickets.assign(ticket, officer, actor=officer, at=at)


def _subject(request: ConsultationRequest) -> str:
    first = next((line.strip() for line in request.description.splitlines() if line.strip()), "")
    prefix = {ServiceType.BIDDING_ROOM: "Pendampingan bidding room",
              ServiceType.DOCUMENT_VERIFICATION: "Verifikasi dokumen"}.get(ServiceType(request.service_type))
    subject = first[:120] + ("…" if len(first) > 120 else "")
    return f"{prefix}: {subject}" if prefix else subject


def _sniff(data: bytes) -> str | None:
    kind = filetype.guess(data)
    return kind.mime if kind is not None else None


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".replace(".", ",")
