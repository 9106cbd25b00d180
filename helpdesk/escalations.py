"""Escalations (DESIGN.md §6), part of the ticket service: up the chain to a role, an officer or LKPP, and back.

Each escalation is an ``Escalation`` row; every change to it and to its ticket is a ticket event recorded through
``tickets`` in the same transaction. Verbs flush, never commit, and raise ``ValidationError`` (or
``InvalidTransition``) before writing anything.

The chain: Helpdesk LPSE → Admin LPSE (a role or an officer of the office: ``escalate_internal``) → Helpdesk LKPP
(``escalate_to_lkpp`` by templated email, through LPSE Support (TTS) or by phone to the call centre) → LKPP's
technical team. A ticket already escalated may go further up; the escalations below wait (no reminders) until
the one above is answered or returned. LKPP's answer (``record_answer``) never goes to the requester by itself:
staff review it (``review_answer``) and reply with the normal reply form.

Event kinds: ``escalated``, ``escalation_returned``, ``escalation_reminder``, ``lkpp_ref_recorded``,
``lkpp_call_logged``, ``lkpp_answered``, ``lkpp_answer_reviewed``, and ``automatic_mail_received`` for LKPP's
automatic mail.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.routing import BuildError

from escalation import lkpp

from . import settings, tickets
from .calendars import calendar_for
from .errors import ValidationError
from .extensions import db
from .mail_ids import make_message_id
from .models import Attachment, Escalation, EscalationCall, OutboxMessage, Staff, Ticket, TicketEvent
from .outbox import TEXT_CHANNELS, enqueue_text
from .requesters import is_mobile
from .staff_notices import notify_staff, role_holders, ticket_holders
from .states import Status, check_transition
from .timeutil import as_utc, utcnow
from .vocab import StaffRole

log = logging.getLogger(__name__)

TIERS: Final = ("internal", "lkpp")
LKPP_CHANNELS: Final = ("email", "tts", "phone")
LKPP_TARGETS: Final = ("helpdesk_lkpp", "teknis_lkpp")
CALL_OUTCOMES: Final = ("confirmed", "no_answer", "more_info_needed", "other")
ANSWER_VIA: Final = ("email", "tts", "phone")
REF_SOURCES: Final = ("officer", "gateway", "lkpp_mail")
# Still on the chain: waiting for its holder or LKPP (open), or LKPP answered and staff have not reviewed it.
ON_CHAIN: Final = ("open", "answered")
LKPP_LABEL: Final = "Helpdesk LKPP"
TEXT_MAX: Final = 20000


# -- lookups ------------------------------------------------------------------------------------------------

def chain(ticket: Ticket) -> list[Escalation]:
    """The ticket's escalations, oldest first: the chain so far."""
    return list(db.session.scalars(select(Escalation).where(Escalation.ticket_id == ticket.id)
                                   .order_by(Escalation.created_at, Escalation.id)))


def open_escalations(ticket: Ticket, *, tier: str | None = None) -> list[Escalation]:
    """The ticket's escalations still on the chain (open or answered), latest first."""
    query = select(Escalation).where(Escalation.ticket_id == ticket.id, Escalation.status.in_(ON_CHAIN))
    if tier is not None:
        query = query.where(Escalation.tier == tier)
    return list(db.session.scalars(query.order_by(Escalation.created_at.desc(), Escalation.id.desc())))


# -- up the chain -------------------------------------------------------------------------------------------

def escalate_internal(ticket: Ticket, *, actor: Staff | None, reason: str, role: str | None = None,
                      officer: Staff | None = None, requester_told: bool = False,
                      at: datetime | None = None) -> Escalation:
    """Hand the ticket to a role or to one officer of its office (exactly one of them), with the reason.

    A role becomes the ticket's ``holder_role`` (an assignee without that role is unassigned, so the role's
    officers hold it); an officer is assigned. The ticket moves to ``escalated`` (a ticket already escalated goes
    further up the chain), the holders are notified by email (``staff-escalation``), and a reminder is due after
    setting ``escalation.reminder_working_days`` working days. ``requester_told``: the officer told the requester
    it was escalated, which counts as the follow-up. Flushes, never commits.
    """
    return _escalate_internal(ticket, actor=actor, reason=reason, role=role, officer=officer,
                              requester_told=requester_told, at=at)[0]


