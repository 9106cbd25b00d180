"""The Indonesian working calendar of one office (DESIGN.md §5).

A working day is a weekday with office hours, minus national holidays (libur nasional) and collective leave
(cuti bersama) from the ``holidays`` library — both the ``public`` and the ``government`` category — with an
override table applied on top. Office hours are half-open ``[opening, closing)`` in the office's time zone.
During the office's Ramadan periods a separate hours profile gives the hours; it changes when the office opens
and closes, never which days are working days.

Pure: no database, no Flask. ``helpdesk.calendars.calendar_for`` builds one for an office.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
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


# Where a day off comes from (DayOff.origin).
ORIGIN_LIBRARY = "library"      # the ``holidays`` package
ORIGIN_NATIONAL = "national"    # a national row of the override table
ORIGIN_OFFICE = "office"        # the office's own row of the override table
ORIGIN_WEEKEND = "weekend"      # a weekday without office hours
HOURS_NORMAL = "normal"
HOURS_RAMADAN = "ramadan"


@dataclass(frozen=True)
class DayOff:
    """Why a day is not a working day."""

    day: date
    kind: str  # weekend, libur_nasional, cuti_bersama, libur_daerah
    name: str
    source: str
    origin: str = ""  # ORIGIN_LIBRARY, ORIGIN_NATIONAL, ORIGIN_OFFICE or ORIGIN_WEEKEND


@dataclass(frozen=True)
class DayInfo:
    """One day of a year as the office keeps it: open (with its hours and profile) or off (with why)."""

    day: date
    off: DayOff | None
    hours: tuple[time, time] | None  # local opening and closing; None on a day off
    profile: str  # HOURS_NORMAL or HOURS_RAMADAN (the profile in force on that date, even on a day off)

    @property
    def working(self) -> bool:
        """Whether the office is open on this day."""
        return self.off is None


class CalendarError(ValueError):
    """The calendar cannot answer: bad hours, unknown zone, or no working day within a year."""


@lru_cache(maxsize=4)
def _library_days(category: str) -> holidays.HolidayBase:
    """Indonesia's days of one ``holidays`` category, names in Indonesian; years load lazily on lookup."""
    return holidays.country_holidays("ID", categories=(category,), language="id")


def library_version() -> str:
    """The version of the ``holidays`` data the calendar uses."""
    return holidays.__version__


def _parse_hours(hours: Mapping[str, object], what: str = "office hours") -> dict[int, tuple[time, time] | None]:
    """ISO weekday -> (opening, closing) from the stored ``{"1": ["07:30", "16:00"], ...}`` shape."""
    parsed: dict[int, tuple[time, time] | None] = {}
    for weekday in range(1, 8):
        window = hours.get(str(weekday))
        if not window:
            parsed[weekday] = None
            continue
        try:
            opening, closing = (time.fromisoformat(str(part)) for part in window)  # type: ignore[union-attr]
        except (TypeError, ValueError) as exc:
            raise CalendarError(f"{what} for ISO weekday {weekday} are not [HH:MM, HH:MM]: {window!r}") from exc
        if closing <= opening:
            raise CalendarError(f"{what} for ISO weekday {weekday} close before they open: {window!r}")
        parsed[weekday] = (opening, closing)
    return parsed


def _parse_periods(periods: Iterable[tuple[date, date]]) -> tuple[tuple[date, date], ...]:
    """The periods as sorted ``(start, end)`` date pairs; a period ending before it starts is refused."""
    parsed = []
    for start, end in periods:
        if not (isinstance(start, date) and isinstance(end, date)):
            raise CalendarError(f"a Ramadan period needs two dates, not {(start, end)!r}")
        if end < start:
            raise CalendarError(f"the Ramadan period {start} to {end} ends before it starts")
        parsed.append((start, end))
    return tuple(sorted(parsed))


