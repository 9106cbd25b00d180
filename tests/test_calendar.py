"""The working calendar and the follow-up deadline (DESIGN.md §5).

Pure tests of escalation.calendar.WorkingCalendar (no database), then helpdesk.calendars.calendar_for with
override rows in the database. Holiday data is `holidays` >= 0.99 with the public and government categories.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from escalation.calendar import CalendarError, Override, WorkingCalendar
from helpdesk.calendars import calendar_for, forget_calendars
from helpdesk.extensions import db
from helpdesk.models import DEFAULT_OFFICE_HOURS, HolidayOverride

from .conftest import RECEIVED_AT


def calendar(tz: str = "Asia/Jakarta", **kw) -> WorkingCalendar:
    return WorkingCalendar(tz=tz, hours=DEFAULT_OFFICE_HOURS, **kw)


def local(text: str, tz: str = "Asia/Jakarta") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def due(received: str, tz: str = "Asia/Jakarta", **kw) -> datetime:
    return calendar(tz, **kw).follow_up_due(local(received, tz))


# The reference table of DESIGN.md §5, row by row.
REFERENCE = [
    ("2026-11-24T10:00", "Asia/Jakarta", "2026-11-25T10:00"),   # Tue -> Wed, same clock time
    ("2026-11-24T06:00", "Asia/Jakarta", "2026-11-25T07:30"),   # before opening: clock starts 07:30
    ("2026-11-27T15:00", "Asia/Jakarta", "2026-11-30T15:00"),   # Fri -> Mon
    ("2026-11-27T16:10", "Asia/Jakarta", "2026-11-30T16:00"),   # Fri hours run to 16:30, Monday's end at 16:00
    ("2026-11-28T09:00", "Asia/Jakarta", "2026-12-01T07:30"),   # Saturday: starts Mon 07:30, due Tue 07:30
    ("2026-12-23T10:00", "Asia/Jakarta", "2026-12-28T10:00"),   # cuti bersama 24 Dec, Christmas 25 Dec
    ("2025-03-27T14:00", "Asia/Makassar", "2025-04-08T14:00"),  # Nyepi, Idul Fitri and cuti bersama (WITA)
    ("2025-08-15T10:00", "Asia/Jakarta", "2025-08-19T10:00"),   # 17 Aug on Sunday, cuti bersama Mon 18 Aug
]


@pytest.mark.parametrize(("received", "tz", "expected"), REFERENCE, ids=[f"{r}-{z}" for r, z, _ in REFERENCE])
def test_follow_up_due_matches_design_reference_table(received, tz, expected):
    result = due(received, tz)
    assert result == local(expected, tz)
    assert result.tzinfo is not None and result.utcoffset() == local(expected, tz).utcoffset()


@pytest.mark.parametrize(("received", "expected", "why"), [
    ("2026-11-24T16:00", "2026-11-26T07:30", "exactly at closing is after hours: starts Wed 07:30"),
    ("2026-11-24T15:59", "2026-11-25T15:59", "a minute before closing is still today"),
    ("2026-11-24T07:30", "2026-11-25T07:30", "exactly at opening is within hours"),
    ("2026-11-24T07:29", "2026-11-25T07:30", "a minute before opening starts at opening"),
    ("2026-11-27T16:30", "2026-12-01T07:30", "Friday at its 16:30 closing: starts Mon 07:30, due Tue"),
    ("2026-11-27T18:00", "2026-12-01T07:30", "Friday evening"),
    ("2026-11-29T10:00", "2026-12-01T07:30", "Sunday"),
    ("2026-12-25T10:00", "2026-12-29T07:30", "Christmas (libur nasional): starts Mon 28 Dec"),
    ("2026-12-24T10:00", "2026-12-29T07:30", "cuti bersama: starts Mon 28 Dec"),
    ("2026-12-31T10:00", "2027-01-04T10:00", "year end: 1 Jan 2027 is a Friday holiday"),
    ("2026-12-31T23:30", "2027-01-06T07:30", "New Year's Eve night: starts Mon 4 Jan, 5 Jan is Isra Mikraj"),
    ("2027-01-01T10:00", "2027-01-06T07:30", "New Year: starts Mon 4 Jan, 5 Jan is Isra Mikraj"),
    ("2026-05-13T17:05", "2026-05-19T07:30", "domain.md 1.5: Ascension and its cuti bersama, then weekend"),
], ids=lambda value: value if isinstance(value, str) and value[:1].isdigit() else "")
def test_follow_up_due_edge_cases(received, expected, why):
    assert due(received) == local(expected), why


def test_follow_up_due_in_an_eastern_office_zone():
    # domain.md §1.5: Tue 17 Mar 2026 09:00 WIT; 18 Mar cuti bersama, 19 Nyepi, 20-24 Idul Fitri and its leave.
    result = due("2026-03-17T09:00", "Asia/Jayapura")
    assert result == local("2026-03-25T09:00", "Asia/Jayapura")
    assert result.utcoffset().total_seconds() == 9 * 3600


def test_same_instant_gets_a_different_deadline_in_another_zone():
    # 15:30 WIB is 17:30 WIT: after hours in Jayapura, so the clock starts there the next morning.
    instant = local("2026-11-24T15:30")
    assert calendar().follow_up_due(instant) == local("2026-11-25T15:30")
    assert calendar("Asia/Jayapura").follow_up_due(instant) == local("2026-11-26T07:30", "Asia/Jayapura")


def test_follow_up_due_accepts_any_aware_zone_and_answers_in_the_office_zone():
    utc = datetime(2026, 11, 24, 3, 0, tzinfo=ZoneInfo("UTC"))  # 10:00 WIB
    result = calendar().follow_up_due(utc)
    assert result == local("2026-11-25T10:00")
    assert result.tzinfo == ZoneInfo("Asia/Jakarta")


def test_local_holiday_override_takes_a_day_away():
    anniversary = Override(date(2026, 11, 25), "libur_daerah", "Hari Jadi Kabupaten", "Perbup 12/2026")
    assert due("2026-11-24T10:00", overrides=[anniversary]) == local("2026-11-26T10:00")
    off = calendar(overrides=[anniversary]).day_off(date(2026, 11, 25))
    assert (off.kind, off.name, off.source) == ("libur_daerah", "Hari Jadi Kabupaten", "Perbup 12/2026")


def test_working_override_gives_a_holiday_back():
    # The office works on cuti bersama 24 Dec 2026 by decision of the Bupati.
    back = Override(date(2026, 12, 24), "kerja", "Masuk kerja", office_specific=True)
    assert due("2026-12-23T10:00", overrides=[back]) == local("2026-12-24T10:00")
    assert calendar(overrides=[back]).is_working_day(date(2026, 12, 24))


def test_working_override_on_a_weekend_uses_weekday_hours():
    saturday = Override(date(2026, 11, 28), "kerja", "Pelayanan Sabtu")
    cal = calendar(overrides=[saturday])
    assert cal.window(date(2026, 11, 28)) == (local("2026-11-28T07:30"), local("2026-11-28T16:00"))
    assert cal.follow_up_due(local("2026-11-27T15:00")) == local("2026-11-28T15:00")


def test_office_override_beats_national_override_for_the_same_day():
    national = Override(date(2026, 11, 25), "libur_nasional", "Pilkada serentak")
    office_works = Override(date(2026, 11, 25), "kerja", "Piket pilkada", office_specific=True)
    for order in ([national, office_works], [office_works, national]):
        cal = calendar(overrides=order)
        assert cal.is_working_day(date(2026, 11, 25))
        assert cal.follow_up_due(local("2026-11-24T10:00")) == local("2026-11-25T10:00")


def test_office_staffed_on_cuti_bersama_works_on_it():
    cal = calendar(staffed_on_cuti_bersama=True)
    assert cal.is_working_day(date(2026, 12, 24))
    assert not cal.is_working_day(date(2026, 12, 25))  # a national holiday stays a holiday
    assert cal.follow_up_due(local("2026-12-23T10:00")) == local("2026-12-24T10:00")
    assert cal.version != calendar().version


def test_office_staffed_on_cuti_bersama_also_works_on_an_added_cuti_bersama_day():
    # An SKB amendment entered as an override of kind cuti_bersama is still cuti bersama.
    added = Override(date(2026, 11, 25), "cuti_bersama", "Cuti bersama tambahan (SKB perubahan)")
    assert not calendar(overrides=[added]).is_working_day(date(2026, 11, 25))
    staffed = calendar(overrides=[added], staffed_on_cuti_bersama=True)
    assert staffed.is_working_day(date(2026, 11, 25))
    assert not staffed.is_working_day(date(2026, 11, 28))  # a Saturday cuti bersama stays a weekend day


def test_two_working_days():
    assert calendar().follow_up_due(local("2026-11-24T10:00"), working_days=2) == local("2026-11-26T10:00")
    assert calendar().follow_up_due(local("2026-12-23T10:00"), working_days=2) == local("2026-12-29T10:00")


def test_zero_working_days_is_refused():
    with pytest.raises(ValueError):
        calendar().follow_up_due(local("2026-11-24T10:00"), working_days=0)


def test_days_off_lists_2026_holidays_with_reasons():
    kinds = {off.day: off.kind for off in calendar().days_off(2026)}
    assert kinds[date(2026, 12, 25)] == "libur_nasional"
    assert kinds[date(2026, 12, 24)] == "cuti_bersama"
    assert sum(kind == "cuti_bersama" for kind in kinds.values()) == 8  # SKB 2026: 8 cuti bersama days
    assert date(2026, 11, 28) not in kinds  # weekends are not listed


# -- working_seconds ----------------------------------------------------------------------------------------

def test_working_seconds_within_a_day():
    assert calendar().working_seconds(local("2026-11-24T09:00"), local("2026-11-24T11:30")) == 2.5 * 3600


def test_working_seconds_counts_only_office_hours():
    # Tue 15:00 -> Wed 08:30: 1 h on Tuesday until 16:00, 1 h on Wednesday from 07:30.
    assert calendar().working_seconds(local("2026-11-24T15:00"), local("2026-11-25T08:30")) == 2 * 3600


def test_working_seconds_across_a_weekend():
    # Fri 16:00 -> Mon 08:30: 30 min until Friday's 16:30 closing, 1 h on Monday.
    assert calendar().working_seconds(local("2026-11-27T16:00"), local("2026-11-30T08:30")) == 1.5 * 3600


def test_working_seconds_is_negative_when_reversed():
    cal = calendar()
    start, end = local("2026-11-27T16:00"), local("2026-11-30T08:30")
    assert cal.working_seconds(end, start) == -cal.working_seconds(start, end) == -1.5 * 3600


def test_working_seconds_is_zero_over_a_holiday_and_outside_hours():
    cal = calendar()
    assert cal.working_seconds(local("2026-12-24T00:00"), local("2026-12-27T23:59")) == 0
    assert cal.working_seconds(local("2026-11-24T17:00"), local("2026-11-25T07:00")) == 0


# -- bad calendars and bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("hours", [
    {"1": ["16:00", "07:30"]},            # closes before it opens
    {"1": ["07:30", "07:30"]},            # empty window
    {"1": ["7.30", "16:00"]},             # not HH:MM
    {"1": ["07:30"]},                     # no closing time
    {"1": "07:30-16:00"},                 # not a pair
    {},                                   # never open
    {str(day): None for day in range(1, 8)},
])
def test_invalid_office_hours_raise_calendar_error(hours):
    with pytest.raises(CalendarError):
        WorkingCalendar(tz="Asia/Jakarta", hours=hours)


@pytest.mark.parametrize("tz", ["Asia/Nowhere", "WIB", "", "../etc/passwd"])
def test_unknown_zone_raises_calendar_error(tz):
    with pytest.raises(CalendarError):
        WorkingCalendar(tz=tz, hours=DEFAULT_OFFICE_HOURS)


def test_naive_datetimes_are_refused():
    cal = calendar()
    naive = datetime(2026, 11, 24, 10, 0)
    with pytest.raises(ValueError):
        cal.follow_up_due(naive)
    with pytest.raises(ValueError):
        cal.working_seconds(naive, naive.replace(hour=11))
    with pytest.raises(ValueError):
        cal.local(naive)


def test_version_changes_with_the_overrides():
    plain = calendar()
    with_one = calendar(overrides=[Override(date(2026, 11, 25), "libur_daerah", "Hari Jadi")])
    assert plain.version.startswith("holidays-")
    assert plain.version != with_one.version
    assert with_one.version == calendar(overrides=[Override(date(2026, 11, 25), "libur_daerah", "x")]).version


# -- calendar_for: the office's calendar from the database ---------------------------------------------------

def test_calendar_for_uses_office_zone_and_hours(make_office):
    papua = make_office(code="jpr", ticket_prefix="JPR", timezone="Asia/Jayapura",
                        hours={**DEFAULT_OFFICE_HOURS, "5": ["07:30", "11:00"]})
    cal = calendar_for(papua)
    assert cal.tz == ZoneInfo("Asia/Jayapura")
    assert cal.follow_up_due(local("2026-11-27T10:00", "Asia/Jayapura")) == local("2026-11-30T10:00", "Asia/Jayapura")
    # Friday's short hours: received after 11:00 starts Monday morning.
    assert cal.follow_up_due(local("2026-11-27T11:00", "Asia/Jayapura")) == local("2026-12-01T07:30", "Asia/Jayapura")


def test_calendar_for_applies_national_and_own_overrides_only(office, make_office):
    other = make_office(code="lain", ticket_prefix="LAIN")
    db.session.add_all([
        HolidayOverride(day=date(2026, 11, 25), kind="libur_daerah", office_id=office.id, name="Hari Jadi Kabupaten"),
        HolidayOverride(day=date(2026, 11, 26), kind="libur_daerah", office_id=other.id, name="Hari Jadi Kota Lain"),
        HolidayOverride(day=date(2026, 11, 30), kind="libur_nasional", office_id=None, name="Libur tambahan"),
        HolidayOverride(day=date(2026, 12, 24), kind="libur_nasional", office_id=None, name="Cuti nasional"),
        HolidayOverride(day=date(2026, 12, 24), kind="kerja", office_id=office.id, name="Piket"),
    ])
    db.session.commit()

    cal = calendar_for(office)
    assert not cal.is_working_day(date(2026, 11, 25))
    assert cal.is_working_day(date(2026, 11, 26))  # another office's local holiday
    assert not cal.is_working_day(date(2026, 11, 30))
    assert cal.is_working_day(date(2026, 12, 24))  # the office's own row beats the national one
    assert cal.follow_up_due(RECEIVED_AT) == local("2026-11-26T10:00")
    assert not calendar_for(other).is_working_day(date(2026, 12, 24))


def test_calendar_for_is_cached_until_forgotten(office):
    before = calendar_for(office)
    assert before.follow_up_due(RECEIVED_AT) == local("2026-11-25T10:00")
    db.session.add(HolidayOverride(day=date(2026, 11, 25), kind="libur_daerah", office_id=None, name="Tutup"))
    db.session.commit()
    assert calendar_for(office) is before
    forget_calendars()
    after = calendar_for(office)
    assert after.follow_up_due(RECEIVED_AT) == local("2026-11-26T10:00")
    assert after.version != before.version


def test_ticket_opened_after_an_override_gets_its_deadline_and_version(office, make_ticket):
    plain = make_ticket()
    db.session.add(HolidayOverride(day=date(2026, 11, 25), kind="libur_daerah", office_id=office.id,
                                   name="Kantor tutup (banjir)"))
    db.session.commit()
    forget_calendars()
    closed_day = make_ticket()
    assert plain.follow_up_due_at == local("2026-11-25T10:00")
    assert closed_day.follow_up_due_at == local("2026-11-26T10:00")
    assert closed_day.calendar_version != plain.calendar_version
