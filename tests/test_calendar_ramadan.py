"""The Ramadan hours profile of the working calendar (DESIGN.md §5), pure: no database.

Ramadan 1447: 1 Ramadan = Thu 19 Feb 2026, Idul Fitri Sat 21 Mar 2026, so the period is 19 Feb to 20 Mar.
Ramadan hours as many local governments set them: Mon–Thu 08:00–15:00, Fri 08:00–15:30. Normal hours are the
default Mon–Thu 07:30–16:00, Fri 07:30–16:30. Holidays: `holidays` >= 0.99, public and government.
"""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from escalation.calendar import CalendarError, Override, WorkingCalendar
from helpdesk.models import DEFAULT_OFFICE_HOURS

RAMADAN_HOURS = {"1": ["08:00", "15:00"], "2": ["08:00", "15:00"], "3": ["08:00", "15:00"],
                 "4": ["08:00", "15:00"], "5": ["08:00", "15:30"], "6": None, "7": None}
RAMADAN_2026 = (date(2026, 2, 19), date(2026, 3, 20))


def calendar(tz: str = "Asia/Jakarta", *, ramadan_hours=RAMADAN_HOURS, periods=(RAMADAN_2026,),
             **kw) -> WorkingCalendar:
    return WorkingCalendar(tz=tz, hours=DEFAULT_OFFICE_HOURS, ramadan_hours=ramadan_hours,
                           ramadan_periods=periods, **kw)


def local(text: str, tz: str = "Asia/Jakarta") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


# -- windows ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "expected"), [
    ("2026-02-18", ("07:30", "16:00")),  # Wednesday before 1 Ramadan: normal hours
    ("2026-02-19", ("08:00", "15:00")),  # Thursday, 1 Ramadan: first day of the period
    ("2026-02-20", ("08:00", "15:30")),  # Friday in Ramadan
    ("2026-03-16", ("08:00", "15:00")),  # Monday in the last week
    ("2026-03-25", ("07:30", "16:00")),  # Wednesday after Lebaran and its cuti bersama: normal again
])
def test_window_uses_ramadan_hours_inside_the_period_only(day, expected):
    opening, closing = calendar().window(date.fromisoformat(day))
    assert (opening.strftime("%H:%M"), closing.strftime("%H:%M")) == expected
    assert opening.tzinfo == ZoneInfo("Asia/Jakarta")


def test_period_bounds_are_inclusive():
    cal = calendar(periods=[(date(2026, 3, 2), date(2026, 3, 2))])  # a single Monday
    assert cal.in_ramadan(date(2026, 3, 2))
    assert not cal.in_ramadan(date(2026, 3, 1)) and not cal.in_ramadan(date(2026, 3, 3))
    assert cal.window(date(2026, 3, 2))[0] == local("2026-03-02T08:00")
    assert cal.window(date(2026, 3, 3))[0] == local("2026-03-03T07:30")


def test_ramadan_hours_never_open_or_close_a_day():
    # Saturday in the Ramadan profile does not open Saturdays; Friday left unset keeps its normal hours.
    cal = calendar(ramadan_hours={"1": ["08:00", "15:00"], "6": ["08:00", "12:00"]})
    assert not cal.is_working_day(date(2026, 2, 21))
    assert cal.window(date(2026, 2, 20)) == (local("2026-02-20T07:30"), local("2026-02-20T16:30"))
    assert cal.window(date(2026, 2, 23)) == (local("2026-02-23T08:00"), local("2026-02-23T15:00"))
    # Holidays inside Ramadan stay holidays: 18 Mar cuti bersama, 19 Mar Nyepi, 20 Mar cuti bersama.
    assert [cal.is_working_day(date(2026, 3, d)) for d in (17, 18, 19, 20)] == [True, False, False, False]


def test_working_saturday_in_ramadan_keeps_monday_ramadan_hours():
    saturday = Override(date(2026, 2, 28), "kerja", "Pelayanan Sabtu", office_specific=True)
    cal = calendar(overrides=[saturday])
    assert cal.window(date(2026, 2, 28)) == (local("2026-02-28T08:00"), local("2026-02-28T15:00"))


def test_ramadan_hours_without_periods_change_nothing():
    plain = WorkingCalendar(tz="Asia/Jakarta", hours=DEFAULT_OFFICE_HOURS)
    no_periods = calendar(periods=())
    no_hours = calendar(ramadan_hours=None)
    for cal in (no_periods, no_hours):
        assert cal.window(date(2026, 2, 19)) == plain.window(date(2026, 2, 19))
        assert cal.version == plain.version


# -- deadlines ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("received", "expected", "why"), [
    ("2026-02-18T15:30", "2026-02-19T15:00", "day before Ramadan: the deadline moves to 1 Ramadan's 15:00 closing"),
    ("2026-02-19T07:45", "2026-02-20T08:00", "before the Ramadan opening: the clock starts at 08:00"),
    ("2026-02-19T15:00", "2026-02-23T08:00", "exactly at the Ramadan closing is after hours: starts Fri 08:00"),
    ("2026-02-20T15:15", "2026-02-23T15:00", "Friday 15:15 is inside Friday's 15:30; Monday closes at 15:00"),
    ("2026-02-20T15:45", "2026-02-24T08:00", "Friday after the Ramadan closing, though before the normal one"),
    ("2026-03-17T14:00", "2026-03-25T14:00", "last working day of Ramadan: Nyepi, Lebaran and cuti bersama follow"),
    ("2026-03-17T15:30", "2026-03-26T07:30", "after the Ramadan closing: starts Wed 25 Mar at the normal 07:30"),
])
def test_follow_up_due_with_ramadan_hours(received, expected, why):
    assert calendar().follow_up_due(local(received)) == local(expected), why


