"""Calendar administration: holiday overrides, office hours, the Ramadan profile, cuti bersama, yearly reviews.

Every verb validates its input, flushes and never commits (the caller owns the transaction), drops the cached
calendars (helpdesk.calendars.forget_calendars) and logs who changed what. A change applies to tickets received
from then on: each ticket keeps the deadline computed when it was opened, and its ``calendar_version``.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from escalation.calendar import NON_WORKING_KINDS, WORKING_OVERRIDE

from .calendars import RAMADAN_PROFILE, forget_calendars, review_for
from .errors import ValidationError
from .extensions import db
from .models import CalendarReview, HolidayOverride, HoursPeriod, Office, Staff
from .timeutil import utcnow

logger = logging.getLogger(__name__)

OVERRIDE_KINDS = (*NON_WORKING_KINDS, WORKING_OVERRIDE)
KIND_LABELS = {
    "libur_nasional": _l("National holiday"),
    "cuti_bersama": _l("Collective leave (cuti bersama)"),
    "libur_daerah": _l("Regional holiday or office closure"),
    "kerja": _l("Working day"),
    "weekend": _l("Weekend"),
}
WEEKDAY_LABELS = {
    1: _l("Monday"), 2: _l("Tuesday"), 3: _l("Wednesday"), 4: _l("Thursday"), 5: _l("Friday"),
    6: _l("Saturday"), 7: _l("Sunday"),
}
WEEKDAYS = tuple(WEEKDAY_LABELS)
MAX_NAME = 200  # HolidayOverride.name
MAX_SOURCE = 300  # HolidayOverride.source_ref, HoursPeriod.source_ref
# Ramadan has 29 or 30 days; a longer period is a typing error (a wrong month), not a longer fast.
MAX_RAMADAN_DAYS = 35
FIRST_YEAR, LAST_YEAR = 2000, 2100
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

Hours = Mapping[str, Sequence[str] | None]


def _who(actor: Staff | None) -> str:
    return actor.email if actor is not None else "system"


def _scope(office: Office | None) -> str:
    return f"office {office.code}" if office is not None else "national"


# -- overrides ----------------------------------------------------------------------------------------------------

def add_override(*, day: date, kind: str, name: str, source_ref: str, office: Office | None,
                 actor: Staff | None) -> HolidayOverride:
    """Add a day off (or give a day back, kind ``kerja``) for ``office``, or nationally when ``office`` is None.

    National rows need the decree or announcement they come from; a regional holiday belongs to one office;
    one row per day and scope. Raises ValidationError. Flushes, never commits.
    """
    name, source_ref = (name or "").strip(), (source_ref or "").strip()
    if kind not in OVERRIDE_KINDS:
        raise ValidationError(_l("Unknown kind of day %(kind)s.", kind=repr(kind)))
    if not isinstance(day, date) or not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValidationError(_l("Give a date between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR))
    if not name:
        raise ValidationError(_l("Give the day a name (for example Hari Jadi Kabupaten)."))
    if len(name) > MAX_NAME or len(source_ref) > MAX_SOURCE:
        raise ValidationError(_l("The name is limited to %(name)d characters and the source to %(source)d.",
                                 name=MAX_NAME, source=MAX_SOURCE))
    if office is None and not source_ref:
        raise ValidationError(_l("A national change needs its source: the decree (SKB, Keppres) or the "
                                 "announcement it comes from."))
    if office is None and kind == "libur_daerah":
        raise ValidationError(_l("A regional holiday or office closure belongs to one office, not to all."))
    existing = _override_on(day, office)
    if existing is not None:
        raise ValidationError(_l("%(day)s already has an entry %(scope)s (%(name)s). Remove it first to replace it.",
                                 day=day.isoformat(), name=existing.name,
                                 scope=_l("for this office") if office is not None else _l("for all offices")))
    row = HolidayOverride(day=day, kind=kind, name=name, source_ref=source_ref,
                          office_id=office.id if office is not None else None,
                          created_by_id=actor.id if actor is not None else None)
    db.session.add(row)
    db.session.flush()
    forget_calendars()
    logger.info("calendar: %s added %s override %s %s %r (source %r)", _who(actor), _scope(office), day, kind,
                name, source_ref)
    return row


def _override_on(day: date, office: Office | None) -> HolidayOverride | None:
    """The override row of ``day`` in exactly this scope."""
    scope = HolidayOverride.office_id.is_(None) if office is None else HolidayOverride.office_id == office.id
    return db.session.scalar(select(HolidayOverride).where(HolidayOverride.day == day, scope).limit(1))


def remove_override(row: HolidayOverride, *, actor: Staff | None) -> None:
    """Delete an override row; the day goes back to what the `holidays` library says. Flushes, never commits."""
    logger.info("calendar: %s removed %s override %s %s %r (source %r)", _who(actor),
                "national" if row.office_id is None else f"office #{row.office_id}", row.day, row.kind, row.name,
                row.source_ref)
    db.session.delete(row)
    db.session.flush()
    forget_calendars()


def overrides_for(office: Office, year: int) -> list[HolidayOverride]:
    """The national rows and the office's own rows of ``year``, by day (national first on the same day)."""
    return list(db.session.scalars(
        select(HolidayOverride)
        .where(or_(HolidayOverride.office_id == office.id, HolidayOverride.office_id.is_(None)),
               HolidayOverride.day.between(date(year, 1, 1), date(year, 12, 31)))
        .order_by(HolidayOverride.day, HolidayOverride.office_id.is_not(None), HolidayOverride.id)))


