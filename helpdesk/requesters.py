"""Requesters: found again by email or phone, phone numbers normalised to E.164; their NPWP, NIK and User ID."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from .errors import PermissionDenied, ValidationError
from .extensions import db
from .models import Requester, Staff, Ticket, TicketEvent
from .timeutil import as_utc, utcnow
from .vocab import SpseRole

log = logging.getLogger(__name__)


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


# -- identity numbers (NPWP, NIK, SPSE User ID) ------------------------------------------------------------

IDENTITY_FIELDS = ("npwp", "nik", "spse_user_id")
USER_ID_MAX = 100  # the spse_user_id column


def _digits(raw: str, *, what: str) -> str:
    """The digits of a typed number; ValidationError when it holds anything but digits, spaces, dots and dashes."""
    if not re.fullmatch(r"[0-9 .\-]+", raw):
        raise ValidationError(_l("%(what)s may hold only digits (dots, dashes and spaces are ignored).", what=what))
    return re.sub(r"[^0-9]", "", raw)


def _plausible_nik(digits: str) -> bool:
    """A NIK's shape: 16 digits, a province code 11-94, a birth date DDMMYY (women's day + 40), a serial > 0."""
    province, day, month, serial = int(digits[:2]), int(digits[6:8]), int(digits[8:10]), int(digits[12:])
    return 11 <= province <= 94 and (1 <= day <= 31 or 41 <= day <= 71) and 1 <= month <= 12 and serial > 0


def normalise_nik(raw: str | None) -> str | None:
    """A NIK (Nomor Induk Kependudukan) as stored: its 16 digits; None when blank. ValidationError otherwise."""
    if raw is None or not raw.strip():
        return None
    digits = _digits(raw.strip(), what="NIK")
    if len(digits) != 16:
        raise ValidationError(_l("A NIK has 16 digits; %(count)d were given.", count=len(digits)))
    if not _plausible_nik(digits):
        raise ValidationError(_l("This is not a valid NIK: check the region code and the date of birth in it."))
    return digits


def normalise_npwp(raw: str | None) -> str | None:
    """An NPWP as stored, in its official written form; None when blank. ValidationError otherwise.

    15 digits (the form before 2024) are stored punctuated, ``01.234.567.8-901.000``, as LKPP and the tax card
    write them. 16 digits (the 2024 form: a person's NIK, or 0 and the old 15 digits for an organisation) are
    stored bare, as the tax office writes them; one that is not an organisation's must be a valid NIK.
    """
    if raw is None or not raw.strip():
        return None
    digits = _digits(raw.strip(), what="NPWP")
    if len(digits) == 15:
        if set(digits) == {"0"}:
            raise ValidationError(_l("This is not a valid NPWP."))
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}.{digits[8]}-{digits[9:12]}.{digits[12:]}"
    if len(digits) == 16:
        if digits.startswith("0") and set(digits) != {"0"}:
            return digits
        if not _plausible_nik(digits):
            raise ValidationError(_l("A 16-digit NPWP is the person's NIK (or 0 and the 15 digits of an "
                                     "organisation's NPWP); this one is neither."))
        return digits
    raise ValidationError(_l("An NPWP has 15 digits (or 16 since 2024); %(count)d were given.", count=len(digits)))


def normalise_user_id(raw: str | None) -> str | None:
    """An SPSE User ID as stored: trimmed, one line; None when blank."""
    text = " ".join((raw or "").split())
    if not text:
        return None
    if len(text) > USER_ID_MAX:
        raise ValidationError(_l("The SPSE User ID is longer than %(max)d characters.", max=USER_ID_MAX))
    return text


def set_identity(ticket: Ticket, *, actor: Staff, npwp: str | None, nik: str | None,
                 spse_user_id: str | None, at: datetime | None = None) -> TicketEvent | None:
    """Set the NPWP, NIK and SPSE User ID of the ticket's requester (blank clears one), from the ticket's page.

    Refuses (PermissionDenied) an officer who may not see the numbers whole (``privacy.can_see_identity``), and
    (ValidationError) a malformed number, before anything changes. Records ``identity_changed`` on the ticket
    and a ``personal_data.changed`` audit line, each naming the fields that changed, never their values. Returns
    None when nothing changed. Flushes, never commits.
    """
    from . import audit, tickets
    from .privacy import can_see_identity

    if not can_see_identity(actor):
        raise PermissionDenied(_l("Your role may not change the requester's identity numbers."))
    wanted = {"npwp": normalise_npwp(npwp), "nik": normalise_nik(nik), "spse_user_id": normalise_user_id(spse_user_id)}
    requester = ticket.requester
    changed = [field for field in IDENTITY_FIELDS if getattr(requester, field) != wanted[field]]
    if not changed:
        return None
    for field in changed:
        setattr(requester, field, wanted[field])
    event = tickets.record_event(ticket, "identity_changed", actor=actor, at=as_utc(at) if at else utcnow(),
                            data={"fields": changed, "requester_id": requester.id})
    audit.record("personal_data.changed", target=ticket, actor=actor, fields=changed, requester_id=requester.id)
    log.info("%s: requester %s identity changed (%s)", ticket.ref, requester.id, ", ".join(changed))
    return event