class WorkingCalendar:
    """Working days and office hours of one office, in its own time zone."""

    def __init__(self, *, tz: str, hours: Mapping[str, object], overrides: Iterable[Override] = (),
                 staffed_on_cuti_bersama: bool = False, ramadan_hours: Mapping[str, object] | None = None,
                 ramadan_periods: Iterable[tuple[date, date]] = ()) -> None:
        """Build the calendar; bad hours, an unknown zone or a period ending before it starts raise CalendarError.

        ``ramadan_hours`` has the shape of ``hours``; on a date inside one of ``ramadan_periods`` (inclusive
        ``(start, end)`` pairs) it gives that weekday's hours, and a weekday it leaves unset keeps its normal
        hours. It never opens or closes a day: which days are working days does not depend on Ramadan.
        """
        try:
            self.tz = ZoneInfo(tz)
        except (KeyError, ValueError) as exc:
            raise CalendarError(f"unknown time zone {tz!r}") from exc
        self.hours = _parse_hours(hours)
        if not any(self.hours.values()):
            raise CalendarError("the office has no opening hours on any weekday")
        ramadan = _parse_hours(ramadan_hours or {}, "Ramadan hours")
        self.ramadan_hours = {weekday: ramadan[weekday] or self.hours[weekday] for weekday in self.hours}
        self.ramadan_periods = _parse_periods(ramadan_periods)
        self.staffed_on_cuti_bersama = staffed_on_cuti_bersama
        # An office's own row for a day wins over a national row for the same day.
        ordered = sorted(overrides, key=lambda o: o.office_specific)
        self.overrides: dict[date, Override] = {o.day: o for o in ordered}
        self.version = self._version()

    def _version(self) -> str:
        """A short tag naming everything that decides deadlines; tickets store it (Ticket.calendar_version).

        Overrides, office hours and the Ramadan profile each change it. It stays well below the 80 characters
        of the ticket column.
        """
        digest = hashlib.sha256(
            repr(sorted((o.day, o.kind, o.office_specific) for o in self.overrides.values())).encode()
        ).hexdigest()[:8]
        version = f"holidays-{library_version()};overrides-{len(self.overrides)}-{digest}"
        # A Ramadan profile without periods, or equal to the normal hours, changes nothing and is left out.
        ramadan = bool(self.ramadan_periods) and self.ramadan_hours != self.hours
        hours: list[object] = [sorted(self.hours.items())]
        if ramadan:
            hours += [sorted(self.ramadan_hours.items()), self.ramadan_periods]
        version += ";hours-" + hashlib.sha256(repr(hours).encode()).hexdigest()[:8]
        if ramadan:
            version += ";ramadan"
        if self.staffed_on_cuti_bersama:
            version += ";staffed-cb"
        return version

    # -- days -------------------------------------------------------------------------------------------

    def day_off(self, day: date) -> DayOff | None:
        """Why ``day`` is not a working day, or None when it is one."""
        override = self.overrides.get(day)
        if override is not None:
            if override.kind == WORKING_OVERRIDE:
                return None
            # An office staffed on cuti bersama works on an added cuti bersama day too; weekends still apply.
            if not (override.kind == "cuti_bersama" and self.staffed_on_cuti_bersama):
                origin = ORIGIN_OFFICE if override.office_specific else ORIGIN_NATIONAL
                return DayOff(day, override.kind, override.name, override.source, origin)
        else:
            public = _library_days("public").get(day)
            if public is not None:
                return DayOff(day, "libur_nasional", public, f"holidays {library_version()}", ORIGIN_LIBRARY)
            collective = _library_days("government").get(day)
            if collective is not None and not self.staffed_on_cuti_bersama:
                return DayOff(day, "cuti_bersama", collective, f"holidays {library_version()}", ORIGIN_LIBRARY)
        if self.hours[day.isoweekday()] is None:
            return DayOff(day, "weekend", day.strftime("%A"), "", ORIGIN_WEEKEND)
        return None

    def is_working_day(self, day: date) -> bool:
        """Whether the office is open on ``day``."""
        return self.day_off(day) is None

    def in_ramadan(self, day: date) -> bool:
        """Whether ``day`` falls inside one of the office's Ramadan periods (inclusive)."""
        return any(start <= day <= end for start, end in self.ramadan_periods)

    def hours_on(self, day: date) -> tuple[time, time]:
        """The local opening and closing time the office keeps on ``day`` if it is open then.

        The Ramadan profile applies inside a Ramadan period. A weekend day given back by an override ("kerja")
        keeps the first open weekday's hours (Monday's, normally) of the profile in force.
        """
        profile = self.ramadan_hours if self.in_ramadan(day) else self.hours
        return profile[day.isoweekday()] or next(h for h in profile.values() if h)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing time of ``day`` as aware local datetimes, or None on a non-working day."""
        if not self.is_working_day(day):
            return None
        opening, closing = self.hours_on(day)
        return datetime.combine(day, opening, self.tz), datetime.combine(day, closing, self.tz)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        for offset in range(1, MAX_SEARCH_DAYS):
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise CalendarError(f"no working day within {MAX_SEARCH_DAYS} days after {day}")

    def previous_working_day(self, day: date) -> date:
        """The last working day strictly before ``day``."""
        for offset in range(1, MAX_SEARCH_DAYS):
            candidate = day - timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise CalendarError(f"no working day within {MAX_SEARCH_DAYS} days before {day}")

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

    def last_open_moment(self, moment: datetime) -> datetime:
        """``moment`` itself during office hours, else the last closing time before it (local, aware)."""
        at = self.local(moment)
        day = at.date()
        for _ in range(MAX_SEARCH_DAYS):
            window = self.window(day)
            if window is not None:
                opening, closing = window
                if at >= closing:
                    return closing
                if at >= opening:
                    return at
            day -= timedelta(days=1)
            at = datetime.combine(day, time.max, self.tz)
        raise CalendarError(f"no opening within {MAX_SEARCH_DAYS} days before {moment.isoformat()}")

    def working_days_before(self, moment: datetime, days: int) -> datetime:
        """The moment ``days`` working days before ``moment`` (local, aware): what was received then is exactly
        ``days`` working days old at ``moment``.

        The reverse of ``follow_up_due``: ``moment`` is first taken back to the last moment the office was open
        (no working time passes outside office hours), then moved ``days`` working days back at the same local
        clock time, kept inside that day's office hours. At 10:00 on a Monday one working day before is Friday
        10:00; on a Saturday it is Thursday at Friday's closing time, kept to Thursday's closing.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        at = self.last_open_moment(moment)
        if days == 0:
            return at
        day = at.date()
        for _ in range(days):
            day = self.previous_working_day(day)
        window = self.window(day)
        assert window is not None  # previous_working_day returns working days only
        opening, closing = window
        candidate = datetime.combine(day, at.time().replace(tzinfo=None), self.tz)
        return min(max(candidate, opening), closing)

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

    def describe_year(self, year: int) -> list[DayInfo]:
        """Every day of ``year``, in order: open with its hours and profile, or off with kind, name and source."""
        day, result = date(year, 1, 1), []
        while day.year == year:
            off = self.day_off(day)
            profile = HOURS_RAMADAN if self.in_ramadan(day) else HOURS_NORMAL
            result.append(DayInfo(day, off, None if off else self.hours_on(day), profile))
            day += timedelta(days=1)
        return result