def _escalate_internal(ticket: Ticket, *, actor: Staff | None, reason: str, role: str | None, officer: Staff | None,
                       requester_told: bool, at: datetime | None) -> tuple[Escalation, TicketEvent]:
    if (role is None) == (officer is None):
        raise ValidationError(_l("Escalate to a role or to one officer."))
    if role is not None and role not in StaffRole.__members__.values():
        raise ValidationError(_l("Unknown role %(role)s.", role=repr(role)))
    if officer is not None and (not officer.active or officer.office_id != ticket.office_id):
        raise ValidationError(_l("Tickets go only to active officers of the ticket's office."))
    at = as_utc(at) if at else utcnow()
    _check_can_escalate(ticket)
    reason = (reason or "").strip()[:TEXT_MAX]
    escalation = Escalation(
        ticket_id=ticket.id, tier="internal", target_role=role, target_staff_id=officer.id if officer else None,
        channel="internal", status="open", reason=reason, content={"requester_told": bool(requester_told)},
        sent_at=at, created_by_id=actor.id if actor else None, created_at=at, reminders=0,
        next_reminder_at=_next_reminder(ticket, at))
    db.session.add(escalation)
    db.session.flush()
    _hold_below(ticket, escalation)
    if ticket.status != Status.ESCALATED:
        tickets._move(ticket, Status.ESCALATED, actor=actor, at=at)
    data: dict[str, Any] = {"tier": "internal"}
    if officer is not None:
        tickets.assign(ticket, officer, actor=actor, at=at)
        ticket.holder_role = None
        data.update(officer=officer.id, officer_name=officer.name)
        recipients = [officer]
    else:
        ticket.holder_role = role
        if ticket.assignee is not None and ticket.assignee.role != role:
            tickets.assign(ticket, None, actor=actor, at=at)
        data["role"] = role
        recipients = role_holders(ticket.office_id, role)
    data.update(requester_told=bool(requester_told), escalation_id=escalation.id)
    event = tickets.record_event(ticket, "escalated", actor=actor, body=reason, at=at, data=data)
    _notify(recipients, "staff-escalation", escalation, actor=actor, at=at)
    if requester_told:
        tickets._record_follow_up(ticket, at=at, how="escalation_notice", actor=actor)
    log.info("%s escalated to %s", ticket.ref, officer.email if officer else role)
    return escalation, event