# -- hours --------------------------------------------------------------------------------------------------------

def _clock(value: object, weekday: int) -> str:
    """``"7:30"`` or ``"07:30"`` as ``"07:30"``; anything else is a ValidationError naming the weekday."""
    match = _TIME.match(str(value).strip())
    if match is None:
        raise ValidationError(_l("%(day)s: %(value)s is not a time of day (HH:MM).",
                                 day=WEEKDAY_LABELS[weekday], value=repr(str(value)[:20])))
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def clean_hours(hours: Hours) -> dict[str, list[str] | None]:
    """The stored shape ``{"1": ["07:30", "16:00"], ..., "7": None}`` from a weekday -> [open, close] mapping.

    A weekday left out, None, or with two blank times is closed. Raises ValidationError on a half-filled day,
    a time that is not HH:MM, or a closing time not after the opening time.
    """
    unknown = set(hours) - {str(weekday) for weekday in WEEKDAYS}
    if unknown:
        raise ValidationError(_l("Unknown weekday %(day)s: use 1 (Monday) to 7 (Sunday).", day=min(unknown)))
    cleaned: dict[str, list[str] | None] = {}
    for weekday in WEEKDAYS:
        window = hours.get(str(weekday))
        parts = [str(part).strip() for part in window] if window else []
        if not any(parts):
            cleaned[str(weekday)] = None
            continue
        if len(parts) != 2 or not all(parts):
            raise ValidationError(_l("%(day)s: give both the opening and the closing time, or neither when the "
                                     "office is closed.", day=WEEKDAY_LABELS[weekday]))
        opening, closing = _clock(parts[0], weekday), _clock(parts[1], weekday)
        if closing <= opening:
            raise ValidationError(_l("%(day)s: the closing time must be after the opening time.",
                                     day=WEEKDAY_LABELS[weekday]))
        cleaned[str(weekday)] = [opening, closing]
    return cleaned


def set_office_hours(office: Office, hours: Hours, *, actor: Staff | None) -> None:
    """Replace the office's hours per weekday (see clean_hours); at least one weekday must be open.

    Ramadan hours of a weekday that is now closed are dropped. Raises ValidationError. Flushes, never commits.
    """
    cleaned = clean_hours(hours)
    if not any(cleaned.values()):
        raise ValidationError(_l("The office must be open on at least one weekday."))
    office.hours = cleaned
    if office.ramadan_hours:
        # A weekday the office no longer opens keeps no Ramadan hours (set_ramadan_hours refuses those too).
        ramadan = {day: window if cleaned.get(day) else None for day, window in office.ramadan_hours.items()}
        office.ramadan_hours = ramadan if any(ramadan.values()) else None
    db.session.flush()
    forget_calendars()
    logger.info("calendar: %s set the hours of office %s to %s", _who(actor), office.code, cleaned)


def set_ramadan_hours(office: Office, hours: Hours | None, *, actor: Staff | None) -> None:
    """Set the office's Ramadan hours (shape of the normal hours), or remove them with None or no open weekday.

    A weekday left closed keeps its normal hours during Ramadan; a weekday the office is normally closed on gets
    no Ramadan hours. Raises ValidationError. Flushes, never commits.
    """
    cleaned = clean_hours(hours or {})
    for weekday in WEEKDAYS:
        if cleaned[str(weekday)] and not (office.hours or {}).get(str(weekday)):
            raise ValidationError(_l("%(day)s: the office is closed on that day, so it has no Ramadan hours.",
                                     day=WEEKDAY_LABELS[weekday]))
    office.ramadan_hours = cleaned if any(cleaned.values()) else None
    db.session.flush()
    forget_calendars()
    logger.info("calendar: %s set the Ramadan hours of office %s to %s", _who(actor), office.code,
                office.ramadan_hours)