def test_same_receipt_without_ramadan_profile_is_due_later_in_the_day():
    plain = WorkingCalendar(tz="Asia/Jakarta", hours=DEFAULT_OFFICE_HOURS)
    assert plain.follow_up_due(local("2026-02-18T15:30")) == local("2026-02-19T15:30")
    assert plain.follow_up_due(local("2026-02-20T15:45")) == local("2026-02-23T15:45")


def test_ramadan_profile_in_an_eastern_zone_applies_in_local_time():
    cal = calendar("Asia/Jayapura")
    # 13:30 WIB is 15:30 WIT: after the Ramadan closing in Jayapura.
    assert cal.follow_up_due(local("2026-02-23T13:30")) == local("2026-02-25T08:00", "Asia/Jayapura")


# -- working seconds ----------------------------------------------------------------------------------------------

def test_add_working_seconds_across_the_start_of_ramadan():
    # Wed 18 Feb 15:00 + 3 h: 1 h until the normal 16:00 closing, then 2 h from 1 Ramadan's 08:00 opening.
    assert calendar().add_working_seconds(local("2026-02-18T15:00"), 3 * 3600) == local("2026-02-19T10:00")
    plain = WorkingCalendar(tz="Asia/Jakarta", hours=DEFAULT_OFFICE_HOURS)
    assert plain.add_working_seconds(local("2026-02-18T15:00"), 3 * 3600) == local("2026-02-19T09:30")


def test_add_working_seconds_across_the_end_of_ramadan():
    # Tue 17 Mar 14:00 + 2 h: 1 h until the Ramadan 15:00 closing, then 1 h from Wed 25 Mar 07:30 (normal hours).
    assert calendar().add_working_seconds(local("2026-03-17T14:00"), 2 * 3600) == local("2026-03-25T08:30")


def test_add_working_seconds_ending_exactly_at_a_ramadan_closing():
    assert calendar().add_working_seconds(local("2026-02-19T08:00"), 7 * 3600) == local("2026-02-19T15:00")


def test_working_seconds_counts_ramadan_hours():
    cal = calendar()
    assert cal.working_seconds(local("2026-02-19T00:00"), local("2026-02-19T23:59")) == 7 * 3600
    # Wed 18 Feb (8.5 h normal) + Thu 19 Feb (7 h Ramadan) + Fri 20 Feb (7.5 h Ramadan).
    assert cal.working_seconds(local("2026-02-18T00:00"), local("2026-02-20T23:59")) == 23 * 3600


# -- the year, the version, bad input -----------------------------------------------------------------------------

def test_describe_year_gives_hours_profile_and_sources():
    days = {info.day: info for info in calendar().describe_year(2026)}
    assert len(days) == 365
    assert days[date(2026, 2, 19)].profile == "ramadan" and days[date(2026, 2, 19)].hours == (time(8), time(15))
    assert days[date(2026, 2, 18)].profile == "normal" and days[date(2026, 2, 18)].hours == (time(7, 30), time(16))
    cuti = days[date(2026, 3, 20)]
    assert not cuti.working and cuti.hours is None
    assert (cuti.off.kind, cuti.off.origin) == ("cuti_bersama", "library")
    assert cuti.off.source.startswith("holidays ")
    assert days[date(2026, 2, 21)].off.origin == "weekend"
    assert sum(info.working for info in days.values()) == 240


def test_describe_year_names_the_override_scope():
    cal = calendar(overrides=[Override(date(2026, 11, 25), "libur_daerah", "Hari Jadi", "Perbup 12/2026", True),
                              Override(date(2026, 11, 26), "libur_nasional", "Pilkada", "Keppres 5/2026")])
    days = {info.day: info for info in cal.describe_year(2026)}
    assert (days[date(2026, 11, 25)].off.origin, days[date(2026, 11, 25)].off.source) == ("office", "Perbup 12/2026")
    assert (days[date(2026, 11, 26)].off.origin, days[date(2026, 11, 26)].off.source) == ("national", "Keppres 5/2026")


def test_version_changes_with_ramadan_hours_periods_and_office_hours():
    base = calendar()
    plain = WorkingCalendar(tz="Asia/Jakarta", hours=DEFAULT_OFFICE_HOURS)
    other_dates = calendar(periods=[(date(2026, 2, 18), date(2026, 3, 19))])
    other_hours = calendar(ramadan_hours={**RAMADAN_HOURS, "5": ["08:00", "15:00"]})
    shorter_friday = WorkingCalendar(tz="Asia/Jakarta", hours={**DEFAULT_OFFICE_HOURS, "5": ["07:30", "11:00"]})
    versions = [base.version, plain.version, other_dates.version, other_hours.version, shorter_friday.version]
    assert len(set(versions)) == len(versions)
    assert base.version == calendar().version  # deterministic
    assert all(len(v) <= 80 for v in versions)  # Ticket.calendar_version is a String(80)


@pytest.mark.parametrize(("ramadan_hours", "periods"), [
    ({"1": ["15:00", "08:00"]}, [RAMADAN_2026]),                      # closes before it opens
    ({"1": ["8 pagi", "15:00"]}, [RAMADAN_2026]),                     # not a time
    (RAMADAN_HOURS, [(date(2026, 3, 20), date(2026, 2, 19))]),         # period ends before it starts
    (RAMADAN_HOURS, [("2026-02-19", "2026-03-20")]),                   # strings, not dates
])
def test_bad_ramadan_profile_raises_calendar_error(ramadan_hours, periods):
    with pytest.raises(CalendarError):
        calendar(ramadan_hours=ramadan_hours, periods=periods)