def escalate_to_lkpp(ticket: Ticket, *, actor: Staff | None, channel: str, reason: str,
                     target: str = "helpdesk_lkpp", attachment_ids: Iterable[int] = (), steps_tried: str = "",
                     external_ref: str | None = None, requester_told: bool = True,
                     at: datetime | None = None) -> Escalation:
    """Escalate the ticket to LKPP by ``channel``: ``email``, ``tts`` (LPSE Support) or ``phone``.

    - email: the LKPP template renders first (any error: ``LkppTemplateError``, nothing written); the email goes
      through the outbox to setting ``lkpp.email_to`` with the chosen attachments (of this ticket), ``[#REF]`` in
      its subject and a signed Message-ID kept on the escalation, so LKPP's reply threads back.
    - tts: the LPSE Support fields are stored for the officer to copy; with setting ``lkpp.gateway_url`` they are
      also posted as JSON through the outbox (channel ``webhook``). ``external_ref`` is LKPP's ticket number when
      the officer already has it (checked against ``lkpp.ticket_number_pattern``).
    - phone: the escalation is the call; ``log_call`` records it.

    The ticket moves to ``escalated``, its resolution clock waits on LKPP, and a reminder is due after setting
    ``escalation.reminder_working_days`` working days. With ``requester_told`` the requester gets the escalation
    notice (email, else SMS/WhatsApp to a mobile number; an automatic notice that must not go is recorded as
    suppressed), and the notice is the ticket's follow-up. Flushes, never commits.
    """
    if channel not in LKPP_CHANNELS:
        raise ValidationError(_l("Unknown way to reach LKPP: %(channel)s.", channel=repr(channel)))
    if target not in LKPP_TARGETS:
        raise ValidationError(_l("Unknown LKPP target: %(target)s.", target=repr(target)))
    at = as_utc(at) if at else utcnow()
    _check_can_escalate(ticket)
    number = None
    if external_ref is not None and external_ref.strip():
        number = _checked_number(external_ref)
    content = lkpp_draft(ticket, actor=actor, channel=channel, reason=reason, steps_tried=steps_tried,
                         attachment_ids=attachment_ids)
    content["requester_told"] = bool(requester_told)
    reason, fields = content.pop("reason"), content["fields"]
    recipient, gateway = content.get("to", ""), content.get("gateway_url", "")

    # Everything is checked: from here on, write.
    escalation = Escalation(
        ticket_id=ticket.id, tier="lkpp", target=target, channel=channel, status="open", reason=reason,
        content=content, external_ref=number, sent_at=at, created_by_id=actor.id if actor else None,
        created_at=at, reminders=0, next_reminder_at=_next_reminder(ticket, at))
    db.session.add(escalation)
    db.session.flush()
    message = None
    if channel == "email":
        message = OutboxMessage(
            channel="email", recipient=recipient, subject=content["subject"], body=content["body"], headers={},
            template="lkpp-escalation", ticket_id=ticket.id, automatic=False, attachments=content["attachment_ids"],
            message_id=make_message_id(ticket.ref, office_email=ticket.office.email), created_at=at)
        db.session.add(message)
        db.session.flush()
        escalation.message_id, escalation.outbox_id = message.message_id, message.id
    elif gateway:
        message = OutboxMessage(
            channel="webhook", recipient=gateway, subject=fields["judul"][:300], body=gateway_payload(escalation),
            headers={"escalation_id": escalation.id}, template="lkpp-gateway", ticket_id=ticket.id, automatic=False,
            created_at=at)
        db.session.add(message)
        db.session.flush()
        escalation.outbox_id = message.id
    _hold_below(ticket, escalation)
    if ticket.status != Status.ESCALATED:
        tickets._move(ticket, Status.ESCALATED, actor=actor, at=at)
    data: dict[str, Any] = {"tier": "lkpp", "target": target, "channel": channel,
                            "requester_told": bool(requester_told), "escalation_id": escalation.id}
    if message is not None:
        data["outbox_id"] = message.id
    if recipient:
        data["to"] = recipient
    event = tickets.record_event(ticket, "escalated", actor=actor, body=reason, at=at, data=data)
    if message is not None:
        message.event_id = event.id
    if number is not None:
        tickets.record_event(ticket, "lkpp_ref_recorded", actor=actor, at=at, data={
            "escalation_id": escalation.id, "number": number, "previous": None, "source": "officer"})
    tickets.pause_clock(ticket, "lkpp", at=at)
    if requester_told and _tell_requester(ticket, escalation, actor=actor, at=at):
        tickets._record_follow_up(ticket, at=at, how="escalation_notice", actor=actor)
    log.info("%s escalated to LKPP (%s, %s)", ticket.ref, target, channel)
    return escalation


def lkpp_draft(ticket: Ticket, *, actor: Staff | None, channel: str, reason: str, steps_tried: str = "",
               attachment_ids: Iterable[int] = ()) -> dict[str, Any]:
    """What an escalation to LKPP by ``channel`` would carry, without writing anything: the LPSE Support
    ``fields``, the attachments, and for email the rendered ``subject``, ``body`` and ``to`` (for TTS the
    ``gateway_url`` when one is set). The preview shows it; ``escalate_to_lkpp`` stores it as the escalation's
    content. Raises ValidationError (LkppTemplateError when a template fails)."""
    if channel not in LKPP_CHANNELS:
        raise ValidationError(_l("Unknown way to reach LKPP: %(channel)s.", channel=repr(channel)))
    reason = (reason or "").strip()[:TEXT_MAX]
    if not reason:
        raise ValidationError(_l("Write why the ticket goes to LKPP."))
    steps_tried = (steps_tried or "").strip()[:TEXT_MAX]
    files = _ticket_attachments(ticket, attachment_ids)
    text = lkpp.EscalationText(reason=reason, steps_tried=steps_tried,
                               attachment_names=tuple(item.filename for item in files),
                               officer_name=actor.name if actor else "", officer_email=actor.email if actor else "")
    fields = lkpp.lkpp_fields(ticket, text)
    draft: dict[str, Any] = {"reason": reason, "fields": fields, "steps_tried": steps_tried,
                             "attachment_ids": [item.id for item in files],
                             "attachment_names": [item.filename for item in files]}
    if channel == "email":
        recipient = str(settings.get_setting("lkpp.email_to") or "").strip()
        if not recipient:
            raise ValidationError(_l("No LKPP email address is set (LKPP settings)."))
        subject, body = lkpp.render_email(ticket, fields)
        draft.update(subject=subject, body=body, to=recipient)
    elif channel == "tts":
        gateway = str(settings.get_setting("lkpp.gateway_url") or "").strip()
        if gateway:
            draft["gateway_url"] = gateway
    return draft