def add_period(office: Office, *, start: date, end: date, source_ref: str = "", actor: Staff | None,
               profile: str = RAMADAN_PROFILE) -> HoursPeriod:
    """Add dates (inclusive) on which the office keeps its Ramadan hours.

    A period starts on or before its end, lasts at most MAX_RAMADAN_DAYS and overlaps none of the office's
    other periods. Raises ValidationError. Flushes, never commits.
    """
    source_ref = (source_ref or "").strip()
    if profile != RAMADAN_PROFILE:
        raise ValidationError(_l("Unknown hours profile %(profile)s.", profile=repr(profile)))
    if not (isinstance(start, date) and isinstance(end, date)):
        raise ValidationError(_l("Give the first and the last day of the period."))
    if end < start:
        raise ValidationError(_l("The period ends before it starts."))
    if (end - start).days + 1 > MAX_RAMADAN_DAYS:
        raise ValidationError(_l("A Ramadan period lasts at most %(n)d days; check the dates.", n=MAX_RAMADAN_DAYS))
    if not FIRST_YEAR <= start.year <= LAST_YEAR:
        raise ValidationError(_l("Give a date between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR))
    if len(source_ref) > MAX_SOURCE:
        raise ValidationError(_l("The source is limited to %(n)d characters.", n=MAX_SOURCE))
    clash = db.session.scalar(select(HoursPeriod).where(
        HoursPeriod.office_id == office.id, HoursPeriod.profile == profile,
        HoursPeriod.start <= end, HoursPeriod.end >= start).limit(1))
    if clash is not None:
        raise ValidationError(_l("The period overlaps the one from %(start)s to %(end)s.",
                                 start=clash.start.isoformat(), end=clash.end.isoformat()))
    period = HoursPeriod(office_id=office.id, profile=profile, start=start, end=end, source_ref=source_ref,
                         created_by_id=actor.id if actor is not None else None)
    db.session.add(period)
    db.session.flush()
    forget_calendars()
    logger.info("calendar: %s added a %s period %s to %s for office %s (source %r)", _who(actor), profile, start,
                end, office.code, source_ref)
    return period


def remove_period(period: HoursPeriod, *, actor: Staff | None) -> None:
    """Delete an hours period. Flushes, never commits."""
    logger.info("calendar: %s removed the %s period %s to %s of office #%s", _who(actor), period.profile,
                period.start, period.end, period.office_id)
    db.session.delete(period)
    db.session.flush()
    forget_calendars()


def periods_for(office: Office) -> list[HoursPeriod]:
    """The office's Ramadan periods, newest first."""
    return list(db.session.scalars(select(HoursPeriod).where(
        HoursPeriod.office_id == office.id, HoursPeriod.profile == RAMADAN_PROFILE)
        .order_by(HoursPeriod.start.desc())))


def set_staffed_on_cuti_bersama(office: Office, staffed: bool, *, actor: Staff | None) -> None:
    """Whether the office is staffed on cuti bersama (those days then count as working days). Flushes."""
    office.staffed_on_cuti_bersama = bool(staffed)
    db.session.flush()
    forget_calendars()
    logger.info("calendar: %s set office %s staffed on cuti bersama: %s", _who(actor), office.code, bool(staffed))


# -- reviews ------------------------------------------------------------------------------------------------------

def mark_reviewed(*, year: int, office: Office | None, note: str, actor: Staff | None) -> CalendarReview:
    """Record that ``year``'s dates were checked against the decrees, for ``office`` or nationally (None).

    Marking a year again updates the existing review (who, when, note). Raises ValidationError. Flushes.
    """
    note = (note or "").strip()
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationError(_l("Give a year between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR))
    review = review_for(year, office)
    if review is None:
        review = CalendarReview(year=year, office_id=office.id if office is not None else None)
        db.session.add(review)
    review.note = note
    review.reviewed_by_id = actor.id if actor is not None else None
    review.reviewed_at = utcnow()
    db.session.flush()
    forget_calendars()
    logger.info("calendar: %s marked %d reviewed (%s): %r", _who(actor), year, _scope(office), note)
    return review
