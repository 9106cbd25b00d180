"""The Indonesian working calendar of one office (DESIGN.md §5).

A working day is a weekday with office hours, minus national holidays (libur nasional) and collective leave
(cuti bersama) from the ``holidays`` library — both the ``public`` and the ``government`` category — with an
override table applied on top. Office hours are half-open ``[opening, closing)`` in the office's time zone.

Pure: no database, no Flask. ``helpdesk.calendars.calendar_for`` builds one for an office.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

import holidays

# Kinds of override row. "kerja" gives a day back as a working day; the others take one away.
WORKING_OVERRIDE = "kerja"
NON_WORKING_KINDS = ("libur_nasional", "cuti_bersama", "libur_daerah")
MAX_SEARCH_DAYS = 400  # a calendar with no working day for over a year is a configuration error


@dataclass(frozen=True)
class Override:
    """One row of the override table, as the calendar needs it."""

    day: date
    kind: str
    name: str
    source: str = ""
    office_specific: bool = False


@dataclass(frozen=True)
class DayOff:
    """Why a day is not a working day."""

    day: date
    kind: str  # weekend, libur_nasional, cuti_bersama, libur_daerah
    name: str
    source: str


class CalendarError(ValueError):
    """The calendar cannot answer: bad hours, unknown zone, or no working day within a year."""


@lru_cache(maxsize=4)
def _library_days(category: str) -> holidays.HolidayBase:
    """Indonesia's days of one ``holidays`` category, names in Indonesian; years load lazily on lookup."""
    return holidays.country_holidays("ID", categories=(category,), language="id")


def library_version() -> str:
    """The version of the ``holidays`` data the calendar uses."""
    return holidays.__version__


def _parse_hours(hours: Mapping[str, object]) -> dict[int, tuple[time, time] | None]:
    parsed: dict[int, tuple[time, time] | None] = {}
    for weekday in range(1, 8):
        window = hours.get(str(weekday))
        if not window:
            parsed[weekday] = None
            continue
        try:
            opening, closing = (time.fromisoformat(str(part)) for part in window)  # type: ignore[union-attr]
        except (TypeError, ValueError) as exc:
            raise CalendarError(f"office hours for ISO weekday {weekday} are not [HH:MM, HH:MM]: {window!r}") from exc
        if closing <= opening:
            raise CalendarError(f"office hours for ISO weekday {weekday} close before they open: {window!r}")
        parsed[weekday] = (opening, closing)
    return parsed