def gateway_payload(escalation: Escalation) -> str:
    """The JSON an LKPP integration gateway gets: the LPSE Support fields, our reference and the escalation."""
    content = escalation.content or {}
    fields = lkpp.form_fields(content.get("fields") or {})
    fields["lampiran"] = list(content.get("attachment_names") or [])
    ticket = escalation.ticket if escalation.ticket is not None else db.session.get(Ticket, escalation.ticket_id)
    payload = {"referensi": ticket.ref, "escalation_id": escalation.id, "target": escalation.target, **fields}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


# -- LKPP's side ---------------------------------------------------------------------------------------------

def record_external_ref(escalation: Escalation, number: str, *, actor: Staff | None = None, source: str = "officer",
                        at: datetime | None = None) -> TicketEvent | None:
    """Record LKPP's ticket number for the escalation, checked against ``lkpp.ticket_number_pattern`` (refused with
    the expected pattern in the message). ``source``: officer, gateway or lkpp_mail. None when it was already
    recorded. Flushes, never commits."""
    if escalation.tier != "lkpp":
        raise ValidationError(_l("Only an escalation to LKPP has an LKPP ticket number."))
    if source not in REF_SOURCES:
        raise ValueError(f"unknown source {source!r}")
    number = _checked_number(number)
    if number == escalation.external_ref:
        return None
    previous, escalation.external_ref = escalation.external_ref, number
    ticket = _ticket_of(escalation)
    log.info("%s: LKPP ticket number %s (%s)", ticket.ref, number, source)
    return tickets.record_event(ticket, "lkpp_ref_recorded", actor=actor, at=as_utc(at) if at else utcnow(), data={
        "escalation_id": escalation.id, "number": number, "previous": previous, "source": source})


def log_call(escalation: Escalation, *, officer: Staff, called_at: datetime, number: str, reference_given: str,
             outcome: str, note: str = "") -> EscalationCall:
    """Log a phone call to LKPP about the escalation (the SOP confirms escalations by phone to the call centre):
    when, who, the number called (default: setting ``lkpp.call_centre``), the reference given, the outcome.
    Records ``lkpp_call_logged``. Flushes, never commits."""
    if escalation.tier != "lkpp":
        raise ValidationError(_l("Calls are logged on escalations to LKPP."))
    if outcome not in CALL_OUTCOMES:
        raise ValidationError(_l("Choose the outcome of the call."))
    if officer is None:
        raise ValidationError(_l("A call needs the officer who made it."))
    number = (number or "").strip()[:40] or str(settings.get_setting("lkpp.call_centre") or "")[:40]
    reference_given = (reference_given or "").strip()[:100]
    note = (note or "").strip()[:TEXT_MAX]
    called_at = as_utc(called_at)
    call = EscalationCall(escalation_id=escalation.id, called_at=called_at, officer_id=officer.id, number=number,
                          reference_given=reference_given, outcome=outcome, note=note, created_at=utcnow())
    db.session.add(call)
    db.session.flush()
    tickets.record_event(_ticket_of(escalation), "lkpp_call_logged", actor=officer, body=note, at=called_at, data={
        "escalation_id": escalation.id, "call_id": call.id, "number": number, "reference_given": reference_given,
        "outcome": outcome})
    return call


