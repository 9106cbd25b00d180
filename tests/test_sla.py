"""The follow-up clock's states as the queue shows them (escalation/sla.py), judged in the office's local day."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from escalation.calendar import WorkingCalendar
from escalation.sla import SlaState, end_of_local_day, sla_state
from helpdesk.models import DEFAULT_OFFICE_HOURS

from .conftest import WIB

CALENDAR = WorkingCalendar(tz="Asia/Jakarta", hours=DEFAULT_OFFICE_HOURS)
DUE = datetime(2026, 11, 25, 10, 0, tzinfo=WIB)


@pytest.mark.parametrize(("now", "followed_up", "expected"), [
    (DUE - timedelta(days=1), None, SlaState.ON_TRACK),
    (DUE - timedelta(hours=2), None, SlaState.DUE_TODAY),
    (DUE, None, SlaState.DUE_TODAY),                          # at the deadline it is not yet overdue
    (DUE + timedelta(minutes=1), None, SlaState.OVERDUE),
    (DUE + timedelta(days=5), DUE - timedelta(hours=1), SlaState.MET),
    (DUE + timedelta(days=5), DUE, SlaState.MET),
    (DUE + timedelta(days=5), DUE + timedelta(seconds=1), SlaState.MISSED),
], ids=["day-before", "same-morning", "at-deadline", "past", "met", "met-at-deadline", "missed"])
def test_sla_state(now, followed_up, expected):
    assert sla_state(due=DUE, first_follow_up_at=followed_up, now=now, calendar=CALENDAR) == expected


def test_due_today_means_the_office_local_day_not_utc():
    # Wed 06:00 WIB is still Tuesday in UTC; a deadline at Wed 07:30 WIB is due today for the office.
    due = datetime(2026, 11, 25, 7, 30, tzinfo=WIB)
    now = datetime(2026, 11, 25, 6, 0, tzinfo=WIB)
    assert sla_state(due=due, first_follow_up_at=None, now=now, calendar=CALENDAR) == SlaState.DUE_TODAY
    assert end_of_local_day(CALENDAR, now) == datetime(2026, 11, 26, 0, 0, tzinfo=WIB)
