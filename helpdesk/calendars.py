"""Builds the working calendar of an office from its settings and the holiday override table."""
from __future__ import annotations

from flask import g, has_app_context
from sqlalchemy import or_, select

from escalation.calendar import Override, WorkingCalendar

from .extensions import db
from .models import HolidayOverride, Office


def calendar_for(office: Office) -> WorkingCalendar:
    """The office's calendar: its zone and hours, `holidays` data, national and office overrides.

    Cached for the current app context (one request, one job run), so a page of tickets loads overrides once.
    """
    cache = g.setdefault("_calendars", {}) if has_app_context() else {}
    if office.id not in cache:
        rows = db.session.scalars(select(HolidayOverride).where(
            or_(HolidayOverride.office_id == office.id, HolidayOverride.office_id.is_(None)))).all()
        cache[office.id] = WorkingCalendar(
            tz=office.timezone,
            hours=office.hours,
            overrides=[Override(r.day, r.kind, r.name, r.source_ref, r.office_id is not None) for r in rows],
            staffed_on_cuti_bersama=office.staffed_on_cuti_bersama,
        )
    return cache[office.id]


def forget_calendars() -> None:
    """Drop cached calendars after office hours or overrides changed."""
    if has_app_context():
        g.pop("_calendars", None)