def record_answer(escalation: Escalation, *, body: str, via: str, at: datetime, inbound_email_id: int | None = None,
                  actor: Staff | None = None, event_data: dict[str, Any] | None = None) -> TicketEvent:
    """LKPP answered: keep the answer on the escalation (status ``answered``) for staff to review.

    Records ``lkpp_answered`` with the answer (``via`` email, tts or phone; an email's inbound id and details go in
    ``event_data``; when they say where quoted history starts, ``quoted_at``, the answer kept is the text before
    it). The resolution clock stops waiting on LKPP; an escalated ticket comes back to ``open`` unless an
    escalation below this one is still open (then its holder, reminded again, has the ticket); the ticket is
    flagged ``lkpp_answered``. Any status may be answered again (LKPP writes more after a review). Nothing is sent
    to anyone. Flushes, never commits.
    """
    if escalation.tier != "lkpp":
        raise ValidationError(_l("Only LKPP answers an escalation to LKPP."))
    if via not in ANSWER_VIA:
        raise ValidationError(_l("Unknown way LKPP answered: %(via)s.", via=repr(via)))
    body = (body or "").strip()
    if not body:
        raise ValidationError(_l("Write LKPP's answer."))
    at = as_utc(at)
    ticket = _ticket_of(escalation)
    data = {**(event_data or {}), "escalation_id": escalation.id, "via": via}
    if inbound_email_id is not None:
        data["inbound_email_id"] = inbound_email_id
    quoted_at = data.get("quoted_at")
    answer = body[:quoted_at].strip() if isinstance(quoted_at, int) and 0 < quoted_at < len(body) else body
    escalation.status, escalation.answer, escalation.answered_at = "answered", (answer or body)[:TEXT_MAX * 5], at
    escalation.next_reminder_at = None
    event = tickets.record_event(ticket, "lkpp_answered", actor=actor, actor_label=None if actor else LKPP_LABEL,
                            body=body, at=at, data=data)
    tickets.resume_clock(ticket, at=at, reason="lkpp")
    for other in open_escalations(ticket):  # the escalations below wait no longer: their holders act on the answer
        if other.id != escalation.id and other.status == "open" and other.next_reminder_at is None:
            other.next_reminder_at = _next_reminder(ticket, at)
    if ticket.status == Status.ESCALATED and not _others_waiting(ticket, escalation):
        tickets._move(ticket, Status.OPEN, actor=actor, at=at, reason="lkpp_answered")
    tickets.flag(ticket, "lkpp_answered", actor=actor, at=at)
    log.info("%s: LKPP answered escalation %s by %s", ticket.ref, escalation.id, via)
    return event


def record_lkpp_mail(escalation: Escalation, *, kind: str, body: str, at: datetime,
                     data: dict[str, Any] | None = None) -> TicketEvent:
    """Keep an automatic mail from LKPP (an acknowledgement, an out-of-office) on the escalation's ticket as
    ``automatic_mail_received``: no status change, no answer, never a reply. Flushes, never commits."""
    return tickets.record_event(_ticket_of(escalation), "automatic_mail_received", actor_label=LKPP_LABEL,
                           body=(body or "").strip(), at=as_utc(at),
                           data={"kind": kind, "lkpp": True, **(data or {}), "escalation_id": escalation.id})


def review_answer(escalation: Escalation, *, actor: Staff, at: datetime | None = None) -> TicketEvent:
    """Staff reviewed LKPP's answer: the escalation is closed (the officer then replies to the requester with the
    normal reply form). Clears the ``lkpp_answered`` flag. Flushes, never commits."""
    if escalation.status != "answered":
        raise ValidationError(_l("Only an answered escalation can be reviewed."))
    at = as_utc(at) if at else utcnow()
    ticket = _ticket_of(escalation)
    escalation.status, escalation.reviewed_at, escalation.closed_at = "closed", at, at
    escalation.reviewed_by_id = actor.id if actor else None
    event = tickets.record_event(ticket, "lkpp_answer_reviewed", actor=actor, at=at,
                            data={"escalation_id": escalation.id})
    if ticket.flag == "lkpp_answered" and not any(e.status == "answered" for e in open_escalations(ticket)):
        tickets.clear_flag(ticket, actor=actor, at=at)
    return event


# -- down the chain ------------------------------------------------------------------------------------------

