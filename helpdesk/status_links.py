"""What a requester may see of their ticket on the public status page, and the signed links that open it.

Two ways in: a signed link printed on a receipt or texted by SMS (``status_url``), or the ticket reference
with the email address or phone number on the ticket (``find_for_requester``). Both only read tickets.
``public_status`` decides what is shown: nothing outside it reaches the page.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select

from .extensions import db
from .links import absolute_url
from .models import Requester, Ticket, TicketEvent
from .requesters import normalise_email, normalise_phone
from .states import Status

SALT = "ticket-status"
REFERENCE_MAX = 32  # Ticket.ref's column size
CONTACT_MAX = 254  # the longest email address
TOKEN_MAX = 200  # a real token is about 40 characters plus the reference

# Statuses whose change is shown to the requester (just the fact and the time, never the officer's note).
PUBLIC_STATUS_CHANGES = frozenset({Status.PENDING.value, Status.RESOLVED.value})
PUBLIC_EVENT_KINDS = ("replied", "consultation_recorded", "status_changed")


# -- signed links -------------------------------------------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def status_token(ticket: Ticket) -> str:
    """A signed, non-expiring token naming the ticket (its id and reference)."""
    return _serializer().dumps([ticket.id, ticket.ref])


def ticket_for_token(token: str) -> Ticket | None:
    """The ticket a token from ``status_token`` names; None for a forged, altered or malformed token."""
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX:
        return None
    try:
        payload = _serializer().loads(token)
    except (BadData, UnicodeError, ValueError):
        return None
    if not (isinstance(payload, list) and len(payload) == 2 and type(payload[0]) is int
            and isinstance(payload[1], str)):
        return None
    ticket = db.session.get(Ticket, payload[0])
    if ticket is None or not hmac.compare_digest(ticket.ref.encode(), payload[1].encode()):
        return None
    return ticket


def status_url(ticket: Ticket) -> str:
    """The absolute address of the ticket's status page, for receipts, SMS and emails.

    ``PUBLIC_BASE_URL`` + the page's path when configured (works outside a request, e.g. in a job); else the
    request's own address (``url_for(..., _external=True)``, which outside a request needs ``SERVER_NAME``).
    """
    return absolute_url("status.by_token", token=status_token(ticket))


# -- look-up by reference and contact -----------------------------------------------------------------------

def normalise_reference(raw: str | None) -> str:
    """A typed reference as stored: trimmed, without a leading "#", upper-case."""
    return (raw or "").strip().lstrip("#").strip().upper()


def _same(typed: str, stored: str) -> bool:
    """Equality of two non-empty strings in time that tells nothing about them (digests of equal length)."""
    equal = hmac.compare_digest(hashlib.sha256(typed.encode("utf-8", "replace")).digest(),
                                hashlib.sha256(stored.encode("utf-8", "replace")).digest())
    return equal and bool(typed) and bool(stored)


# What an unknown reference is compared against, so it does the same work as a known one with a wrong contact.
_NOBODY = ("\x00", "\x00")


def find_for_requester(reference: str | None, contact: str | None) -> Ticket | None:
    """The ticket with this reference if ``contact`` is its requester's email or phone number, else None.

    The reference is matched case-insensitively and trimmed; the email case-insensitively; the phone number
    after normalising to E.164 (only valid numbers match). An unknown reference and a wrong contact take the
    same path: one query, both contacts normalised and compared in constant time, then None.
    """
    ref = normalise_reference(reference)
    contact = (contact or "")[:CONTACT_MAX]
    email = normalise_email(contact) or ""
    phone = normalise_phone(contact)
    typed_phone = phone.value if phone is not None and phone.valid else ""
    row = None
    if ref and len(ref) <= REFERENCE_MAX and ref.isprintable():  # a NUL byte cannot be in a reference (nor in SQL)
        row = db.session.execute(
            select(Ticket.id, Requester.email, Requester.phone, Requester.phone_valid)
            .join(Requester, Ticket.requester_id == Requester.id).where(Ticket.ref == ref)).first()
    if row is None:
        stored_email, stored_phone = _NOBODY
    else:
        stored_email = (row.email or "").lower()
        stored_phone = row.phone if row.phone and row.phone_valid else ""
    email_matches = _same(email, stored_email)
    phone_matches = _same(typed_phone, stored_phone)
    if row is None or not (email_matches or phone_matches):
        return None
    return db.session.get(Ticket, row.id)


# -- what is shown --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PublicEntry:
    """One line of the public history: ``reply``, ``consultation``, ``pending`` or ``resolved``."""

    kind: str
    at: datetime
    body: str = ""
    officer: str = ""


@dataclass(frozen=True)
class PublicStatus:
    """Everything the status page shows of a ticket, and nothing more."""

    ref: str
    subject: str
    status: str
    timezone: str
    received_at: datetime
    follow_up_due_at: datetime
    first_follow_up_at: datetime | None
    resolved_at: datetime | None
    entries: list[PublicEntry] = field(default_factory=list)


def public_entries(ticket: Ticket) -> list[PublicEntry]:
    """The ticket's public history, oldest first: replies to the requester, consultation answers, and the
    moves to pending and resolved. Notes, escalation reasons, classification and the rest never appear."""
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(PUBLIC_EVENT_KINDS))
        .order_by(TicketEvent.created_at, TicketEvent.id)).all()
    entries = []
    for event in events:
        data = event.data or {}
        if event.kind == "replied":
            entries.append(PublicEntry("reply", event.created_at, event.body, event.actor_label))
        elif event.kind == "consultation_recorded":
            answer = str(data.get("answer") or "").strip()
            if answer:
                officer = str(data.get("officer_name") or event.actor_label)
                entries.append(PublicEntry("consultation", event.created_at, answer, officer))
        elif event.kind == "status_changed" and data.get("to") in PUBLIC_STATUS_CHANGES:
            entries.append(PublicEntry(str(data["to"]), event.created_at))
    return entries


def public_status(ticket: Ticket) -> PublicStatus:
    """What the requester may see of ``ticket``."""
    return PublicStatus(
        ref=ticket.ref, subject=ticket.subject, status=ticket.status, timezone=ticket.office.timezone,
        received_at=ticket.received_at, follow_up_due_at=ticket.follow_up_due_at,
        first_follow_up_at=ticket.first_follow_up_at, resolved_at=ticket.resolved_at,
        entries=public_entries(ticket))