class WorkingCalendar:
    """Working days and office hours of one office, in its own time zone."""

    def __init__(self, *, tz: str, hours: Mapping[str, object], overrides: Iterable[Override] = (),
                 staffed_on_cuti_bersama: bool = False) -> None:
        try:
            self.tz = ZoneInfo(tz)
        except (KeyError, ValueError) as exc:
            raise CalendarError(f"unknown time zone {tz!r}") from exc
        self.hours = _parse_hours(hours)
        if not any(self.hours.values()):
            raise CalendarError("the office has no opening hours on any weekday")
        self.staffed_on_cuti_bersama = staffed_on_cuti_bersama
        # An office's own row for a day wins over a national row for the same day.
        ordered = sorted(overrides, key=lambda o: o.office_specific)
        self.overrides: dict[date, Override] = {o.day: o for o in ordered}
        digest = hashlib.sha256(
            repr(sorted((o.day, o.kind, o.office_specific) for o in self.overrides.values())).encode()
        ).hexdigest()[:8]
        self.version = f"holidays-{library_version()};overrides-{len(self.overrides)}-{digest}"
        if staffed_on_cuti_bersama:
            self.version += ";staffed-cb"

    # -- days -------------------------------------------------------------------------------------------

    def day_off(self, day: date) -> DayOff | None:
        """Why ``day`` is not a working day, or None when it is one."""
        override = self.overrides.get(day)
        if override is not None:
            if override.kind == WORKING_OVERRIDE:
                return None
            # An office staffed on cuti bersama works on an added cuti bersama day too; weekends still apply.
            if not (override.kind == "cuti_bersama" and self.staffed_on_cuti_bersama):
                return DayOff(day, override.kind, override.name, override.source)
        else:
            public = _library_days("public").get(day)
            if public is not None:
                return DayOff(day, "libur_nasional", public, f"holidays {library_version()}")
            collective = _library_days("government").get(day)
            if collective is not None and not self.staffed_on_cuti_bersama:
                return DayOff(day, "cuti_bersama", collective, f"holidays {library_version()}")
        if self.hours[day.isoweekday()] is None:
            return DayOff(day, "weekend", day.strftime("%A"), "")
        return None

    def is_working_day(self, day: date) -> bool:
        """Whether the office is open on ``day``."""
        return self.day_off(day) is None

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing time of ``day`` as aware local datetimes, or None on a non-working day."""
        if not self.is_working_day(day):
            return None
        # A weekend day given back by an override ("kerja") keeps Monday's hours.
        hours = self.hours[day.isoweekday()] or next(h for h in self.hours.values() if h)
        opening, closing = hours
        return datetime.combine(day, opening, self.tz), datetime.combine(day, closing, self.tz)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        for offset in range(1, MAX_SEARCH_DAYS):
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise CalendarError(f"no working day within {MAX_SEARCH_DAYS} days after {day}")

    # -- moments ----------------------------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the office's zone; naive datetimes are refused."""
        if moment.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime")
        return moment.astimezone(self.tz)

    def next_opening(self, moment: datetime) -> datetime:
        """``moment`` itself when the office is open then, else the next opening time (local, aware)."""
        at = self.local(moment)
        day = at.date()
        for _ in range(MAX_SEARCH_DAYS):
            window = self.window(day)
            if window is not None:
                opening, closing = window
                if at < opening:
                    return opening
                if at < closing:
                    return at
            day += timedelta(days=1)
        raise CalendarError(f"no opening within {MAX_SEARCH_DAYS} days after {moment.isoformat()}")

    def follow_up_due(self, received: datetime, *, working_days: int = 1) -> datetime:
        """The follow-up deadline for something received at ``received`` (DESIGN.md §5).

        The clock starts at the next opening (or at once, during office hours); the deadline is the same local
        clock time ``working_days`` working days later, kept inside that day's office hours.
        """
        if working_days < 1:
            raise ValueError("working_days must be at least 1")
        start = self.next_opening(received)
        day = start.date()
        for _ in range(working_days):
            day = self.next_working_day(day)
        window = self.window(day)
        assert window is not None  # next_working_day returns working days only
        opening, closing = window
        candidate = datetime.combine(day, start.time().replace(tzinfo=None), self.tz)
        return min(max(candidate, opening), closing)

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of office hours after ``start`` (local, aware).

        Time before the next opening does not count; zero seconds gives the next opening (or ``start`` itself
        during office hours). Negative seconds are refused.
        """
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        at = self.next_opening(start)
        remaining = float(seconds)
        for _ in range(MAX_SEARCH_DAYS * 2):
            window = self.window(at.date())
            assert window is not None  # next_opening returns a moment inside a working day's hours
            available = (window[1] - at).total_seconds()
            if remaining < available:
                return at + timedelta(seconds=remaining)
            remaining -= available
            if remaining == 0:
                return window[1]
            at = self.next_opening(window[1])
        raise CalendarError(f"no end within {MAX_SEARCH_DAYS} days after {start.isoformat()}")

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Office-hours seconds between two moments; negative when ``end`` is before ``start``."""
        if end < start:
            return -self.working_seconds(end, start)
        a, b = self.local(start), self.local(end)
        total = 0.0
        day = a.date()
        while day <= b.date():
            window = self.window(day)
            if window is not None:
                opening, closing = window
                overlap = (min(b, closing) - max(a, opening)).total_seconds()
                if overlap > 0:
                    total += overlap
            day += timedelta(days=1)
        return total

    def days_off(self, year: int) -> list[DayOff]:
        """Every non-working weekday of ``year`` with its reason, in date order."""
        day, result = date(year, 1, 1), []
        while day.year == year:
            off = self.day_off(day)
            if off is not None and off.kind != "weekend":
                result.append(off)
            day += timedelta(days=1)
        return result