def return_escalation(escalation: Escalation, *, actor: Staff | None, note: str,
                      at: datetime | None = None) -> TicketEvent:
    """Give the ticket back down the chain, with a note: the escalation is ``returned``.

    When an escalation below it is still open, the ticket stays escalated and goes back to that one's holder
    (its role or officer, with reminders again); otherwise it comes back to ``open``, the role holding it is
    cleared and it is assigned again to the officer who escalated it (when still active). The new holders are
    notified (``staff-escalation-returned``). Flushes, never commits.
    """
    if escalation.status not in ON_CHAIN:
        raise ValidationError(_l("This escalation is no longer on the chain."))
    note = (note or "").strip()[:TEXT_MAX]
    if not note:
        raise ValidationError(_l("Write why the ticket goes back."))
    at = as_utc(at) if at else utcnow()
    ticket = _ticket_of(escalation)
    escalation.status, escalation.closed_at, escalation.next_reminder_at = "returned", at, None
    if escalation.tier == "lkpp":
        tickets.resume_clock(ticket, at=at, reason="lkpp")
    below = next((e for e in open_escalations(ticket) if e.id != escalation.id), None)
    data: dict[str, Any] = {"escalation_id": escalation.id, "tier": escalation.tier}
    if below is not None:
        below.next_reminder_at = _next_reminder(ticket, at) if below.status == "open" else None
        if below.tier == "internal":
            _give_to(ticket, below, actor=actor, at=at)
        data["to_escalation_id"] = below.id
    else:
        if escalation.tier == "internal":
            ticket.holder_role = None
            back_to = escalation.created_by
            if back_to is not None and back_to.active and back_to.office_id == ticket.office_id:
                tickets.assign(ticket, back_to, actor=actor, at=at)
        if ticket.status == Status.ESCALATED:
            tickets._move(ticket, Status.OPEN, actor=actor, at=at, reason="escalation_returned")
    data.update(to_role=ticket.holder_role, to_officer=ticket.assignee_id,
                to_officer_name=ticket.assignee.name if ticket.assignee else None)
    event = tickets.record_event(ticket, "escalation_returned", actor=actor, body=note, at=at, data=data)
    recipients = [s for s in ticket_holders(ticket) if actor is None or s.id != actor.id]
    _notify(recipients, "staff-escalation-returned", escalation, actor=actor, at=at, note=note)
    log.info("%s: escalation %s returned", ticket.ref, escalation.id)
    return event


# -- reminders (the job is escalation/reminders.py) -----------------------------------------------------------

def reminder_recipients(escalation: Escalation) -> list[Staff]:
    """Who is reminded of an unanswered escalation: for LKPP the officer who escalated (else the ticket's holders);
    inside the office the officer it went to, or the officers of its role."""
    ticket = _ticket_of(escalation)
    if escalation.tier == "lkpp":
        creator = escalation.created_by
        if creator is not None and creator.active and creator.office_id == ticket.office_id:
            return [creator]
        return ticket_holders(ticket)
    if escalation.target_staff is not None and escalation.target_staff.active:
        return [escalation.target_staff]
    return role_holders(ticket.office_id, escalation.target_role or StaffRole.HELPDESK.value)


def record_reminder(escalation: Escalation, *, at: datetime) -> TicketEvent:
    """Record ``escalation_reminder`` on the ticket and remind the holders (``staff-escalation-reminder``).

    The caller (the reminder job) has already counted the reminder and moved ``next_reminder_at`` on. Flushes.
    """
    ticket = _ticket_of(escalation)
    at = as_utc(at)
    recipients = reminder_recipients(escalation)
    event = tickets.record_event(ticket, "escalation_reminder", at=at, data={
        "escalation_id": escalation.id, "tier": escalation.tier, "reminders": escalation.reminders,
        "recipients": [staff.id for staff in recipients],
        "next_reminder_at": escalation.next_reminder_at.isoformat() if escalation.next_reminder_at else None})
    _notify(recipients, "staff-escalation-reminder", escalation, actor=None, at=at,
            call_centre=settings.get_setting("lkpp.call_centre"))
    log.info("%s: reminder %d for escalation %s", ticket.ref, escalation.reminders, escalation.id)
    return event


def next_reminder(ticket: Ticket, at: datetime) -> datetime | None:
    """When an escalation made (or reminded) at ``at`` is due for a reminder: setting
    ``escalation.reminder_working_days`` working days later in the office's calendar; None when the setting is 0."""
    return _next_reminder(ticket, at)


# -- internals ----------------------------------------------------------------------------------------------

