"""The phone log: a call an officer records while on the phone becomes a ticket in one transaction."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from helpdesk import tickets
from helpdesk.errors import ValidationError
from helpdesk.models import Office, Staff, Ticket
from helpdesk.requesters import find_or_create_requester

from .base import Inbound


class CallOutcome(enum.StrEnum):
    ANSWERED = "answered"   # answered on the phone: resolved, follow-up met
    PENDING = "pending"     # cannot be answered yet: on the pending list, follow up within the deadline
    ESCALATE = "escalate"   # handed to a more competent role; the caller was told


@dataclass(frozen=True)
class PhoneCall:
    """A logged call: the report, what the officer answered and how it ended."""

    inbound: Inbound
    answer: str
    outcome: CallOutcome
    escalate_role: str | None = None
    application: str | None = None
    tender_code: str | None = None


def log_call(call: PhoneCall, *, office: Office, officer: Staff) -> Ticket:
    """Open the call's ticket, assigned to the officer, and apply the outcome. Flushes, never commits."""
    contact = call.inbound.contact
    requester = find_or_create_requester(
        name=contact.name, email=contact.email, phone=contact.phone, organization=contact.organization,
        spse_role=contact.spse_role, address=contact.address)
    ticket = tickets.open_ticket(
        office=office, requester=requester, channel=call.inbound.channel, subject=call.inbound.subject,
        body=call.inbound.body, received_at=call.inbound.received_at, actor=officer,
        application=call.application, tender_code=call.tender_code)
    tickets.assign(ticket, officer, actor=officer)
    answer = call.answer.strip()
    if call.outcome == CallOutcome.ANSWERED:
        if not answer:
            raise ValidationError(_l("Write what was answered, or choose another outcome."))
        tickets.add_message(ticket, direction="outbound", body=answer, actor=officer, via="phone")
        tickets.resolve(ticket, actor=officer, solution=answer)
    elif call.outcome == CallOutcome.PENDING:
        if answer:
            tickets.add_note(ticket, body=answer, actor=officer)
        tickets.change_status(ticket, "pending", actor=officer)
    else:
        if not call.escalate_role:
            raise ValidationError(_l("Choose who the call is escalated to."))
        tickets.escalate(ticket, role=call.escalate_role, actor=officer, reason=answer, requester_told=True)
    return ticket
