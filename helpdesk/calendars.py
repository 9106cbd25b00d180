"""Builds the working calendar of an office from its settings and the holiday override table.

Also answers whether the calendar of a year has been reviewed against the decrees (CalendarReview).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import g, has_app_context
from sqlalchemy import or_, select

from escalation.calendar import Override, WorkingCalendar

from .extensions import db
from .models import CalendarReview, HolidayOverride, HoursPeriod, Office

RAMADAN_PROFILE = "ramadan"
# From this day of the year on, the admin page asks for next year's dates to be reviewed: the SKB on next year's
# holidays and cuti bersama is usually signed in September or October.
REVIEW_NEXT_YEAR_FROM = (10, 1)


def build_calendar(office: Office, *, tz: str | None = None) -> WorkingCalendar:
    """The office's calendar, freshly loaded (no cache); ``tz`` applies it in another IANA zone.

    Raises escalation.calendar.CalendarError when the stored hours or the zone are unusable.
    """
    rows = db.session.scalars(select(HolidayOverride).where(
        or_(HolidayOverride.office_id == office.id, HolidayOverride.office_id.is_(None)))).all()
    periods = db.session.scalars(select(HoursPeriod).where(
        HoursPeriod.office_id == office.id, HoursPeriod.profile == RAMADAN_PROFILE)).all()
    return WorkingCalendar(
        tz=tz or office.timezone,
        hours=office.hours,
        overrides=[Override(r.day, r.kind, r.name, r.source_ref, r.office_id is not None) for r in rows],
        staffed_on_cuti_bersama=office.staffed_on_cuti_bersama,
        ramadan_hours=office.ramadan_hours,
        ramadan_periods=[(p.start, p.end) for p in periods],
    )


def calendar_for(office: Office) -> WorkingCalendar:
    """The office's calendar: its zone and hours, Ramadan profile, `holidays` data, national and office overrides.

    Cached for the current app context (one request, one job run), so a page of tickets loads overrides once.
    """
    cache = g.setdefault("_calendars", {}) if has_app_context() else {}
    if office.id not in cache:
        cache[office.id] = build_calendar(office)
    return cache[office.id]


def forget_calendars() -> None:
    """Drop cached calendars after office hours or overrides changed."""
    if has_app_context():
        g.pop("_calendars", None)


# -- reviews ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReviewStatus:
    """Whether this year's and next year's dates were reviewed, for one office, on one day."""

    today: date
    current: CalendarReview | None  # the review covering today's year (the office's own, else the national one)
    next: CalendarReview | None  # the review covering next year

    @property
    def year(self) -> int:
        """The current year."""
        return self.today.year

    @property
    def next_year(self) -> int:
        """The year after the current one."""
        return self.today.year + 1

    @property
    def next_due(self) -> bool:
        """Next year is unreviewed and it is 1 October or later."""
        return self.next is None and (self.today.month, self.today.day) >= REVIEW_NEXT_YEAR_FROM

    @property
    def current_due(self) -> bool:
        """The current year is unreviewed."""
        return self.current is None

    @property
    def warning(self) -> bool:
        """Whether the admin page should warn."""
        return self.current_due or self.next_due


def review_for(year: int, office: Office | None) -> CalendarReview | None:
    """The review row of ``year`` for exactly this scope: the office's own, or the national one (office None)."""
    scope = CalendarReview.office_id.is_(None) if office is None else CalendarReview.office_id == office.id
    return db.session.scalar(select(CalendarReview).where(CalendarReview.year == year, scope).limit(1))


def covering_review(year: int, office: Office) -> CalendarReview | None:
    """The review that covers ``year`` for ``office``: its own if there is one, else the national one."""
    return review_for(year, office) or review_for(year, None)


def review_status(office: Office, today: date) -> ReviewStatus:
    """Whether the current and next year of ``today`` were reviewed for ``office`` (own or national review)."""
    return ReviewStatus(today=today, current=covering_review(today.year, office),
                        next=covering_review(today.year + 1, office))