def _check_can_escalate(ticket: Ticket) -> None:
    """A ticket escalated already may go further up the chain; any other status must allow ``escalated``."""
    if ticket.status != Status.ESCALATED:
        check_transition(ticket.status, Status.ESCALATED)


def _next_reminder(ticket: Ticket, at: datetime) -> datetime | None:
    days = int(settings.get_setting("escalation.reminder_working_days") or 0)
    if days < 1:
        return None
    return as_utc(calendar_for(ticket.office).follow_up_due(at, working_days=days))


def _hold_below(ticket: Ticket, above: Escalation) -> None:
    """The escalations below ``above`` wait for it: no reminders to their holders meanwhile."""
    for escalation in open_escalations(ticket):
        if escalation.id != above.id:
            escalation.next_reminder_at = None


def _others_waiting(ticket: Ticket, escalation: Escalation) -> bool:
    """Whether another escalation of the ticket is still open (waiting for its holder or LKPP)."""
    return any(e.id != escalation.id and e.status == "open" for e in open_escalations(ticket))


def _give_to(ticket: Ticket, escalation: Escalation, *, actor: Staff | None, at: datetime) -> None:
    """Make an internal escalation's target the ticket's holder again."""
    if escalation.target_staff is not None:
        ticket.holder_role = None
        if escalation.target_staff.active:
            tickets.assign(ticket, escalation.target_staff, actor=actor, at=at)
    else:
        ticket.holder_role = escalation.target_role
        if ticket.assignee is not None and ticket.assignee.role != escalation.target_role:
            tickets.assign(ticket, None, actor=actor, at=at)


def _ticket_attachments(ticket: Ticket, ids: Iterable[int]) -> list[Attachment]:
    wanted = list(dict.fromkeys(int(i) for i in ids))
    if not wanted:
        return []
    found = {a.id: a for a in db.session.scalars(select(Attachment).where(Attachment.id.in_(wanted)))}
    if any(found.get(i) is None or found[i].ticket_id != ticket.id for i in wanted):
        raise ValidationError(_l("Only the ticket's own attachments can go to LKPP."))
    return [found[i] for i in wanted]


def _checked_number(number: str) -> str:
    error = lkpp.ticket_number_error(number)
    if error is not None:
        raise ValidationError(error)
    return lkpp.normalise_ticket_number(number)


def _ticket_of(escalation: Escalation) -> Ticket:
    return escalation.ticket if escalation.ticket is not None else db.session.get(Ticket, escalation.ticket_id)


def _tell_requester(ticket: Ticket, escalation: Escalation, *, actor: Staff | None, at: datetime) -> bool:
    """Send the escalation notice; whether the requester is told (a notice queued, or no way to write to them, so
    the officer told them by phone or in person)."""
    requester = ticket.requester
    if requester.email:
        return tickets.notify(ticket, "escalation", at=at, escalation=escalation, officer=actor) is not None
    if is_mobile(requester.phone):
        channel = ticket.channel if ticket.channel in TEXT_CHANNELS else "sms"
        message = enqueue_text(channel=channel, to=requester.phone, template="escalation-notice", ticket=ticket,
                               automatic=True, created_at=at, escalation=escalation)
        event = tickets.record_event(ticket, "text_queued", at=at, data={
            "notice": "escalation", "channel": channel, "outbox_id": message.id, "to": message.recipient})
        message.event_id = event.id
    return True


def _notify(recipients: Sequence[Staff], template: str, escalation: Escalation, *, actor: Staff | None,
            at: datetime, **context: Any) -> list[OutboxMessage]:
    ticket = _ticket_of(escalation)
    others = [staff for staff in recipients if actor is None or staff.id != actor.id]
    if not others:
        return []
    return notify_staff(others, template, office=ticket.office, at=at, escalation=escalation, escalated=ticket,
                        actor=actor, link=_staff_link(ticket), **context)


def _staff_link(ticket: Ticket) -> str | None:
    """The ticket page's address for a notice, when one can be built (a request, or PUBLIC_BASE_URL)."""
    from .links import absolute_url

    try:
        return absolute_url("tickets.show", ref=ticket.ref)
    except (RuntimeError, BuildError):  # a job without PUBLIC_BASE_URL: the notice names the ticket only
        return None
