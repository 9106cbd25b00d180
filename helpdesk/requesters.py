"""Requesters: found again by email or phone, phone numbers normalised to E.164."""
from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from .errors import ValidationError
from .extensions import db
from .models import Requester, Ticket
from .vocab import SpseRole


@dataclass(frozen=True)
class Phone:
    """A phone number as stored: E.164 when it parsed as a valid number, else as typed (and flagged)."""

    value: str
    valid: bool


def normalise_phone(raw: str | None, *, region: str = "ID") -> Phone | None:
    """Parse a typed number ("0812-3456-7890", "+62 812...", "62812...") into E.164; keep junk as typed."""
    if raw is None or not raw.strip():
        return None
    typed = raw.strip()
    candidates = [typed]
    digits = "".join(ch for ch in typed if ch.isdigit())
    if digits.startswith("62") and not typed.startswith("+"):
        candidates.append("+" + digits)  # "62812..." typed without the plus
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True)
    return Phone(typed[:32], False)


def format_phone(value: str | None) -> str:
    """A stored number for people: "+62 812-3456-7890" (national grouping), or as stored when it is not E.164."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def is_mobile(value: str | None) -> bool:
    """Whether a stored number is a valid mobile number (one that can receive SMS and WhatsApp)."""
    if not value or not value.startswith("+"):
        return False
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    kinds = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in kinds


def normalise_email(raw: str | None) -> str | None:
    """Lower-case, trimmed email, or None when blank."""
    if raw is None or not raw.strip():
        return None
    return raw.strip().lower()


def find_requester(*, email: str | None = None, phone: str | None = None) -> Requester | None:
    """The requester with this email, else the most recently seen one with this phone number."""
    email = normalise_email(email)
    if email:
        found = db.session.scalar(select(Requester).where(Requester.email == email))
        if found is not None:
            return found
    parsed = normalise_phone(phone)
    if parsed is not None:
        return db.session.scalar(select(Requester).where(Requester.phone == parsed.value)
                                 .order_by(Requester.updated_at.desc(), Requester.id.desc()).limit(1))
    return None


NAME_MAX = 200  # the name and organization columns


def find_or_create_requester(*, name: str, email: str | None = None, phone: str | None = None,
                             organization: str | None = None, spse_role: str | None = None,
                             address: str | None = None) -> Requester:
    """Find the requester by email or phone and fill in what they now told us, or create them. Flushes.

    A non-blank value given here replaces the stored one (people change agency and address); blanks never
    erase what is known.
    """
    if spse_role and spse_role not in SpseRole.__members__.values():
        raise ValidationError(_l("Unknown SPSE role %(role)s.", role=repr(spse_role)))
    email = normalise_email(email)
    parsed = normalise_phone(phone)
    if not (name and name.strip()) and not email and parsed is None:
        raise ValidationError(_l("A requester needs a name, an email address or a phone number."))
    requester = find_requester(email=email, phone=phone)
    if requester is not None and email and requester.email and requester.email != email:
        # Same phone, another known email: a colleague on a shared office line, not the same person.
        requester = None
    if requester is None:
        requester = Requester(name=((name or "").strip() or (email or (parsed.value if parsed else "")))[:NAME_MAX])
        db.session.add(requester)
    elif name and name.strip():
        requester.name = name.strip()[:NAME_MAX]
    if email and not requester.email:
        requester.email = email
    if parsed is not None and (not requester.phone or parsed.valid):
        requester.phone, requester.phone_valid = parsed.value, parsed.valid
    for field, value, limit in (("organization", organization, NAME_MAX), ("spse_role", spse_role, 20),
                                ("address", address, 2000)):
        if value and value.strip():
            setattr(requester, field, value.strip()[:limit])
    db.session.flush()
    return requester


def earlier_tickets(requester: Requester, *, limit: int = 10, exclude_id: int | None = None) -> list[Ticket]:
    """The requester's most recent tickets, newest first."""
    query = select(Ticket).where(Ticket.requester_id == requester.id)
    if exclude_id is not None:
        query = query.where(Ticket.id != exclude_id)
    return list(db.session.scalars(query.order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(limit)))


def count_tickets(requester: Requester) -> int:
    """How many tickets the requester has reported."""
    return db.session.scalar(select(func.count()).where(Ticket.requester_id == requester.id)) or 0
